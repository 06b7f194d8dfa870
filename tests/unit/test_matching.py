"""The one place of each shape rule, as a kind: platform selection, filters, external blobs,
the nested-index walk. On real content in an ``oci:`` layout (no sockets).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from polyarch import Context, Descriptor, Digest, Platform, Repository, build_index, parse_location
from polyarch.content.graph import (
    attestations_by_subject,
    external_blobs,
    manifest_tree,
    required_blobs,
)
from polyarch.content.selection import EntryPlatforms, matches_filter
from polyarch.domain import mediatype as mt
from polyarch.domain.manifest import ImageManifest, Index
from support.images import push_attestation, push_image
from support.shapes import push_windows_foreign


class Counting(EntryPlatforms):
    """Counts the child manifests and configs the rule reads."""

    def __init__(self, repo: Repository) -> None:
        super().__init__(repo)
        self.reads: list[Digest] = []

    def manifest(self, descriptor: Descriptor) -> ImageManifest | Index:
        if descriptor.digest not in self._manifests:
            self.reads.append(descriptor.digest)
        return super().manifest(descriptor)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    with Context() as ctx:
        yield ctx.repository(parse_location(f"oci:{tmp_path}/layout"))


def _p(text: str) -> Platform:
    return Platform.parse(text)


def test_entries_without_platform_are_matched_by_their_config(repo: Repository) -> None:
    amd, arm = push_image(repo, "linux/amd64"), push_image(repo, "linux/arm64")
    index = build_index([amd.manifest.descriptor(), arm.manifest.descriptor()])
    rule = Counting(repo)
    chosen = rule.select(index, _p("linux/arm64"))
    assert chosen is not None and chosen.descriptor.digest == arm.digest
    assert chosen.platform == _p("linux/arm64") and chosen.from_config
    assert rule.select(index, _p("linux/s390x")) is None
    assert rule.reads == [amd.digest, arm.digest]  # each child read once, across both asks


def test_entries_with_a_platform_rank_first_and_need_no_reads(repo: Repository) -> None:
    """containerd's LimitManifests order: platform-less candidates after every other one."""
    bare = push_image(repo, "linux/amd64", payload=b"no platform in the index\n")
    marked = push_image(repo, "linux/amd64", payload=b"platform in the index\n")
    v2 = push_image(repo, "linux/amd64/v2")
    index = build_index(
        [
            bare.manifest.descriptor(),
            marked.manifest.descriptor(marked.platform),
            v2.manifest.descriptor(v2.platform),
        ]
    )
    rule = Counting(repo)
    chosen = rule.select(index, _p("linux/amd64"))
    assert chosen is not None and chosen.descriptor.digest == marked.digest
    v3 = rule.select(index, _p("linux/amd64/v3"))
    assert v3 is not None and v3.descriptor.digest == v2.digest  # best variant first
    assert rule.reads == []
    # arm/v7 on an arm64 host: compatible, found by config alone.
    arm7 = push_image(repo, "linux/arm/v7")
    older = build_index([arm7.manifest.descriptor(), bare.manifest.descriptor()])
    found = rule.select(older, _p("linux/arm64"))
    assert found is not None and found.descriptor.digest == arm7.digest


def test_nested_indexes_are_walked_and_attestations_never_picked(repo: Repository) -> None:
    amd, arm = push_image(repo, "linux/amd64"), push_image(repo, "linux/arm64")
    inner = build_index([amd.manifest.descriptor(amd.platform), arm.manifest.descriptor()])
    repo.put_manifest(inner)
    attestation = push_attestation(repo, amd.manifest)
    outer = build_index(
        [
            Descriptor(
                attestation.media_type,
                attestation.digest,
                attestation.size,
                annotations={
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": str(amd.digest),
                },
            ),
            inner.descriptor(),
        ]
    )
    chosen = EntryPlatforms(repo).select(outer, _p("linux/arm64"))
    assert chosen is not None
    assert (chosen.descriptor.digest, chosen.path) == (arm.digest, (inner.digest,))
    assert EntryPlatforms(repo).select(outer, _p("linux/riscv64")) is None


@pytest.mark.parametrize(
    ("platform", "filters", "expected"),
    [
        ("linux/arm64/v8", ["linux/arm64"], True),
        ("linux/arm/v7", ["linux/arm/v6"], False),
        ("linux/amd64", [], True),
        ("windows/amd64", ["windows/amd64"], True),
        ("windows(10.0.17763.1)/amd64", ["windows(10.0.20348.1)/amd64"], False),
        ("windows(10.0.17763.1)/amd64", ["windows/amd64"], True),
    ],
)
def test_platform_filters(platform: str, filters: list[str], expected: bool) -> None:
    assert matches_filter(_p(platform), [_p(f) for f in filters]) is expected


def test_external_blobs_are_never_required(repo: Repository) -> None:
    for oci in (False, True):
        win = push_windows_foreign(repo, tag=None, oci=oci)
        assert required_blobs(win.manifest) == (win.manifest.config, win.local)
        assert external_blobs(win.manifest) == (win.foreign,)
    kinds = [
        mt.DOCKER_FOREIGN_LAYER,
        mt.DOCKER_FOREIGN_LAYER_TAR,
        mt.OCI_LAYER_NONDISTRIBUTABLE,
        mt.OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        mt.OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
    ]
    digest = Digest("sha256:" + "c" * 64)
    assert all(Descriptor(k, digest, 1).is_external for k in kinds)
    # Any descriptor with urls is external; a plain layer is not.
    assert Descriptor(mt.OCI_LAYER_GZIP, digest, 1, urls=("https://x.invalid/b",)).is_external
    assert not Descriptor(mt.OCI_LAYER_GZIP, digest, 1).is_external


def test_manifest_tree_lists_children_first_each_once(repo: Repository) -> None:
    amd, arm = push_image(repo, "linux/amd64"), push_image(repo, "linux/arm64")
    inner = build_index([amd.manifest.descriptor(amd.platform), arm.manifest.descriptor()])
    repo.put_manifest(inner)
    top = build_index([inner.descriptor(), amd.manifest.descriptor(), inner.descriptor()])
    order = [m.digest for _, m in manifest_tree(repo, top)]
    assert order == [amd.digest, arm.digest, inner.digest]


def test_attestations_grouped_once_per_subject(repo: Repository) -> None:
    image = push_image(repo, "linux/amd64")
    attestation = push_attestation(repo, image.manifest)
    entry = Descriptor(
        attestation.media_type,
        attestation.digest,
        attestation.size,
        annotations={
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": str(image.digest),
        },
    )
    index = build_index([image.manifest.descriptor(image.platform), entry, entry])
    assert attestations_by_subject(index) == {image.digest: (entry,)}
