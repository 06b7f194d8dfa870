"""Output helpers: one Console, human sizes, JSON. Only the CLI prints."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

__all__ = ["console", "err_console", "human_size", "print_json"]


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Off a terminal (CI logs, pipes) keep full-length digests on one line.
    width = None if stream.isatty() else 200
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


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


def print_json(data: Any) -> None:
    """Pretty, stable JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()
