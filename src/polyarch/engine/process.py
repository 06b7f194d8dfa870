"""Running the engine's command-line tools: one command, its output streamed line by line.

polyarch drives the Docker engine through its CLI (``docker``, ``docker buildx``), as a
user's CI does. :func:`run_process` is the one way it runs them; tests inject a
:class:`ProcessRunner` of their own that records the command lines.
"""

from __future__ import annotations

import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = ["ProcessResult", "ProcessRunner", "run_process"]

#: Lines of a command's output kept in :attr:`ProcessResult.output`.
_TAIL_LINES: Final = 200


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """How a command ended: its exit code and the tail of its output (stdout and stderr)."""

    returncode: int
    output: str


class ProcessRunner(Protocol):
    """Runs a command, handing each output line to ``on_line`` (tests inject a fake)."""

    def __call__(
        self, argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
    ) -> ProcessResult:
        """Run ``argv`` to completion; never raises because the command failed."""
        ...


def run_process(
    argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
) -> ProcessResult:
    """Run ``argv`` with stdout and stderr merged, streaming each line to ``on_line``.

    A missing program is exit code 127, as a shell says it; the output keeps the last
    200 lines.
    """
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    try:
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as exc:
        message = f"{argv[0]}: {exc.strerror or exc}"
        if on_line is not None:
            on_line(message)
        return ProcessResult(127, message)
    assert proc.stdout is not None
    with proc:
        for raw in proc.stdout:
            line = raw.rstrip("\r\n")
            tail.append(line)
            if on_line is not None:
                on_line(line)
    return ProcessResult(proc.wait(), "\n".join(tail))
