"""Small shared questions operations ask about images: their config, their kind."""

from __future__ import annotations

from typing import Literal

from polyarch.descriptor import Descriptor
from polyarch.manifest import ImageConfig, ImageManifest, Index, Manifest, parse_config
from polyarch.storage.base import Repository

__all__ = ["EntryKind", "ManifestKind", "entry_kind", "fetch_config", "manifest_kind"]

#: What a manifest at a reference is.
ManifestKind = Literal["index", "wrapper", "image", "attestation"]
#: What an index entry is.
EntryKind = Literal["image", "attestation", "index", "artifact"]


def fetch_config(repo: Repository, manifest: ImageManifest) -> ImageConfig:
    """Read and parse the config blob of an image manifest (verified against its digest)."""
    raw = repo.read_blob(manifest.config)
    return parse_config(
        raw, what=f"config {manifest.config.digest} of {repo.name}@{manifest.digest}"
    )


def manifest_kind(manifest: Manifest) -> ManifestKind:
    """Classify a manifest: a multi-platform index, a BuildKit wrapper, an image, an attestation."""
    if isinstance(manifest, Index):
        return "wrapper" if manifest.is_wrapper else "index"
    return "attestation" if manifest.is_attestation else "image"


def entry_kind(descriptor: Descriptor, index: Index) -> EntryKind:
    """Classify an index entry."""
    if descriptor in index.attestations:
        return "attestation"
    if descriptor.is_index:
        return "index"
    if descriptor.is_image_manifest and descriptor.platform is not None:
        return "image"
    if descriptor.is_image_manifest and descriptor.artifact_type is None:
        return "image"
    return "artifact"
