"""Worker threads that stop when the operation is stopped: the pool of every transfer.

:class:`concurrent.futures.ThreadPoolExecutor` ends its ``with`` block by waiting for
every queued task, also when the block ends by Ctrl-C: in issue 25 an interrupted
``copy`` of 12 layers went on copying all 12 and exited 17.5 s after the signal.
:class:`WorkerPool` runs the same kind of work (blobs of a transfer, the sources of
``create``) and ends the other way:

* the first task that fails ends the run: no queued task starts, the tasks under way
  finish (``on_failure`` tells them not to start over), the failure is raised;
* an interrupt of the waiting thread (``KeyboardInterrupt``, or any other exception that
  is not an :class:`Exception`: the CLI's SIGTERM, ``SystemExit``) ends it at once: no
  queued task starts, ``on_interrupt`` gives up what was started (open upload sessions
  cancelled, writes told to stop at their next chunk), the tasks under way get what is
  left of :data:`INTERRUPT_GRACE` to end, and the interrupt is raised. A task blocked in
  the network is abandoned (its thread is a daemon: it never holds the process up).

Workers block SIGINT and SIGTERM (:func:`quiet_thread`), so the kernel delivers them
to the waiting thread, whose wait they interrupt at once (Python runs signal handlers
in the main thread only, and only once that thread runs); it also wakes every
:data:`_POLL` seconds, for a signal that came another way.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Final, Generic, TypeVar

from polyarch.errors import PolyarchError

__all__ = ["INTERRUPT_GRACE", "READS_IN_FLIGHT", "WorkerPool", "quiet_thread", "read_each"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

#: Seconds an interrupted operation spends giving up what it started (cancelling upload
#: sessions, letting writes remove their temporary files) before it ends regardless.
INTERRUPT_GRACE: Final = 1.0
#: Reads one operation has in flight at once (the sources of ``create``, what ``verify``
#: checks, the tags ``prune`` and ``delete`` resolve): each is a round trip that, one
#: after the other, leaves the run waiting; 8 keeps a registry's connection count modest.
READS_IN_FLIGHT: Final = 8
_POLL: Final = 0.1
#: The signals that stop an operation: handled by the main thread, never by a worker.
STOP_SIGNALS: Final = frozenset({signal.SIGINT, signal.SIGTERM})


def quiet_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """A daemon thread running ``target`` with SIGINT and SIGTERM blocked.

    A process-directed signal goes to any thread that does not block it; Python handles
    it in the main thread, but only once that thread runs. Blocked in every worker, a
    signal goes to the main thread and interrupts what it waits on at once.
    """

    def run() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        target()

    return threading.Thread(target=run, name=name, daemon=True)


class _Run(Generic[T]):
    """One :meth:`WorkerPool.run`: the tasks, which is next, results, the first failure."""

    def __init__(self, tasks: Sequence[Callable[[], T]]) -> None:
        self.tasks = tasks
        self.results: list[T | None] = [None] * len(tasks)
        self.failure: BaseException | None = None
        self.finished = threading.Event()  # every task done, or one failed
        self._lock = threading.Lock()
        self._next = 0
        self._done = 0
        self._stopped = False

    def stop(self) -> None:
        """No task starts from now on."""
        with self._lock:
            self._stopped = True

    def work(self) -> None:
        """A worker: take the next task until none is left or the run stopped."""
        while True:
            with self._lock:
                if self._stopped or self._next >= len(self.tasks):
                    return
                index = self._next
                self._next += 1
            try:
                value = self.tasks[index]()
            except BaseException as exc:  # handed to the waiting thread, raised there
                with self._lock:
                    self._stopped = True
                    if self.failure is None:
                        self.failure = exc
                self.finished.set()
                return
            with self._lock:
                self.results[index] = value
                self._done += 1
                if self._done == len(self.tasks):
                    self.finished.set()


class WorkerPool:
    """Runs tasks on at most ``workers`` threads; see the module docstring.

    ``on_failure()`` is called when a task failed, before the tasks under way are waited
    for; ``on_interrupt(seconds)`` when the waiting thread is interrupted, with the seconds
    it may take.

    >>> WorkerPool(2).run([lambda: 1, lambda: 2, lambda: 3])
    [1, 2, 3]
    """

    def __init__(
        self,
        workers: int,
        *,
        on_failure: Callable[[], None] | None = None,
        on_interrupt: Callable[[float], None] | None = None,
        grace: float = INTERRUPT_GRACE,
        name: str = "polyarch-worker",
    ) -> None:
        self.workers = max(1, workers)
        self.on_failure = on_failure
        self.on_interrupt = on_interrupt
        self.grace = grace
        self.name = name

    def run(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        """Run ``tasks``; their results in order, or the first failure raised."""
        if len(tasks) <= 1 or self.workers == 1:
            return self._inline(tasks)
        run: _Run[T] = _Run(tasks)
        threads = [quiet_thread(run.work, self.name) for _ in range(min(self.workers, len(tasks)))]
        try:
            for thread in threads:
                thread.start()
            while not run.finished.wait(_POLL):
                pass
            if run.failure is not None:
                run.stop()
                if self.on_failure is not None:
                    self.on_failure()
                for thread in threads:
                    while thread.is_alive():
                        thread.join(_POLL)
                raise run.failure
        except BaseException as exc:
            if isinstance(exc, Exception):
                raise
            run.stop()
            self._interrupted(threads)
            raise
        return run.results  # type: ignore[return-value]  # every slot was filled

    def _inline(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        """One task at a time in the calling thread (one worker, or one task)."""
        try:
            return [task() for task in tasks]
        except BaseException as exc:
            if not isinstance(exc, Exception):
                self._interrupted([])
            raise

    def _interrupted(self, threads: Sequence[threading.Thread]) -> None:
        """Give up what was started, and let the tasks under way end, within the grace."""
        deadline = time.monotonic() + self.grace
        if self.on_interrupt is not None:
            self.on_interrupt(self.grace)
        for thread in threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))


def read_each(
    keys: Iterable[K],
    read: Callable[[K], T],
    *,
    workers: int = READS_IN_FLIGHT,
    on_interrupt: Callable[[float], None] | None = None,
) -> dict[K, T | PolyarchError]:
    """``read(key)`` for each distinct key, on ``workers`` threads, by key.

    A read that fails the way a user can cause (missing, corrupt, refused: a
    :class:`~polyarch.errors.PolyarchError`) is returned in its place, for the caller to
    report or raise; any other failure ends the run as it would one read at a time. The
    dict keeps the order of ``keys``, so what the caller reports does not depend on which
    answer came first. An interrupt does not wait for a stalled read (``on_interrupt``
    as for :class:`WorkerPool`).

    >>> read_each(["a", "b", "a"], str.upper)
    {'a': 'A', 'b': 'B'}
    """

    def caught(key: K) -> Callable[[], T | PolyarchError]:
        def task() -> T | PolyarchError:
            try:
                return read(key)
            except PolyarchError as exc:
                return exc

        return task

    unique = list(dict.fromkeys(keys))
    pool = WorkerPool(workers, on_interrupt=on_interrupt)
    return dict(zip(unique, pool.run([caught(key) for key in unique]), strict=True))
