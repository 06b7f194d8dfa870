"""create's pure parts: arguments, platform merging, duplicates, ordering, formats."""

from __future__ import annotations

import itertools
from typing import Any, cast

import pytest

from polyarch import (
    CreateRequest,
    Descriptor,
    Digest,
    InvalidInput,
    InvalidManifest,
    InvalidPlatform,
    InvalidReference,
    Platform,
    Source,
)
from polyarch.domain import mediatype as mt
from polyarch.domain.location import parse_location
from polyarch.domain.manifest import Index
from polyarch.operations.create.plan import (
    Contribution,
    assemble,
    check_new_duplicates,
    entries_of,
    existing_items,
)
from polyarch.operations.create.sources import Attestation, Entry, _final_platform
from polyarch.storage.repository import Repository
from support.schema import assert_valid

REPO = cast(Repository, object())


def _assemble(entries: list[Entry], request: CreateRequest) -> tuple[Index, list[Entry]]:
    """A plain create's assembly of ``entries`` (what the library does before publishing)."""
    index, items = assemble(
        (None, []),
        [Contribution(tuple(check_new_duplicates(entries)))],
        attestations=request.attestations,
        index_format=request.format,
    )
    return index, list(entries_of(items))


def _append(index: Index, entries: list[Entry]) -> Index:
    """An append's assembly of ``entries`` onto ``index``."""
    start = existing_items(REPO, parse_location("127.0.0.1:5000/app:v1"), index)
    result, _ = assemble(
        start,
        [Contribution(tuple(check_new_duplicates(entries)))],
        attestations="keep",
        index_format="oci",
        existing=index,
    )
    return result


def _d(n: int, platform: str | None = None, media: str = mt.OCI_MANIFEST) -> Descriptor:
    return Descriptor(
        media,
        Digest("sha256:" + f"{n:x}" * 64),
        100 + n,
        Platform.parse(platform) if platform else None,
    )


def _entry(
    n: int,
    platform: str,
    source: str = "",
    atts: tuple[int, ...] = (),
    media: str = mt.OCI_MANIFEST,
) -> Entry:
    att = tuple(Attestation(_d(a), REPO) for a in atts)
    return Entry(_d(n, platform, media), REPO, source or f"src{n}", None, att)


def test_source_parse() -> None:
    s = Source.parse("127.0.0.1:5000/app:v1")
    assert (str(s.ref), s.platform) == ("127.0.0.1:5000/app:v1", None)
    s = Source.parse("app@sha256:" + "a" * 64 + "=windows(10.0.20348)/amd64")
    assert s.platform == Platform("windows", "amd64", os_version="10.0.20348")
    with pytest.raises(InvalidReference, match="source 'Bad:/x'"):
        Source.parse("Bad:/x")
    with pytest.raises(InvalidPlatform, match="source 'app=linux/'"):
        Source.parse("app=linux/")


@pytest.mark.parametrize(
    ("config", "claimed", "override", "expected"),
    [
        ("linux/amd64", None, None, "linux/amd64"),
        ("linux/arm64/v8", None, None, "linux/arm64"),
        ("linux/arm", None, "linux/arm/v6", "linux/arm/v6"),
        ("linux/arm", None, None, "linux/arm/v7"),
        ("linux/arm", "linux/arm/v5", None, "linux/arm/v5"),
        (None, None, "linux/riscv64", "linux/riscv64"),
        ("windows/amd64", None, "windows(10.0.20348)/amd64", "windows/amd64"),
    ],
)
def test_final_platform(
    config: str | None, claimed: str | None, override: str | None, expected: str
) -> None:
    parse = lambda t: Platform.parse(t) if t else None  # noqa: E731
    assert str(_final_platform("S", parse(config), parse(claimed), parse(override))) == expected


def test_final_platform_keeps_os_version_from_override() -> None:
    p = _final_platform(
        "S", Platform("windows", "amd64"), None, Platform.parse("windows(10.0.20348)/amd64")
    )
    assert p.os_version == "10.0.20348"


@pytest.mark.parametrize(
    ("config", "claimed", "override", "error", "fragment"),
    [
        (None, None, None, InvalidInput, "names no platform"),
        ("linux/amd64", None, "linux/arm64", InvalidInput, "the override says linux/arm64"),
        ("linux/arm/v7", None, "linux/arm/v6", InvalidInput, "linux/arm/v6"),
        ("linux/amd64", None, "windows/amd64", InvalidInput, "windows/amd64"),
        ("linux/amd64", "linux/arm64", None, InvalidManifest, "its index entry claims linux/arm64"),
    ],
)
def test_final_platform_refuses_contradictions(
    config: str | None,
    claimed: str | None,
    override: str | None,
    error: type[Exception],
    fragment: str,
) -> None:
    parse = lambda t: Platform.parse(t) if t else None  # noqa: E731
    with pytest.raises(error, match=fragment.replace("/", "/")):
        _final_platform("S", parse(config), parse(claimed), parse(override))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"targets": []}, "no target"),
        ({"sources": []}, "no source"),
        ({"attestations": "some"}, "'keep', 'drop' or 'referrers'"),
        ({"format": "v1"}, "'oci' or 'docker'"),
        ({"format": "docker", "annotations": ["a=b"]}, "annotations need an OCI index"),
        ({"annotations": ["novalue"]}, "KEY=VALUE"),
        ({"targets": ["app@sha256:" + "a" * 64]}, "needs a tag"),
    ],
)
def test_request_validation(kwargs: dict[str, Any], fragment: str) -> None:
    args: dict[str, Any] = {
        "targets": ["127.0.0.1:5000/app:v1"],
        "sources": ["127.0.0.1:5000/app:a"],
    }
    args.update(kwargs)
    with pytest.raises(InvalidInput, match=fragment):
        CreateRequest.build(args.pop("targets"), args.pop("sources"), **args)


def test_request_defaults() -> None:
    r = CreateRequest.build(["app", "app:latest"], ["app:a"], annotations=["k=v=w"])
    assert [str(t) for t in r.targets] == ["docker.io/library/app:latest"]
    assert dict(r.annotations.index) == {"k": "v=w"}
    assert r.sources[0].text == "app:a"


def test_duplicates() -> None:
    a, b = _entry(1, "linux/arm64", "A"), _entry(2, "linux/arm64/v8", "B")
    with pytest.raises(InvalidInput, match="A \\(linux/arm64\\) and B"):
        check_new_duplicates([a, b])
    assert check_new_duplicates([a, _entry(1, "linux/arm64", "A again")]) == [a]
    windows = [_entry(3, "windows(10.0.17763)/amd64"), _entry(4, "windows(10.0.20348)/amd64")]
    assert len(check_new_duplicates(windows)) == 2


def test_assemble_orders_deterministically() -> None:
    entries = [
        _entry(1, "linux/arm64", atts=(9,)),
        _entry(2, "linux/amd64", atts=(8, 7)),
        _entry(3, "linux/arm/v7"),
    ]
    request = CreateRequest.build(["app:v1"], ["app:a"])
    results = {_assemble(list(p), request)[0].raw for p in itertools.permutations(entries)}
    assert len(results) == 1
    index, ordered = _assemble(entries, request)
    assert_valid(index.raw, mt.OCI_INDEX)
    assert [str(e.platform) for e in ordered] == ["linux/amd64", "linux/arm/v7", "linux/arm64"]
    atts = index.attestations
    assert [a.attestation_subject for a in atts] == [_d(2).digest, _d(2).digest, _d(1).digest]
    assert [a.digest for a in atts] == [_d(7).digest, _d(8).digest, _d(9).digest]
    assert all(a.platform == Platform("unknown", "unknown") for a in atts)

    dropped, _ = _assemble(entries, CreateRequest.build(["app:v1"], ["app:a"], attestations="drop"))
    assert dropped.attestations == () and len(dropped.images) == 3


def test_assemble_docker_format() -> None:
    docker_entries = [
        _entry(1, "linux/amd64", media=mt.DOCKER_MANIFEST),
        _entry(2, "linux/arm64", media=mt.DOCKER_MANIFEST),
    ]
    request = CreateRequest.build(["app:v1"], ["app:a"], format="docker")
    index, _ = _assemble(docker_entries, request)
    assert index.media_type == mt.DOCKER_MANIFEST_LIST
    oci = r"src2 is application/vnd\.oci\.image\.manifest\.v1\+json"
    with pytest.raises(InvalidInput, match=oci):
        _assemble([docker_entries[0], _entry(2, "linux/arm64")], request)
    with pytest.raises(InvalidInput, match="attestation of src1") as info:
        _assemble([_entry(1, "linux/amd64", atts=(5,), media=mt.DOCKER_MANIFEST)], request)
    assert "drop the attestations" in (info.value.hint or "")


def test_merge_replaces_by_normalized_platform() -> None:
    existing, _ = _assemble(
        [_entry(1, "linux/amd64", "old"), _entry(2, "linux/arm64", "old", atts=(5,))],
        CreateRequest.build(["app:v1"], ["app:a"]),
    )
    merged = _append(existing, [_entry(3, "linux/arm64/v8", "new")])
    assert [d.digest for d in merged.manifests] == [_d(1).digest, _d(3).digest]


def _zstd(n: int, platform: str) -> Entry:
    e = _entry(n, platform, f"zstd{n}")
    d = e.descriptor.with_annotations({"io.github.containers.compression.zstd": "true"})
    return Entry(d, REPO, e.source)


def test_a_gzip_zstd_pair_is_one_platform_twice_and_keeps_gzip_first() -> None:
    pair = [_zstd(1, "linux/amd64"), _entry(2, "linux/amd64")]
    assert [e.descriptor.digest for e in check_new_duplicates(pair)] == [_d(2).digest, _d(1).digest]
    with pytest.raises(InvalidInput, match="same platform"):
        check_new_duplicates([*pair, _entry(3, "linux/amd64")])
    with pytest.raises(InvalidInput, match="same platform"):
        check_new_duplicates([_zstd(1, "linux/amd64"), _zstd(2, "linux/amd64")])


def test_append_keeps_order_fields_and_identity() -> None:
    start, _ = _assemble(
        [_entry(1, "linux/arm64"), _entry(2, "linux/amd64")],
        CreateRequest.build(["app:v1"], ["app:a"]),
    )
    # A no-op append returns the very index (same bytes, same digest).
    assert _append(start, [_entry(2, "linux/amd64")]) is start
    added = _append(start, [_entry(3, "linux/s390x")])
    assert [d.digest for d in added.manifests] == [_d(2).digest, _d(1).digest, _d(3).digest]
    replaced = _append(start, [_entry(4, "linux/amd64")])
    assert [d.digest for d in replaced.manifests] == [_d(4).digest, _d(1).digest]


def test_append_keeps_unknown_platform_entries_and_refuses_ambiguous_ones() -> None:
    from polyarch.domain.manifest import build_index

    artifacts = build_index(
        [_d(5, "unknown/unknown"), _d(6, "unknown/unknown"), _d(1, "linux/arm64")]
    )
    after = _append(artifacts, [_entry(2, "linux/amd64")])
    assert [d.digest for d in after.manifests] == [_d(n).digest for n in (5, 6, 1, 2)]
    ambiguous = build_index([_d(1, "linux/arm64"), _d(2, "linux/arm64/v8")])
    with pytest.raises(InvalidInput, match="holds 2 images for linux/arm64"):
        _append(ambiguous, [_entry(3, "linux/amd64")])
