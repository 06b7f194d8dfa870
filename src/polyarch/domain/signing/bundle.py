"""cosign 3's OCI 1.1 form: a Sigstore bundle in a manifest whose ``subject`` is the image.

What ``cosign sign`` 3.1 writes by default (measured against distribution 2.8;
sigstore/cosign ``pkg/oci/remote/write.go`` ``WriteAttestationNewBundleFormat``):

* an OCI image manifest with ``artifactType`` :data:`BUNDLE_V03`, the empty config
  (``application/vnd.oci.empty.v1+json``, ``{}``; cosign also copies the artifact type
  into the config descriptor, a field the image spec does not define), one layer of media
  type :data:`BUNDLE_V03` holding the bundle JSON, ``subject`` the signed manifest, and the
  annotations ``dev.sigstore.bundle.content: dsse-envelope``,
  ``dev.sigstore.bundle.predicateType: https://sigstore.dev/cosign/sign/v1`` and
  ``org.opencontainers.image.created``;
* pushed by digest, then listed through the registry's referrers API, or, where the
  registry has none (distribution 2.8 answers 404), added to the referrers tag schema
  index ``sha256-<hex>`` (go-containerregistry's ``remote.Put``);
* the bundle (protobuf-specs ``sigstore_bundle.proto``, JSON): ``mediaType``
  ``application/vnd.dev.sigstore.bundle.v0.3+json``; ``verificationMaterial`` holds a
  ``publicKey.hint`` (base64 SHA-256 of the PKIX key) for key-based signatures, or a
  ``certificate`` (keyless), plus ``tlogEntries`` and ``timestampVerificationData`` when a
  transparency log or timestamp authority was used; ``dsseEnvelope`` holds the statement
  (:func:`~polyarch.domain.signing.payload.sign_statement`), its ``payloadType`` and the
  signatures over its pre-authentication encoding.

cosign 2.5 cannot read this form at all (measured: ``cosign verify`` 2.5 answers "no
signatures found" for cosign 3.1's own bundles); the tag form is for older verifiers.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest
from polyarch.domain.signing.payload import COSIGN_SIGN_PREDICATE, InvalidPayload

__all__ = [
    "BUNDLE_PREFIX",
    "BUNDLE_V03",
    "CONTENT_ANNOTATION",
    "EMPTY_CONFIG",
    "PREDICATE_ANNOTATION",
    "Bundle",
    "bundle_layer",
    "bundle_manifest",
    "is_bundle_manifest",
    "make_bundle",
    "parse_bundle",
]

#: The media type (and artifact type) of a Sigstore bundle v0.3.
BUNDLE_V03: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"
#: Every Sigstore bundle media type starts with this (v0.1, v0.2, v0.3).
BUNDLE_PREFIX: Final = "application/vnd.dev.sigstore.bundle"
#: The OCI empty descriptor's content (image spec 1.1, "Guidance for an Empty Descriptor").
EMPTY_CONFIG: Final = b"{}"
CONTENT_ANNOTATION: Final = "dev.sigstore.bundle.content"
PREDICATE_ANNOTATION: Final = "dev.sigstore.bundle.predicateType"
CREATED_ANNOTATION: Final = "org.opencontainers.image.created"
_MAX_BUNDLE: Final = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Bundle:
    """A parsed Sigstore bundle holding a DSSE envelope."""

    media_type: str
    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]
    #: ``publicKey.hint`` of a key-based bundle; None for keyless ones.
    key_hint: str | None
    #: DER of the signing certificate of a keyless bundle; None for key-based ones.
    certificate: bytes | None
    #: Transparency log entries (kept as JSON; checked only by the keyless path).
    tlog_entries: tuple[Mapping[str, Any], ...]
    raw: bytes


def make_bundle(statement: bytes, signature: bytes, key_hint: str) -> bytes:
    """The bundle JSON cosign 3 writes for a key-based signature with no transparency log.

    ``signature`` is over :func:`~polyarch.domain.signing.payload.pae` of the in-toto
    payload type and ``statement``; ``key_hint`` is
    :attr:`~polyarch.domain.signing.keys.PublicKey.hint`.
    """
    doc = {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {"publicKey": {"hint": key_hint}},
        "dsseEnvelope": {
            "payload": base64.b64encode(statement).decode(),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": base64.b64encode(signature).decode()}],
        },
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidPayload(f"{what}: expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise InvalidPayload(f"{what}: not valid base64") from None


def parse_bundle(raw: bytes, *, what: str = "Sigstore bundle") -> Bundle:
    """Read a bundle holding a DSSE envelope; :class:`InvalidPayload` when it holds none.

    A bundle with a ``messageSignature`` instead (``cosign sign-blob``) is not an image
    signature and is refused here.
    """
    if len(raw) > _MAX_BUNDLE:
        raise InvalidPayload(f"{what}: {len(raw)} bytes, too large for a bundle")
    try:
        doc: Any = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidPayload(f"{what}: not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidPayload(f"{what}: not a JSON object")
    media_type = doc.get("mediaType")
    if not isinstance(media_type, str) or not media_type.startswith(BUNDLE_PREFIX):
        raise InvalidPayload(f"{what}: media type {media_type!r} is not a Sigstore bundle")
    envelope = doc.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        raise InvalidPayload(f"{what}: holds no DSSE envelope (not an image signature)")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise InvalidPayload(f"{what}: the envelope has no payloadType")
    payload = _b64(envelope.get("payload"), f"{what} payload")
    entries = envelope.get("signatures")
    if not isinstance(entries, list) or not entries:
        raise InvalidPayload(f"{what}: the envelope has no signatures")
    signatures = tuple(
        _b64(e.get("sig") if isinstance(e, dict) else None, f"{what} signature") for e in entries
    )
    material = doc.get("verificationMaterial")
    material = material if isinstance(material, dict) else {}
    public_key = material.get("publicKey")
    hint = public_key.get("hint") if isinstance(public_key, dict) else None
    certificate: bytes | None = None
    cert = material.get("certificate")
    chain = material.get("x509CertificateChain")
    if isinstance(cert, dict):
        certificate = _b64(cert.get("rawBytes"), f"{what} certificate")
    elif isinstance(chain, dict) and isinstance(chain.get("certificates"), list):
        first = chain["certificates"][0] if chain["certificates"] else None
        certificate = _b64(first.get("rawBytes") if isinstance(first, dict) else None, what)
    tlog = material.get("tlogEntries")
    return Bundle(
        media_type,
        payload_type,
        payload,
        signatures,
        hint if isinstance(hint, str) else None,
        certificate,
        tuple(e for e in tlog if isinstance(e, dict)) if isinstance(tlog, list) else (),
        raw,
    )


def bundle_layer(bundle: bytes) -> Descriptor:
    """The layer descriptor of ``bundle``'s bytes."""
    return Descriptor(BUNDLE_V03, Digest.of(bundle), len(bundle))


def bundle_manifest(
    subject: Descriptor,
    layer: Descriptor,
    *,
    created: str,
    predicate_type: str = COSIGN_SIGN_PREDICATE,
) -> bytes:
    """The referrer manifest cosign 3 writes for a bundle ``layer`` about ``subject``.

    ``subject`` is the signed manifest's descriptor (media type, digest, size);
    ``created`` an RFC 3339 UTC time (``org.opencontainers.image.created``).
    """
    config = Descriptor(mediatype.OCI_EMPTY, Digest.of(EMPTY_CONFIG), len(EMPTY_CONFIG))
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "config": {**config.to_json(), "artifactType": BUNDLE_V03},
        "layers": [layer.to_json()],
        "annotations": {
            CONTENT_ANNOTATION: "dsse-envelope",
            PREDICATE_ANNOTATION: predicate_type,
            CREATED_ANNOTATION: created,
        },
        "subject": Descriptor(subject.media_type, subject.digest, subject.size).to_json(),
        "artifactType": BUNDLE_V03,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def is_bundle_manifest(manifest: ImageManifest) -> bool:
    """Whether ``manifest`` holds one Sigstore bundle layer (what cosign 3 reads).

    cosign reads a referrer as a bundle when it has exactly one layer whose media type
    starts with :data:`BUNDLE_PREFIX` (sigstore/cosign ``pkg/oci/remote/signatures.go``
    ``Bundle``).
    """
    return len(manifest.layers) == 1 and manifest.layers[0].media_type.startswith(BUNDLE_PREFIX)
