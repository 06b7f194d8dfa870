"""The two documents of an OCI image layout: ``oci-layout`` and ``index.json``.

Parsing and validating them, finding tags in ``index.json`` and saying, when a tag is
absent, which tags the layout has. No I/O here: :mod:`polyarch.storage.layout.repository` reads
the files (through :mod:`polyarch.storage.layout.files`) and hands the bytes over. The
formats are image-spec ``image-layout.md`` and ``image-index.md``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.document import load_json
from polyarch.domain.location import is_valid_layout_name
from polyarch.domain.manifest import ImageManifest, Manifest
from polyarch.errors import InvalidInput, InvalidManifest, ManifestUnknown

__all__ = [
    "INDEX_CACHE",
    "INDEX_FILE",
    "LAYOUT_FILE",
    "LAYOUT_VERSION",
    "MAX_INDEX_SIZE",
    "REF_NAME",
    "IndexCache",
    "LayoutIndex",
    "check_marker",
    "dump",
    "empty_index",
    "is_entry_tagged",
    "manifest_unknown",
    "parse_index",
    "referrer_descriptor",
    "sole_image",
    "tag_unknown",
    "tags_of",
]

#: The layout's version marker file, and the one version the image spec defines.
LAYOUT_FILE: Final = "oci-layout"
LAYOUT_VERSION: Final = "1.0.0"
#: The layout's top-level index, whose entries carry the tags.
INDEX_FILE: Final = "index.json"
#: The annotation naming a tag in ``index.json``.
REF_NAME: Final = "org.opencontainers.image.ref.name"
#: ``index.json`` grows with the number of tags; refuse anything absurd.
MAX_INDEX_SIZE: Final = 64 * 1024 * 1024
_MAX_TAGS_SHOWN: Final = 20


def empty_index() -> dict[str, Any]:
    """The ``index.json`` of a new layout."""
    return {"schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "manifests": []}


def dump(doc: dict[str, Any]) -> bytes:
    """Compact JSON bytes for ``doc`` (unknown fields and their order kept)."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def check_marker(raw: bytes, name: str) -> None:
    """Check an ``oci-layout`` file: a JSON object with ``imageLayoutVersion`` 1.0.0.

    ``name`` is the layout (``oci:DIR``) for messages. Raises :class:`InvalidInput`.
    """
    try:
        doc = load_json(raw, what=f"{name}: {LAYOUT_FILE}", error=InvalidInput)
    except InvalidInput:
        doc = None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{name}: {LAYOUT_FILE} is not a JSON object")
    version = doc.get("imageLayoutVersion")
    if version != LAYOUT_VERSION:
        raise InvalidInput(
            f"{name}: {LAYOUT_FILE} has imageLayoutVersion {version!r}, expected {LAYOUT_VERSION!r}"
        )


def parse_index(raw: bytes, *, what: str) -> tuple[dict[str, Any], list[Descriptor]]:
    """``index.json`` as a document (to rewrite, unknown fields kept) and its entries.

    ``what`` names the file in messages. Raises :class:`InvalidInput` when it is not
    an OCI index.
    """
    doc = load_json(raw, what=what, error=InvalidInput)
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
        raise InvalidInput(f"{what} is not an OCI index (schemaVersion must be 2)")
    if doc.get("mediaType", mediatype.OCI_INDEX) != mediatype.OCI_INDEX:
        raise InvalidInput(f"{what} has mediaType {doc.get('mediaType')!r}, not an OCI index")
    items = doc.get("manifests")
    if not isinstance(items, list):
        raise InvalidInput(f"{what}: manifests must be a list")
    try:
        entries = [
            Descriptor.from_json(e, where=f"manifests[{i}]", text_checked=True)
            for i, e in enumerate(items)
        ]
    except InvalidManifest as exc:
        raise InvalidInput(f"{what}: {exc}") from None
    return doc, entries


def is_entry_tagged(entry: Descriptor) -> bool:
    """True when ``entry`` carries a ``ref.name`` that is a valid name (a tag, or a full
    reference as skopeo and crane write them: image-spec annotations.md)."""
    return is_valid_layout_name(entry.annotations.get(REF_NAME))


def tags_of(entries: Iterable[Descriptor]) -> list[str]:
    """The names (tags and full references) of ``entries``, first occurrence first (linear:
    a dict remembers the names seen)."""
    tags: dict[str, None] = {}
    for entry in entries:
        tag = entry.annotations.get(REF_NAME)
        if tag is not None and tag not in tags and is_valid_layout_name(tag):
            tags[tag] = None
    return list(tags)


@dataclass
class LayoutIndex:
    """One version of ``index.json``, parsed once: its document, entries and lookups.

    ``doc`` is shared by every reader of this version: writers build a new document
    (``{**doc, "manifests": [...]}``), never change it. The lookups make a command's cost
    linear in the size of ``index.json`` whatever it asks (issue 25: a ``delete`` at
    20,000 tags read the file 500 times, a listing compared every tag with every other).
    """

    doc: dict[str, Any]
    entries: list[Descriptor]
    #: The first entry of each tag name, and of each digest.
    by_tag: dict[str, Descriptor] = field(init=False)
    by_digest: dict[Digest, Descriptor] = field(init=False)
    _subjects: dict[Digest, list[Manifest]] | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_tag = {}
        self.by_digest = {}
        for entry in self.entries:
            tag = entry.annotations.get(REF_NAME)
            if tag is not None:
                self.by_tag.setdefault(tag, entry)
            self.by_digest.setdefault(entry.digest, entry)

    @classmethod
    def parse(cls, raw: bytes, *, what: str) -> LayoutIndex:
        """``index.json``'s bytes parsed (see :func:`parse_index`)."""
        return cls(*parse_index(raw, what=what))

    @property
    def tags(self) -> list[str]:
        """The valid tags, first occurrence first."""
        return tags_of(self.entries)

    def tag_digests(self) -> dict[str, Digest]:
        """Every valid name (tag or full reference) and the digest its first entry names."""
        return {t: e.digest for t, e in self.by_tag.items() if is_valid_layout_name(t)}

    def manifests_by_subject(
        self, get_manifest: Callable[[str], Manifest]
    ) -> Mapping[Digest, list[Manifest]]:
        """The manifests among the entries, grouped by the ``subject`` they name.

        Each distinct manifest entry is read once (``get_manifest``, by digest) per version
        of ``index.json``, however many subjects are then asked about (``oras attach
        --oci-layout`` records referrers as such entries).
        """
        with self._lock:
            if self._subjects is None:
                found: dict[Digest, list[Manifest]] = {}
                for digest, entry in self.by_digest.items():
                    if not mediatype.is_manifest(entry.media_type):
                        continue
                    manifest = get_manifest(str(digest))
                    if manifest.subject is not None:
                        found.setdefault(manifest.subject.digest, []).append(manifest)
                self._subjects = found
            return self._subjects


class IndexCache:
    """Parsed ``index.json`` versions by their file's identity (a stat key), a few at a time.

    A layout's ``index.json`` is replaced whole by every writer (a rename: a new inode),
    so device, inode, size and change times name one version of it; a reader that finds
    the same key uses the version parsed before instead of reading and parsing the file
    again. Safe across threads.
    """

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._versions: dict[Hashable, LayoutIndex] = {}

    def get(self, key: Hashable) -> LayoutIndex | None:
        """The version cached under ``key``, or None."""
        with self._lock:
            return self._versions.get(key)

    def put(self, key: Hashable, index: LayoutIndex) -> None:
        """Remember ``index`` under ``key`` (the oldest version goes when full)."""
        with self._lock:
            self._versions.pop(key, None)
            self._versions[key] = index
            while len(self._versions) > self._size:
                del self._versions[next(iter(self._versions))]


#: The versions of ``index.json`` this process has parsed, across layouts and repositories.
INDEX_CACHE: Final = IndexCache()


def referrer_descriptor(manifest: Manifest) -> Descriptor:
    """The descriptor the referrers API would give ``manifest``: its artifact type (else its
    config media type) and its annotations."""
    kind = manifest.artifact_type
    if kind is None and isinstance(manifest, ImageManifest):
        kind = manifest.config.media_type
    return Descriptor(
        manifest.media_type,
        manifest.digest,
        manifest.size,
        annotations=manifest.annotations,
        artifact_type=kind,
    )


def sole_image(entries: list[Descriptor], children: Collection[Digest] = ()) -> Descriptor | None:
    """The one image ``oci:DIR`` stands for: the entry when every entry of index.json
    names the same manifest, or is one of ``children`` (manifests another entry's index
    names: oras adds an unnamed entry for each child it copied)."""
    own = [e for e in entries if e.digest not in children]
    digests = {e.digest for e in own}
    return own[0] if len(digests) == 1 else None


def tag_unknown(where: str, entries: list[Descriptor], name: str) -> ManifestUnknown:
    """The error for a tag ``where`` absent from ``entries``, listing the tags present."""
    tags = tags_of(entries)
    untagged = sum(1 for e in entries if not is_entry_tagged(e))
    if not entries:
        return ManifestUnknown(
            f"manifest {where} not found: the layout holds no image yet",
            hint="write the image first",
        )
    shown = ", ".join(tags[:_MAX_TAGS_SHOWN])
    if len(tags) > _MAX_TAGS_SHOWN:
        shown += f" and {len(tags) - _MAX_TAGS_SHOWN} more"
    parts = [f"tags: {shown}"] if tags else ["no tags"]
    if untagged:
        parts.append(f"{untagged} untagged manifest(s), readable as {name}@DIGEST")
    return ManifestUnknown(
        f"manifest {where} not found; the layout has {'; '.join(parts)}",
        hint=f"name one: {name}:TAG",
    )


def manifest_unknown(where: str) -> ManifestUnknown:
    """The error for a manifest ``where`` that is not in the layout."""
    return ManifestUnknown(
        f"manifest {where} not found", hint="check the tag or digest, or write the image first"
    )
