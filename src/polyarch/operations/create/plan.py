"""Assemble the index: new entries into nothing (create) or into the index at the tag (append).

What ``--append`` does not change, it keeps: the existing index's JSON document (its
``artifactType``, ``subject``, annotations and fields polyarch does not know), each
existing entry's JSON object (annotations, unknown fields) and the entries' relative
order, so what each host pulls changes only for a platform being replaced. An append
that changes nothing keeps the index's exact bytes, so its digest.

A platform is identified by its normalized form (containerd's ``platforms.Normalize``),
OS version and OS features included: ``windows(10.0.20348)/amd64`` and
``windows(10.0.26100)/amd64`` are two platforms. Two entries of one platform are refused,
except the compression pair ``buildah/podman --add-compression zstd`` writes: one entry
without and one with the annotation ``io.github.containers.compression.zstd: "true"``
(containers/image picks the zstd one when it prefers zstd; Docker and containerd take
the first, so their order is kept).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from polyarch.content.selection import EntryPlatforms, platform_key
from polyarch.domain import mediatype
from polyarch.domain.descriptor import (
    ANNOTATION_REFERENCE_DIGEST,
    ANNOTATION_REFERENCE_TYPE,
    Descriptor,
)
from polyarch.domain.location import Location
from polyarch.domain.manifest import ImageManifest, Index, Manifest, parse_manifest
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidInput, InvalidManifest
from polyarch.operations.create.annotations import AnnotationSpec
from polyarch.operations.create.sources import Attestation, Entry, Source, image_entry
from polyarch.storage.repository import Repository

__all__ = [
    "ZSTD_ANNOTATION",
    "Contribution",
    "Conversion",
    "Item",
    "annotate",
    "assemble",
    "attestation_descriptor",
    "check_new_duplicates",
    "conversion",
    "entries_of",
    "entry_key",
    "existing_items",
    "is_zstd",
]

#: containers/image marks the zstd instance of a gzip/zstd pair with this annotation ("true").
ZSTD_ANNOTATION = "io.github.containers.compression.zstd"

EntryKey = tuple[Any, ...]


def is_zstd(descriptor: Descriptor) -> bool:
    """True for the zstd instance of a compression pair, as containers/image marks it."""
    return descriptor.annotations.get(ZSTD_ANNOTATION) == "true"


def entry_key(descriptor: Descriptor) -> EntryKey:
    """What identifies an image entry: its full normalized platform and its compression role."""
    assert descriptor.platform is not None
    return (*platform_key(descriptor.platform), is_zstd(descriptor))


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of the index being written, and where its content lives."""

    descriptor: Descriptor
    repository: Repository
    source: str
    #: The entry's JSON object exactly as the existing index has it (None: a new entry).
    raw: Mapping[str, Any] | None = None
    manifest: ImageManifest | None = None

    @property
    def is_attestation(self) -> bool:
        """True for an attestation entry (it follows its image)."""
        return self.descriptor.is_attestation

    def to_json(self) -> dict[str, Any]:
        """The entry's JSON object: as found (unknown fields kept), or written fresh."""
        return dict(self.raw) if self.raw is not None else self.descriptor.to_json()


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one writer adds: entries (with their attestations) and index annotations."""

    entries: tuple[Entry, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)


def attestation_descriptor(d: Descriptor, subject: Descriptor) -> Descriptor:
    """The index entry of an attestation: BuildKit's annotations naming its image."""
    annotations = {
        **d.annotations,
        ANNOTATION_REFERENCE_DIGEST: str(subject.digest),
        ANNOTATION_REFERENCE_TYPE: "attestation-manifest",
    }
    return Descriptor(
        d.media_type,
        d.digest,
        d.size,
        platform=Platform("unknown", "unknown"),
        annotations=dict(sorted(annotations.items())),
        artifact_type=d.artifact_type,
    )


def _duplicate_groups(descriptors: Iterable[Descriptor]) -> list[list[Descriptor]]:
    """Groups of distinct images sharing a normalized platform that the rule refuses."""
    groups: dict[tuple[Any, ...], list[Descriptor]] = {}
    for d in descriptors:
        assert d.platform is not None
        if d.platform.is_unknown:
            continue  # no host pulls unknown/unknown (attestations, artifacts): no pick to keep
        group = groups.setdefault(platform_key(d.platform), [])
        if all(other.digest != d.digest for other in group):
            group.append(d)
    bad = []
    for group in groups.values():
        pair = len(group) == 2 and sum(is_zstd(d) for d in group) == 1
        if len(group) > 1 and not pair:
            bad.append(group)
    return bad


def check_new_duplicates(entries: Sequence[Entry]) -> list[Entry]:
    """The new entries without repeats; :class:`InvalidInput` for two images of one platform."""
    bad = _duplicate_groups(e.descriptor for e in entries)
    if bad:
        digests = {d.digest for d in bad[0]}
        first, second = [e for e in entries if e.descriptor.digest in digests][:2]
        raise InvalidInput(
            f"two sources give the same platform: {first.source} ({first.platform}) "
            f"and {second.source} ({second.platform})",
            hint="a host's pick would depend on order; keep one of them",
        )
    unique: dict[tuple[Any, ...], Entry] = {}
    for entry in entries:
        unique.setdefault((entry_key(entry.descriptor), entry.descriptor.digest), entry)
    # Deterministic: by platform, the gzip instance of a pair before its zstd twin.
    return sorted(
        unique.values(), key=lambda e: (entry_key(e.descriptor), str(e.descriptor.digest))
    )


def existing_items(
    repo: Repository, base: Location, current: Manifest | None
) -> tuple[dict[str, Any] | None, list[Item]]:
    """The index at the tag as a JSON document and its entries, for ``--append``.

    A single image at the tag becomes the first entry (its platform from its config). An
    image entry without ``platform`` (optional in the OCI image spec) is identified by its
    config's platform, as containerd matches it (:mod:`polyarch.content.selection`), and
    kept exactly as written. Raises :class:`InvalidManifest` for an entry whose config names
    no platform either, and
    :class:`polyarch.InvalidInput` for an index whose hosts' picks depend on entry order
    in a way this module cannot keep (two images of one platform, not a zstd pair).
    """
    source = f"existing {base}"
    if current is None:
        return None, []
    if isinstance(current, ImageManifest):
        entry = image_entry(repo, Source(source, base), current)
        return None, [Item(entry.descriptor, repo, source, None, current)]
    doc = json.loads(current.raw)
    raws = doc.get("manifests", [])
    items = []
    platforms = EntryPlatforms(repo)
    for d, raw in zip(current.manifests, raws, strict=True):
        known = d
        if d.platform is None and not d.is_attestation:
            platform = platforms.platform_of(d)
            if platform is None:
                raise InvalidManifest(
                    f"{source} has an entry without a platform whose config names none "
                    f"({d.digest}); cannot append safely"
                )
            known = d.with_platform(platform)  # to compare it; its JSON (raw) stays as written
        items.append(Item(known, repo, source, raw))
    bad = _duplicate_groups(i.descriptor for i in items if not i.is_attestation)
    if bad:
        shown = ", ".join(str(d.digest) for d in bad[0])
        assert bad[0][0].platform is not None
        raise InvalidInput(
            f"{source} holds {len(bad[0])} images for {bad[0][0].platform.format_all()} "
            f"({shown}): which one a host pulls depends on their order",
            hint="polyarch appends only to an index with one image per platform (or a "
            "gzip/zstd pair); rebuild it with create instead of appending to it",
        )
    return doc, items


def annotate(entries: Sequence[Entry], notes: AnnotationSpec) -> tuple[Entry, ...]:
    """The entries with the ``manifest-descriptor:`` annotations that apply to each."""
    out = []
    for entry in entries:
        extra = notes.for_descriptor(entry.descriptor)
        if extra:
            descriptor = entry.descriptor.with_annotations(
                {**entry.descriptor.annotations, **extra}
            )
            out.append(replace(entry, descriptor=descriptor))
        else:
            out.append(entry)
    return tuple(out)


def _apply(items: list[Item], entries: Sequence[Entry]) -> list[Item]:
    """Put ``entries`` into ``items``: a platform present is replaced in place, else added."""
    for entry in entries:
        descriptor = entry.descriptor
        key = entry_key(descriptor)
        same = [i for i, it in enumerate(items) if not it.is_attestation and _key(it) == key]
        if same and all(items[i].descriptor.digest == descriptor.digest for i in same):
            continue  # already there: kept exactly as it is
        new_item = Item(descriptor, entry.repository, entry.source, None, entry.manifest)
        if same:
            gone = {items[i].descriptor.digest for i in same}
            items[same[0]] = new_item
            drop = set(same[1:])
            items = [
                it
                for i, it in enumerate(items)
                if i not in drop
                and not (it.is_attestation and it.descriptor.attestation_subject in gone)
            ]
        else:
            last_image = max((i for i, it in enumerate(items) if not it.is_attestation), default=-1)
            items.insert(last_image + 1, new_item)
        for att in sorted(entry.attestations, key=lambda a: str(a.descriptor.digest)):
            if any(it.descriptor.digest == att.descriptor.digest for it in items):
                continue
            items.append(
                Item(
                    attestation_descriptor(att.descriptor, descriptor), att.repository, entry.source
                )
            )
    return items


def _key(item: Item) -> EntryKey:
    return entry_key(item.descriptor)


def assemble(
    base: tuple[dict[str, Any] | None, list[Item]],
    contributions: Sequence[Contribution],
    *,
    attestations: str,
    index_format: str | None,
    existing: Index | None = None,
) -> tuple[Index, list[Item]]:
    """Apply ``contributions`` in order to ``base``; returns the index and its items.

    ``attestations`` ``keep`` lists the attestation manifests in the index; ``drop`` leaves
    them out; ``referrers`` leaves them out of the index but among the items returned.
    ``index_format`` ``"oci"`` or ``"docker"``; None keeps the format of ``base`` when
    every item fits it (a Docker manifest list holds Docker manifests only and no
    annotations), else OCI (:func:`conversion` says why).

    ``existing`` is the index ``base`` was read from: when nothing changes, it is returned
    itself (same bytes, same digest). Raises :class:`polyarch.InvalidInput` for a Docker
    manifest list that would hold a non-Docker child, and :class:`InvalidManifest` for text
    that has no UTF-8 form.
    """
    doc, items = base
    items = list(items)
    annotations: dict[str, str] = dict((doc or {}).get("annotations") or {})
    for contribution in contributions:
        items = _apply(items, contribution.entries)
        for key in sorted(contribution.annotations):
            annotations[key] = contribution.annotations[key]
    # "referrers": out of the index, but still returned with their images, to be written as
    # referrers of them (create/publish.py); "drop": gone.
    moved = [it for it in items if it.is_attestation] if attestations == "referrers" else []
    if attestations != "keep":
        items = [it for it in items if not it.is_attestation]
    if index_format is None:  # keep: a Docker list stays one while every entry fits it
        was = (doc or {}).get("mediaType")
        fits = was == mediatype.DOCKER_MANIFEST_LIST and _misfit(items, annotations) is None
        index_format = "docker" if fits else "oci"
    if index_format == "docker":
        media_type = mediatype.DOCKER_MANIFEST_LIST
        for it in items:
            if it.descriptor.media_type != mediatype.DOCKER_MANIFEST:
                what = f"the attestation of {it.source}" if it.is_attestation else it.source
                raise InvalidInput(
                    f"Docker format: {what} is {it.descriptor.media_type}, not a Docker manifest",
                    hint="use the default OCI format"
                    + (", or drop the attestations" if it.is_attestation else ""),
                    parameter="format",
                )
    else:
        media_type = mediatype.OCI_INDEX
    out: dict[str, Any] = dict(doc) if doc is not None else {"schemaVersion": 2}
    out["mediaType"] = media_type
    out["manifests"] = [it.to_json() for it in items]
    if doc is None:
        annotations = dict(sorted(annotations.items()))
    if annotations and media_type == mediatype.DOCKER_MANIFEST_LIST:
        raise InvalidInput(
            "annotations need an OCI index: a Docker manifest list has none",
            hint="use the OCI format, or drop the annotations",
            parameter="annotations",
        )
    if annotations:
        out["annotations"] = annotations
    else:
        out.pop("annotations", None)
    if existing is not None and doc is not None and out == doc:
        return existing, items + moved
    try:
        raw = json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise InvalidManifest("the index would hold text that is not valid Unicode") from None
    index = parse_manifest(raw, media_type)
    assert isinstance(index, Index)
    return index, items + moved


@dataclass(frozen=True, slots=True)
class Conversion:
    """The index changed its media type: ``from_type`` -> ``to_type``, ``because`` of what."""

    from_type: str
    to_type: str
    #: The source that did not fit the old format, ``index annotations``, or ``format``
    #: (asked for).
    because: str

    def to_json(self) -> dict[str, str]:
        """``{"from", "to", "because"}`` (``create --json``'s ``conversion``)."""
        return {"from": self.from_type, "to": self.to_type, "because": self.because}


def _misfit(items: Sequence[Item], annotations: Mapping[str, str]) -> str | None:
    """What keeps ``items`` out of a Docker manifest list: a source, or the annotations."""
    for it in items:
        if it.descriptor.media_type != mediatype.DOCKER_MANIFEST:
            return f"the attestation of {it.source}" if it.is_attestation else it.source
    return "index annotations" if annotations else None


def conversion(
    previous: Manifest | None, index: Index, items: Sequence[Item], requested: str | None
) -> Conversion | None:
    """How ``index`` changed the media type of the index it was assembled from, if it did.

    ``requested`` is the format asked for (None: keep).
    """
    if not isinstance(previous, Index) or previous.media_type == index.media_type:
        return None
    asked = requested is not None
    because = "format" if asked else _misfit(items, index.annotations) or "format"
    return Conversion(previous.media_type, index.media_type, because)


def entries_of(items: Sequence[Item]) -> tuple[Entry, ...]:
    """The image entries of ``items`` in index order, each with its attestations."""
    out = []
    for it in items:
        if it.is_attestation:
            continue
        atts = tuple(
            Attestation(a.descriptor, a.repository)
            for a in items
            if a.is_attestation and a.descriptor.attestation_subject == it.descriptor.digest
        )
        out.append(Entry(it.descriptor, it.repository, it.source, it.manifest, atts))
    return tuple(out)
