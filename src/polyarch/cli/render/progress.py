"""Transfer progress for the terminal (rich bars) and for CI logs (plain lines)."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from polyarch.cli.render.output import err_console, human_size
from polyarch.content.transfer import ProgressEvent

if TYPE_CHECKING:
    # rich is imported only for bars on a terminal: CI logs and -q/--json load none.
    from rich.progress import Progress, TaskID

__all__ = ["TransferProgress"]

#: Off a terminal, print a line per blob and at most one byte-count line every few seconds.
LOG_INTERVAL = 5.0


class TransferProgress:
    """A progress callback: rich bars on a TTY, plain lines in CI logs, nothing with -q."""

    def __init__(self, *, quiet: bool = False, total: int | None = None) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._moved = 0
        self._last_log = time.monotonic()
        self._progress: Progress | None = None
        if self.tty and not quiet:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=err_console(),  # its size given: rich reads $COLUMNS unsafely
                transient=True,
            )
            self._total = self._progress.add_task("total", total=total)

    def __enter__(self) -> TransferProgress:
        if self._progress:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress:
            self._progress.stop()

    def __call__(self, event: ProgressEvent) -> None:
        """Receive one transfer event (from any worker thread)."""
        if self.quiet:
            return
        d = event.descriptor
        with self._lock:
            if self._progress is not None:
                self._on_tty(event)
                return
            if event.kind == "done":
                sys.stderr.write(f"{event.action.value:8} {d.digest} ({human_size(d.size)})\n")
            elif event.kind == "bytes":
                self._moved += event.nbytes
                now = time.monotonic()
                if now - self._last_log >= LOG_INTERVAL:
                    self._last_log = now
                    sys.stderr.write(f"moved {human_size(self._moved)} so far\n")
            sys.stderr.flush()

    def _on_tty(self, event: ProgressEvent) -> None:
        assert self._progress is not None
        key = str(event.descriptor.digest)
        if event.kind == "start":
            self._tasks[key] = self._progress.add_task(
                event.descriptor.digest.short, total=event.descriptor.size
            )
        elif event.kind == "bytes":
            self._progress.advance(self._tasks[key], event.nbytes)
            self._progress.advance(self._total, event.nbytes)
        elif event.kind == "done" and key in self._tasks:
            self._progress.remove_task(self._tasks.pop(key))
