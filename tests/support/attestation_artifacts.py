"""BuildKit 0.32's attestation manifests: OCI artifacts with a ``subject``, still in the index.

BuildKit 0.32 (compatibility version 0.31, its default, with OCI media types) writes each
attestation manifest as an OCI artifact: ``artifactType``
``application/vnd.docker.attestation.manifest.v1+json``, the empty config, the in-toto
statements as layers (``in-toto.io/predicate-type`` annotations), and ``subject`` the
platform image; the index still lists it as ``unknown/unknown`` with the
``vnd.docker.reference.*`` annotations (moby/buildkit v0.32.2
``exporter/containerimage/writer.go`` ``commitAttestationsManifest``, ``export.go``
``DefaultOCIArtifact``). The older form (a dummy ``unknown/unknown`` config, no subject) is
:func:`support.images.push_attestation`.
"""

from __future__ import annotations

import json
from typing import Any

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, build_index, parse_manifest
from polyarch.storage.repository import Repository

from .images import PushedImage, attestation_entry, push_blob, push_image

ARTIFACT_TYPE = "application/vnd.docker.attestation.manifest.v1+json"
SLSA_V1 = "https://slsa.dev/provenance/v1"


def push_artifact_attestation(
    repo: Repository, image: PushedImage, *, names: Digest | None = None
) -> ImageManifest:
    """Push a BuildKit 0.32-form provenance attestation of ``image`` (indented JSON, as Go's
    ``json.MarshalIndent`` writes it); ``names``: the digest its statement names instead of
    the image's (a broken link)."""
    named = names or image.digest
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": SLSA_V1,
        "subject": [{"name": "pkg:docker/app", "digest": {"sha256": named.hex}}],
        "predicate": {
            "buildDefinition": {
                "buildType": "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md",
                "externalParameters": {"request": {"frontend": "dockerfile.v0"}},
            },
            "runDetails": {"builder": {"id": ""}},
        },
    }
    data = json.dumps(statement, indent=2).encode()
    layer = push_blob(repo, mediatype.IN_TOTO, data)
    layer = Descriptor(
        layer.media_type,
        layer.digest,
        layer.size,
        annotations={"in-toto.io/predicate-type": SLSA_V1},
    )
    empty = push_blob(repo, mediatype.OCI_EMPTY, b"{}")
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {**empty.to_json(), "data": "e30="},
        "layers": [layer.to_json()],
        "subject": image.manifest.descriptor().to_json(),
    }
    manifest = parse_manifest(json.dumps(doc, indent=2).encode(), mediatype.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest)
    return manifest


def push_buildkit_index(
    repo: Repository, platforms: list[str], *, tag: str
) -> tuple[Index, list[PushedImage], list[ImageManifest]]:
    """An index as BuildKit 0.32 pushes it: each image, then each artifact attestation."""
    images = [push_image(repo, p) for p in platforms]
    attestations = [push_artifact_attestation(repo, i) for i in images]
    entries = [i.manifest.descriptor(i.platform) for i in images]
    entries += [attestation_entry(a, i.digest) for a, i in zip(attestations, images, strict=True)]
    index = build_index(entries)
    repo.put_manifest(index, tag)
    return index, images, attestations


def attestation_digests(index: Index) -> list[Digest]:
    """The digests of an index's ``unknown/unknown`` attestation entries."""
    return [d.digest for d in index.attestations]
