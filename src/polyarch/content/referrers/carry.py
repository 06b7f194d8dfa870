"""Writing referrers at a destination: ``copy`` and ``create`` carry them with this.

Each referrer found by :mod:`polyarch.content.referrers.discovery` is pushed with its exact
bytes (its digest, and so every signature over it, stays valid), after the content it
refers to, in the form the destination supports: by digest where the registry has the
referrers API; plus an entry merged into the referrers tag schema index where it has
not (never overwritten: read, merge, write, read back, as ``create --append`` does);
cosign tags as cosign tags (layers merged, as cosign does, when the destination
already has that tag). Everything goes through :class:`~polyarch.storage.Repository`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from polyarch.content.referrers.discovery import (
    Form,
    Referrer,
    discover_referrers,
    listing_descriptor,
)
from polyarch.content.transfer import Transfer
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, Manifest, parse_manifest
from polyarch.errors import ManifestUnknown, NameUnknown, PolyarchError
from polyarch.storage.referrers_tag import referrers_tag
from polyarch.storage.repository import ReferrersIndexing, Repository
from polyarch.transport.retry import REFERRERS_GUARD_ROUNDS

__all__ = [
    "GUARD_ATTEMPTS",
    "CarriedReferrer",
    "CarryStatus",
    "ReferrersLostUpdate",
    "add_to_tag_schema",
    "attach_referrer",
    "carry_image_referrers",
    "carry_referrers",
]

log = logging.getLogger("polyarch.referrers")

#: Read-merge-write rounds of a referrers tag before giving up (transport/retry.py).
GUARD_ATTEMPTS: Final = REFERRERS_GUARD_ROUNDS

CarryStatus = Literal["pushed", "present", "merged", "would-push"]


class ReferrersLostUpdate(PolyarchError):
    """Concurrent writers kept overwriting a referrers tag; run the command again."""


@dataclass(frozen=True, slots=True)
class CarriedReferrer:
    """One referrer written (or, in a dry run, to be written) at a destination."""

    subject: Digest
    digest: Digest
    artifact_type: str | None
    form: Form
    tag: str | None
    #: ``pushed``, ``present`` (already there), ``merged`` (cosign tag: layers added to
    #: the destination's own manifest, as cosign does) or ``would-push`` (dry run).
    status: CarryStatus
    #: How the destination lists it: ``api``, ``tag-schema``, ``cosign-tag``.
    listed_by: str

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/referrers.md)."""
        return {
            "subject": str(self.subject),
            "digest": str(self.digest),
            "artifactType": self.artifact_type,
            "form": self.form,
            "tag": self.tag,
            "status": self.status,
            "listedBy": self.listed_by,
        }


def carry_referrers(
    transfer: Transfer,
    source: Repository,
    dest: Repository,
    trees: dict[Digest, tuple[Referrer, ...]],
) -> tuple[CarriedReferrer, ...]:
    """Write every referrer of ``trees`` (from :func:`discover_referrers`) into ``dest``.

    The subjects must already be in ``dest``: referrers follow what they refer to, and a
    referrer of a referrer follows that one. ``transfer`` moves blobs and manifests
    (and decides dry run or not). Returns what was (or would be) done, in order.
    Raises :class:`ReferrersLostUpdate` when concurrent writers keep overwriting a tag
    schema index, and :class:`~polyarch.errors.PolyarchError` for failed requests.
    """
    if dest.same_as(source):
        return ()
    api: bool | None = None
    done: list[CarriedReferrer] = []
    for tree in trees.values():
        for top in tree:
            for r in top.walk():
                if api is None and r.form == "subject":
                    api = isinstance(dest, ReferrersIndexing) and dest.referrers_api()
                done.append(_carry_one(transfer, source, dest, r, bool(api)))
    return tuple(done)


def _carry_one(
    transfer: Transfer, source: Repository, dest: Repository, r: Referrer, api: bool
) -> CarriedReferrer:
    listed_by = "cosign-tag" if r.form == "cosign" else ("api" if api else "tag-schema")

    def result(status: CarryStatus, digest: Digest | None = None) -> CarriedReferrer:
        return CarriedReferrer(
            r.subject, digest or r.digest, r.artifact_type, r.form, r.tag, status, listed_by
        )

    if r.form == "cosign":
        assert r.tag is not None
        current = dest.head_manifest(r.tag)
        if current is not None and current.digest == r.digest:
            return result("present")
        if transfer.dry_run:
            return result("would-push")
        if current is None:
            _push(transfer, source, dest, r.manifest)
            dest.put_manifest(r.manifest, r.tag)
            return result("pushed")
        return result("merged", _merge_cosign(transfer, source, dest, r))
    pushed = _push(transfer, source, dest, r.manifest)
    if transfer.dry_run:
        return result("would-push" if pushed else "present")
    added = not api and add_to_tag_schema(dest, r.subject, listing_descriptor(r.manifest))
    return result("pushed" if pushed or added else "present")


def _push(transfer: Transfer, source: Repository, dest: Repository, manifest: Manifest) -> bool:
    """The manifest (an index's children first) and its blobs; True when pushed."""
    if isinstance(manifest, Index):
        children = [source.get_manifest(str(d.digest)) for d in manifest.manifests]
        transfer.manifests(dest, [(source, c) for c in children])
    return transfer.manifest(source, dest, manifest)


def _read(repo: Repository, tag: str) -> Manifest | None:
    try:
        return repo.get_manifest(tag)
    except (ManifestUnknown, NameUnknown):
        return None


def add_to_tag_schema(dest: Repository, subject: Digest, entry: Descriptor) -> bool:
    """Merge ``entry`` into the referrers tag schema index of ``subject`` in ``dest``.

    Entries already there are kept byte for byte (unknown fields included); the tag is
    re-read just before the write and read back after it, and the merge starts over
    when another writer moved it. Returns False when the entry was already listed.
    """
    tag = referrers_tag(subject)
    for _ in range(GUARD_ATTEMPTS):
        current = _read(dest, tag)
        doc: dict[str, Any]
        if isinstance(current, Index):
            if any(d.digest == entry.digest for d in current.manifests):
                return False
            doc = json.loads(current.raw)
        else:  # absent, or not an index (the spec: treat as no referrers)
            doc = {"schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "manifests": []}
        doc["manifests"] = [*doc["manifests"], entry.to_json()]
        raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        merged = parse_manifest(raw, mediatype.OCI_INDEX, what=f"referrers index {tag}")
        moved = dest.head_manifest(tag)
        if (moved.digest if moved else None) != (current.digest if current else None):
            continue
        dest.put_manifest(merged, tag)
        after = _read(dest, tag)
        if isinstance(after, Index) and any(d.digest == entry.digest for d in after.manifests):
            return True
        log.info("a concurrent writer overwrote %s:%s; merging again", dest.name, tag)
    raise ReferrersLostUpdate(
        f"gave up after {GUARD_ATTEMPTS} rounds: concurrent writers kept overwriting the "
        f"referrers tag {dest.name}:{tag}",
        hint="run the command again, or serialize the jobs that attach to this image",
    )


def _signature_key(layer: Descriptor) -> tuple[str, str]:
    return str(layer.digest), json.dumps(dict(layer.annotations), sort_keys=True)


def _merge_cosign(transfer: Transfer, source: Repository, dest: Repository, r: Referrer) -> Digest:
    """Add the source's cosign layers to the destination's own manifest at the same tag.

    This is what ``cosign sign`` itself does when an image already has a ``.sig``: each
    layer is one signature (payload blob plus annotations), so every signature stays
    valid; only the merged manifest is new. Returns its digest.
    """
    assert r.tag is not None and isinstance(r.manifest, ImageManifest)
    for _ in range(GUARD_ATTEMPTS):
        current = dest.get_manifest(r.tag)
        if not isinstance(current, ImageManifest):
            raise ReferrersLostUpdate(
                f"{dest.name}:{r.tag} is not a cosign manifest; not overwritten",
                hint="delete or rename that tag, then copy again",
            )
        # One layer is one signature: the same payload signed by two keys differs only in
        # its annotations (the signature), so layers are told apart by both.
        have = {_signature_key(layer) for layer in current.layers}
        new_layers = [layer for layer in r.manifest.layers if _signature_key(layer) not in have]
        if not new_layers:
            return current.digest
        for layer in new_layers:
            transfer.blob(source, dest, layer)
        doc = json.loads(current.raw)
        doc["layers"] = [*doc["layers"], *(layer.to_json() for layer in new_layers)]
        raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        merged = parse_manifest(raw, current.media_type, what=f"cosign manifest {r.tag}")
        moved = dest.head_manifest(r.tag)
        if moved is None or moved.digest != current.digest:
            continue
        dest.put_manifest(merged, r.tag)
        after = _read(dest, r.tag)
        if isinstance(after, ImageManifest) and all(
            _signature_key(layer) in {_signature_key(a) for a in after.layers}
            for layer in new_layers
        ):
            return merged.digest
    raise ReferrersLostUpdate(
        f"gave up after {GUARD_ATTEMPTS} rounds: concurrent writers kept overwriting "
        f"{dest.name}:{r.tag}",
        hint="run the command again, or serialize the jobs that sign this image",
    )


def carry_image_referrers(
    transfer: Transfer, dest: Repository, images: Sequence[tuple[Repository, Digest]]
) -> tuple[CarriedReferrer, ...]:
    """Write the referrers of each image, from the repository it is in, into ``dest``.

    ``images`` are ``(source repository, image digest)`` pairs (create's index entries,
    their images already in ``dest``); images read from ``dest`` itself (``--append``)
    are skipped. With ``transfer.dry_run`` only the plan is returned. Raises what
    :func:`carry_referrers` raises.
    """
    by_source: dict[str, tuple[Repository, list[Digest]]] = {}
    for repository, digest in images:
        if dest.same_as(repository):
            continue
        _, digests = by_source.setdefault(repository.name, (repository, []))
        digests.append(digest)
    done: list[CarriedReferrer] = []
    for source, digests in by_source.values():
        trees = discover_referrers(source, digests)
        done.extend(carry_referrers(transfer, source, dest, trees))
    return tuple(done)


def attach_referrer(
    dest: Repository, manifest: Manifest, *, dry_run: bool = False
) -> tuple[Literal["api", "tag-schema"], bool]:
    """List ``manifest`` as a referrer of its ``subject`` in ``dest``, where it is pushed.

    A registry with the referrers API lists it itself; elsewhere (distribution 2.8, an
    OCI layout) it is merged into the subject's referrers tag schema index
    (:func:`add_to_tag_schema`). Returns how it is listed (``api`` or ``tag-schema``) and
    whether the tag schema index changed. ``dry_run`` only answers how it would be listed.
    Raises :class:`ReferrersLostUpdate` as :func:`add_to_tag_schema` does.
    """
    assert manifest.subject is not None, "a referrer names its subject"
    if isinstance(dest, ReferrersIndexing) and dest.referrers_api():
        return "api", False
    if dry_run:
        return "tag-schema", False
    return "tag-schema", add_to_tag_schema(
        dest, manifest.subject.digest, listing_descriptor(manifest)
    )
