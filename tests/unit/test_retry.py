"""RetryPolicy: capped exponential backoff with full jitter, Retry-After, bounds."""

from __future__ import annotations

import random
import ssl
from datetime import UTC, datetime

import httpx
import pytest

from polyarch.transport.retry import (
    RETRY_STATUSES,
    RetryPolicy,
    is_retryable_exception,
    parse_retry_after,
)


def test_backoff_without_jitter_doubles_and_caps() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=10.0, jitter=False)
    assert [policy.backoff(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_huge_attempt_count_does_not_overflow() -> None:
    assert RetryPolicy(jitter=False).backoff(10_000) == 10.0


def test_full_jitter_is_uniform_below_the_cap_and_reproducible() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    first = [policy.backoff(n, random.Random(42).random) for n in range(1, 6)]
    again = [policy.backoff(n, random.Random(42).random) for n in range(1, 6)]
    assert first == again
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(0.0 <= d <= cap for d, cap in zip(first, caps, strict=True))
    rng = random.Random(1)
    draws = [policy.backoff(3, rng.random) for _ in range(200)]
    assert min(draws) < 0.5
    assert max(draws) > 3.5


def test_next_delay_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, jitter=False)
    assert policy.next_delay(1, 0.0) == 0.5
    assert policy.next_delay(2, 0.0) == 1.0
    assert policy.next_delay(3, 0.0) is None


def test_next_delay_is_bounded_by_total_time() -> None:
    policy = RetryPolicy(
        max_attempts=100, base_delay=4.0, max_delay=8.0, max_total=10.0, jitter=False
    )
    assert policy.next_delay(2, 1.0) == 8.0
    assert policy.next_delay(2, 7.0) == 3.0  # only 3 s left
    assert policy.next_delay(2, 10.0) is None
    assert policy.next_delay(2, 11.0) is None


def test_retry_after_seconds_wins_over_backoff() -> None:
    policy = RetryPolicy(jitter=False)
    assert policy.next_delay(1, 0.0, retry_after="3") == 3.0
    assert policy.next_delay(1, 0.0, retry_after="0") == 0.0


def test_retry_after_longer_than_the_budget_gives_up_at_once() -> None:
    policy = RetryPolicy(max_total=60.0, jitter=False)
    assert policy.next_delay(1, 50.0, retry_after="9") == 9.0
    assert policy.next_delay(1, 50.0, retry_after="11") is None


def test_retry_after_http_date() -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=now) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0
    policy = RetryPolicy(jitter=False)
    delay = policy.next_delay(1, 0.0, retry_after="Wed, 21 Oct 2015 07:28:05 GMT", now=now)
    assert delay == 5.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Wed, 99 Foo 2015"])
def test_unusable_retry_after_falls_back_to_backoff(value: str | None) -> None:
    assert parse_retry_after(value) is None
    assert RetryPolicy(jitter=False).next_delay(2, 0.0, retry_after=value) == 1.0


def test_retry_statuses() -> None:
    assert {429, 502, 503, 504} == RETRY_STATUSES
    assert 500 not in RETRY_STATUSES


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.WriteError("broken pipe"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.PoolTimeout("timed out"),
    ],
)
def test_transient_failures_are_retryable(exc: Exception) -> None:
    assert is_retryable_exception(exc)


def test_tls_and_other_failures_are_not_retryable() -> None:
    cert = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert not is_retryable_exception(cert)
    chained = httpx.ConnectError("handshake failed")
    chained.__cause__ = ssl.SSLError(1, "wrong version number")
    assert not is_retryable_exception(chained)
    assert not is_retryable_exception(ValueError("bug"))
    assert not is_retryable_exception(httpx.TooManyRedirects("loop"))
    assert not is_retryable_exception(httpx.LocalProtocolError("bad header"))
