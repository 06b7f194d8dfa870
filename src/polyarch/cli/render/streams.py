"""What leaves the process: stdout and stderr, masked and always printable.

Everything the CLI prints goes through :class:`GuardedStream`, whatever prints it (rich,
click, ``json.dumps``, a log handler) and whatever the text holds:

* **no secret**: every secret polyarch knows (passwords, tokens, their Basic and other
  encodings: :mod:`polyarch.transport.masking`) is replaced by ``***`` in every line,
  content included: a config's ``Env``, an annotation, a referrer's type, a tag named
  like the password, the user's own ``--annotation``. Lines are masked whole (text is
  held until its line ends, or the stream is flushed), so a secret split across two
  writes is still caught;
* **always printable**: a lone surrogate (a ``\\udXXX`` escape of a config) or a
  character the stream's encoding lacks is written as a backslash escape
  (``errors="backslashreplace"``), never an ``internal error``; inside ``--json``
  output the escape is a valid JSON one.

A guarded stream has no binary ``buffer`` (click would write around the guard through
it): exact bytes (``inspect --raw``, ``config --raw``) go through :func:`write_exact`, which
prints none of them when they hold a known secret.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO, TextIO

from polyarch.errors import PolyarchError

__all__ = [
    "GuardedStream",
    "binary_stdout",
    "guarded_streams",
    "holds_secret",
    "masked",
    "write_exact",
]

_MASKING = "polyarch.transport.masking"


def masked(text: str) -> str:
    """``text`` with every secret polyarch knows masked.

    Secrets are remembered by :mod:`polyarch.transport.masking`, loaded with the HTTP
    stack: when it was never imported, no secret is known, and nothing is loaded here
    (``--help`` and ``--version`` stay fast).
    """
    masking = sys.modules.get(_MASKING)
    if masking is None:
        return text
    result: str = masking.mask(text)
    return result


def holds_secret(data: bytes) -> bool:
    """Whether ``data`` (read as UTF-8, undecodable bytes kept apart) holds a known secret."""
    text = data.decode("utf-8", errors="surrogateescape")
    return masked(text) != text


class GuardedStream(io.TextIOBase):
    """A text stream that masks secrets line by line and writes what it cannot encode as
    escapes, in front of ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self._held = ""
        # The backstop: what the encoding cannot take becomes an escape.
        with suppress(AttributeError, ValueError, io.UnsupportedOperation):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[attr-defined]

    @property
    def wrapped(self) -> TextIO:
        """The stream written to."""
        return self._stream

    def write(self, text: str) -> int:
        """Write ``text``; complete lines now (masked), the rest once its line ends."""
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        held = self._held + text
        end = max(held.rfind("\n"), held.rfind("\r"))
        if end < 0:
            self._held = held
        else:
            self._held = held[end + 1 :]
            self._emit(held[: end + 1])
        return len(text)

    def _emit(self, text: str) -> None:
        text = masked(text)
        try:
            self._stream.write(text)
        except UnicodeEncodeError:  # a stream that could not be reconfigured
            encoding = getattr(self._stream, "encoding", None) or "utf-8"
            self._stream.write(
                text.encode(encoding, "backslashreplace").decode(encoding, "replace")
            )

    def flush(self) -> None:
        """Write what is held (masked) and flush the stream."""
        if self._held:
            held, self._held = self._held, ""
            self._emit(held)
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "backslashreplace"


def binary_stdout() -> BinaryIO:
    """The binary stream below ``sys.stdout``, guarded or not (what is held is flushed)."""
    stream: TextIO = sys.stdout
    if isinstance(stream, GuardedStream):
        stream.flush()
        stream = stream.wrapped
    return stream.buffer


def write_exact(data: bytes, what: str) -> None:
    """Write ``data`` (``what``: a manifest's or a config's exact bytes) to stdout as it is.

    Exact bytes cannot be masked without changing them: when they hold a known secret,
    none of them is written, and :class:`~polyarch.errors.PolyarchError` says why.
    """
    if holds_secret(data):
        raise PolyarchError(
            f"{what} holds a secret polyarch knows (a password or token in use); --raw "
            "prints exact bytes, so it prints nothing",
            hint="leave out --raw to see it with the secret masked",
        )
    out = binary_stdout()
    out.write(data)
    out.flush()


@contextmanager
def guarded_streams() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` guarded for the block (then flushed and put back)."""
    saved = sys.stdout, sys.stderr
    sys.stdout = GuardedStream(saved[0])
    sys.stderr = GuardedStream(saved[1])
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):  # a closed pipe: nothing more can be said
                stream.flush()
        sys.stdout, sys.stderr = saved
