"""What a build record proves, against whichever copy of the content survives.

A buildx metadata record names the BuildKit *wrapper* index its build pushed, not the
platform image inside it (docker/buildx writes ``containerimage.digest`` and
``containerimage.descriptor`` of the wrapper when attestations are on). Two uses:

* :func:`resolve_record` (``publish``, ``create --records``): read the wrapper where the
  record says it was pushed (``image.name``, else a default repository) and answer the
  *resolved* record: the platform image's digest next to the wrapper's, its platform,
  the repository it was found in. polyarch records written by ``build`` are resolved
  already; their wrapper is checked to hold the recorded image when it still exists.
* :func:`record_evidence` (``verify``): never raises; says which evidence it used.
  Untagged wrappers are deleted by garbage collection and retention policies, so a
  resolved record (digest of the image) is used as is; an unresolved one is resolved
  where it was pushed, then in the verified repository; failing that, the config digest
  (the image ID, when the metadata has one) is compared with the index's images; with
  nothing left, the verdict is "unverifiable", never a mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from polyarch.content.context import Context
from polyarch.content.graph import fetch_config
from polyarch.content.records.formats import Record
from polyarch.content.resolution import Resolution, resolve_in
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.location import parse_location
from polyarch.domain.manifest import ImageManifest, Index
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidInput, NotFound, PlatformNotFound, PolyarchError
from polyarch.storage.repository import Repository

__all__ = [
    "Evidence",
    "EvidenceKind",
    "compare_evidence",
    "record_evidence",
    "record_source",
    "record_sources",
    "resolve_record",
]

#: ``record``: the record's own image digest; ``wrapper``: the image inside the wrapper
#: it names; ``config``: only the config digest is left; ``none``: nothing to compare.
EvidenceKind = Literal["record", "wrapper", "config", "none"]


def _locations(record: Record, default: str | None) -> list[str]:
    found = list(record.repositories)
    if default and default not in found:
        found.append(default)
    return found


def resolve_record(record: Record, ctx: Context, default_repository: str | None = None) -> Record:
    """The record with the platform image's digest, its platform and where it was found.

    ``record.repositories`` are tried in order, then ``default_repository`` (``publish``:
    the spec's first image). For an unresolved record, the digest is read there: a
    wrapper gives its image (the wrapper digest is kept as ``wrapper``); an image manifest
    is the image. A resolved record with a ``wrapper`` is checked against it when the
    wrapper still exists (else the image itself must).

    Raises :class:`~polyarch.errors.InvalidInput` (one line, naming ``record.origin``) when
    no repository is known, the digest is found nowhere, names a multi-platform index, or
    the wrapper holds another image; registry failures other than "not found" propagate.
    """
    places = _locations(record, default_repository)
    if not places:
        raise InvalidInput(
            f"{record.origin}: the record names no repository",
            hint="records need image.name (buildx) or repository (polyarch records)",
        )
    pinned = record.wrapper if record.resolved and record.wrapper else record.digest
    missing: list[str] = []
    for place in places:
        try:
            ref = parse_location(f"{place}@{pinned}")
            resolution = resolve_in(ctx.repository(ref), ref, record.platform)
        except NotFound:
            missing.append(place)
            continue
        except (PlatformNotFound, InvalidInput) as exc:  # another platform, an index...
            raise InvalidInput(f"{record.origin}: {exc.one_line()}") from None
        return _resolved(record, place, resolution)
    if record.resolved and record.wrapper:
        # The wrapper is gone (garbage collection): the image it held may remain, and is
        # then the source (without the wrapper's attestations).
        for place in places:
            if ctx.repository(parse_location(place)).head_manifest(str(record.digest)):
                extra = {k: v for k, v in record.extra.items() if k != "wrapper"}
                return replace(record, repository=place, extra=extra)
    raise InvalidInput(
        f"{record.origin}: {pinned} is not in {', '.join(missing)}",
        hint="push it again, or give the record of the build that pushed it",
    )


def _resolved(record: Record, place: str, resolution: Resolution) -> Record:
    ref = f"{place}@{resolution.source_digest}"
    if resolution.source == "index":
        raise InvalidInput(f"{record.origin}: {ref} is a multi-platform index, not one image")
    if record.resolved and record.wrapper and resolution.digest != record.digest:
        raise InvalidInput(
            f"{record.origin}: the wrapper {ref} holds {resolution.digest}, "
            f"not the recorded {record.digest}"
        )
    if record.platform is not None and resolution.platform is not None:
        said, truth = record.platform.normalized(), resolution.platform.normalized()
        if (said.os, said.architecture, said.variant) != (
            truth.os,
            truth.architecture,
            truth.variant,
        ):
            raise InvalidInput(
                f"{record.origin}: the record says {record.platform}, but {ref} is an image "
                f"for {resolution.platform}"
            )
    extra = dict(record.extra)
    if resolution.source == "wrapper":
        extra["wrapper"] = str(resolution.source_digest)
    return replace(
        record,
        digest=resolution.digest,
        platform=record.platform or resolution.platform,
        repository=place,
        extra=extra,
        resolved=True,
    )


def record_source(record: Record) -> str:
    """``REPO@DIGEST`` to assemble from: the wrapper (its attestations travel), else the image.

    ``record`` must be resolved (:func:`resolve_record`) and have a repository.
    """
    return f"{record.repository}@{record.wrapper or record.digest}"


def record_sources(records: Sequence[Record], ctx: Context) -> list[str]:
    """``create`` sources for ``records``: ``REPO@DIGEST=PLATFORM``, each record resolved once.

    A resolved record whose wrapper is gone is assembled from its image (without the
    wrapper's attestations). Raises what :func:`resolve_record` raises. This is
    ``polyarch create --records``; for example, from a bake metadata file::

        with Context() as ctx:
            sources = record_sources(load_records(["bake.json"]), ctx)
            # ['registry.example.com/app@sha256:5a08…', 'registry.example.com/app@sha256:e49b…']
            create_index(CreateRequest.build(["registry.example.com/app:v1"], sources), ctx)
    """
    sources = []
    for record in records:
        resolved = resolve_record(record, ctx)
        # The record's own platform may add what a config cannot say (a variant).
        platform = f"={record.platform}" if record.platform else ""
        sources.append(record_source(resolved) + platform)
    return sources


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one record lets ``verify`` compare, and which evidence that is."""

    origin: str
    platform: Platform | None
    #: The platform image digest to find in the index (None: not known).
    digest: Digest | None
    #: The image config digest, when the record has one.
    config: Digest | None
    kind: EvidenceKind
    #: How the evidence was obtained, for the report ("wrapper 127.0.0.1:5000/app@sha256:…").
    note: str
    #: Why nothing could be compared (``kind == "none"``), or why the platform is unknown.
    problem: str | None = None


def _read(ctx: Context, place: str, digest: Digest) -> tuple[Repository, object] | None:
    try:
        repo = ctx.repository(parse_location(place))
        return repo, repo.get_manifest(str(digest))
    except (NotFound, InvalidInput):
        return None


def record_evidence(
    record: Record, ctx: Context, target: Repository, index_images: frozenset[Digest]
) -> Evidence:
    """The evidence ``record`` gives about the index in ``target``; never raises.

    ``index_images`` are the digests of the index's image entries (a record naming one
    of them directly needs no registry read). Registry failures other than "not found"
    become the ``problem`` of a ``none`` evidence.
    """
    origin, platform, digest = record.origin, record.platform, record.digest
    try:
        if record.resolved or (digest in index_images and platform is not None):
            if platform is None:
                platform = _platform_of(record, ctx, target)
            if platform is None:
                where = ", ".join(dict.fromkeys([*record.repositories, target.name]))
                problem = f"{digest} is not in {where}: the record names no platform"
                return Evidence(origin, None, digest, record.config, "none", "", problem)
            return Evidence(origin, platform, digest, record.config, "record", "image digest")
        return _unresolved(record, ctx, target)
    except PolyarchError as exc:
        return Evidence(origin, platform, None, record.config, "none", "", exc.one_line())


def _read_in(repo: Repository, digest: Digest) -> object:
    try:
        return repo.get_manifest(str(digest))
    except NotFound:
        return None


def _platform_of(record: Record, ctx: Context, target: Repository) -> Platform | None:
    for place in record.repositories:
        found = _read(ctx, place, record.digest)
        if found is not None and isinstance(found[1], ImageManifest):
            return fetch_config(found[0], found[1]).platform
    try:
        manifest = target.get_manifest(str(record.digest))
    except NotFound:
        return None
    return fetch_config(target, manifest).platform if isinstance(manifest, ImageManifest) else None


def _unresolved(record: Record, ctx: Context, target: Repository) -> Evidence:
    origin, digest = record.origin, record.digest
    candidates: list[tuple[str, Repository, object]] = []
    for place in record.repositories:
        found = _read(ctx, place, digest)
        if found is not None:
            candidates.append((place, *found))
            break
    if not candidates:
        manifest = _read_in(target, digest)
        if manifest is not None:
            candidates.append((target.name, target, manifest))
    for place, repo, manifest in candidates:
        if isinstance(manifest, Index) and manifest.is_wrapper:
            image = manifest.images[0]
            return Evidence(
                origin,
                record.platform or image.platform,
                image.digest,
                record.config,
                "wrapper",
                f"wrapper {place}@{digest.short}",
            )
        if isinstance(manifest, ImageManifest) and not manifest.is_attestation:
            platform = record.platform or fetch_config(repo, manifest).platform
            return Evidence(origin, platform, digest, record.config, "record", "image digest")
        if isinstance(manifest, Index):
            return Evidence(
                origin,
                record.platform,
                None,
                record.config,
                "none",
                "",
                f"{place}@{digest} is a multi-platform index, not one image or its wrapper",
            )
    where = ", ".join(dict.fromkeys([*record.repositories, target.name]))
    if record.config is not None and record.platform is not None:
        return Evidence(
            origin,
            record.platform,
            None,
            record.config,
            "config",
            f"config digest (the wrapper {digest.short} is gone from {where})",
        )
    return Evidence(
        origin,
        record.platform,
        None,
        record.config,
        "none",
        "",
        f"unverifiable: the wrapper {digest} it names is gone from {where} (untagged wrappers "
        "get garbage-collected) and the record holds nothing else to compare; keep the "
        "resolved records that polyarch build and publish --resolved-records write",
    )


def _config_of(repo: Repository, digest: Digest) -> Digest | None:
    try:
        manifest = repo.get_manifest(str(digest))
    except PolyarchError:
        return None
    return manifest.config.digest if isinstance(manifest, ImageManifest) else None


def compare_evidence(
    evidence: Evidence, entries: Sequence[Descriptor], repo: Repository
) -> tuple[bool, str, dict[str, Any]]:
    """Compare one record's evidence with the index entries of its platform (in ``repo``).

    Answers ``(matches, message, details)``: the image digest first; failing that (or with
    no digest left) the config digest of each entry's manifest, when the record has one.
    ``details["evidence"]`` names the evidence used (``record``, ``wrapper``, ``config``).
    """
    used = f" ({evidence.note})" if evidence.note else ""
    origin = evidence.origin
    if evidence.digest is not None and any(d.digest == evidence.digest for d in entries):
        return (
            True,
            f"matches {origin}{used}",
            {
                "digest": str(evidence.digest),
                "evidence": evidence.kind,
            },
        )
    if evidence.config is not None:
        configs = {d.digest: _config_of(repo, d.digest) for d in entries}
        same = [d for d, c in configs.items() if c == evidence.config]
        if same:
            return (
                True,
                (
                    f"matches {origin} by config digest {evidence.config.short} (the image ID)"
                    + (used if evidence.kind == "config" else "")
                ),
                {"digest": str(same[0]), "evidence": "config"},
            )
        if evidence.digest is None:
            first = entries[0].digest
            return (
                False,
                (
                    f"index image {first.short} has config {configs[first] or '(unreadable)'}, "
                    f"{origin} recorded config {evidence.config}{used}"
                ),
                {"expected": str(evidence.config), "evidence": "config"},
            )
    return (
        False,
        f"index has {entries[0].digest}, {origin} recorded {evidence.digest}{used}",
        {
            "expected": str(evidence.digest),
            "actual": str(entries[0].digest),
            "evidence": evidence.kind,
        },
    )
