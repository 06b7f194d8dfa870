"""Run the real CLI on a real pseudo-terminal of a given width, and read what it shows.

The CLI sees a terminal (``isatty()`` true, ``TIOCGWINSZ`` answering ``columns``), as a
person's shell gives it; ``$COLUMNS`` and ``$LINES`` are removed so that the width comes
from the terminal itself. The output is returned without colour escapes, one string per
line as printed; :func:`overlong` says which lines the terminal would have to wrap.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


@dataclass(frozen=True)
class Screen:
    """Exit code and the lines a terminal of ``columns`` columns was sent."""

    code: int
    columns: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def overlong(self) -> list[str]:
        """The lines longer than the terminal is wide (it would wrap them)."""
        return [line for line in self.lines if len(line) > self.columns]


def run_cli_pty(
    *args: str, columns: int, rows: int = 60, env: dict[str, str] | None = None, timeout: float = 60
) -> Screen:
    """Run ``python -m polyarch ARGS`` with stdin, stdout and stderr on a new pty."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {**os.environ, **(env or {}), "TERM": "xterm-256color"}
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        full_env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyarch", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=full_env,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            proc.kill()
            raise TimeoutError(f"polyarch {' '.join(args)} did not finish in {timeout} s")
    finally:
        os.close(master)
    code = proc.wait(timeout=timeout)
    text = _ANSI.sub("", b"".join(chunks).decode("utf-8", errors="replace"))
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return Screen(code, columns, lines)
