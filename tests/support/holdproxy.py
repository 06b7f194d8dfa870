"""A proxy that holds one chosen request until the test releases it: a slow tag PUT, on cue.

The real registry answers a manifest PUT at once; a slow network or a loaded registry
does not. To make "writer B's tag write lands after writer A finished" repeatable
without sleeping, :class:`HoldProxy` (a :class:`support.faultproxy.FaultProxy` that
injects no fault) stops the first request matching ``hold`` before forwarding it, sets
:attr:`HoldProxy.holding`, and forwards it only when :meth:`HoldProxy.release` is called.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from support.faultproxy import Fault, FaultProxy, RequestInfo

__all__ = ["HoldProxy"]


class HoldProxy(FaultProxy):
    """Forward everything to ``upstream``; hold the first request ``hold`` matches."""

    def __init__(
        self, upstream: str, hold: Callable[[RequestInfo], bool], *, limit: float = 120
    ) -> None:
        self.holding = threading.Event()
        self._released = threading.Event()
        self._hold = hold
        self._limit = limit
        self._armed = True
        self._arm_lock = threading.Lock()
        super().__init__(upstream, force=self._maybe_hold)

    def _maybe_hold(self, info: RequestInfo) -> Fault | None:
        with self._arm_lock:
            chosen = self._armed and self._hold(info)
            if chosen:
                self._armed = False
        if chosen:
            self.holding.set()
            # Bounded: a test that never releases still ends (the request goes through).
            self._released.wait(self._limit)
        return None

    def release(self) -> None:
        """Let the held request (if any) go on to the registry."""
        self._released.set()
