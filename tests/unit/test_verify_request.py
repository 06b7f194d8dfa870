"""VerifyRequest.build: expectations as P=VALUE strings or as a mapping."""

from __future__ import annotations

import re

import pytest

from polyarch import Platform, VerifyRequest
from polyarch.domain.digest import Digest
from polyarch.errors import InvalidInput

ARM = "sha256:" + "5e" * 32
AMD = "sha256:" + "a1" * 32


def test_mapping_and_strings_give_the_same_request() -> None:
    from_strings = VerifyRequest.build(
        "127.0.0.1:5000/app:1",
        expect=[f"linux/arm64={ARM}", f"linux/amd64={AMD}"],
        run=True,
        expect_output=["linux/arm64=aarch64"],
    )
    from_mapping = VerifyRequest.build(
        "127.0.0.1:5000/app:1",
        expect={"linux/arm64": ARM, Platform.parse("linux/amd64"): Digest(AMD)},
        run=True,
        expect_output={"linux/arm64": re.compile("aarch64")},
    )
    assert from_mapping.expect == from_strings.expect
    assert [(p, r.pattern) for p, r in from_mapping.expect_output] == [
        (p, r.pattern) for p, r in from_strings.expect_output
    ]


def test_mapping_values_are_checked() -> None:
    with pytest.raises(InvalidInput, match="linux/arm64=sha256:abc") as caught:
        VerifyRequest.build("127.0.0.1:5000/app:1", expect={"linux/arm64": "sha256:abc"})
    assert caught.value.parameter == "expect"
    with pytest.raises(InvalidInput, match="bad regular expression"):
        VerifyRequest.build("127.0.0.1:5000/app:1", run=True, expect_output={"linux/arm64": "("})
    with pytest.raises(InvalidInput, match="linux/nonsense"):
        VerifyRequest.build("127.0.0.1:5000/app:1", expect={"linux/nonsense/x/y": ARM})


def test_a_single_string_is_refused_naming_the_parameter() -> None:
    with pytest.raises(TypeError, match="expect must be a list"):
        VerifyRequest.build("127.0.0.1:5000/app:1", expect=f"linux/arm64={ARM}")


def test_a_single_platform_or_record_path_is_one_item() -> None:
    request = VerifyRequest.build("127.0.0.1:5000/app:1", platforms="linux/arm64")
    assert request.platforms == (Platform.parse("linux/arm64"),)
