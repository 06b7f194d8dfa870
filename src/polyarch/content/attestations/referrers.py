"""BuildKit attestations as OCI 1.1 referrers: out of the index, linked by ``subject``.

BuildKit lists each image's attestation manifest (provenance, SBOM) in the index as an
``unknown/unknown`` entry: registries' UIs and ``docker manifest inspect`` show it as a
platform, the most common complaint about multi-platform images (docker/buildx#3047). The
OCI 1.1 way is a referrer: a manifest whose ``subject`` names the image, listed by the
registry's referrers API (or the referrers tag schema where there is none), found with
``oras discover`` and by polyarch ``verify`` and ``inspect``.

BuildKit itself writes its attestation manifests as such artifacts on request (Docker
28.5: ``--output type=image,oci-artifact=true``; BuildKit 0.32 by default, moby/buildkit
``exporter/containerimage/writer.go``): ``artifactType``
:data:`~polyarch.domain.mediatype.DOCKER_ATTESTATION_ARTIFACT`, the OCI empty config (its
content inline as ``data``), the in-toto statements as layers, ``subject`` the image. Still
listed in the index, though. :func:`referrer_form` gives that form:

* an attestation manifest already in it, naming the image, is kept byte for byte (its
  digest, and so a signature over it, stays valid);
* the older form (an image manifest with a dummy ``unknown/unknown`` config, no
  ``subject``) is rewritten into it: the same layer descriptors (so the same statement
  blobs: what the builder recorded is unchanged), a new manifest, a new digest.

:func:`move_attestations` pushes them into a repository after the images they attest,
before any tag (``create``, ``copy`` and ``publish`` with ``attestations="referrers"``);
:func:`referrer_attestations` finds them again. Everything goes through
:class:`~polyarch.storage.Repository`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, Final

from polyarch.content.referrers.carry import CarriedReferrer, CarryStatus, attach_referrer
from polyarch.content.transfer import Transfer
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, parse_manifest
from polyarch.errors import InvalidInput, ManifestUnknown
from polyarch.storage.repository import Repository

__all__ = [
    "EMPTY_CONFIG",
    "move_attestations",
    "referrer_attestations",
    "referrer_form",
]

#: The OCI empty descriptor's content (image spec 1.1, "Guidance for an Empty Descriptor").
EMPTY_CONFIG: Final = b"{}"
_EMPTY_DATA: Final = "e30="  # base64 of EMPTY_CONFIG, inline as BuildKit writes it

log = logging.getLogger("polyarch.referrers")


def _subject(image: Descriptor) -> dict[str, Any]:
    return {"mediaType": image.media_type, "digest": str(image.digest), "size": image.size}


def referrer_form(manifest: ImageManifest, image: Descriptor) -> ImageManifest:
    """``manifest`` (an attestation of ``image``) as an OCI artifact whose subject is ``image``.

    Unchanged when it already is one naming ``image``; otherwise a new OCI image manifest
    with the same layer descriptors (as written, unknown fields included) and the
    manifest's own annotations. Raises :class:`~polyarch.errors.InvalidInput` when its
    ``subject`` names another image (never moved under the wrong one).
    """
    if manifest.subject is not None and manifest.subject.digest != image.digest:
        raise InvalidInput(
            f"attestation {manifest.digest.short} names {manifest.subject.digest.short} as its "
            f"subject, not the image {image.digest.short} it is filed under",
            parameter="attestations",
        )
    if manifest.artifact_type == mediatype.DOCKER_ATTESTATION_ARTIFACT and manifest.subject:
        return manifest
    original: dict[str, Any] = json.loads(manifest.raw)
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "artifactType": mediatype.DOCKER_ATTESTATION_ARTIFACT,
        "config": {
            "mediaType": mediatype.OCI_EMPTY,
            "digest": str(Digest.of(EMPTY_CONFIG)),
            "size": len(EMPTY_CONFIG),
            "data": _EMPTY_DATA,
        },
        "layers": original.get("layers", []),
        "subject": _subject(image),
    }
    if original.get("annotations"):
        doc["annotations"] = original["annotations"]
    raw = json.dumps(doc, indent=2).encode()  # BuildKit's own layout (Go's MarshalIndent)
    moved = parse_manifest(raw, mediatype.OCI_MANIFEST, what="attestation referrer")
    assert isinstance(moved, ImageManifest)
    return moved


def move_attestations(
    transfer: Transfer,
    dest: Repository,
    attestations: Sequence[tuple[Repository, Descriptor, Descriptor]],
) -> tuple[CarriedReferrer, ...]:
    """Write each attestation as a referrer of its image in ``dest``.

    ``attestations`` are ``(source repository, attestation entry, image descriptor)``;
    the images must be in ``dest`` already (referrers follow what they refer to). The
    statement blobs move from the source (mounted, skipped or streamed); the empty config
    is written where a rewritten manifest needs it. With ``transfer.dry_run`` nothing is
    written. Returns one :class:`~polyarch.content.referrers.carry.CarriedReferrer` each
    (``subject`` the image, ``digest`` the referrer written). Raises
    :class:`~polyarch.errors.InvalidInput` for an attestation whose ``subject`` names
    another image, and what the repositories raise.
    """
    done: list[CarriedReferrer] = []
    for source, entry, image in attestations:
        manifest = source.get_manifest(str(entry.digest))
        if not isinstance(manifest, ImageManifest):
            raise InvalidInput(f"attestation {entry.digest} of {source.name} is an index")
        moved = referrer_form(manifest, image)
        if moved.digest != manifest.digest:
            log.info("attestation %s rewritten as referrer %s", entry.digest, moved.digest)
        for layer in moved.layers:
            transfer.blob(source, dest, layer)
        absent = dest.head_manifest(str(moved.digest)) is None
        if not transfer.dry_run:
            if moved.config.media_type == mediatype.OCI_EMPTY:
                if dest.blob_size(moved.config.digest) is None:
                    dest.put_blob_bytes(moved.config, EMPTY_CONFIG)
            else:
                transfer.blob(source, dest, moved.config)
            if absent:
                dest.put_manifest(moved)
        listed_by, added = attach_referrer(dest, moved, dry_run=transfer.dry_run)
        status: CarryStatus = "pushed" if absent or added else "present"
        if transfer.dry_run:
            status = "would-push" if absent else "present"
        done.append(
            CarriedReferrer(
                image.digest,
                moved.digest,
                mediatype.DOCKER_ATTESTATION_ARTIFACT,
                "subject",
                None,
                status,
                listed_by,
            )
        )
    return tuple(done)


def referrer_attestations(
    repo: Repository, digests: Sequence[Digest]
) -> dict[Digest, tuple[ImageManifest, ...]]:
    """The BuildKit attestation manifests listed as referrers of each of ``digests``.

    Those listed with artifact type
    :data:`~polyarch.domain.mediatype.DOCKER_ATTESTATION_ARTIFACT` (the referrers API's
    filter, or the tag schema's entries) whose own ``subject`` is the digest; only those
    are read (one listing per image, then one read per attestation: a signature or an SBOM
    listed beside them costs nothing). One listed but gone is skipped. Raises
    :class:`~polyarch.errors.PolyarchError` when the referrers cannot be listed or read.
    """
    found: dict[Digest, tuple[ImageManifest, ...]] = {}
    for digest in dict.fromkeys(digests):
        manifests = []
        for d in repo.list_referrers(digest, mediatype.DOCKER_ATTESTATION_ARTIFACT):
            try:
                manifest = repo.get_manifest(str(d.digest))
            except ManifestUnknown:
                continue
            if (
                isinstance(manifest, ImageManifest)
                and manifest.artifact_type == mediatype.DOCKER_ATTESTATION_ARTIFACT
                and manifest.subject is not None
                and manifest.subject.digest == digest
            ):
                manifests.append(manifest)
        found[digest] = tuple(manifests)
    return found
