"""Blob bodies are read from the socket in 512 KiB pieces (transport/reads.py).

The setting lives in httpcore, not in httpx's API: this test is what notices when an
httpcore upgrade renames or drops it (a copy would then cost about twice the CPU).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from httpcore._sync import http11

from polyarch.transport.client import RegistryClient
from polyarch.transport.reads import SOCKET_READ_BYTES, widen_socket_reads
from polyarch.transport.settings import TransportSettings


@pytest.fixture
def httpcore_default() -> Iterator[int]:
    """httpcore's own read size, as a fresh process has it, restored afterwards."""
    assert hasattr(http11.HTTP11Connection, "READ_NUM_BYTES"), "httpcore dropped READ_NUM_BYTES"
    before = http11.HTTP11Connection.READ_NUM_BYTES
    http11.HTTP11Connection.READ_NUM_BYTES = 64 * 1024
    widen_socket_reads.cache_clear()
    yield 64 * 1024
    http11.HTTP11Connection.READ_NUM_BYTES = before


def test_building_a_client_widens_the_reads(httpcore_default: int) -> None:
    assert httpcore_default == http11.HTTP11Connection.READ_NUM_BYTES
    RegistryClient(TransportSettings()).close()
    assert http11.HTTP11Connection.READ_NUM_BYTES == SOCKET_READ_BYTES == 512 * 1024


def test_a_larger_size_is_never_lowered(httpcore_default: int) -> None:
    http11.HTTP11Connection.READ_NUM_BYTES = 4 * SOCKET_READ_BYTES
    assert widen_socket_reads() is True
    assert http11.HTTP11Connection.READ_NUM_BYTES == 4 * SOCKET_READ_BYTES
