"""Images whose config and layers are addressed by ``sha512:`` digests, pushed with raw HTTP.

The OCI image spec registers ``sha256`` and ``sha512`` ("Digests", Registered
algorithms); the distribution spec lets a registry answer a blob upload with the digest
of its own canonical algorithm in ``Docker-Content-Digest``. CNCF distribution 2.8 does
exactly that: ``PUT ...?digest=sha512:...`` is verified against sha512, stored, and
answered ``201`` with ``Docker-Content-Digest: sha256:...`` (and a ``Location`` naming the
sha256 digest); ``HEAD``/``GET`` by the sha512 digest work and also announce sha256.
Measured against Debian's docker-registry 2.8.2. A manifest naming sha512 blobs is
accepted; a manifest itself cannot be pushed or read by a sha512 digest there
(``400 DIGEST_INVALID``).

The pushes go through httpx, not polyarch: polyarch's own upload is what the tests check.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

from polyarch.domain import mediatype
from polyarch.domain.manifest import ImageManifest, parse_manifest
from support.images import make_layer

__all__ = ["Sha512Image", "push_sha512_image", "sha512"]


def sha512(data: bytes) -> str:
    """``sha512:<hex>`` of ``data``."""
    return "sha512:" + hashlib.sha512(data).hexdigest()


@dataclass(frozen=True)
class Sha512Image:
    """What :func:`push_sha512_image` pushed."""

    manifest: ImageManifest
    config: bytes
    layer: bytes
    #: ``Docker-Content-Digest`` of the blob uploads (the registry's sha256 of each).
    announced: dict[str, str]


def _upload(client: httpx.Client, base: str, repo: str, data: bytes, digest: str) -> str:
    started = client.post(f"{base}/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = urljoin(base + "/", started.headers["Location"])
    sep = "&" if "?" in location else "?"
    done = client.put(
        f"{location}{sep}digest={digest}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 201, done.text
    return str(done.headers.get("Docker-Content-Digest", ""))


def push_sha512_image(
    base_url: str, repo: str, tag: str, platform: tuple[str, str] = ("linux", "amd64")
) -> Sha512Image:
    """Push a config and a gzip layer by ``sha512:`` digests, then an OCI manifest at ``tag``."""
    os_, arch = platform
    layer, diff_id = make_layer(f"sha512 image {os_}/{arch}\n".encode())
    config_doc: dict[str, Any] = {
        "architecture": arch,
        "os": os_,
        "created": "2026-01-01T00:00:00Z",
        "config": {"Entrypoint": ["/bin/true"]},
        # diff_ids in sha256: what every builder writes, whatever the layer's own digest.
        "rootfs": {"type": "layers", "diff_ids": [str(diff_id)]},
    }
    config = json.dumps(config_doc, indent=2).encode()
    announced: dict[str, str] = {}
    with httpx.Client(trust_env=False, timeout=30) as client:
        for data in (config, layer):
            announced[sha512(data)] = _upload(client, base_url, repo, data, sha512(data))
        doc = {
            "schemaVersion": 2,
            "mediaType": mediatype.OCI_MANIFEST,
            "config": {
                "mediaType": mediatype.OCI_CONFIG,
                "digest": sha512(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": mediatype.OCI_LAYER_GZIP,
                    "digest": sha512(layer),
                    "size": len(layer),
                }
            ],
        }
        raw = json.dumps(doc, indent=2).encode()
        put = client.put(
            f"{base_url}/v2/{repo}/manifests/{tag}",
            content=raw,
            headers={"Content-Type": mediatype.OCI_MANIFEST},
        )
        assert put.status_code == 201, put.text
    manifest = parse_manifest(raw, mediatype.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    return Sha512Image(manifest, config, layer, announced)
