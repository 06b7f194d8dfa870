"""The two documents of an OCI image layout: ``oci-layout`` and ``index.json``.

Parsing and validating them, finding tags in ``index.json`` and saying, when a tag is
absent, which tags the layout has. No I/O here: :mod:`polyarch.storage.layout.repository` reads
the files (through :mod:`polyarch.storage.layout.files`) and hands the bytes over. The
formats are image-spec ``image-layout.md`` and ``image-index.md``.
"""

from __future__ import annotations

import json
from typing import Any, Final

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.location import is_valid_tag
from polyarch.errors import InvalidInput, InvalidManifest, ManifestUnknown

__all__ = [
    "INDEX_FILE",
    "LAYOUT_FILE",
    "LAYOUT_VERSION",
    "MAX_INDEX_SIZE",
    "REF_NAME",
    "check_marker",
    "dump",
    "empty_index",
    "manifest_unknown",
    "parse_index",
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
        version = json.loads(raw).get("imageLayoutVersion")
    except (ValueError, AttributeError, RecursionError):
        raise InvalidInput(f"{name}: {LAYOUT_FILE} is not a JSON object") from None
    if version != LAYOUT_VERSION:
        raise InvalidInput(
            f"{name}: {LAYOUT_FILE} has imageLayoutVersion {version!r}, expected {LAYOUT_VERSION!r}"
        )


def parse_index(raw: bytes, *, what: str) -> tuple[dict[str, Any], list[Descriptor]]:
    """``index.json`` as a document (to rewrite, unknown fields kept) and its entries.

    ``what`` names the file in messages. Raises :class:`InvalidInput` when it is not
    an OCI index.
    """
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidInput(f"{what} is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
        raise InvalidInput(f"{what} is not an OCI index (schemaVersion must be 2)")
    if doc.get("mediaType", mediatype.OCI_INDEX) != mediatype.OCI_INDEX:
        raise InvalidInput(f"{what} has mediaType {doc.get('mediaType')!r}, not an OCI index")
    items = doc.get("manifests")
    if not isinstance(items, list):
        raise InvalidInput(f"{what}: manifests must be a list")
    try:
        entries = [Descriptor.from_json(e, where=f"manifests[{i}]") for i, e in enumerate(items)]
    except InvalidManifest as exc:
        raise InvalidInput(f"{what}: {exc}") from None
    return doc, entries


def tags_of(entries: list[Descriptor]) -> list[str]:
    """The valid tags of ``entries``, first occurrence first."""
    tags: list[str] = []
    for entry in entries:
        tag = entry.annotations.get(REF_NAME)
        if is_valid_tag(tag) and tag not in tags:
            assert tag is not None
            tags.append(tag)
    return tags


def sole_image(entries: list[Descriptor]) -> Descriptor | None:
    """The entry when every entry of index.json names one and the same manifest."""
    digests = {e.digest for e in entries}
    return entries[0] if len(digests) == 1 else None


def tag_unknown(where: str, entries: list[Descriptor], name: str) -> ManifestUnknown:
    """The error for a tag ``where`` absent from ``entries``, listing the tags present."""
    tags = tags_of(entries)
    untagged = sum(1 for e in entries if e.annotations.get(REF_NAME) is None)
    if not tags and not untagged:
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
