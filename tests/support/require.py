"""A missing real component: a failure in CI, a loud skip elsewhere."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Fail under CI (``CI`` set and non-empty), skip elsewhere with ``reason``.

    CI must never pass by silently skipping the tests that need a real registry or engine.
    """
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(reason)
