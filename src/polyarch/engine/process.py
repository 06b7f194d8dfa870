"""Running the engine's command-line tools: one command, its output read with a bound.

polyarch drives the Docker engine through its CLI (``docker``, ``docker buildx``), as a
user's CI does. :func:`run_process` runs a build, its output streamed line by line;
:func:`run_captured` runs a short command (``docker version``, ``pull``, ``run``) with
its output captured; tests inject runners of their own that record the command lines.
Neither keeps more than a bounded amount of what a command prints, however much it
prints (issue 25): each line is cut at :data:`LINE_LIMIT`, each captured stream at
:data:`CAPTURE_LIMIT` (:mod:`polyarch.pipes`).
"""

from __future__ import annotations

import subprocess
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from io import BufferedReader
from typing import Final, Protocol

from polyarch.pipes import read_output

__all__ = [
    "CAPTURE_LIMIT",
    "LINE_LIMIT",
    "ProcessResult",
    "ProcessRunner",
    "run_captured",
    "run_process",
]

#: Lines of a command's output kept in :attr:`ProcessResult.output`.
_TAIL_LINES: Final = 200
#: The longest line of a streamed command's output kept (a longer one is cut there).
LINE_LIMIT: Final = 16 * 1024
#: Bytes kept of each output stream of a captured command: its head and its tail.
CAPTURE_LIMIT: Final = 256 * 1024
_CHUNK: Final = 64 * 1024
_CUT: Final = " [...]"


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


def _lines(stream: BufferedReader, limit: int) -> Iterator[str]:
    """The lines of ``stream`` as text, each cut to ``limit`` bytes (read as they come)."""
    held = bytearray()
    skipping = False  # the rest of a line that was too long, up to its newline
    while chunk := stream.read1(_CHUNK):
        held += chunk
        while True:
            end = held.find(b"\n")
            if end < 0:
                if len(held) > limit and not skipping:
                    yield _text(held[:limit]) + _CUT
                    skipping = True
                if skipping:
                    held.clear()
                break
            if not skipping:
                yield _text(held[: min(end, limit)]) + (_CUT if end > limit else "")
            skipping = False
            del held[: end + 1]
    if held and not skipping:
        yield _text(held[:limit])


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace").rstrip("\r")


def run_process(
    argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
) -> ProcessResult:
    """Run ``argv`` with stdout and stderr merged, streaming each line to ``on_line``.

    A missing program is exit code 127, as a shell says it; the output keeps the last
    200 lines, each cut to :data:`LINE_LIMIT` bytes while it is read (a line without end
    costs no more).
    """
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    try:
        proc = subprocess.Popen(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        message = f"{argv[0]}: {exc.strerror or exc}"
        if on_line is not None:
            on_line(message)
        return ProcessResult(127, message)
    assert isinstance(proc.stdout, BufferedReader)
    with proc:
        try:
            for line in _lines(proc.stdout, LINE_LIMIT):
                tail.append(line)
                if on_line is not None:
                    on_line(line)
        except BaseException:  # an interrupt: the build is not waited for
            proc.kill()
            raise
    return ProcessResult(proc.wait(), "\n".join(tail))


def run_captured(
    args: Sequence[str],
    *,
    capture_output: bool = True,
    timeout: float | None = None,
    check: bool = False,
    stdin: int | None = None,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """:func:`subprocess.run` with captured output, read with a bound as it comes.

    At most :data:`CAPTURE_LIMIT` bytes of each stream are kept, its head and its tail
    (:class:`~polyarch.pipes.Captured`): ``docker run`` prints what the image under test
    prints, which may never end. ``capture_output`` and ``check`` are accepted for
    :func:`subprocess.run`'s signature (output is always captured, failures never
    raise). Raises :class:`subprocess.TimeoutExpired` after ``timeout`` seconds (the
    command is killed, what it printed attached).
    """
    del capture_output, check
    with subprocess.Popen(
        list(args),
        stdin=subprocess.PIPE if input is not None else stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
    ) as proc:
        out, err = read_output(
            proc,
            input=input,
            limit=CAPTURE_LIMIT,
            timeout=timeout if timeout is not None else float("inf"),
        )
        returncode = proc.wait()
    return subprocess.CompletedProcess(list(args), returncode, out, err)
