"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from polyarch import Context, TransportSettings


@pytest.fixture
def ctx() -> Iterator[Context]:
    """A library Context with default settings (no flags, the test's environment)."""
    with Context(TransportSettings()) as context:
        yield context
