"""Fixtures shared by the transport unit tests (see ``support/fake_client.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from polyarch.transport.client import RegistryClient
from support.fake_client import Timeline, client_factory


@pytest.fixture
def timeline() -> Timeline:
    """A fake clock for the client's ``sleep`` and ``clock``."""
    return Timeline()


@pytest.fixture
def make(timeline: Timeline) -> Iterator[Callable[..., RegistryClient]]:
    """``make(handler_or_transport, settings=None, credential=None)``: a mock-network client."""
    yield from client_factory(timeline)
