"""Consoles, sizes, digests, JSON: the small pieces every command prints with."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from polyarch.domain.digest import Digest
from polyarch.domain.document import ascii_int

if TYPE_CHECKING:
    # rich (~40 ms to import) is loaded only when something is rendered: -q and --json
    # runs never build a console.
    from rich.console import Console
    from rich.text import Text

__all__ = [
    "console",
    "err_console",
    "format_digest",
    "human_size",
    "json_written",
    "no_trunc_option",
    "print_field",
    "print_json",
    "styled",
    "terminal_width",
]

F = TypeVar("F", bound=Callable[..., Any])


def _console(stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Off a terminal keep lines whole; on one, the terminal's width. Lines are never
    # re-wrapped by rich (soft_wrap): tables lay themselves out (table_lines). Nothing
    # printed is read as markup or emoji codes: names, paths and content may hold "[/]"
    # or ":x:" (styles come as Text, see styled()). The size is always given: rich reads
    # $COLUMNS and $LINES itself with str.isdigit() and int(), and "¹" passes the one and
    # fails the other.
    width, height = 200, 25
    if stream.isatty():
        width, height = _terminal_size(stream)
    return Console(
        file=stream,
        width=width,
        height=height,
        highlight=False,
        soft_wrap=True,
        markup=False,
        emoji=False,
    )


def _terminal_size(stream: TextIO) -> tuple[int, int]:
    """The terminal's columns and lines; ``$COLUMNS`` and ``$LINES`` win when numbers."""
    try:
        size = os.get_terminal_size(stream.fileno())
        width, height = size.columns, size.lines
    except (OSError, ValueError):
        width, height = 80, 25
    columns = ascii_int(os.environ.get("COLUMNS"))
    lines = ascii_int(os.environ.get("LINES"))
    return (columns or width or 80), (lines or height or 25)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line from plain strings and ``(text, style)`` pairs; nothing in it is markup.

    >>> styled(("OK", "green"), ": 3 passed").plain
    'OK: 3 passed'
    """
    from rich.text import Text

    return Text.assemble(*parts)


def console() -> Console:
    """A console on stdout (built per call so tests capturing stdout see the output)."""
    return _console(stderr=False)


def err_console() -> Console:
    """A console on stderr, for notes that must not pollute a scriptable stdout."""
    return _console(stderr=True)


def human_size(size: int | None) -> str:
    """``1536`` -> ``1.5 KiB``."""
    if size is None or size < 0:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def format_digest(digest: Digest | str | None, *, no_trunc: bool = False) -> str:
    """A digest for a table: ``sha256:`` and 12 hex digits, or whole with ``no_trunc``.

    ``None`` is ``-``; a string that is not a digest is returned as it is.
    """
    if digest is None:
        return "-"
    if no_trunc:
        return str(digest)
    if not isinstance(digest, Digest):
        try:
            digest = Digest.parse(digest)
        except ValueError:
            return digest
    return digest.short


def no_trunc_option(func: F) -> F:
    """``--no-trunc``: whole digests in tables (docker's flag)."""
    return click.option(
        "--no-trunc",
        is_flag=True,
        help="Show whole digests in tables (default: sha256: and 12 hex digits).",
    )(func)


#: Whether this process already printed a JSON document on stdout (see json_written).
_json_written = False


def print_json(data: Any) -> None:
    """Pretty, stable JSON on stdout."""
    global _json_written  # noqa: PLW0603 - one CLI run per process
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()
    _json_written = True


def json_written() -> bool:
    """Whether the command already printed its JSON result: stdout holds one document,
    so a failure after it (``publish`` whose verification failed) adds no error object."""
    return _json_written


def terminal_width(out: Console) -> int | None:
    """The width tables fit in: the terminal's, else ``$COLUMNS``, else unlimited."""
    if out.file.isatty():
        return out.width
    columns = ascii_int(os.environ.get("COLUMNS", ""))
    return columns if columns else None


def print_field(out: Console, label: str, value: str) -> None:
    """``  label       value`` (label padded to 12), or the value on its own line below.

    The value (a digest, a reference) is never cut: when the line does not fit the
    terminal it goes on the next line, indented.
    """
    from rich.text import Text

    line = f"  {label:<12}{value}"
    width = terminal_width(out)
    if width is not None and Text(line).cell_len > width:
        out.print(f"  {label}", markup=False)
        out.print(f"    {value}", markup=False)
    else:
        out.print(line, markup=False)
