"""When a failed request is sent again: the retry policy, the operation's budget, the waits.

:class:`Attempts` applies :class:`~polyarch.transport.retry.RetryPolicy` to one request's
failures and charges every retry (the failed attempt's duration plus the wait) to the
:class:`~polyarch.transport.retry.RetryBudget` that all requests of one client share. When
no retry is due, :meth:`Attempts.final_error` is the error to raise: a transient failure
that was retried as long as allowed is :class:`~polyarch.transport.errors.RetriesExhausted`
(final: nothing should start the work over), others a plain
:class:`~polyarch.errors.TransportError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from polyarch.errors import TransportError
from polyarch.transport.errors import RetriesExhausted, transport_error
from polyarch.transport.masking import mask
from polyarch.transport.retry import RetryBudget
from polyarch.transport.settings import TransportSettings
from polyarch.transport.stats import TransportStats

__all__ = ["Attempts"]

logger = logging.getLogger("polyarch.transport")


class Attempts:
    """Retry decisions for one client; ``sleep`` and ``clock`` are injectable (seconds)."""

    def __init__(
        self,
        settings: TransportSettings,
        stats: TransportStats,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.stats = stats
        self.budget = RetryBudget(settings.retry_budget)
        self._sleep = sleep
        self._clock = clock

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
        ``attempt_started`` when the last did (both on the client's clock).
        """
        if not may_retry or self.budget.spent:
            return None
        now = self._clock()
        delay = self.settings.retry.next_delay(failures, now - started, retry_after=retry_after)
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

    def final_error(
        self,
        exc: Exception,
        registry: str,
        what: str,
        *,
        retryable: bool,
        secrets: Iterable[str],
    ) -> TransportError:
        """The error for ``exc`` when no retry is due; ``secrets`` are masked in it."""
        error = transport_error(exc, registry, what, timeout=self.settings.timeout)
        message = mask(error.message, secrets)
        if retryable and self.budget.spent:
            return RetriesExhausted(
                f"{message} (no more retries: the budget of "
                f"{self.settings.retry_budget:g} s for this operation is spent)",
                hint=error.hint,
            )
        if retryable:
            # Retried as long as the policy allows: starting the work over would only
            # repeat these retries (a registry that never answers).
            return RetriesExhausted(message, hint=error.hint)
        return TransportError(message, hint=error.hint)
