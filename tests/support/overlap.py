"""A proxy decision that proves reads overlap, without timing (:class:`Overlap`).

An operation that claims to have several reads in flight at once is put behind a
:class:`support.faultproxy.FaultProxy` whose ``force`` is an :class:`Overlap`: the first
request it matches is held until a second matching request arrives. A concurrent operation
sends that second request at once; one that reads one at a time cannot, the hold runs out,
and :attr:`Overlap.overlapped` stays False.
"""

from __future__ import annotations

import threading

from support.faultproxy import Fault, RequestInfo

__all__ = ["HOLD", "Overlap"]

#: Seconds the first matched request waits for a second one: only reached when the
#: operation reads one at a time (the failure); a concurrent one sends the second at once.
HOLD = 20.0


class Overlap:
    """Holds the first request of ``method`` whose path holds ``part`` until a second one
    arrives (``overlapped``), or :data:`HOLD` seconds pass."""

    def __init__(self, method: str, part: str) -> None:
        self.method, self.part = method, part
        self.first = threading.Event()
        self.second = threading.Event()
        self.overlapped = False
        self._lock = threading.Lock()

    def __call__(self, info: RequestInfo) -> Fault | None:
        if info.method != self.method or self.part not in info.path:
            return None
        with self._lock:
            holder = not self.first.is_set()
            self.first.set()
        if holder:
            self.overlapped = self.second.wait(HOLD)
        else:
            self.second.set()
        return None
