"""What each platform's attestations say: provenance and SBOMs, from the index and referrers.

BuildKit's attestation manifests are found in two places: as ``unknown/unknown`` entries of
the index (``vnd.docker.reference.digest`` naming the image) and, after ``--attestations
referrers`` or from a builder that writes them so, as OCI 1.1 referrers of the image
(:mod:`polyarch.content.attestations.referrers`). :func:`read_attestations` reads both the
same way, reads each in-toto layer once, and summarizes it with
:mod:`polyarch.domain.statements`: one :class:`PlatformProvenance` per provenance
statement (or one saying there is none) and one :class:`PlatformSboms` per image.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from polyarch.content.attestations.links import MAX_STATEMENT
from polyarch.content.attestations.referrers import referrer_attestations
from polyarch.content.graph import attestations_by_subject, fetch_config
from polyarch.content.selection import EntryPlatforms
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, Manifest
from polyarch.domain.statements import Provenance, Sbom, kind_of, read_provenance, read_sbom
from polyarch.errors import PolyarchError
from polyarch.storage.repository import Repository

__all__ = ["PlatformProvenance", "PlatformSboms", "read_attestations"]

Where = Literal["index", "referrer"]
_PREDICATE = "in-toto.io/predicate-type"


@dataclass(frozen=True, slots=True)
class PlatformProvenance:
    """One provenance statement of one platform's image (``provenance`` None: none found)."""

    platform: str | None
    image: Digest
    attestation: Digest | None = None
    where: Where | None = None
    provenance: Provenance | None = None
    #: Why a statement could not be read.
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/json.md)."""
        out: dict[str, Any] = {
            "platform": self.platform,
            "image": str(self.image),
            "attestation": str(self.attestation) if self.attestation else None,
            "where": self.where,
        }
        if self.provenance is not None:
            out.update(self.provenance.to_json())
        else:
            out["predicateType"] = None
        out["problem"] = self.problem
        return out


@dataclass(frozen=True, slots=True)
class FoundSbom:
    """One SBOM statement: where it was found and what it says."""

    attestation: Digest
    where: Where
    sbom: Sbom

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/json.md)."""
        return {"attestation": str(self.attestation), "where": self.where, **self.sbom.to_json()}


@dataclass(frozen=True, slots=True)
class PlatformSboms:
    """The SBOM statements of one platform's image (none: an empty tuple)."""

    platform: str | None
    image: Digest
    sboms: tuple[FoundSbom, ...] = ()
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/json.md)."""
        return {
            "platform": self.platform,
            "image": str(self.image),
            "sboms": [s.to_json() for s in self.sboms],
            "problems": list(self.problems),
        }


def _images(repo: Repository, top: Manifest) -> list[tuple[Descriptor, str | None]]:
    """The image manifests of ``top`` with their platforms (an entry's, else its config's)."""
    if isinstance(top, ImageManifest):
        platform = fetch_config(repo, top).platform
        return [(top.descriptor(), str(platform) if platform else None)]
    platforms = EntryPlatforms(repo)
    out = []
    for d in top.images:
        if not d.is_image_manifest:
            continue  # nested indexes: their own attestations are inside them
        platform = platforms.platform_of(d)
        out.append((d, str(platform) if platform else None))
    return out


def _attestations(
    repo: Repository, top: Manifest, digests: list[Digest]
) -> dict[Digest, list[tuple[ImageManifest, Where]]]:
    """Each image's attestation manifests: the index's entries first, then its referrers."""
    found: dict[Digest, list[tuple[ImageManifest, Where]]] = {d: [] for d in digests}
    if isinstance(top, Index):
        for image, entries in attestations_by_subject(top).items():
            for entry in entries if image in found else ():
                manifest = repo.get_manifest(str(entry.digest))
                if isinstance(manifest, ImageManifest):
                    found[image].append((manifest, "index"))
    for image, manifests in referrer_attestations(repo, digests).items():
        seen = {m.digest for m, _ in found[image]}
        found[image] += [(m, "referrer") for m in manifests if m.digest not in seen]
    return found


def _statement(repo: Repository, layer: Descriptor) -> Mapping[str, Any]:
    data = repo.read_blob(layer, max_size=MAX_STATEMENT)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise ValueError(f"in-toto layer {layer.digest.short} is not JSON") from None
    if not isinstance(doc, Mapping):
        raise ValueError(f"in-toto layer {layer.digest.short} is not a JSON object")
    return doc


def read_attestations(
    repo: Repository, top: Manifest, *, provenance: bool = True, sbom: bool = True
) -> tuple[tuple[PlatformProvenance, ...], tuple[PlatformSboms, ...]]:
    """The provenance and SBOM summaries of each image of ``top`` (an index or an image).

    Statements are read only for the kinds asked for (by their ``in-toto.io/predicate-type``
    annotation; a layer without one is read to learn its type), each once per image even
    when it is both in the index and a referrer. A statement that cannot be read is
    reported as the entry's ``problem``, not raised. Raises
    :class:`~polyarch.errors.PolyarchError` when the attestation manifests themselves, or
    the referrers, cannot be read.
    """
    images = _images(repo, top)
    found = _attestations(repo, top, [d.digest for d, _ in images])
    provenances: list[PlatformProvenance] = []
    sboms: list[PlatformSboms] = []
    for image, platform in images:
        own_provenance: list[PlatformProvenance] = []
        own_sboms: list[FoundSbom] = []
        problems: list[str] = []
        seen: set[Digest] = set()
        for manifest, where in found[image.digest]:
            for layer in manifest.layers:
                # The same statement in two places (in the index, and moved to a referrer
                # in the same repository) is one statement: named where it was found first.
                if layer.media_type != mediatype.IN_TOTO or layer.digest in seen:
                    continue
                seen.add(layer.digest)
                announced = kind_of(layer.annotations.get(_PREDICATE, ""))
                wanted = {"provenance": provenance, "sbom": sbom}.get(announced, True)
                if not wanted or (layer.annotations.get(_PREDICATE) and announced == "other"):
                    continue
                try:
                    statement = _statement(repo, layer)
                except (PolyarchError, ValueError) as exc:
                    text = exc.one_line() if isinstance(exc, PolyarchError) else str(exc)
                    problems.append(text)
                    if announced == "provenance":
                        own_provenance.append(
                            PlatformProvenance(
                                platform, image.digest, manifest.digest, where, problem=text
                            )
                        )
                    continue
                kind = kind_of(str(statement.get("predicateType") or ""))
                if kind == "provenance" and provenance:
                    summary = read_provenance(statement)
                    own_provenance.append(
                        PlatformProvenance(platform, image.digest, manifest.digest, where, summary)
                    )
                elif kind == "sbom" and sbom:
                    own_sboms.append(FoundSbom(manifest.digest, where, read_sbom(statement)))
        provenances += own_provenance or [PlatformProvenance(platform, image.digest)]
        sboms.append(PlatformSboms(platform, image.digest, tuple(own_sboms), tuple(problems)))
    return tuple(provenances), tuple(sboms)
