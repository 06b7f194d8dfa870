"""``create``: assemble a multi-platform index from separately built variants and publish it.

Publishing is ordered so that no tag ever points at something incomplete: every blob
and child manifest is made present in every target repository first (HEAD, mount
within a registry, or stream across registries), then the index by digest, then the
tags. The same set of entries always gives the same bytes and digest.

>>> from polyarch import Context, CreateRequest, create_index
>>> request = CreateRequest.build(                            # doctest: +SKIP
...     targets=["127.0.0.1:5000/metrics-api:v2.0.0"],
...     sources=["127.0.0.1:5000/metrics-api:v2.0.0-amd64",
...              "127.0.0.1:5000/metrics-api:v2.0.0-arm64"])
>>> with Context() as ctx:                                    # doctest: +SKIP
...     result = create_index(request, ctx)
>>> result.digest, [str(e.platform) for e in result.entries]  # doctest: +SKIP
('sha256:…', ['linux/amd64', 'linux/arm64'])
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from polyarch import mediatype
from polyarch.descriptor import Descriptor
from polyarch.digest import Digest
from polyarch.errors import (
    InvalidInput,
    InvalidManifest,
    ManifestUnknown,
    NameUnknown,
    PolyarchError,
)
from polyarch.location import LayoutReference, Location, parse_location
from polyarch.manifest import ImageManifest, Index, Manifest, build_index
from polyarch.operations.context import Context, borrowed
from polyarch.operations.sources import (
    Attestation,
    Entry,
    Source,
    collect_entries,
    image_entry,
    platform_key,
)
from polyarch.operations.transfer import Transfer, TransferStats
from polyarch.platform import Platform
from polyarch.reference import Reference
from polyarch.storage.base import Repository
from polyarch.transport.retry import RetryPolicy

__all__ = [
    "CreateRequest",
    "CreateResult",
    "LostUpdate",
    "PlatformChange",
    "TargetResult",
    "create_index",
]

log = logging.getLogger("polyarch.create")

CREATE_SCHEMA = "polyarch.create/v1"
AttestationMode = Literal["keep", "drop"]
IndexFormat = Literal["oci", "docker"]


class LostUpdate(PolyarchError):
    """Concurrent writers kept overwriting the tag; run the command again, or serialize the jobs."""


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """Everything ``create`` needs: the bridge between the CLI (or a script) and the library."""

    targets: tuple[Location, ...]
    sources: tuple[Source, ...]
    platforms: tuple[Platform, ...] = ()
    attestations: AttestationMode = "keep"
    format: IndexFormat = "oci"
    annotations: Mapping[str, str] = field(default_factory=dict)
    append: bool = False
    dry_run: bool = False
    #: Bound on read-merge-write rounds of the ``--append`` lost-update guard.
    guard_attempts: int = 8
    #: Seconds to wait before the second read-back of an ``--append`` write.
    settle_seconds: float = 0.5

    @classmethod
    def build(
        cls,
        targets: Sequence[str | Reference],
        sources: Sequence[str | Location | Source],
        *,
        platforms: Sequence[str | Platform] = (),
        attestations: str = "keep",
        format: str = "oci",
        annotations: Mapping[str, str] | Sequence[str] = (),
        append: bool = False,
        dry_run: bool = False,
        **tuning: Any,
    ) -> CreateRequest:
        """Validate and build a request from strings, as a CLI or a script has them."""
        if not targets:
            raise InvalidInput("no target: give at least one target", parameter="targets")
        refs = tuple(dict.fromkeys(_target(t) for t in targets))
        srcs = tuple(_source(s) for s in sources)
        if not srcs and not append:
            raise InvalidInput("no source: give at least one SOURCE image")
        if attestations not in ("keep", "drop"):
            raise InvalidInput(
                f"attestations must be 'keep' or 'drop', not {attestations!r}",
                parameter="attestations",
            )
        if format not in ("oci", "docker"):
            raise InvalidInput(
                f"format must be 'oci' or 'docker', not {format!r}", parameter="format"
            )
        notes = _annotations(annotations)
        if notes and format == "docker":
            raise InvalidInput(
                "annotations need an OCI index: a Docker manifest list has none",
                hint="use the OCI format, or drop the annotations",
                parameter="annotations",
            )
        plats = tuple(p if isinstance(p, Platform) else Platform.parse(p) for p in platforms)
        return cls(
            refs,
            srcs,
            plats,
            "keep" if attestations == "keep" else "drop",
            "oci" if format == "oci" else "docker",
            notes,
            append,
            dry_run,
            **tuning,
        )


def _source(value: str | Location | Source) -> Source:
    if isinstance(value, Source):
        return value
    if isinstance(value, Reference | LayoutReference):
        return Source(str(value), value)
    return Source.parse(value)


def _target(value: str | Location) -> Location:
    ref = value if isinstance(value, Reference | LayoutReference) else parse_location(value)
    if ref.digest is not None:
        raise InvalidInput(f"target {ref} names a digest; a target needs a tag")
    return ref if ref.tag else ref.with_tag("latest")


def _annotations(values: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    out: dict[str, str]
    if isinstance(values, Mapping):
        out = dict(values)
    else:
        out = {}
        for item in values:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InvalidInput(
                    f"annotation {item!r}: expected KEY=VALUE", parameter="annotations"
                )
            out[key] = value
    for key, value in out.items():
        item = f"{key}={value}"
        try:
            item.encode()  # an argument that was not UTF-8 arrives with lone surrogates
        except UnicodeEncodeError:
            raise InvalidInput(
                f"annotation {item!r}: not valid UTF-8 text", parameter="annotations"
            ) from None
    return out


@dataclass(frozen=True, slots=True)
class PlatformChange:
    """How one platform of a target's index changes."""

    platform: str
    before: Digest | None
    after: Digest | None

    @property
    def change(self) -> Literal["added", "removed", "replaced", "unchanged"]:
        """``added``, ``removed``, ``replaced`` or ``unchanged``."""
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "unchanged" if self.before == self.after else "replaced"

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object."""
        return {
            "platform": self.platform,
            "change": self.change,
            "before": str(self.before) if self.before else None,
            "after": str(self.after) if self.after else None,
        }


@dataclass(frozen=True, slots=True)
class TargetResult:
    """What happened (or, in a dry run, would happen) at one target tag."""

    reference: Location
    previous: Digest | None
    digest: Digest
    transfer: TransferStats
    changes: tuple[PlatformChange, ...]

    @property
    def status(self) -> Literal["created", "updated", "unchanged"]:
        """``created`` (the tag was new), ``updated`` or ``unchanged``."""
        if self.previous is None:
            return "created"
        return "unchanged" if self.previous == self.digest else "updated"

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object."""
        return {
            "reference": str(self.reference),
            "previous": str(self.previous) if self.previous else None,
            "status": self.status,
            "transfer": self.transfer.to_json(),
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass(frozen=True, slots=True)
class CreateResult:
    """The index assembled, its entries, and what happened at each target."""

    index: Index
    entries: tuple[Entry, ...]
    targets: tuple[TargetResult, ...]
    dry_run: bool
    #: Read-merge-write rounds used (more than 1 only when a concurrent writer interfered).
    rounds: int = 1

    @property
    def digest(self) -> Digest:
        """The index digest, the same at every target."""
        return self.index.digest

    @property
    def unchanged(self) -> bool:
        """True when every target already pointed at this exact index."""
        return all(t.status == "unchanged" for t in self.targets)

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        return {
            "schema": CREATE_SCHEMA,
            "digest": str(self.index.digest),
            "mediaType": self.index.media_type,
            "size": self.index.size,
            "dryRun": self.dry_run,
            "unchanged": self.unchanged,
            "rounds": self.rounds,
            "targets": [t.to_json() for t in self.targets],
            "entries": [
                {
                    "platform": str(e.platform),
                    "digest": str(e.descriptor.digest),
                    "mediaType": e.descriptor.media_type,
                    "size": e.descriptor.size,
                    "source": e.source,
                    "attestations": [str(a.descriptor.digest) for a in e.attestations],
                }
                for e in self.entries
            ],
        }


# Assembly ------------------------------------------------------------------------------


def _check_duplicates(entries: Sequence[Entry]) -> list[Entry]:
    seen: dict[tuple[Any, ...], Entry] = {}
    unique: list[Entry] = []
    for entry in entries:
        other = seen.get(entry.key)
        if other is None:
            seen[entry.key] = entry
            unique.append(entry)
        elif other.descriptor.digest != entry.descriptor.digest:
            raise InvalidInput(
                f"two sources give the same platform: {other.source} ({other.platform}) "
                f"and {entry.source} ({entry.platform})",
                hint="a host's pick would depend on order; keep one of them",
            )
    return unique


def _existing_entries(repo: Repository, base: Location, current: Manifest | None) -> list[Entry]:
    """The entries of the index at the base tag, for ``--append``."""
    source = f"existing {base}"
    if current is None:
        return []
    if isinstance(current, ImageManifest):
        # A single image at the tag becomes the first entry (its platform from its config).
        return [image_entry(repo, Source(source, base), current)]
    entries = []
    for d in current.images:
        if d.platform is None:
            raise InvalidManifest(
                f"{source} has an entry without a platform ({d.digest}); cannot append safely"
            )
        atts = tuple(Attestation(a, repo) for a in current.attestations_for(d.digest))
        entries.append(Entry(d, repo, source, None, atts))
    return entries


def _digest(manifest: Manifest | None) -> Digest | None:
    return manifest.digest if manifest is not None else None


def _merge(existing: Sequence[Entry], new: Sequence[Entry]) -> list[Entry]:
    replaced = {e.key for e in new}
    return [e for e in existing if e.key not in replaced] + list(new)


def _assemble(entries: Sequence[Entry], request: CreateRequest) -> tuple[Index, list[Entry]]:
    ordered = sorted(entries, key=lambda e: (e.key, str(e.descriptor.digest)))
    if request.attestations == "drop":
        ordered = [Entry(e.descriptor, e.repository, e.source, e.manifest, ()) for e in ordered]
    descriptors = [e.descriptor for e in ordered]
    for entry in ordered:
        for att in sorted(entry.attestations, key=lambda a: str(a.descriptor.digest)):
            descriptors.append(_attestation_descriptor(att.descriptor, entry.descriptor.digest))
    if request.format == "docker":
        media_type = mediatype.DOCKER_MANIFEST_LIST
        for d, entry_source in _sources_of(descriptors, ordered):
            if d.media_type != mediatype.DOCKER_MANIFEST:
                raise InvalidInput(
                    f"Docker format: {entry_source} is {d.media_type}, not a Docker manifest",
                    hint="use the default OCI format"
                    + (", or drop the attestations" if d.is_attestation else ""),
                    parameter="format",
                )
    else:
        media_type = mediatype.OCI_INDEX
    index = build_index(descriptors, media_type=media_type, annotations=request.annotations)
    return index, ordered


def _sources_of(
    descriptors: list[Descriptor], entries: list[Entry]
) -> list[tuple[Descriptor, str]]:
    by_digest = {str(e.descriptor.digest): e.source for e in entries}
    for e in entries:
        for a in e.attestations:
            by_digest[str(a.descriptor.digest)] = f"the attestation of {e.source}"
    return [(d, by_digest.get(str(d.digest), str(d.digest))) for d in descriptors]


def _attestation_descriptor(d: Descriptor, subject: Digest) -> Descriptor:
    annotations = {
        **d.annotations,
        "vnd.docker.reference.digest": str(subject),
        "vnd.docker.reference.type": "attestation-manifest",
    }
    return Descriptor(
        d.media_type,
        d.digest,
        d.size,
        platform=Platform("unknown", "unknown"),
        annotations=dict(sorted(annotations.items())),
        artifact_type=d.artifact_type,
    )


def _changes(before: Manifest | None, after: Index) -> tuple[PlatformChange, ...]:
    def table(m: Manifest | None) -> dict[str, Digest]:
        if isinstance(m, Index):
            return {str(d.platform): d.digest for d in m.images if d.platform is not None}
        return {}

    old, new = table(before), table(after)
    names = sorted(set(old) | set(new))
    return tuple(PlatformChange(n, old.get(n), new.get(n)) for n in names)


# Publishing ----------------------------------------------------------------------------


def _read(repo: Repository, tag: str) -> Manifest | None:
    try:
        return repo.get_manifest(tag)
    except (ManifestUnknown, NameUnknown):  # no such tag, or not even the repository yet
        return None


def _ensure_content(transfer: Transfer, dest: Repository, entries: Sequence[Entry]) -> None:
    items: list[tuple[Repository, Manifest]] = []
    for entry in entries:
        pairs: list[tuple[Repository, Descriptor, Manifest | None]] = [
            (entry.repository, entry.descriptor, entry.manifest)
        ]
        pairs += [(a.repository, a.descriptor, None) for a in entry.attestations]
        for source, descriptor, manifest in pairs:
            if dest.same_as(source):
                continue
            items.append((source, manifest or source.get_manifest(descriptor.digest)))
    transfer.manifests(dest, items)


def create_index(
    request: CreateRequest,
    context: Context | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> CreateResult:
    """Assemble the index from ``request.sources`` and publish it to every target.

    Raises :class:`polyarch.InvalidInput` for bad input (nothing is published), a
    :class:`polyarch.PolyarchError` when an operation fails (no tag moved before all
    content was in place), and :class:`LostUpdate` when ``--append`` could not keep its
    entries against concurrent writers within ``request.guard_attempts`` rounds.
    """
    with borrowed(context) as ctx:
        return _create(request, ctx, sleep)


def _create(request: CreateRequest, ctx: Context, sleep: Callable[[float], None]) -> CreateResult:
    new: list[Entry] = []
    for source in request.sources:
        new.extend(collect_entries(ctx, source, request.platforms))
    for wanted in request.platforms:
        if not any(platform_key(wanted)[:3] == e.key[:3] for e in new):
            raise InvalidInput(
                f"platform {wanted} matched no image of the sources", parameter="platforms"
            )
    new = _check_duplicates(new)

    base = request.targets[0]
    base_repo = ctx.repository(base)
    assert base.tag is not None
    repos = {t: ctx.repository(t) for t in request.targets}

    for round_number in range(1, request.guard_attempts + 1):
        current = _read(base_repo, base.tag)
        existing = _existing_entries(base_repo, base, current) if request.append else []
        merged = _merge(existing, new)
        if not merged:
            raise InvalidInput(f"nothing to publish: no source and no index at {base}")
        index, ordered = _assemble(merged, request)
        previous: dict[Location, Manifest | None] = {base: current}
        for target in request.targets[1:]:
            previous[target] = _read(repos[target], target.tag or "latest")

        results = _publish(request, index, ordered, repos, previous, ctx.settings.retry)
        if request.dry_run or not request.append:
            return CreateResult(index, tuple(ordered), results, request.dry_run, round_number)
        if all(r.status == "unchanged" for r in results):
            return CreateResult(index, tuple(ordered), results, False, round_number)

        # Lost-update guard: the registry API has no compare-and-swap, so re-read just
        # before moving the tag, then read back (twice, with a settle) after.
        moved = base_repo.head_manifest(base.tag)
        if (moved.digest if moved else None) != _digest(current):
            log.info("%s moved during the merge; merging again", base)
            continue
        for target in request.targets:
            if _digest(previous[target]) != index.digest:
                repos[target].put_manifest(index, target.tag)
        if _kept(base_repo, base.tag, new):
            sleep(request.settle_seconds * (0.5 + random.random()))
            if _kept(base_repo, base.tag, new):
                return CreateResult(index, tuple(ordered), results, False, round_number)
        log.info("a concurrent writer overwrote %s; merging again", base)
        sleep(request.settle_seconds * random.random())
    missing = ", ".join(str(e.platform) for e in new)
    raise LostUpdate(
        f"gave up after {request.guard_attempts} rounds: concurrent writers kept overwriting "
        f"{base} (our platforms: {missing})",
        hint="run the command again, or serialize the jobs that append to this tag",
    )


def _kept(repo: Repository, tag: str, ours: Sequence[Entry]) -> bool:
    at_tag = _read(repo, tag)
    if not isinstance(at_tag, Index):
        return False
    digests = {d.digest for d in at_tag.manifests}
    return all(e.descriptor.digest in digests for e in ours)


def _publish(
    request: CreateRequest,
    index: Index,
    entries: Sequence[Entry],
    repos: Mapping[Location, Repository],
    previous: Mapping[Location, Manifest | None],
    retry: RetryPolicy | None = None,
) -> tuple[TargetResult, ...]:
    """Content first (every target), then the index by digest, then (without append) tags.

    ``retry`` paces the restarts of a blob whose move failed for a transient reason.
    """
    transfers: dict[str, Transfer] = {}
    needs_tag: list[Location] = []
    for target, repo in repos.items():
        if _digest(previous[target]) == index.digest:
            transfers.setdefault(repo.name, Transfer(dry_run=True))
            continue
        needs_tag.append(target)
        if repo.name not in transfers:
            transfer = Transfer(dry_run=request.dry_run, retry=retry)
            transfers[repo.name] = transfer
            _ensure_content(transfer, repo, entries)
    if not request.dry_run and needs_tag:
        tagged_repos = {repos[t].name: repos[t] for t in needs_tag}
        if len(request.targets) > 1:
            for repo in tagged_repos.values():
                repo.put_manifest(index)
        if not request.append:
            for target in needs_tag:
                repos[target].put_manifest(index, target.tag)
    return tuple(
        TargetResult(
            target,
            _digest(previous[target]),
            index.digest,
            transfers[repos[target].name].stats,
            _changes(previous[target], index),
        )
        for target in repos
    )
