"""An in-memory :class:`Repository` for unit tests of graph logic (no sockets, no files).

It stores what it is given and answers as distribution 2.8 does where that matters: no
referrers API (the tag schema is read through tags), deleting a manifest removes every
tag pointing at it, a tag alone cannot be deleted. Tests of what a real registry does
use the real one (tests/integration); this stands in for it only where the graph walk,
not the registry, is under test.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, Manifest, build_index, parse_manifest
from polyarch.domain.platform import Platform
from polyarch.errors import BlobUnknown, ManifestUnknown, PolyarchError, Unsupported
from polyarch.storage.referrers_tag import referrers_tag
from polyarch.storage.repository import Repository
from polyarch.storage.stream import BlobReader, VerifyingStream

__all__ = ["MemoryRepository", "image", "index", "sbom"]


class _Reader(BlobReader):
    def __init__(self, data: bytes, descriptor: Descriptor) -> None:
        self.descriptor = descriptor
        self._stream = VerifyingStream([data], descriptor, what=str(descriptor.digest))

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        """Nothing to release."""


class MemoryRepository(Repository):
    """Manifests, tags and blobs in dictionaries; ``deletes=False`` refuses deletes (405)."""

    def __init__(
        self, name: str = "memory/app", *, deletes: bool = True, tags_listable: bool = True
    ) -> None:
        self.name = name
        self.manifests: dict[Digest, Manifest] = {}
        self.tags: dict[str, Digest] = {}
        self.blobs: dict[Digest, bytes] = {}
        self.deletes = deletes
        self.tags_listable = tags_listable
        self.reads: list[str] = []
        self.deleted: list[Digest] = []

    def get_manifest(self, identifier: str) -> Manifest:
        self.reads.append(identifier)
        digest = self.tags.get(identifier) if ":" not in identifier else Digest(identifier)
        if digest is None or digest not in self.manifests:
            raise ManifestUnknown(f"manifest {self.name}:{identifier} not found")
        return self.manifests[digest]

    def head_manifest(self, identifier: str) -> Descriptor | None:
        try:
            m = self.get_manifest(identifier)
        except ManifestUnknown:
            return None
        return Descriptor(m.media_type, m.digest, m.size)

    def put_manifest(self, manifest: Manifest, tag: str | None = None) -> None:
        self.manifests[manifest.digest] = manifest
        if tag is not None:
            self.tags[tag] = manifest.digest

    def delete_manifest(self, digest: Digest) -> None:
        if not self.deletes:
            raise Unsupported("The operation is unsupported.", code="UNSUPPORTED", status=405)
        if digest not in self.manifests:
            raise ManifestUnknown(f"manifest {self.name}@{digest} not found")
        del self.manifests[digest]
        self.tags = {t: d for t, d in self.tags.items() if d != digest}
        self.deleted.append(digest)

    def blob_size(self, digest: Digest) -> int | None:
        data = self.blobs.get(digest)
        return None if data is None else len(data)

    def open_blob(self, descriptor: Descriptor) -> BlobReader:
        data = self.blobs.get(descriptor.digest)
        if data is None:
            raise BlobUnknown(f"blob {descriptor.digest} not found")
        return _Reader(data, descriptor)

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        self.blobs[descriptor.digest] = b"".join(VerifyingStream(chunks, descriptor, what="put"))

    def delete_blob(self, digest: Digest) -> None:
        self.blobs.pop(digest, None)

    def list_tags(self) -> list[str]:
        if not self.tags_listable:
            raise PolyarchError("DENIED requested access to the resource is denied")
        return list(self.tags)

    def delete_tag(self, tag: str) -> bool:
        # distribution 2.8 cannot delete a tag without its manifest.
        return False

    def same_as(self, other: Repository) -> bool:
        return self is other


def _blob(repo: MemoryRepository, media_type: str, data: bytes) -> Descriptor:
    desc = Descriptor(media_type, Digest.of(data), len(data))
    repo.blobs[desc.digest] = data
    return desc


def image(
    repo: MemoryRepository,
    platform: str,
    *,
    tag: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
    seed: str = "",
) -> ImageManifest:
    """An OCI image of ``platform`` (config ``created`` as given), stored, tagged if asked."""
    plat = Platform.parse(platform)
    config = {**plat.to_oci(), "created": created, "rootfs": {"type": "layers", "diff_ids": []}}
    config_desc = _blob(repo, mediatype.OCI_CONFIG, json.dumps(config).encode())
    layer = _blob(repo, mediatype.OCI_LAYER_GZIP, f"{seed}{platform}{created}".encode())
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "config": config_desc.to_json(),
        "layers": [layer.to_json()],
    }
    manifest = parse_manifest(json.dumps(doc).encode())
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest, tag)
    return manifest


def index(
    repo: MemoryRepository,
    children: list[Manifest],
    *,
    tag: str | None = None,
    annotations: dict[str, str] | None = None,
) -> Index:
    """An OCI index naming ``children`` (images get their config's platform), stored."""
    entries = []
    for child in children:
        if isinstance(child, ImageManifest):
            config = json.loads(repo.blobs[child.config.digest])
            entries.append(child.descriptor(Platform.from_oci(config)))
        else:
            entries.append(child.descriptor())
    made = build_index(entries, annotations=annotations)
    repo.put_manifest(made, tag)
    return made


def sbom(repo: MemoryRepository, subject: Manifest, *, text: str = "sbom") -> ImageManifest:
    """An artifact whose ``subject`` is ``subject``, listed in the referrers tag schema."""
    empty = _blob(repo, mediatype.OCI_EMPTY, b"{}")
    layer = _blob(repo, "application/spdx+json", text.encode())
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": empty.to_json(),
        "layers": [layer.to_json()],
        "subject": Descriptor(subject.media_type, subject.digest, subject.size).to_json(),
    }
    manifest = parse_manifest(json.dumps(doc).encode())
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest)
    tag = referrers_tag(subject.digest)
    listed = list(repo.get_manifest(tag).manifests) if tag in repo.tags else []  # type: ignore[union-attr]
    listed.append(
        Descriptor(
            manifest.media_type,
            manifest.digest,
            manifest.size,
            artifact_type="application/spdx+json",
        )
    )
    repo.put_manifest(build_index(listed), tag)
    return manifest
