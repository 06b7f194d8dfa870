"""When and how long to wait before retrying a request.

Registries shed load with 429/502/503/504 and connections drop; a bounded retry with
capped exponential backoff and full jitter rides that out without hammering a struggling
server. Only idempotent requests with a replayable body are retried: re-sending a
half-finished upload-session ``PATCH`` or a one-shot stream could corrupt or duplicate
work. ``Retry-After`` from the server wins over the computed backoff.

The policy is pure: it computes delays, the client sleeps (through an injectable
``sleep``, so tests never wait).
"""

from __future__ import annotations

import email.utils
import math
import random
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

__all__ = [
    "READ_RETRY_STATUSES",
    "RETRY_STATUSES",
    "RetryBudget",
    "RetryPolicy",
    "is_retryable_exception",
    "parse_retry_after",
]

#: HTTP statuses worth retrying: rate limiting and gateway/availability errors.
RETRY_STATUSES: frozenset[int] = frozenset({429, 502, 503, 504})
#: Idempotent requests (reads, manifest PUTs, DELETEs) are also retried on 500: a
#: registry's storage can answer 500 while a concurrent writer replaces the very tag being
#: read or written (seen with distribution's filesystem driver under parallel
#: ``--append``), and repeating an idempotent request is harmless. Upload-session requests
#: are never idempotent, so a 500 there is final (the transfer engine restarts the blob).
READ_RETRY_STATUSES: frozenset[int] = RETRY_STATUSES | {500}

_RETRYABLE_EXCEPTIONS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.TimeoutException,
)


def is_retryable_exception(exc: BaseException) -> bool:
    """Whether a transport failure is transient (dropped connection, timeout).

    TLS failures (certificate or protocol) are deterministic and never retried.
    """
    if not isinstance(exc, _RETRYABLE_EXCEPTIONS):
        return False
    cause: BaseException | None = exc
    seen = 0
    while cause is not None and seen < 10:
        if isinstance(cause, ssl.SSLError):
            return False
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return "[SSL" not in str(exc)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), or ``None``.

    >>> parse_retry_after("7")
    7.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC))
    10.0
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, bounded in attempts and total time.

    The delay before attempt ``n + 1`` (after ``n`` failed attempts) is a uniform draw in
    ``[0, min(max_delay, base_delay * 2**(n-1))]`` ("full jitter"), or that cap itself when
    ``jitter`` is off. A ``Retry-After`` header replaces the computed delay; when it asks
    for more time than is left of ``max_total``, the client gives up at once instead of
    sleeping only to fail. ``max_attempts`` counts the first attempt.

    >>> policy = RetryPolicy(jitter=False)
    >>> [policy.backoff(n) for n in (1, 2, 3, 6)]
    [0.5, 1.0, 2.0, 10.0]
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 10.0
    max_total: float = 60.0
    jitter: bool = True

    def backoff(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """The computed delay after ``failures`` failed attempts (``failures >= 1``)."""
        exponent = max(0, failures - 1)
        # Cap the exponent before computing to avoid float overflow on absurd counts.
        cap = min(self.max_delay, math.ldexp(self.base_delay, min(exponent, 1000)))
        if self.jitter:
            return cap * rand()
        return cap

    def next_delay(
        self,
        failures: int,
        elapsed: float,
        *,
        retry_after: str | None = None,
        rand: Callable[[], float] = random.random,
        now: datetime | None = None,
    ) -> float | None:
        """Seconds to sleep before the next attempt, or ``None`` to give up.

        ``failures`` is the number of attempts made so far (all failed), ``elapsed`` the
        seconds spent since the first one started.
        """
        if failures >= self.max_attempts:
            return None
        remaining = self.max_total - elapsed
        if remaining <= 0:
            return None
        server = parse_retry_after(retry_after, now=now)
        if server is not None:
            return server if server <= remaining else None
        return min(self.backoff(failures, rand), remaining)


class RetryBudget:
    """Seconds that all requests of one client (one operation) may spend on retries together.

    Each retry charges what its failed attempt took plus the wait before the next one;
    once ``total`` is spent, nothing is retried any more, so an operation facing a
    registry that never answers ends after about ``total`` seconds of retrying, however
    many requests it has in flight. Safe across threads.

    >>> budget = RetryBudget(10)
    >>> budget.take(4), budget.take(7), budget.spent, budget.take(1)
    (True, True, True, False)
    """

    def __init__(self, total: float) -> None:
        self.total = total
        self._used = 0.0
        self._lock = threading.Lock()

    @property
    def spent(self) -> bool:
        """Whether nothing is left."""
        with self._lock:
            return self._used >= self.total

    def take(self, seconds: float) -> bool:
        """Charge ``seconds``; False (and nothing charged) when the budget was already spent."""
        with self._lock:
            if self._used >= self.total:
                return False
            self._used += max(0.0, seconds)
            return True
