"""CreateRequest.build as scripts call it (issue 11 §5); buildx annotation syntax (issue 10)."""

from __future__ import annotations

from typing import Any

import pytest

from polyarch import CreateRequest, InvalidInput, Platform, Reference
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.operations.create.annotations import parse_annotations


def test_a_single_string_is_one_target_and_one_source() -> None:
    r = CreateRequest.build(targets="host.example/x:1", sources="host.example/x:a")
    assert [str(t) for t in r.targets] == ["host.example/x:1"]
    assert [s.text for s in r.sources] == ["host.example/x:a"]
    r = CreateRequest.build(Reference.parse("host.example/x:1"), ["host.example/x:a"])
    assert [str(t) for t in r.targets] == ["host.example/x:1"]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"targets": 1}, "targets"),
        ({"targets": [b"host.example/x:1"]}, "targets"),
        ({"sources": 3.5}, "sources"),
        ({"sources": [None]}, "sources"),
        ({"platforms": [7]}, "platforms"),
    ],
)
def test_a_wrong_type_is_a_type_error_naming_the_parameter(
    kwargs: dict[str, Any], name: str
) -> None:
    args: dict[str, Any] = {"targets": ["host.example/x:1"], "sources": ["host.example/x:a"]}
    args.update(kwargs)
    with pytest.raises(TypeError, match=name):
        CreateRequest.build(args.pop("targets"), args.pop("sources"), **args)


def test_a_misspelt_keyword_names_the_tunables() -> None:
    with pytest.raises(TypeError, match="dryrun") as info:
        CreateRequest.build(["host.example/x:1"], ["host.example/x:a"], dryrun=True)
    assert "guard_attempts" in str(info.value) and "part_horizon" in str(info.value)
    with pytest.raises(TypeError, match="guard_attempts must be a number"):
        CreateRequest.build(["host.example/x:1"], ["host.example/x:a"], guard_attempts="3")
    r = CreateRequest.build(["host.example/x:1"], ["host.example/x:a"], guard_attempts=3)
    assert r.guard_attempts == 3


def _d(platform: str) -> Descriptor:
    return Descriptor(
        "application/vnd.oci.image.manifest.v1+json",
        Digest("sha256:" + "a" * 64),
        1,
        Platform.parse(platform),
    )


def test_buildx_prefixes() -> None:
    spec = parse_annotations(
        [
            "plain=1",
            "index:org.opencontainers.image.title=api",
            "com.example:colon=kept as a key",
            "manifest-descriptor:all=yes",
            "manifest-descriptor[linux/arm64/v8]:tier=edge",
        ]
    )
    assert dict(spec.index) == {
        "plain": "1",
        "org.opencontainers.image.title": "api",
        "com.example:colon": "kept as a key",
    }
    assert spec.for_descriptor(_d("linux/amd64")) == {"all": "yes"}
    assert spec.for_descriptor(_d("linux/arm64")) == {"all": "yes", "tier": "edge"}
    assert parse_annotations({"index:x": "y"}).index == {"index:x": "y"}  # a mapping is verbatim


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ("manifest:k=v", "manifest: annotations belong in each image manifest"),
        ("manifest[linux/amd64]:k=v", "manifest: annotations"),
        ("index-descriptor:k=v", "index-descriptor: annotations belong in an index above"),
        ("index[linux/amd64]:k=v", "takes no \\[platform\\] filter"),
        ("manifest-descriptor[linux/]:k=v", "manifest-descriptor\\[linux/\\]"),
        ("index:novalue", "expected \\[TYPE:\\]KEY=VALUE"),
        ("index:=v", "expected"),
    ],
)
def test_buildx_prefixes_refused(item: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        parse_annotations([item])


def test_a_prefix_is_never_stored_as_a_key() -> None:
    r = CreateRequest.build(["host.example/x:1"], ["host.example/x:a"], annotations="index:k=v")
    assert dict(r.annotations.index) == {"k": "v"}
