"""polyarch.domain.platform.agreement: the one rule create and verify judge configs by."""

from __future__ import annotations

import pytest

from polyarch.domain.platform import Platform
from polyarch.domain.platform.agreement import config_agreement


@pytest.mark.parametrize(
    ("claimed", "config", "note"),
    [
        ("linux/arm/v6", Platform("linux", "arm"), True),  # Alpine, busybox lists
        ("linux/arm/v5", Platform("linux", "arm"), True),  # Debian armel
        ("linux/arm/v8", Platform("linux", "arm"), True),  # 32-bit userland on ARMv8
        ("linux/arm/v7", Platform("linux", "arm"), False),  # arm normalizes to arm/v7
        ("linux/arm64/v8", Platform("linux", "arm64"), False),
        ("linux/arm64", Platform("linux", "arm64", "v8"), False),
        ("linux/arm", Platform("linux", "arm", "v6"), False),  # the entry names none
        ("linux/aarch64", Platform("linux", "arm64"), False),
        ("linux/arm/v7", Platform("linux", "armhf"), False),
        (
            "windows(10.0.20348.2700)/amd64",
            Platform("windows", "amd64", os_version="10.0.20348.2762"),
            False,
        ),
        ("windows/amd64", Platform("windows", "amd64", os_version="10.0.17763.1"), False),
    ],
)
def test_agrees(claimed: str, config: Platform, note: bool) -> None:
    agreement = config_agreement(Platform.parse(claimed), config)
    assert agreement.agrees
    assert (agreement.note is not None) == note, agreement


@pytest.mark.parametrize(
    ("claimed", "config", "conflict"),
    [
        ("linux/arm/v6", Platform("linux", "arm", "v7"), "variant"),
        ("linux/arm/v6", Platform("linux", "armhf"), "variant"),
        ("linux/arm/v8", Platform("linux", "arm64"), "architecture"),
        ("windows/amd64", Platform("linux", "amd64"), "os"),
        (
            "windows(10.0.20348.2700)/amd64",
            Platform("windows", "amd64", os_version="10.0.17763.6189"),
            "os.version",
        ),
    ],
)
def test_contradicts(claimed: str, config: Platform, conflict: str) -> None:
    agreement = config_agreement(Platform.parse(claimed), config)
    assert not agreement.agrees and agreement.conflict == conflict
