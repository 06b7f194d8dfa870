"""Text from outside, read strictly: the one JSON loader of documents, and ASCII numbers.

Every document polyarch parses from a registry, a layout, a build or a token service
comes through :func:`load_json`, so each is refused the same way, in one line:

* bytes that are not UTF-8 (RFC 8259 section 8.1: JSON exchanged between systems is
  UTF-8; a leading byte-order mark is tolerated, as Go's and Python's decoders do);
* JSON that does not parse, ``NaN`` and ``Infinity`` (not JSON, though Python's own
  parser takes them), integers of more than 4,300 digits, nesting too deep to parse;
* a lone surrogate: a ``\\udXXX`` escape that is not half of a pair. It is valid JSON
  syntax but no Unicode text: it cannot be written as UTF-8, so a manifest, an index, an
  ``index.json``, a record or a token holding one could be neither printed nor written
  back. Configs are the exception (``surrogates="escape"``): the configs of real images
  must stay usable, so their lone surrogates become the visible text ``\\udXXX``.

Numbers that come as text (a ``Content-Length``, a ``Retry-After``, ``$COLUMNS``, a port)
are read by :func:`ascii_int`: ``str.isdigit`` says yes to ``"¹"`` and ``"٣"``, which
``int`` then refuses or reads as another number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from polyarch.errors import InvalidManifest, PolyarchError

__all__ = [
    "ascii_int",
    "escape_surrogates",
    "has_lone_surrogate",
    "load_json",
    "refuse_lone_surrogates",
]

#: A code point of the surrogate range: in a Python ``str`` only ever a lone one.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_ASCII_DIGITS: Final = re.compile(r"[0-9]+")
#: More digits than any count polyarch reads (sizes are 64-bit: 19 digits).
_MAX_DIGITS: Final = 30


def _constant(name: str) -> Any:
    """``NaN``, ``Infinity``, ``-Infinity``: Python's parser takes them, JSON has none."""
    raise ValueError(f"{name} is not JSON")


def has_lone_surrogate(value: object) -> bool:
    """Whether ``value`` (parsed JSON: keys and strings at any depth) holds a lone surrogate.

    >>> has_lone_surrogate({"a": ["ok", "\\ud800"]}), has_lone_surrogate({"a": "😀"})
    (True, False)
    """
    if isinstance(value, Mapping | list):
        # The C encoder answers for a whole document at once: only a lone surrogate makes
        # UTF-8 encoding fail. What it cannot serialize is walked below.
        try:
            json.dumps(value, ensure_ascii=False, check_circular=False).encode("utf-8")
        except UnicodeEncodeError:
            return True
        except (TypeError, ValueError, RecursionError):
            pass
        else:
            return False
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            # isascii() is O(1) in CPython: the scan runs only for the rare non-ASCII text.
            if not item.isascii() and _SURROGATE.search(item):
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def escape_surrogates(value: Any) -> Any:
    """``value`` with each lone surrogate written as the text ``\\udXXX`` (keys too).

    >>> escape_surrogates({"Env": ["A=\\udcff"]})
    {'Env': ['A=\\\\udcff']}
    """
    if isinstance(value, str):
        if value.isascii():
            return value
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    if isinstance(value, dict):
        return {escape_surrogates(k): escape_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_surrogates(v) for v in value]
    return value


def refuse_lone_surrogates(
    value: object, what: str, error: type[PolyarchError] = InvalidManifest
) -> None:
    """Raise ``error`` naming ``what`` when ``value`` holds a lone surrogate."""
    if has_lone_surrogate(value):
        raise error(
            f"{what} holds text that is not valid Unicode (a lone surrogate, a \\udXXX "
            "escape that is not half of a pair)"
        )


def load_json(
    raw: bytes | str,
    *,
    what: str,
    error: type[PolyarchError] = InvalidManifest,
    surrogates: Literal["refuse", "escape"] = "refuse",
) -> Any:
    """``raw`` parsed as a strict JSON document; ``error`` naming ``what`` when it is not one.

    ``surrogates``: ``"refuse"`` a lone surrogate (see the module docstring), or
    ``"escape"`` it as visible text (image configs).

    >>> load_json(b'{"a": [1, "x"]}', what="doc")
    {'a': [1, 'x']}
    >>> load_json(b'{"a": NaN}', what="doc")
    Traceback (most recent call last):
    polyarch.errors.InvalidManifest: doc is not valid JSON
    """
    if isinstance(raw, bytes | bytearray):
        try:
            text = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise error(f"{what} is not UTF-8 text (invalid byte at offset {exc.start})") from None
    else:
        text = raw
    try:
        data = json.loads(text, parse_constant=_constant)
    except RecursionError:  # deeply nested JSON from a hostile server
        raise error(f"{what} is nested too deeply") from None
    except ValueError:  # syntax, NaN, an integer of more than 4,300 digits
        raise error(f"{what} is not valid JSON") from None
    # Decoded strictly, the text holds no surrogate: only a \u escape can make one.
    if "\\u" in text and has_lone_surrogate(data):
        if surrogates == "escape":
            return escape_surrogates(data)
        refuse_lone_surrogates(data, what, error)
    return data


def ascii_int(text: str | None) -> int | None:
    """``text`` as a non-negative integer when it is ASCII digits only (at most 30), else None.

    >>> ascii_int("42"), ascii_int(" 42"), ascii_int("¹"), ascii_int("-1"), ascii_int(None)
    (42, None, None, None, None)
    """
    if text is None or len(text) > _MAX_DIGITS or not _ASCII_DIGITS.fullmatch(text):
        return None
    return int(text)
