"""Signed Docker schema1 manifests, pushed to the real registry with its schema1 support on.

CNCF distribution 2.8 accepts a signed schema1 manifest when its configuration says
``compatibility: schema1: enabled: true`` (``registry/handlers/app.go``): it verifies the
JWS signature (``schema1.Verify``), stores only the canonical payload (the manifest
without ``signatures``: ``signedmanifesthandler.go`` ``Put``) and, on every GET, signs that
payload again with its own key (an ephemeral one unless ``signingkeyfile`` is set:
``Unmarshal``) and serves the pretty JWS, ``Content-Type:
application/vnd.docker.distribution.manifest.v1+prettyjws``, with ``Docker-Content-Digest``
the digest of the canonical payload. So the bytes served never hash to the digest
announced: what real registries send for schema1.

The signature is libtrust's "pretty" JWS (docker/libtrust ``jsonsign.go``): the payload is
the manifest up to the last character before its closing brace (``formatLength``) plus
the rest (``formatTail``), both recorded in the protected header; ES256 signs
``protected + "." + base64url(payload)`` and the signature is ``r || s``, 32 bytes each.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from support.images import make_layer

__all__ = ["SCHEMA1_CONFIG", "Schema1Push", "push_schema1", "sign_pretty"]

#: What the registry needs in its configuration to accept and serve schema1 manifests.
SCHEMA1_CONFIG: dict[str, Any] = {"compatibility": {"schema1": {"enabled": True}}}
SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _coordinate(value: int) -> str:
    return _b64(value.to_bytes(32, "big"))


def sign_pretty(payload: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """``payload`` (indented JSON) with a ``signatures`` member, as libtrust writes it."""
    close = len(payload.rstrip()) - 1
    assert payload[close : close + 1] == b"}"
    length = len(payload[:close].rstrip())
    tail = payload[length:]
    protected = _b64(
        json.dumps(
            {"formatLength": length, "formatTail": _b64(tail), "time": "2026-01-01T00:00:00Z"},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
    )
    signing_input = f"{protected}.{_b64(payload)}".encode()
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    numbers = key.public_key().public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": _coordinate(numbers.x), "y": _coordinate(numbers.y)}
    signature = {
        "header": {"jwk": jwk, "alg": "ES256"},
        "signature": _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big")),
        "protected": protected,
    }
    block = json.dumps([signature], indent=3).replace("\n", "\n   ")
    return payload[:length] + b',\n   "signatures": ' + block.encode() + tail


@dataclass(frozen=True)
class Schema1Push:
    """A schema1 manifest the registry holds: the canonical payload and its digest."""

    canonical: bytes

    @property
    def digest(self) -> str:
        """What the registry announces (``Docker-Content-Digest``) and addresses it by."""
        return "sha256:" + hashlib.sha256(self.canonical).hexdigest()


def push_schema1(base_url: str, repo: str, tag: str) -> Schema1Push:
    """Push a one-layer signed schema1 manifest under ``tag`` (raw HTTP, not polyarch)."""
    layer, _ = make_layer(b"schema1 layer\n")
    with httpx.Client(trust_env=False, timeout=30) as client:
        started = client.post(f"{base_url}/v2/{repo}/blobs/uploads/")
        location = urljoin(base_url + "/", started.headers["Location"])
        sep = "&" if "?" in location else "?"
        blob = "sha256:" + hashlib.sha256(layer).hexdigest()
        done = client.put(f"{location}{sep}digest={blob}", content=layer)
        assert done.status_code == 201, done.text
        v1 = {"id": "a" * 64, "created": "2016-01-01T00:00:00Z", "architecture": "amd64",
              "os": "linux", "config": {"Cmd": ["/bin/sh"]}}  # fmt: skip
        doc = {
            "schemaVersion": 1,
            "name": repo,
            "tag": tag,
            "architecture": "amd64",
            "fsLayers": [{"blobSum": blob}],
            "history": [{"v1Compatibility": json.dumps(v1, separators=(",", ":"))}],
        }
        payload = json.dumps(doc, indent=3).encode()
        signed = sign_pretty(payload, ec.generate_private_key(ec.SECP256R1()))
        put = client.put(
            f"{base_url}/v2/{repo}/manifests/{tag}",
            content=signed,
            headers={"Content-Type": SIGNED},
        )
        assert put.status_code == 201, put.text
        assert (
            put.headers["Docker-Content-Digest"] == "sha256:" + hashlib.sha256(payload).hexdigest()
        )
    return Schema1Push(payload)
