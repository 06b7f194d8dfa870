"""``inspect``: what is at a reference, as a structured, stable result.

>>> from polyarch import Context, Reference, inspect
>>> with Context() as ctx:                                    # doctest: +SKIP
...     result = inspect(Reference.parse("127.0.0.1:5000/app:v1"), ctx)
...     print(result.kind, [str(e.platform) for e in result.entries])
index ['linux/amd64', 'linux/arm64', 'unknown/unknown', 'unknown/unknown']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from polyarch.content.attestations.provenance import (
    PlatformProvenance,
    PlatformSboms,
    read_attestations,
)
from polyarch.content.context import Context, borrowed
from polyarch.content.graph import (
    MAX_NESTING,
    EntryKind,
    ManifestKind,
    entry_kind,
    fetch_config,
    manifest_kind,
)
from polyarch.content.referrers.discovery import Referrer, discover_referrers
from polyarch.content.resolution import shown_reference
from polyarch.content.selection import check_runnable, select_entry
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location, parse_location
from polyarch.domain.manifest import ImageManifest, Index
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidManifest
from polyarch.storage.repository import Repository

__all__ = ["InspectEntry", "InspectResult", "inspect"]

#: Version tag of the ``--json`` schema; bumped only on incompatible changes.
INSPECT_SCHEMA = "polyarch.inspect/v1"


@dataclass(frozen=True, slots=True)
class InspectEntry:
    """One entry of an index (or one layer of an image, with ``platform`` None).

    A nested index entry (``kind`` ``index``) lists its own entries in ``children``.
    """

    digest: Digest
    media_type: str
    size: int
    platform: Platform | None = None
    kind: EntryKind | None = None
    attests: Digest | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    children: tuple[InspectEntry, ...] = ()
    #: The layer's ``urls``: set for external (foreign / non-distributable) layers.
    urls: tuple[str, ...] = ()
    external: bool = False

    @classmethod
    def from_descriptor(
        cls,
        d: Descriptor,
        kind: EntryKind | None = None,
        children: tuple[InspectEntry, ...] = (),
    ) -> InspectEntry:
        """Build from a descriptor (``children``: a nested index's entries)."""
        return cls(
            d.digest,
            d.media_type,
            d.size,
            d.platform,
            kind,
            d.attestation_subject,
            d.annotations,
            children,
            d.urls,
            d.is_external,
        )

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object."""
        out: dict[str, Any] = {
            "digest": str(self.digest),
            "mediaType": self.media_type,
            "size": self.size,
        }
        if self.kind is not None:
            out["kind"] = self.kind
            out["platform"] = str(self.platform) if self.platform else None
            if self.platform is not None and self.platform.os_version:
                out["osVersion"] = self.platform.os_version
            out["attests"] = str(self.attests) if self.attests else None
            out["annotations"] = dict(self.annotations)
            if self.kind == "index":
                out["manifests"] = [c.to_json() for c in self.children]
        elif self.external:
            out["external"] = True
            out["urls"] = list(self.urls)
        return out


@dataclass(frozen=True, slots=True)
class InspectResult:
    """What :func:`inspect` found at a reference."""

    reference: Location
    digest: Digest
    media_type: str
    size: int
    kind: ManifestKind
    raw: bytes = field(repr=False)
    entries: tuple[InspectEntry, ...] = ()
    platform: Platform | None = None
    config: InspectEntry | None = None
    layers: tuple[InspectEntry, ...] = ()
    created: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    #: Set when ``platform=`` picked this manifest out of an index: that index's digest.
    selected_from: Digest | None = None
    #: With ``referrers=True``: what refers to this manifest and (an index) to each entry.
    referrers: Mapping[Digest, tuple[Referrer, ...]] | None = None
    #: With ``provenance=True``: each platform's provenance (content/provenance.py).
    provenance: tuple[PlatformProvenance, ...] | None = None
    #: With ``sbom=True``: each platform's SBOMs.
    sboms: tuple[PlatformSboms, ...] | None = None

    @property
    def layers_size(self) -> int:
        """Sum of the layer sizes, as stored (compressed)."""
        return sum(layer.size for layer in self.layers)

    @property
    def total_size(self) -> int:
        """Manifest, config and layers: what a pull of this image transfers."""
        return self.size + (self.config.size if self.config else 0) + self.layers_size

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        out: dict[str, Any] = {
            "schema": INSPECT_SCHEMA,
            "reference": shown_reference(self.reference),
            "digest": str(self.digest),
            "mediaType": self.media_type,
            "size": self.size,
            "kind": self.kind,
            "annotations": dict(self.annotations),
        }
        if self.kind in ("index", "wrapper"):
            out["manifests"] = [e.to_json() for e in self.entries]
        else:
            out["platform"] = str(self.platform) if self.platform else None
            out["config"] = self.config.to_json() if self.config else None
            out["layers"] = [layer.to_json() for layer in self.layers]
            out["layersSize"] = self.layers_size
            out["totalSize"] = self.total_size
            out["created"] = self.created
        out["selectedFrom"] = str(self.selected_from) if self.selected_from else None
        if self.referrers is not None:
            out["referrers"] = {
                str(subject): [r.to_json() for r in found]
                for subject, found in self.referrers.items()
            }
        if self.provenance is not None:
            out["provenance"] = [p.to_json() for p in self.provenance]
        if self.sboms is not None:
            out["sbom"] = [s.to_json() for s in self.sboms]
        return out


def inspect(
    ref: Location | str,
    context: Context | None = None,
    *,
    platform: Platform | str | None = None,
    referrers: bool = False,
    provenance: bool = False,
    sbom: bool = False,
) -> InspectResult:
    """Inspect the manifest or index at ``ref``.

    With ``platform``, an index is resolved to the manifest a host of that platform
    would pull (containerd's matching, :mod:`polyarch.content.selection`: entries
    without a platform are matched by their config, nested indexes walked), and that
    manifest is inspected; a single image must be one such a host would pull, as for
    :func:`~polyarch.operations.resolve.resolve` (else
    :class:`~polyarch.errors.PlatformNotFound`). A nested index entry lists its own entries
    (:attr:`InspectEntry.children`), each distinct nested index read once. With
    ``referrers``, what refers to the manifest (and to each entry of an index) is listed,
    recursively (:mod:`polyarch.content.referrers.discovery`). With ``provenance`` and ``sbom``,
    what each platform's attestations say (SLSA provenance v0.2 / v1, SPDX / CycloneDX
    SBOMs), read from the index's attestation entries and from the images' referrers
    alike (:mod:`polyarch.content.attestations.provenance`).
    """
    if isinstance(ref, str):
        ref = parse_location(ref)
    if isinstance(platform, str):
        platform = Platform.parse(platform)
    with borrowed(context) as ctx:
        repo = ctx.repository(ref)
        manifest = repo.get_manifest(ref.identifier)
        selected_from: Digest | None = None
        if platform is not None and isinstance(manifest, Index):
            chosen = select_entry(repo, manifest, platform, ref)
            selected_from = manifest.digest
            manifest = repo.get_manifest(chosen.descriptor.digest)
        said: tuple[tuple[PlatformProvenance, ...] | None, tuple[PlatformSboms, ...] | None]
        said = (None, None)
        if provenance or sbom:
            # From the index when one was read: its entries hold the attestations.
            read = repo.get_manifest(ref.identifier) if selected_from else manifest
            prov, sboms = read_attestations(repo, read, provenance=provenance, sbom=sbom)
            if selected_from:
                prov = tuple(p for p in prov if p.image == manifest.digest)
                sboms = tuple(s for s in sboms if s.image == manifest.digest)
            said = (prov if provenance else None, sboms if sbom else None)
        found = None
        if referrers:
            subjects = [manifest.digest]
            if isinstance(manifest, Index):
                subjects += [d.digest for d in manifest.manifests]
            found = discover_referrers(repo, subjects)
        if isinstance(manifest, Index):
            return InspectResult(
                reference=ref,
                digest=manifest.digest,
                media_type=manifest.media_type,
                size=manifest.size,
                kind=manifest_kind(manifest),
                raw=manifest.raw,
                entries=_entries(repo, manifest, {}, 1),
                annotations=manifest.annotations,
                selected_from=selected_from,
                referrers=found,
                provenance=said[0],
                sboms=said[1],
            )
        assert isinstance(manifest, ImageManifest)
        config = fetch_config(repo, manifest)
        if platform is not None and selected_from is None and not manifest.is_attestation:
            check_runnable(ref, config.platform, platform)
        return InspectResult(
            reference=ref,
            digest=manifest.digest,
            media_type=manifest.media_type,
            size=manifest.size,
            kind=manifest_kind(manifest),
            raw=manifest.raw,
            platform=config.platform,
            config=InspectEntry.from_descriptor(manifest.config),
            layers=tuple(InspectEntry.from_descriptor(d) for d in manifest.layers),
            created=config.created,
            annotations=manifest.annotations,
            selected_from=selected_from,
            referrers=found,
            provenance=said[0],
            sboms=said[1],
        )


def _entries(
    repo: Repository, index: Index, nested: dict[Digest, Index], depth: int
) -> tuple[InspectEntry, ...]:
    """The entries of ``index``, nested indexes expanded (each read once, via ``nested``)."""
    attestations = frozenset(index.attestations)
    out = []
    for d in index.manifests:
        kind = entry_kind(d, index, attestations)
        children: tuple[InspectEntry, ...] = ()
        if kind == "index":
            if depth >= MAX_NESTING:
                raise InvalidManifest(
                    f"{repo.name}@{d.digest}: indexes nested more than {MAX_NESTING} deep"
                )
            child = nested.get(d.digest)
            if child is None:
                loaded = repo.get_manifest(d.digest)
                if not isinstance(loaded, Index):
                    raise InvalidManifest(
                        f"{repo.name}@{d.digest}: the index says an index, it is an image"
                    )
                child = nested[d.digest] = loaded
            children = _entries(repo, child, nested, depth + 1)
        out.append(InspectEntry.from_descriptor(d, kind, children))
    return tuple(out)
