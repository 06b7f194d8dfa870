"""Manifest graphs as releases leave them in a repository, for delete/prune/verify tests.

A release tag names an index; its children were pushed by digest only (``docker buildx
imagetools create``, ``crane index append``, polyarch's own ``create`` all push children
by digest), so they carry no tag of their own. Retention clean-ups that delete "untagged"
manifests break such releases (snok/container-retention-policy#97,
vlaurin/action-ghcr-prune#76, distribution/distribution#3178 ``garbage-collect
--delete-untagged``): these fixtures rebuild them.

* :func:`push_release`: ``TAG`` -> index -> one image per platform, children untagged.
* :func:`push_bundle_release`: ``TAG`` -> top index -> inner index (untagged) -> images.
* :func:`push_sbom`: an OCI 1.1 artifact whose ``subject`` is an image, pushed by digest,
  listed in the referrers tag schema index (tag ``sha256-<hex>``) as ``oras attach``
  writes it on a registry without the referrers API (distribution 2.8).
* :func:`push_orphans`: manifests no tag reaches: a superseded index and its images.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, build_index, parse_manifest
from polyarch.domain.platform import Platform
from polyarch.storage.referrers_tag import referrers_tag
from polyarch.storage.repository import Repository
from support.images import PushedImage, push_blob, push_image

__all__ = ["Release", "push_bundle_release", "push_orphans", "push_release", "push_sbom"]

SPDX = "application/spdx+json"
EMPTY_CONFIG = b"{}"


@dataclass(frozen=True)
class Release:
    """A tagged index over images pushed by digest only."""

    tag: str
    index: Index
    images: list[PushedImage]
    #: The inner index of a bundle release (None for a flat one).
    inner: Index | None = None


def push_release(
    repo: Repository, tag: str, platforms: list[str], *, docker: bool = False, seed: str = ""
) -> Release:
    """``tag`` -> index -> one image per platform; the images have no tag."""
    images = [
        push_image(repo, p, docker=docker, payload=f"{seed}{tag} {p}\n".encode()) for p in platforms
    ]
    media = mediatype.DOCKER_MANIFEST_LIST if docker else mediatype.OCI_INDEX
    index = build_index([i.manifest.descriptor(i.platform) for i in images], media_type=media)
    repo.put_manifest(index, tag)
    return Release(tag, index, images)


def push_bundle_release(repo: Repository, tag: str) -> Release:
    """``tag`` -> top index -> inner index (by digest) -> two images (by digest)."""
    images = [push_image(repo, p, payload=f"bundle {tag} {p}\n".encode()) for p in _TWO]
    inner = build_index([i.manifest.descriptor(i.platform) for i in images])
    repo.put_manifest(inner)
    top = build_index(
        [Descriptor(inner.media_type, inner.digest, inner.size)],
        annotations={"org.opencontainers.image.title": "bundle"},
    )
    repo.put_manifest(top, tag)
    return Release(tag, top, images, inner)


_TWO = ["linux/amd64", "linux/arm64"]


def push_sbom(repo: Repository, subject: ImageManifest, *, text: str = "sbom") -> ImageManifest:
    """An SPDX artifact with ``subject`` (by digest) and its referrers tag schema entry."""
    empty = push_blob(repo, mediatype.OCI_EMPTY, EMPTY_CONFIG)
    layer = push_blob(repo, SPDX, json.dumps({"spdxVersion": "SPDX-2.3", "name": text}).encode())
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "artifactType": SPDX,
        "config": empty.to_json(),
        "layers": [layer.to_json()],
        "subject": subject.descriptor().to_json(),
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
    }
    manifest = parse_manifest(json.dumps(doc, indent=2).encode(), mediatype.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest)
    tag = referrers_tag(subject.digest)
    listed: list[Descriptor] = []
    if repo.head_manifest(tag) is not None:
        current = repo.get_manifest(tag)
        assert isinstance(current, Index)
        listed = list(current.manifests)
    listed.append(
        Descriptor(
            manifest.media_type,
            manifest.digest,
            manifest.size,
            annotations=manifest.annotations,
            artifact_type=SPDX,
        )
    )
    repo.put_manifest(build_index(listed), tag)
    return manifest


@dataclass(frozen=True)
class Orphans:
    """Manifests no tag reaches any more (a tag moved on)."""

    index: Index
    images: list[PushedImage]

    @property
    def digests(self) -> set[Digest]:
        return {self.index.digest, *(i.digest for i in self.images)}


def push_orphans(repo: Repository, tag: str, platforms: list[str]) -> Orphans:
    """A release at ``tag``, then ``tag`` moved to a new release: the old one is unreachable.

    Returns the orphaned index and images (the new release stays at ``tag``).
    """
    old = push_release(repo, tag, platforms, seed="old ")
    push_release(repo, tag, platforms, seed="new ")
    return Orphans(old.index, old.images)


def platform_of(image: PushedImage) -> Platform:
    """The platform an image was pushed for."""
    return image.platform
