"""cosign's tag form: signatures in an image manifest tagged ``sha256-<hex>.sig``.

What cosign 2 writes by default and cosign 3 with ``--new-bundle-format=false``
(measured with cosign 2.5 and 3.1 against distribution 2.8; sigstore/cosign
``pkg/oci/mutate``, ``pkg/oci/static``):

* an OCI image manifest, no ``subject`` (the tag names the image), tagged
  ``<alg>-<hex>.sig`` in the image's repository;
* one layer per signature: media type :data:`SIMPLE_SIGNING`, the blob is the simple
  signing payload, the annotation ``dev.cosignproject.cosign/signature`` holds the
  base64 ASN.1 ECDSA signature; keyless signatures add ``dev.sigstore.cosign/certificate``
  and ``/chain``, a transparency log upload ``dev.sigstore.cosign/bundle`` (a Rekor
  SET), a timestamp authority ``dev.sigstore.cosign/rfc3161timestamp``;
* a config that lists the layers as ``rootfs.diff_ids`` with empty platform fields and
  Go's zero time (:func:`signature_config`).

Signing an image that already has a ``.sig`` adds a layer (cosign's dedupe: the same
payload and signature are not added twice); every earlier signature stays valid.

>>> layer = SignatureLayer.make(b"{}", b"sig")
>>> layer.descriptor.annotations[SIGNATURE_ANNOTATION]
'c2ln'
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest

__all__ = [
    "ARTIFACT_SIG",
    "BUNDLE_ANNOTATION",
    "CERTIFICATE_ANNOTATION",
    "CHAIN_ANNOTATION",
    "SIGNATURE_ANNOTATION",
    "SIGNATURE_SUFFIX",
    "SIMPLE_SIGNING",
    "SignatureLayer",
    "signature_config",
    "signature_layers",
    "signature_manifest",
    "signature_tag",
]

#: The media type of a simple signing payload layer.
SIMPLE_SIGNING: Final = "application/vnd.dev.cosign.simplesigning.v1+json"
#: The layer annotation holding the base64 signature.
SIGNATURE_ANNOTATION: Final = "dev.cosignproject.cosign/signature"
#: Keyless: the PEM signing certificate, and its chain.
CERTIFICATE_ANNOTATION: Final = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION: Final = "dev.sigstore.cosign/chain"
#: A Rekor bundle (signed entry timestamp) when the signature went to the transparency log.
BUNDLE_ANNOTATION: Final = "dev.sigstore.cosign/bundle"
#: The tag suffix of signatures.
SIGNATURE_SUFFIX: Final = "sig"
#: The config media type (so the artifact type) of cosign's experimental OCI 1.1 form: the same
#: signature layers in a referrer whose ``subject`` is the image, written by cosign 3.1 only with
#: ``COSIGN_EXPERIMENTAL=1 --registry-referrers-mode=oci-1-1`` and read by ``cosign verify`` only
#: with ``--experimental-oci11`` (measured with cosign 3.1.1).
ARTIFACT_SIG: Final = "application/vnd.dev.cosign.artifact.sig.v1+json"


def signature_tag(digest: Digest | str) -> str:
    """The tag cosign gives the signatures of ``digest``.

    >>> signature_tag("sha256:" + "0" * 64) == "sha256-" + "0" * 64 + ".sig"
    True
    """
    algorithm, _, encoded = str(digest).partition(":")
    return f"{algorithm}-{encoded}.{SIGNATURE_SUFFIX}"


@dataclass(frozen=True, slots=True)
class SignatureLayer:
    """One signature of the tag form: its payload's descriptor and annotations."""

    descriptor: Descriptor

    @classmethod
    def make(
        cls, payload: bytes, signature: bytes, annotations: Mapping[str, str] | None = None
    ) -> SignatureLayer:
        """The layer for ``signature`` over ``payload`` (plus any extra annotations)."""
        notes = {SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()}
        notes.update(annotations or {})
        return cls(Descriptor(SIMPLE_SIGNING, Digest.of(payload), len(payload), annotations=notes))

    @property
    def signature(self) -> bytes | None:
        """The signature's bytes; None when the annotation is missing or not base64."""
        text = self.descriptor.annotations.get(SIGNATURE_ANNOTATION)
        if not text:
            return None
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            return None

    @property
    def keyless(self) -> bool:
        """Whether the signature carries a certificate (keyless, Fulcio) instead of a key."""
        return CERTIFICATE_ANNOTATION in self.descriptor.annotations

    def key(self) -> tuple[str, str]:
        """What tells two signatures apart: the payload and the annotations."""
        return str(self.descriptor.digest), json.dumps(
            dict(self.descriptor.annotations), sort_keys=True
        )


def signature_layers(manifest: ImageManifest) -> tuple[SignatureLayer, ...]:
    """The signature layers of a ``.sig`` manifest (other layers are not signatures)."""
    return tuple(SignatureLayer(d) for d in manifest.layers if d.media_type == SIMPLE_SIGNING)


def signature_config(layers: Sequence[Descriptor]) -> bytes:
    """The config blob cosign writes for these layers (go-containerregistry's empty image).

    ``rootfs.diff_ids`` are the layer digests (the payloads are not compressed).
    """
    doc = {
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [str(layer.digest) for layer in layers]},
        "config": {},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def signature_manifest(
    layers: Sequence[Descriptor], existing: ImageManifest | None = None
) -> tuple[bytes, bytes]:
    """``(config, manifest)`` bytes of a ``.sig`` manifest holding ``layers``.

    With ``existing`` (the manifest at the tag now), its layers come first, kept byte for
    byte, and only the new ones that are not already there are added; the manifest keeps
    ``existing``'s media type and other fields. Returns the existing bytes unchanged
    (config included) when nothing is new, so the caller can tell.
    """
    have = {SignatureLayer(d).key() for d in existing.layers} if existing else set()
    new = [d for d in layers if SignatureLayer(d).key() not in have]
    if existing is not None:
        doc: dict[str, Any] = json.loads(existing.raw)
        if not new:
            return b"", existing.raw
        doc["layers"] = [*doc["layers"], *(d.to_json() for d in new)]
        all_layers = [*existing.layers, *new]
    else:
        doc = {"schemaVersion": 2, "mediaType": mediatype.OCI_MANIFEST}
        doc["layers"] = [d.to_json() for d in new]
        all_layers = new
    config = signature_config(all_layers)
    config_descriptor = Descriptor(
        doc.get("config", {}).get("mediaType", mediatype.OCI_CONFIG),
        Digest.of(config),
        len(config),
    )
    ordered = {
        "schemaVersion": 2,
        "mediaType": doc.get("mediaType", mediatype.OCI_MANIFEST),
        "config": config_descriptor.to_json(),
        "layers": doc["layers"],
    }
    ordered.update({k: v for k, v in doc.items() if k not in ordered})
    return config, json.dumps(ordered, separators=(",", ":")).encode()
