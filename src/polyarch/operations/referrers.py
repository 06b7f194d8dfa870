"""Referrers: signatures, SBOMs and attestations attached to an image, found and carried.

Three forms are read, as registries hold them today:

* ``subject``: a manifest whose ``subject`` names the image (OCI 1.1), listed by the
  registry's referrers API or, without one, by the referrers tag schema index
  (``sha256-<hex>``; distribution spec "Listing Referrers", "Referrers Tag Schema").
  ``oras attach`` and notation write this form.
* ``cosign``: a manifest tagged ``sha256-<hex>.sig`` / ``.att`` / ``.sbom``, the tag
  scheme cosign 2 uses by default (no ``subject``: the tag names the image).

Discovery is recursive (a signature of an SBOM is a referrer of the SBOM). Carrying
pushes each referrer's exact bytes (its digest, and so every signature over it, stays
valid) after the content it refers to, in the form the destination supports: by digest
where the registry has the referrers API, plus a merged tag schema index where it has
not (never overwritten: read, merge, write, read back, as ``create --append`` does);
cosign tags as cosign tags. Everything goes through :class:`~polyarch.storage.Repository`.

>>> cosign_tag("sha256:" + "ab" * 32, "sig") == "sha256-" + "ab" * 32 + ".sig"
True
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from polyarch import mediatype
from polyarch.descriptor import Descriptor
from polyarch.digest import Digest
from polyarch.errors import ManifestUnknown, NameUnknown, PolyarchError
from polyarch.manifest import ImageManifest, Index, Manifest, parse_manifest
from polyarch.operations.transfer import Transfer
from polyarch.storage.base import Repository
from polyarch.storage.referrers_tag import referrers_tag

__all__ = [
    "COSIGN_SUFFIXES",
    "CarriedReferrer",
    "Referrer",
    "ReferrerDiscovery",
    "ReferrersLostUpdate",
    "artifact_type_of",
    "carry_referrers",
    "cosign_tag",
    "discover_referrers",
]

log = logging.getLogger("polyarch.referrers")

#: The tag suffixes of cosign's tag scheme: signatures, attestations, attached SBOMs.
COSIGN_SUFFIXES: Final = ("sig", "att", "sbom")
#: How deep referrers of referrers are followed (content addressing rules out cycles;
#: this bounds a hostile repository).
MAX_DEPTH: Final = 8
#: Read-merge-write rounds of the tag schema index before giving up.
GUARD_ATTEMPTS: Final = 8

Form = Literal["subject", "cosign"]
CarryStatus = Literal["pushed", "present", "merged", "would-push"]


class ReferrersLostUpdate(PolyarchError):
    """Concurrent writers kept overwriting a referrers tag; run the command again."""


def cosign_tag(digest: Digest | str, suffix: str) -> str:
    """The tag cosign gives the ``suffix`` (``sig``, ``att``, ``sbom``) of ``digest``."""
    algorithm, _, encoded = str(digest).partition(":")
    return f"{algorithm}-{encoded}.{suffix}"


def artifact_type_of(manifest: Manifest) -> str | None:
    """The artifact type a referrers list gives ``manifest``.

    Its ``artifactType``; else, for an image manifest, its config media type (the
    distribution spec's rule for the referrers API). A cosign manifest has neither of
    interest (an OCI config), so when every layer has the same media type (cosign's
    ``application/vnd.dev.cosign.simplesigning.v1+json`` for signatures,
    ``application/vnd.dsse.envelope.v1+json`` for attestations) that is used instead.
    """
    if manifest.artifact_type:
        return manifest.artifact_type
    if isinstance(manifest, Index):
        return None
    kinds = {layer.media_type for layer in manifest.layers}
    if len(kinds) == 1 and manifest.config.media_type in (
        mediatype.OCI_CONFIG,
        mediatype.DOCKER_CONFIG,
    ):
        return next(iter(kinds))
    return manifest.config.media_type


def _listing(manifest: Manifest) -> Descriptor:
    """The descriptor a referrers list holds for ``manifest`` (spec: type, annotations)."""
    return Descriptor(
        manifest.media_type,
        manifest.digest,
        manifest.size,
        annotations=manifest.annotations,
        artifact_type=artifact_type_of(manifest),
    )


@dataclass(frozen=True, slots=True)
class Referrer:
    """One manifest that refers to ``subject``, and (recursively) what refers to it.

    ``form`` is ``subject`` (OCI 1.1: API or tag schema) or ``cosign`` (``tag`` is
    then the cosign tag). ``manifest`` holds the exact bytes, verified.
    """

    subject: Digest
    manifest: Manifest = field(repr=False)
    form: Form
    tag: str | None = None
    referrers: tuple[Referrer, ...] = ()

    @property
    def digest(self) -> Digest:
        """The referrer's own digest (never changed by a copy)."""
        return self.manifest.digest

    @property
    def descriptor(self) -> Descriptor:
        """Media type, digest, size, artifact type and annotations."""
        return _listing(self.manifest)

    @property
    def artifact_type(self) -> str | None:
        """See :func:`artifact_type_of`."""
        return artifact_type_of(self.manifest)

    def walk(self) -> Iterator[Referrer]:
        """This referrer, then its referrers, depth first (each after its subject)."""
        yield self
        for child in self.referrers:
            yield from child.walk()

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/referrers.md)."""
        return {
            "form": self.form,
            "tag": self.tag,
            "artifactType": self.artifact_type,
            "mediaType": self.manifest.media_type,
            "digest": str(self.digest),
            "size": self.manifest.size,
            "annotations": dict(self.manifest.annotations),
            "referrers": [r.to_json() for r in self.referrers],
        }


class ReferrerDiscovery:
    """Finds the referrers of manifests in one repository; reads its tag list once."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._tags: frozenset[str] | None = None
        self._tags_read = False

    def tags(self) -> frozenset[str] | None:
        """The repository's tags; None when the registry will not list them.

        One request (or a few pages) instead of three HEADs per manifest. Registries
        may refuse the tag list (a policy, a missing ``catalog``-like permission):
        cosign's tags are then asked for one by one.
        """
        if not self._tags_read:
            self._tags_read = True
            try:
                self._tags = frozenset(self.repo.list_tags())
            except (NameUnknown, ManifestUnknown):
                self._tags = frozenset()
            except PolyarchError as exc:
                log.info("cannot list the tags of %s (%s)", self.repo.name, exc.one_line())
                self._tags = None
        return self._tags

    def direct(self, subject: Digest, *, keep_unlinked: bool = False) -> list[Referrer]:
        """The referrers of ``subject`` in every form, without their own referrers.

        A listed manifest whose ``subject`` is not ``subject`` (a stale tag schema
        entry) is left out, unless ``keep_unlinked`` (``verify`` reports it).
        """
        found: list[Referrer] = []
        for d in self.repo.list_referrers(subject):
            manifest = self.repo.get_manifest(str(d.digest))
            unlinked = manifest.subject is None or manifest.subject.digest != subject
            if unlinked and not keep_unlinked:
                # A stale tag schema entry, or a lying API: not linked to this subject.
                log.warning(
                    "%s@%s is listed as a referrer of %s but its subject is %s; ignored",
                    self.repo.name,
                    d.digest,
                    subject,
                    manifest.subject.digest if manifest.subject else "absent",
                )
                continue
            found.append(Referrer(subject, manifest, "subject"))
        tags = self.tags()
        for suffix in COSIGN_SUFFIXES:
            tag = cosign_tag(subject, suffix)
            if tag in tags if tags is not None else self.repo.head_manifest(tag) is not None:
                try:
                    manifest = self.repo.get_manifest(tag)
                except ManifestUnknown:  # deleted since the tag list was read
                    continue
                found.append(Referrer(subject, manifest, "cosign", tag))
        return found

    def tree(self, subject: Digest, depth: int = MAX_DEPTH) -> tuple[Referrer, ...]:
        """The referrers of ``subject``, each with its own referrers, ``depth`` levels."""
        if depth <= 0:
            return ()
        out = []
        for r in self.direct(subject):
            out.append(
                Referrer(r.subject, r.manifest, r.form, r.tag, self.tree(r.digest, depth - 1))
            )
        return tuple(out)


def discover_referrers(
    repo: Repository, subjects: Sequence[Digest]
) -> dict[Digest, tuple[Referrer, ...]]:
    """The referrer trees of each of ``subjects`` in ``repo`` (empty tuples included).

    Raises :class:`~polyarch.errors.PolyarchError` when a listed referrer cannot be read.
    """
    discovery = ReferrerDiscovery(repo)
    return {s: discovery.tree(s) for s in dict.fromkeys(subjects)}


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
                    api = dest.referrers_api()
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
    added = not api and _add_to_tag_schema(dest, r.subject, _listing(r.manifest))
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


def _add_to_tag_schema(dest: Repository, subject: Digest, entry: Descriptor) -> bool:
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
