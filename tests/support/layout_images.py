"""Small images written straight into an OCI layout, for the layout unit tests."""

from __future__ import annotations

import json

from polyarch.domain import mediatype as mt
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, parse_manifest
from polyarch.storage.layout.repository import LayoutRepository

#: A minimal linux/amd64 image config.
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
#: A layer's bytes (not a real tar: layouts never look inside).
LAYER = b"layer bytes " * 1000


def blob(data: bytes, media_type: str = mt.OCI_LAYER_GZIP, algorithm: str = "sha256") -> Descriptor:
    """The descriptor of ``data``."""
    return Descriptor(media_type, Digest.of(data, algorithm), len(data))


def layout_image(repo: LayoutRepository, layer: bytes = LAYER) -> ImageManifest:
    """Write a config and a layer into ``repo`` and return a manifest naming them (not stored)."""
    config, layer_blob = blob(CONFIG, mt.OCI_CONFIG), blob(layer)
    repo.put_blob_bytes(config, CONFIG)
    repo.put_blob_bytes(layer_blob, layer)
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": config.to_json(),
        "layers": [layer_blob.to_json()],
    }
    manifest = parse_manifest(json.dumps(doc).encode())
    assert isinstance(manifest, ImageManifest)
    return manifest
