"""One contract, two backends: the registry and the OCI layout behave the same."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from polyarch import (
    BlobUnknown,
    Context,
    Descriptor,
    Digest,
    DigestMismatch,
    ManifestUnknown,
    NameUnknown,
    NotFound,
    Repository,
    SizeMismatch,
    parse_location,
)
from polyarch.domain import mediatype as mt
from polyarch.storage.registry.repository import RegistryRepository
from polyarch.storage.repository import BlobMounting
from support.images import make_layer, push_image

pytestmark = pytest.mark.integration


@pytest.fixture(params=["registry", "layout"])
def repos(
    request: pytest.FixtureRequest, ctx: Context, tmp_path: Path
) -> tuple[Repository, Repository]:
    """Two repositories of the same backend (same registry / same layout directory)."""
    if request.param == "registry":
        host = request.getfixturevalue("registry").host
        name = uuid.uuid4().hex[:8]
        a, b = parse_location(f"{host}/{name}/a"), parse_location(f"{host}/{name}/b")
    else:
        a, b = parse_location(f"oci:{tmp_path}/a"), parse_location(f"oci:{tmp_path}/b")
    return ctx.repository(a), ctx.repository(b)


def test_blobs(repos: tuple[Repository, Repository]) -> None:
    repo, _ = repos
    data, _ = make_layer(b"contract")
    desc = Descriptor(mt.OCI_LAYER_GZIP, Digest.of(data), len(data))
    assert repo.blob_size(desc.digest) is None
    repo.put_blob_bytes(desc, data)
    assert repo.blob_size(desc.digest) == len(data)
    assert repo.read_blob(desc) == data
    # Streamed upload in several chunks, verified before commit.
    big = bytes(range(256)) * 40000
    big_desc = Descriptor(mt.OCI_LAYER, Digest.of(big), len(big))
    repo.put_blob(big_desc, iter([big[i : i + 65536] for i in range(0, len(big), 65536)]))
    with repo.open_blob(big_desc) as reader:
        assert b"".join(reader) == big
    lying = Descriptor(mt.OCI_LAYER, Digest.of(b"something else"), len(big))
    with pytest.raises(DigestMismatch):
        repo.put_blob(lying, iter([big]))
    assert repo.blob_size(lying.digest) is None  # nothing unverified was committed
    with pytest.raises(SizeMismatch):
        repo.put_blob(Descriptor(mt.OCI_LAYER, big_desc.digest, len(big) - 1), iter([big]))
    with pytest.raises(BlobUnknown), repo.open_blob(lying) as reader:
        b"".join(reader)
    repo.delete_blob(desc.digest)
    assert repo.blob_size(desc.digest) is None


def test_manifests_tags_and_mounts(repos: tuple[Repository, Repository]) -> None:
    repo, other = repos
    image = push_image(repo, "linux/amd64", tag="v1")
    assert repo.get_manifest("v1").raw == image.manifest.raw
    head = repo.head_manifest("v1")
    assert head is not None and head.digest == image.digest and head.size == image.manifest.size
    assert repo.head_manifest("nope") is None
    with pytest.raises(ManifestUnknown):
        repo.get_manifest("nope")
    for tag in ("v2", "v3", "latest"):
        repo.put_manifest(image.manifest, tag)
    assert sorted(repo.list_tags()) == ["latest", "v1", "v2", "v3"]
    # Mount a blob into another repository: registries can (same registry); a layout is one
    # repository per directory and has no such ability, so the transfer engine streams.
    layer = image.manifest.layers[0]
    mountable = isinstance(repo, RegistryRepository)
    assert isinstance(other, BlobMounting) is mountable
    if isinstance(other, BlobMounting):
        assert other.can_mount_from(repo) and other.mount_blob(layer, repo)
    assert (other.blob_size(layer.digest) == layer.size) is mountable
    assert repo.same_as(repo) and not repo.same_as(other)
    repo.delete_manifest(image.digest)
    assert repo.head_manifest(image.digest) is None


def test_registry_tag_pagination(ctx: Context, registry: Any) -> None:
    repo = ctx.repository(parse_location(f"{registry.host}/{uuid.uuid4().hex[:8]}/paged"))
    image = push_image(repo, "linux/amd64", tag="t0")
    for i in range(1, 7):
        repo.put_manifest(image.manifest, f"t{i}")
    assert isinstance(repo, RegistryRepository)
    # distribution 2.8 ignores ?n= for tags and answers in one page; a Link-following
    # client must still list everything (pagination loops: see test_hostile.py).
    repo.tag_page_size = 2
    assert sorted(repo.list_tags()) == [f"t{i}" for i in range(7)]


def test_a_repository_that_does_not_exist(repos: tuple[Repository, Repository]) -> None:
    """Both backends: a missing repository's tag list is NameUnknown, a manifest read is
    NotFound (distribution 2.8 answers MANIFEST_UNKNOWN there; a layout says the directory
    is missing); a HEAD or blob size there is "absent", so a copy can create it."""
    repo, _ = repos
    with pytest.raises(NameUnknown):
        repo.list_tags()
    with pytest.raises(NotFound):
        repo.get_manifest("v1")
    assert repo.head_manifest("v1") is None
    assert repo.blob_size(Digest.of(b"x")) is None


def test_deleting_a_manifest_removes_its_tags_only(repos: tuple[Repository, Repository]) -> None:
    """The contract `polyarch delete REPO@DIGEST` relies on: the tags go, the children stay."""
    repo, _ = repos
    first = push_image(repo, "linux/amd64", tag="a")
    second = push_image(repo, "linux/arm64", tag="b")
    repo.put_manifest(first.manifest, "a2")
    repo.delete_manifest(first.digest)
    assert repo.head_manifest("a") is None and repo.head_manifest("a2") is None
    assert repo.head_manifest(str(first.digest)) is None
    assert repo.get_manifest("b").digest == second.digest
    assert sorted(repo.list_tags()) == ["b"]
