"""Counts of HTTP exchanges, for benchmarks and tests that bound the number of requests."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TransportStats"]


@dataclass
class TransportStats:
    """Counts of HTTP exchanges (each response received, redirects and token requests included)."""

    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    token_requests: int = 0
    retries: int = 0

    def count(self, method: str, *, token: bool) -> None:
        """Record one response to a ``method`` request."""
        self.requests += 1
        self.by_method[method] = self.by_method.get(method, 0) + 1
        if token:
            self.token_requests += 1
