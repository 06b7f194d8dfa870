"""How often, and for how long, a failing unit of work is tried again: the one place.

Registries shed load with 429/502/503/504 and connections drop; a bounded retry with
capped exponential backoff and full jitter rides that out without hammering a struggling
server. Every number that answers "how many times, and for how long" lives here, per unit
of work (docs/guarantees.md, "Retries", shows the same table):

* one request (GET, HEAD, DELETE, manifest PUT) that failed with a dropped connection,
  a timeout, 429, 500, 502, 503 or 504, or whose token service failed: at most
  ``RetryPolicy.max_attempts`` (5) attempts within ``max_total`` (60 s) of the first,
  waiting the backoff or the server's ``Retry-After``;
* one response body cut off while read (a manifest, a config, a tag list), read again
  whole: the same policy; a body that stalled until the read timeout is not read again;
* one blob, moved again from the start (HEAD, mount or a new upload session, the source
  read again): at most :data:`BLOB_ATTEMPTS` (3) attempts, waiting the backoff;
* ``create --append``'s tag guard (assemble, write, check the tag): at most
  :data:`TAG_GUARD_ROUNDS` (20) rounds, no wait;
* one referrers tag schema index (read, merge, write, check): at most
  :data:`REFERRERS_GUARD_ROUNDS` (8) rounds, no wait;
* everything of one operation together: ``retry_budget`` (120 s) of failed attempts and
  waits (:class:`RetryBudget`); once spent, the next failure is final.

Only idempotent requests with a replayable body are retried: re-sending a half-finished
upload-session ``PATCH`` or a one-shot stream could corrupt or duplicate work (the blob
unit starts such an upload over instead, with a new session). ``Retry-After`` from the
server wins over the computed backoff. Content that does not match its digest is never
tried again. The policy is pure: it computes delays; :class:`Retrier` sleeps (through an
injectable ``sleep``, so tests never wait) and charges the operation's
:class:`RetryBudget`.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import httpx

from polyarch.domain.document import ascii_int
from polyarch.transport.stats import TransportStats

__all__ = [
    "BLOB_ATTEMPTS",
    "READ_RETRY_STATUSES",
    "REFERRERS_GUARD_ROUNDS",
    "RETRY_STATUSES",
    "TAG_GUARD_ROUNDS",
    "Retrier",
    "RetryBudget",
    "RetryPolicy",
    "Tries",
    "blob_restart_delay",
    "is_retryable_exception",
    "parse_retry_after",
]

logger = logging.getLogger("polyarch.transport")

#: Attempts at moving one blob (the first included) when it fails for a transient reason
#: the HTTP client could not retry itself (a dropped connection in an upload request,
#: which is not idempotent; a 5xx; a 429): :func:`blob_restart_delay`.
BLOB_ATTEMPTS: Final = 3
#: Assemble-write-check rounds of ``create --append`` before it reports a lost update
#: (the default of ``CreateRequest.guard_attempts``).
TAG_GUARD_ROUNDS: Final = 20
#: Read-merge-write-check rounds of one referrers tag schema index before giving up.
REFERRERS_GUARD_ROUNDS: Final = 8

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
    seconds = ascii_int(value)
    if seconds is not None:
        return float(seconds)
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


def blob_restart_delay(
    policy: RetryPolicy, attempt: int, attempts: int = BLOB_ATTEMPTS
) -> float | None:
    """Seconds to wait before moving a blob again after ``attempt`` attempts, or None.

    None once ``attempts`` (the first included) were made; otherwise the policy's
    backoff after ``attempt`` failures.
    """
    if attempt >= attempts:
        return None
    return policy.backoff(attempt)


class Retrier:
    """Applies a :class:`RetryPolicy` to failures and charges them to one :class:`RetryBudget`.

    One per client (so one per operation): every request's retries, and every body read
    again, are charged to ``budget``. ``sleep`` and ``clock`` (seconds) are injectable.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        budget: RetryBudget,
        stats: TransportStats,
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.policy = policy
        self.budget = budget
        self.stats = stats
        self._sleep = sleep
        self.clock = clock

    def delay(
        self,
        may_retry: bool,
        failures: int,
        started: float,
        attempt_started: float,
        *,
        retry_after: str | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None: the policy and budget decide.

        ``failures`` attempts failed so far; ``started`` is when the first began,
        ``attempt_started`` when the last did (both on :attr:`clock`).
        """
        if not may_retry or self.budget.spent:
            return None
        now = self.clock()
        delay = self.policy.next_delay(failures, now - started, retry_after=retry_after)
        if delay is None:
            return None
        if not self.budget.take(now - attempt_started + delay):
            return None
        return delay

    def pause(self, delay: float) -> None:
        """Wait ``delay`` seconds before the next attempt (counted in the stats)."""
        self.stats.retries += 1
        logger.debug("retrying in %.2f s", delay)
        self._sleep(delay)

    def tries(self) -> Tries:
        """A counter for the attempts of one unit (a request, a body read again)."""
        return Tries(self)


class Tries:
    """The attempts of one request, or of one read sent again: failures and timing."""

    def __init__(self, retrier: Retrier) -> None:
        self.retrier = retrier
        self.started = retrier.clock()
        self.attempt_started = self.started
        self.failures = 0

    def begin(self) -> None:
        """An attempt starts now."""
        self.attempt_started = self.retrier.clock()

    def next_delay(self, may_retry: bool, *, retry_after: str | None = None) -> float | None:
        """Count a failed attempt; the seconds to wait before the next, or None (give up)."""
        self.failures += 1
        return self.retrier.delay(
            may_retry, self.failures, self.started, self.attempt_started, retry_after=retry_after
        )

    def again(self, may_retry: bool, *, retry_after: str | None = None) -> bool:
        """Count a failed attempt; wait and answer True when another is due, else False."""
        delay = self.next_delay(may_retry, retry_after=retry_after)
        if delay is None:
            return False
        self.retrier.pause(delay)
        return True

    def read_again(self, exc: Exception) -> bool:
        """After the body of an idempotent GET was cut off: wait and True to read again.

        For callers that stream a response themselves (manifests, small blobs) and so must
        send the request again: ``exc`` is the httpx error the body read raised. False at
        once when the policy or the budget gives up, or ``exc`` is not a transient
        connection failure; a body that stalled until the read timeout is not read again
        (that would multiply the timeout).
        """
        if isinstance(exc, httpx.TimeoutException) or not is_retryable_exception(exc):
            return False
        self.begin()  # the failed read's own duration is not charged: it was the body's
        return self.again(True)
