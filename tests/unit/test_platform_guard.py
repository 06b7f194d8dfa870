"""The platform-drop guard: which platforms a tag would lose (microsoft/go#2313)."""

from __future__ import annotations

import pytest

from polyarch.domain.digest import Digest
from polyarch.operations.create.guard import (
    PlatformDropRefused,
    check_platform_drop,
    dropped_platforms,
)
from polyarch.operations.create.result import PlatformChange

A, B, C = (Digest("sha256:" + c * 64) for c in "abc")


def test_a_replaced_or_added_platform_is_no_drop() -> None:
    changes = [
        PlatformChange("linux/amd64", A, B),
        PlatformChange("linux/arm64", None, C),
    ]
    assert dropped_platforms(changes) == ()
    assert check_platform_drop("r/app:1", changes) == ()


def test_the_microsoft_go_case() -> None:
    """A partial publish: the new index has arm64 only, the tag served amd64 too."""
    changes = [
        PlatformChange("linux/amd64", A, None),
        PlatformChange("linux/arm64", B, C),
    ]
    with pytest.raises(PlatformDropRefused) as info:
        check_platform_drop("ghcr.io/seeds/api:3", changes)
    error = info.value
    assert error.one_line() == (
        "refusing to move ghcr.io/seeds/api:3: it would no longer serve linux/amd64 (the new "
        "index has linux/arm64) (publish every variant, or allow dropping it)"
    )
    assert (error.exit_code, error.platforms) == (1, ("linux/amd64",))
    assert error.parameter == "allow_platform_drop"  # the CLI names --allow-platform-drop
    assert check_platform_drop("ghcr.io/seeds/api:3", changes, allow=True) == ("linux/amd64",)


def test_losing_only_the_zstd_twin_drops_nothing() -> None:
    changes = [
        PlatformChange("linux/amd64", A, B),
        PlatformChange("linux/amd64", C, None, compression="zstd"),
    ]
    assert dropped_platforms(changes) == ()


def test_windows_versions_are_platforms() -> None:
    changes = [
        PlatformChange("windows/amd64(10.0.17763.1)", A, None),
        PlatformChange("windows/amd64(10.0.20348.1)", None, B),
    ]
    assert dropped_platforms(changes) == ("windows/amd64(10.0.17763.1)",)


def test_everything_dropped() -> None:
    with pytest.raises(PlatformDropRefused, match=r"the new index has nothing"):
        check_platform_drop("r/a:1", [PlatformChange("linux/amd64", A, None)])
