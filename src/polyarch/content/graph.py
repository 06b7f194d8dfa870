"""Small shared questions operations ask about images: their config, their kind, their content.

:func:`required_blobs` is the one rule of which blobs an image needs in a repository
(used by copy, create, the transfer engine and verify); :func:`manifest_tree` the one walk
of an index and the indexes nested in it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Literal

from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageConfig, ImageManifest, Index, Manifest, parse_config
from polyarch.errors import InvalidManifest, ManifestUnknown
from polyarch.storage.repository import ManifestListing, Repository

__all__ = [
    "MAX_NESTING",
    "EntryKind",
    "ManifestKind",
    "attestations_by_subject",
    "entry_kind",
    "external_blobs",
    "fetch_config",
    "manifest_kind",
    "manifest_tree",
    "required_blobs",
]

#: What a manifest at a reference is.
ManifestKind = Literal["index", "wrapper", "image", "attestation"]
#: What an index entry is.
EntryKind = Literal["image", "attestation", "index", "artifact"]

#: How deep nested indexes are followed (CNAB / porter bundles use one level).
MAX_NESTING = 8


def fetch_config(repo: Repository, manifest: ImageManifest) -> ImageConfig:
    """Read and parse the config blob of an image manifest (verified against its digest)."""
    raw = repo.read_blob(manifest.config)
    return parse_config(
        raw, what=f"config {manifest.config.digest} of {repo.name}@{manifest.digest}"
    )


def required_blobs(manifest: ImageManifest) -> tuple[Descriptor, ...]:
    """The blobs ``manifest`` needs in its repository: config and layers, external ones excepted.

    A layer that is :attr:`~polyarch.Descriptor.is_external` (Docker foreign layer, OCI
    non-distributable layer, any descriptor with ``urls``) is fetched by clients from
    its URLs; registries accept the manifest without it (distribution's
    ``validation.manifests.urls``), so it is never fetched, mounted, pushed or required.

    >>> from polyarch.domain.manifest import parse_manifest
    >>> m = parse_manifest(b'{"schemaVersion":2,"mediaType":"application/vnd.docker.'
    ...     b'distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.'
    ...     b'container.image.v1+json","digest":"sha256:' + b"a" * 64 + b'","size":2},'
    ...     b'"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",'
    ...     b'"digest":"sha256:' + b"b" * 64 + b'","size":9,"urls":["https://x.invalid/l"]}]}')
    >>> [str(d.digest)[7:8] for d in required_blobs(m)], len(external_blobs(m))
    (['a'], 1)
    """
    return tuple(b for b in manifest.blobs if not b.is_external)


def external_blobs(manifest: ImageManifest) -> tuple[Descriptor, ...]:
    """The blobs of ``manifest`` that live outside the repository (see :func:`required_blobs`)."""
    return tuple(b for b in manifest.blobs if b.is_external)


def attestations_by_subject(index: Index) -> Mapping[Digest, tuple[Descriptor, ...]]:
    """The attestation entries of ``index`` grouped by the image they attest (one pass).

    Asking :meth:`Index.attestations_for` once per image costs entries x attestations;
    this costs one pass, which matters for indexes of thousands of entries. An
    attestation named by several entries is listed once per subject.
    """
    grouped: dict[Digest, dict[Digest, Descriptor]] = defaultdict(dict)
    for d in index.attestations:
        subject = d.attestation_subject
        if subject is not None:
            # The same attestation under several entries is one attestation.
            grouped[subject].setdefault(d.digest, d)
    return {k: tuple(v.values()) for k, v in grouped.items()}


def manifest_kind(manifest: Manifest) -> ManifestKind:
    """Classify a manifest: a multi-platform index, a BuildKit wrapper, an image, an attestation."""
    if isinstance(manifest, Index):
        return "wrapper" if manifest.is_wrapper else "index"
    return "attestation" if manifest.is_attestation else "image"


def entry_kind(
    descriptor: Descriptor, index: Index, attestations: frozenset[Descriptor] | None = None
) -> EntryKind:
    """Classify an index entry.

    ``attestations`` (``frozenset(index.attestations)``) saves recomputing them per
    entry when classifying every entry of a large index.
    """
    if attestations is None:
        attestations = frozenset(index.attestations)
    if descriptor in attestations:
        return "attestation"
    if descriptor.is_index:
        return "index"
    if descriptor.is_image_manifest and descriptor.platform is not None:
        return "image"
    if descriptor.is_image_manifest and descriptor.artifact_type is None:
        return "image"
    return "artifact"


def _absent(repo: Repository, top: Index, d: Descriptor) -> ManifestUnknown:
    """The error for an entry of ``top`` whose manifest ``repo`` lacks, naming what it is.

    ``docker save`` with the containerd image store writes only what the engine pulled
    (one platform: containerd's ``WithSkipMissing``), so a layout may list platforms and
    attestations it never held; a registry may have lost a child to a clean-up. Either
    way the message names the platform or the attestation, and what can be copied.
    """
    held = isinstance(repo, ManifestListing)
    gone = f"was not saved in {repo.name}" if held else f"is missing from {repo.name}"
    where = f"index {top.digest.short}"
    subject = d.attestation_subject
    if d.is_attestation and subject is not None:
        of = next((e.platform for e in top.images if e.digest == subject), None)
        return ManifestUnknown(
            f"the attestation ({d.digest.short}) of {of or subject.short} in {where} {gone}",
            hint="copy without attestations",
            parameter="attestations",
            value="drop",
        )
    present = [
        str(e.platform)
        for e in top.images
        if e.platform is not None and e.digest != d.digest and repo.head_manifest(e.digest)
    ]
    what = str(d.platform) if d.platform is not None else f"manifest {d.digest.short}"
    return ManifestUnknown(
        f"{what} ({d.digest.short}) of {where} {gone}",
        hint=f"copy the platforms it holds: {', '.join(present)}" if present else None,
        parameter="platforms" if present else None,
        value=present[0] if len(present) == 1 else None,
    )


def manifest_tree(
    repo: Repository, top: Index, entries: tuple[Descriptor, ...] | None = None
) -> list[tuple[Descriptor, Manifest]]:
    """Every manifest reachable from ``top`` (not ``top`` itself), children before parents.

    Each distinct digest is read once (the same child under many entries, or under two
    nested indexes, is one item). ``entries`` restricts the walk to those top-level
    entries (default: all of them). The order is the one a registry needs for pushing: a
    nested index comes after every manifest it names. Raises :class:`InvalidManifest` for
    a size that contradicts its descriptor or nesting deeper than :data:`MAX_NESTING`,
    and what :meth:`Repository.get_manifest` raises.
    """
    out: list[tuple[Descriptor, Manifest]] = []
    seen: set[Digest] = set()

    def visit(descriptors: tuple[Descriptor, ...], depth: int) -> None:
        for d in descriptors:
            if d.digest in seen:
                continue
            seen.add(d.digest)
            try:
                child = repo.get_manifest(d.digest)
            except ManifestUnknown:
                raise _absent(repo, top, d) from None
            if child.size != d.size:
                raise InvalidManifest(
                    f"{repo.name}@{d.digest}: {child.size} bytes, the index says {d.size}"
                )
            if isinstance(child, Index):
                if depth >= MAX_NESTING:
                    raise InvalidManifest(
                        f"{repo.name}@{d.digest}: indexes nested more than {MAX_NESTING} deep"
                    )
                visit(child.manifests, depth + 1)
            out.append((d, child))

    visit(top.manifests if entries is None else entries, 1)
    return out
