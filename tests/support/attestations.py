"""Attestation manifests in BuildKit's newer OCI-artifact form, and mislinked indexes.

The artifact form (BuildKit with ``oci-artifact=true``, moby/buildkit
docs/attestations/attestation-storage.md): ``artifactType:
application/vnd.docker.attestation.manifest.v1+json``, the OCI empty config
(``application/vnd.oci.empty.v1+json``, ``{}``), in-toto layers, and a ``subject``
naming the image. :func:`mislinked_index` imitates what a hand-merged or buggy tool
leaves: an index whose attestation entries are filed under the wrong image.
"""

from __future__ import annotations

import json
from typing import Any

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, build_index, parse_manifest
from polyarch.domain.platform import Platform
from polyarch.storage.repository import Repository
from support.images import PushedImage, _dumps, push_blob

EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"


def statement(subject: Digest, *, source: str = "deadbeef") -> dict[str, Any]:
    """A SLSA v0.2 provenance statement as BuildKit writes it, naming ``subject``."""
    return {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "pkg:docker/app@x", "digest": {"sha256": subject.hex}}],
        "predicate": {
            "builder": {"id": ""},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "metadata": {
                "https://mobyproject.org/buildkit@v1#metadata": {"vcs": {"revision": source}}
            },
            "materials": [],
        },
    }


def push_artifact_attestation(
    repo: Repository,
    subject: ImageManifest,
    *,
    statement_subject: Digest | None = None,
) -> ImageManifest:
    """Push an OCI-artifact-form attestation of ``subject`` (its statement may name another)."""
    body = _dumps(statement(statement_subject or subject.digest))
    layer = push_blob(repo, mediatype.IN_TOTO, body)
    layer = Descriptor(
        layer.media_type,
        layer.digest,
        layer.size,
        annotations={"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
    )
    config = push_blob(repo, EMPTY_CONFIG, b"{}")
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "artifactType": mediatype.DOCKER_ATTESTATION_ARTIFACT,
        "config": config.to_json(),
        "layers": [layer.to_json()],
        "subject": subject.descriptor().to_json(),
    }
    manifest = parse_manifest(json.dumps(doc, indent=2).encode(), mediatype.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest)
    return manifest


def attestation_entry(attestation: ImageManifest, filed_under: Digest) -> Descriptor:
    """The index entry of ``attestation``, its annotation naming ``filed_under``."""
    return Descriptor(
        attestation.media_type,
        attestation.digest,
        attestation.size,
        platform=Platform("unknown", "unknown"),
        annotations={
            "vnd.docker.reference.digest": str(filed_under),
            "vnd.docker.reference.type": "attestation-manifest",
        },
        artifact_type=attestation.artifact_type,
    )


def mislinked_index(
    repo: Repository,
    images: list[PushedImage],
    attestations: list[tuple[ImageManifest, Digest]],
    *,
    tag: str,
) -> Index:
    """Push an index of ``images`` and attestations each filed under the digest given."""
    entries = [i.manifest.descriptor(i.platform) for i in images]
    entries += [attestation_entry(a, under) for a, under in attestations]
    index = build_index(entries)
    repo.put_manifest(index, tag)
    return index
