"""``polyarch matrix``: one build job per variant, on the runner that builds it natively."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyarch.domain.platform import Platform
from polyarch.errors import InvalidInput
from polyarch.pipeline.matrix import (
    NoNativeRunner,
    build_matrix,
    github_output_line,
    parse_runner_overrides,
)
from polyarch.pipeline.specfile.model import Variant


def _variant(platform: str, runner: tuple[str, ...] = ()) -> Variant:
    return Variant(Platform.parse(platform).normalized(), Path("/c"), Path("/c/D"), runner=runner)


def test_native_defaults() -> None:
    entries = build_matrix([_variant("linux/amd64"), _variant("linux/arm64/v8")])
    assert [e.to_json() for e in entries] == [
        {"platform": "linux/amd64", "runner": "ubuntu-24.04", "artifact": "records-linux-amd64"},
        {
            "platform": "linux/arm64",
            "runner": "ubuntu-24.04-arm",
            "artifact": "records-linux-arm64",
        },
    ]


def test_spec_runner_then_override() -> None:
    variants = [
        _variant("linux/amd64", ("self-hosted", "linux", "x64")),
        _variant("linux/arm/v7", ("ubuntu-24.04",)),
    ]
    entries = build_matrix(variants)
    assert entries[0].to_json()["runner"] == ["self-hosted", "linux", "x64"]
    assert entries[1].to_json() == {
        "platform": "linux/arm/v7",
        "runner": "ubuntu-24.04",
        "artifact": "records-linux-arm-v7",
    }
    overrides = parse_runner_overrides(["linux/amd64=ubuntu-22.04", "linux/arm=pi-farm,armhf"])
    entries = build_matrix(variants, overrides, targets={Platform.parse("linux/amd64"): "api"})
    assert [e.to_json()["runner"] for e in entries] == ["ubuntu-22.04", ["pi-farm", "armhf"]]
    assert entries[0].to_json()["target"] == "api"


def test_no_native_runner_says_so() -> None:
    with pytest.raises(NoNativeRunner, match="linux/s390x has no native GitHub-hosted runner") as e:
        build_matrix([_variant("linux/amd64"), _variant("linux/s390x")])
    assert "a runner linux/s390x=LABEL" in e.value.one_line()
    assert e.value.parameter == "runners"
    assert e.value.exit_code == 2


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["linux/amd64"], "expected PLATFORM=LABEL"),
        (["linux/=x"], "runner 'linux/=x'"),
        (["linux/amd64=a,,b"], "empty or spaced label"),
        (["linux/amd64=a b"], "empty or spaced label"),
        (["linux/amd64=a", "linux/amd64=b"], "linux/amd64 given twice"),
    ],
)
def test_bad_overrides(values: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_runner_overrides(values)


def test_override_for_no_variant() -> None:
    overrides = parse_runner_overrides(["linux/ppc64le=power"])
    with pytest.raises(InvalidInput, match="runner for linux/ppc64le: no variant builds it"):
        build_matrix([_variant("linux/amd64")], overrides)


def test_github_output_is_one_line_of_json() -> None:
    line = github_output_line(
        "matrix", {"include": [build_matrix([_variant("linux/amd64")])[0].to_json()]}
    )
    name, _, value = line.partition("=")
    assert name == "matrix" and "\n" not in line
    assert json.loads(value)["include"][0]["runner"] == "ubuntu-24.04"
