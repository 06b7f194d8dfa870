"""A RegistryClient on a mock network with a fake clock, for the transport unit tests.

Nothing opens a socket and nothing sleeps: ``sleep`` and ``clock`` are a :class:`Timeline`
that records each sleep and advances. The fixtures ``timeline`` and ``make`` built on this
live in ``tests/unit/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx

from polyarch.transport.auth.credentials import Credential, CredentialResolver
from polyarch.transport.client import RegistryClient
from polyarch.transport.retry import RetryPolicy
from polyarch.transport.settings import TransportSettings

Handler = Callable[[httpx.Request], httpx.Response]


class FixedResolver(CredentialResolver):
    """Always answers the same credential (or none)."""

    def __init__(self, credential: Credential | None) -> None:
        super().__init__(TransportSettings())
        self.credential = credential

    def resolve(self, registry: str) -> Credential | None:
        return self.credential


class Timeline:
    """A fake clock whose sleep advances it; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client_factory(timeline: Timeline) -> Iterator[Callable[..., RegistryClient]]:
    """Yield ``make(handler_or_transport, settings=None, credential=None)``; close at the end."""
    clients: list[RegistryClient] = []

    def factory(
        handler: Handler | httpx.BaseTransport,
        settings: TransportSettings | None = None,
        credential: Credential | None = None,
    ) -> RegistryClient:
        transport = (
            handler if isinstance(handler, httpx.BaseTransport) else httpx.MockTransport(handler)
        )
        client = RegistryClient(
            settings or TransportSettings(retry=RetryPolicy(jitter=False)),
            credentials=FixedResolver(credential),
            transport=transport,
            sleep=timeline.sleep,
            clock=timeline.clock,
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()
