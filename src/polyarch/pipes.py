"""What a program polyarch runs writes, read with a bound: the one place it is read.

polyarch runs programs it does not control: credential helpers (Docker's
``docker-credential-*``), the docker CLI, and through ``docker run`` the very image under
test. Each may print without end (issue 25: a helper printing 300 MiB took the process
past 600 MiB of RSS, because :func:`subprocess.run` collects everything before anyone
looks at it). :func:`read_output` reads a child's stdout and stderr as they come, keeps
at most ``limit`` bytes of each (its head and its tail, the middle replaced by a line
saying how much was left out), and either goes on reading (the output of a command whose
end matters) or stops the child (an answer that cannot be that long).

Like :mod:`polyarch.files`, this module does I/O on the domain floor so that both
adapters of floor 2 (transport for credential helpers, engine for the docker CLI) share
it; it depends on nothing but the standard library.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from typing import IO, Final

__all__ = ["Captured", "OutputTooLarge", "read_output"]

#: Bytes read from a pipe at a time.
_CHUNK: Final = 64 * 1024
#: How often a child that has exited is checked while its output stays open.
_POLL: Final = 0.1


class OutputTooLarge(subprocess.SubprocessError):
    """A program printed more than its answer can be; it was stopped. ``limit`` in bytes."""

    def __init__(self, cmd: object, limit: int) -> None:
        super().__init__(f"{cmd!r} printed more than {limit} bytes")
        self.cmd = cmd
        self.limit = limit


class Captured:
    """At most ``limit`` bytes of one stream: its head, and (past the limit) its tail.

    >>> kept = Captured(8)
    >>> for piece in (b"abcd", b"efgh", b"ijkl"):
    ...     kept.add(piece)
    >>> kept.over, kept.value()
    (True, b'abcd\\n[... 4 bytes left out ...]\\nijkl')
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    @property
    def over(self) -> bool:
        """Whether more than ``limit`` bytes came."""
        return self.total > self.limit

    def add(self, data: bytes) -> None:
        """Keep ``data``: all of it up to ``limit``; past it, the first half of the limit
        stays as the head and the tail rolls over the last bytes."""
        self.total += len(data)
        if self.total <= self.limit:
            self._head += data
            return
        half = self.limit // 2
        if len(self._head) > half:  # the limit was just passed: the head gives up its end
            self._tail = self._head[half:]
            del self._head[half:]
        elif len(self._head) < half:
            take = half - len(self._head)
            self._head += data[:take]
            data = data[take:]
        self._tail += data
        extra = len(self._tail) - (self.limit - half)
        if extra > 0:
            del self._tail[:extra]

    def value(self) -> bytes:
        """What was kept; a line says how many bytes were left out between head and tail."""
        left_out = self.total - len(self._head) - len(self._tail)
        if left_out <= 0:
            return bytes(self._head + self._tail)
        marker = f"\n[... {left_out} bytes left out ...]\n".encode()
        return bytes(self._head) + marker + bytes(self._tail)


def read_output(
    proc: subprocess.Popen[bytes],
    *,
    input: bytes | None = None,
    limit: int,
    timeout: float,
    stop_over_limit: bool = False,
    grace: float | None = None,
) -> tuple[bytes, bytes]:
    """Feed ``input`` to ``proc`` and read its stdout and stderr (pipes) until both end.

    Parameters: ``input`` (written to its stdin, which must be a pipe then, and closed),
    ``limit`` (bytes kept of each stream, see :class:`Captured`), ``timeout`` (seconds
    for all of it), ``stop_over_limit`` (kill ``proc`` and raise :class:`OutputTooLarge`
    as soon as a stream passes ``limit``), ``grace`` (once ``proc`` itself has exited,
    output that something it started keeps open is read for ``grace`` more seconds, then
    given up: a credential helper may leave a daemon behind holding its stdout).

    Returns ``(stdout, stderr)`` as kept. Raises :class:`subprocess.TimeoutExpired`
    (``proc`` killed, what it wrote attached) after ``timeout`` seconds. Whatever else ends
    the reading (an interrupt: Ctrl-C, SIGTERM) kills ``proc`` too: nobody would read it.
    """
    try:
        return _read(proc, input, limit, timeout, stop_over_limit, grace)
    except BaseException:
        proc.kill()
        raise


def _read(
    proc: subprocess.Popen[bytes],
    input: bytes | None,
    limit: int,
    timeout: float,
    stop_over_limit: bool,
    grace: float | None,
) -> tuple[bytes, bytes]:
    deadline = time.monotonic() + timeout
    kept: dict[int, Captured] = {}
    pending = memoryview(input or b"")
    with selectors.DefaultSelector() as selector:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                kept[stream.fileno()] = Captured(limit)
                selector.register(stream, selectors.EVENT_READ)
        if proc.stdin is not None:
            if pending:
                os.set_blocking(proc.stdin.fileno(), False)
                selector.register(proc.stdin, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()
        exited_at: float | None = None

        def outputs() -> tuple[bytes, bytes]:
            def of(stream: IO[bytes] | None) -> bytes:
                return kept[stream.fileno()].value() if stream is not None else b""

            return of(proc.stdout), of(proc.stderr)

        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                proc.kill()
                out, err = outputs()
                raise subprocess.TimeoutExpired(proc.args, timeout, output=out, stderr=err)
            if grace is not None and proc.poll() is not None:
                exited_at = now if exited_at is None else exited_at
                if now - exited_at >= grace:
                    break
            for key, _ in selector.select(min(_POLL, deadline - now)):
                fd = key.fd
                if key.events & selectors.EVENT_WRITE:
                    try:
                        written = os.write(fd, pending[:_CHUNK])
                    except BrokenPipeError:  # it does not read its stdin: not our problem
                        written = len(pending)
                    pending = pending[written:]
                    if not pending:
                        selector.unregister(key.fileobj)
                        key.fileobj.close()  # type: ignore[union-attr]
                    continue
                data = os.read(fd, _CHUNK)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                kept[fd].add(data)
                if stop_over_limit and kept[fd].over:
                    proc.kill()
                    raise OutputTooLarge(proc.args, limit)
        return outputs()
