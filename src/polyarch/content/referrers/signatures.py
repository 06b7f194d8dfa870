"""cosign signatures in a repository: storing them, finding them.

Both of cosign's storage forms, through :class:`~polyarch.storage.Repository` only (a
registry or an OCI layout):

* **bundle** (cosign 3's default, OCI 1.1): the referrer manifest is pushed by digest
  after its blobs (the empty config, the bundle); a registry with the referrers API lists
  it itself, elsewhere it is merged into the referrers tag schema index (read, merge,
  write, read back: :mod:`polyarch.content.referrers.carry`), as go-containerregistry
  does for cosign;
* **legacy** (cosign 2's ``sha256-<hex>.sig`` tag): the payload blob, then the manifest at
  the tag with the new signature layer added to those already there (cosign's own
  append: earlier signatures stay), re-read before the write and checked after it.

Finding reads both forms for a digest (:func:`find_signatures`) and turns what it finds
into :class:`~polyarch.domain.signing.check.Candidate` objects for
:func:`~polyarch.domain.signing.check.judge`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from polyarch.content.referrers.carry import (
    GUARD_ATTEMPTS,
    ReferrersLostUpdate,
    attach_referrer,
)
from polyarch.content.referrers.discovery import ReferrerDiscovery
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Manifest, parse_manifest
from polyarch.domain.mediatype import OCI_EMPTY, OCI_MANIFEST
from polyarch.domain.signing.bundle import (
    EMPTY_CONFIG,
    PREDICATE_ANNOTATION,
    bundle_layer,
    bundle_manifest,
    is_bundle_manifest,
)
from polyarch.domain.signing.check import Candidate, judge
from polyarch.domain.signing.keys import PublicKey
from polyarch.domain.signing.legacy import (
    ARTIFACT_SIG,
    SIGNATURE_SUFFIX,
    SignatureLayer,
    signature_layers,
    signature_manifest,
    signature_tag,
)
from polyarch.domain.signing.payload import COSIGN_SIGN_PREDICATE, MAX_PAYLOAD
from polyarch.errors import ManifestUnknown, NameUnknown, PolyarchError
from polyarch.storage.repository import ReferrersIndexing, Repository

__all__ = [
    "SignatureForm",
    "StoredSignature",
    "existing_signature",
    "find_signatures",
    "store_bundle",
    "store_legacy",
]

log = logging.getLogger("polyarch.signatures")

SignatureForm = Literal["bundle", "legacy"]
_MAX_BUNDLE: Final = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredSignature:
    """One signature written into a repository."""

    subject: Digest
    form: SignatureForm
    #: The manifest holding it: the referrer (bundle) or the ``.sig`` manifest (legacy).
    manifest: Digest
    #: The ``.sig`` tag (legacy), else None.
    tag: str | None
    #: ``api``, ``tag-schema`` (bundle) or ``cosign-tag`` (legacy).
    listed_by: str
    #: ``pushed``, or ``present`` when that very signature was there already.
    status: Literal["pushed", "present"]

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/signatures.md)."""
        return {
            "subject": str(self.subject),
            "form": self.form,
            "manifest": str(self.manifest),
            "tag": self.tag,
            "listedBy": self.listed_by,
            "status": self.status,
        }


def _api(repo: Repository) -> bool:
    return isinstance(repo, ReferrersIndexing) and repo.referrers_api()


def _ensure_blob(repo: Repository, descriptor: Descriptor, data: bytes) -> None:
    if repo.blob_size(descriptor.digest) != descriptor.size:
        repo.put_blob_bytes(descriptor, data)


def _read(repo: Repository, tag: str) -> Manifest | None:
    try:
        return repo.get_manifest(tag)
    except (ManifestUnknown, NameUnknown):
        return None


def store_bundle(
    repo: Repository, subject: Descriptor, bundle: bytes, *, created: str
) -> StoredSignature:
    """Push ``bundle`` as cosign 3 does: a referrer manifest whose ``subject`` is ``subject``.

    ``subject`` is the signed manifest's descriptor; ``created`` the RFC 3339 time for
    ``org.opencontainers.image.created``. Raises
    :class:`~polyarch.content.referrers.carry.ReferrersLostUpdate` when concurrent
    writers keep overwriting the tag schema index, and what the repository raises.
    """
    layer = bundle_layer(bundle)
    config = Descriptor(OCI_EMPTY, Digest.of(EMPTY_CONFIG), len(EMPTY_CONFIG))
    _ensure_blob(repo, config, EMPTY_CONFIG)
    _ensure_blob(repo, layer, bundle)
    manifest = parse_manifest(
        bundle_manifest(subject, layer, created=created), OCI_MANIFEST, what="signature referrer"
    )
    present = repo.head_manifest(str(manifest.digest)) is not None
    if not present:
        repo.put_manifest(manifest)
    listed_by, added = attach_referrer(repo, manifest)
    present = present and not added
    return StoredSignature(
        subject.digest,
        "bundle",
        manifest.digest,
        None,
        listed_by,
        "present" if present else "pushed",
    )


def store_legacy(
    repo: Repository, subject: Digest, payload: bytes, signature: bytes
) -> StoredSignature:
    """Add a tag-form signature of ``subject`` at its ``.sig`` tag, as cosign 2 does.

    ``signature`` is over ``payload`` (a simple signing payload naming ``subject``). The
    layers already at the tag are kept byte for byte. Raises
    :class:`~polyarch.content.referrers.carry.ReferrersLostUpdate` when concurrent
    signers keep moving the tag, :class:`ReferrersLostUpdate` too when the tag holds
    something that is not a signature manifest (never overwritten).
    """
    layer = SignatureLayer.make(payload, signature)
    tag = signature_tag(subject)
    _ensure_blob(repo, layer.descriptor, payload)
    for _ in range(GUARD_ATTEMPTS):
        current = _read(repo, tag)
        if current is not None and not isinstance(current, ImageManifest):
            raise ReferrersLostUpdate(
                f"{repo.name}:{tag} is not a cosign signature manifest; not overwritten",
                hint="delete or rename that tag, then sign again",
            )
        config, raw = signature_manifest([layer.descriptor], current)
        if current is not None and raw == current.raw:
            return StoredSignature(subject, "legacy", current.digest, tag, "cosign-tag", "present")
        doc = json.loads(raw)
        config_descriptor = Descriptor.from_json(doc["config"], where="signature config")
        _ensure_blob(repo, config_descriptor, config)
        manifest = parse_manifest(raw, doc.get("mediaType", OCI_MANIFEST), what=f"{tag}")
        moved = repo.head_manifest(tag)
        if (moved.digest if moved else None) != (current.digest if current else None):
            continue
        repo.put_manifest(manifest, tag)
        after = _read(repo, tag)
        if isinstance(after, ImageManifest) and layer.key() in {
            SignatureLayer(d).key() for d in after.layers
        }:
            return StoredSignature(subject, "legacy", manifest.digest, tag, "cosign-tag", "pushed")
        log.info("a concurrent signer overwrote %s:%s; merging again", repo.name, tag)
    raise ReferrersLostUpdate(
        f"gave up after {GUARD_ATTEMPTS} rounds: concurrent signers kept overwriting "
        f"{repo.name}:{tag}",
        hint="run the command again, or serialize the jobs that sign this image",
    )


def _read_bytes(repo: Repository, d: Descriptor, limit: int) -> bytes | PolyarchError:
    try:
        return repo.read_blob(d, max_size=limit)
    except PolyarchError as exc:
        return exc


def find_signatures(
    repo: Repository, digest: Digest, discovery: ReferrerDiscovery | None = None
) -> tuple[Candidate, ...]:
    """Every cosign signature of ``digest`` in ``repo``, in both forms, read.

    Bundle-form referrers whose predicate type annotation names something other than a
    signature (``cosign attest``'s attestations) are left out; each ``.sig`` layer is one
    candidate, and so is each layer of cosign's experimental OCI 1.1 referrer (artifact
    type ``application/vnd.dev.cosign.artifact.sig.v1+json``). A payload or bundle that
    cannot be read becomes a candidate with its problem (a failing verdict names it).
    Raises :class:`~polyarch.errors.PolyarchError` when the referrers cannot be listed.
    """
    discovery = discovery or ReferrerDiscovery(repo)
    found: list[Candidate] = []
    for r in discovery.direct(digest):
        manifest = r.manifest
        if not isinstance(manifest, ImageManifest):
            continue
        if r.form == "cosign":
            if r.tag is None or not r.tag.endswith("." + SIGNATURE_SUFFIX):
                continue
            for i, layer in enumerate(signature_layers(manifest), 1):
                payload = _read_bytes(repo, layer.descriptor, MAX_PAYLOAD)
                candidate = Candidate.legacy(layer, payload, f"{r.tag} layer {i}")
                found.append(replace(candidate, manifest=manifest.digest))
        elif manifest.config.media_type == ARTIFACT_SIG:  # cosign's experimental OCI 1.1 form
            for i, layer in enumerate(signature_layers(manifest), 1):
                payload = _read_bytes(repo, layer.descriptor, MAX_PAYLOAD)
                where = f"referrer {r.digest.short} layer {i}"
                candidate = Candidate.legacy(layer, payload, where, "oci11")
                found.append(replace(candidate, manifest=manifest.digest))
        elif is_bundle_manifest(manifest):
            predicate = manifest.annotations.get(PREDICATE_ANNOTATION)
            if predicate is not None and predicate != COSIGN_SIGN_PREDICATE:
                continue  # an attestation in the bundle form, not a signature
            raw = _read_bytes(repo, manifest.layers[0], _MAX_BUNDLE)
            candidate = Candidate.bundle(raw, f"referrer {r.digest.short}")
            found.append(replace(candidate, manifest=manifest.digest))
    return tuple(found)


def existing_signature(
    repo: Repository, subject: Digest, form: SignatureForm, key: PublicKey
) -> StoredSignature | None:
    """A valid ``form`` signature of ``subject`` by ``key`` already in ``repo``, if any.

    Signing again with the same key then writes nothing: cosign's own rule for the tag
    form (its dupe detector skips a payload the key already signed), applied to both
    forms so that a retried release does not pile up signatures.
    """
    candidates = [c for c in find_signatures(repo, subject) if c.form == form]
    for candidate in candidates:
        if candidate.manifest is not None and judge(subject, [candidate], [key]).ok:
            tag = signature_tag(subject) if form == "legacy" else None
            listed_by = (
                "cosign-tag" if form == "legacy" else ("api" if _api(repo) else "tag-schema")
            )
            return StoredSignature(subject, form, candidate.manifest, tag, listed_by, "present")
    return None
