"""Large pseudo-random blobs and images, generated and pushed streamed (never whole in memory).

Random content is what a compressed layer looks like on the wire: it does not compress,
so sizes are what moves. Each blob is generated twice from its seed (a first pass for the
digest, a second one to upload it), so memory stays at one chunk whatever the size.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from typing import Any

from polyarch.domain import mediatype as mt
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, build_index, parse_manifest
from polyarch.domain.platform import Platform
from polyarch.storage.repository import Repository

__all__ = [
    "push_image_manifest",
    "push_random_blob",
    "push_random_image",
    "push_random_index",
    "random_chunks",
]


def random_chunks(seed: str, size: int, chunk: int = 1024 * 1024) -> Iterator[bytes]:
    """``size`` pseudo-random bytes from a PRNG seeded with ``seed``, ``chunk`` at a time."""
    rng = random.Random(seed)
    left = size
    while left:
        n = min(chunk, left)
        yield rng.randbytes(n)
        left -= n


def push_random_blob(repo: Repository, seed: str, size: int) -> Descriptor:
    """Stream a random OCI layer of ``size`` bytes into ``repo`` (unless it is there)."""
    hasher = hashlib.sha256()
    for data in random_chunks(seed, size):
        hasher.update(data)
    descriptor = Descriptor(mt.OCI_LAYER, Digest("sha256:" + hasher.hexdigest()), size)
    if repo.blob_size(descriptor.digest) is None:
        repo.put_blob(descriptor, random_chunks(seed, size))
    return descriptor


def push_image_manifest(
    repo: Repository,
    platform: Platform,
    layers: Sequence[Descriptor],
    *,
    diff_ids: Sequence[str] | None = None,
    config: dict[str, Any] | None = None,
) -> ImageManifest:
    """Push an image config for ``platform`` over ``layers``, then its OCI manifest.

    ``diff_ids``: the uncompressed digests (default: the layers' own, right for
    uncompressed layers); ``config``: more config fields (default an empty ``config``).
    """
    image_config = {
        **platform.to_oci(),
        "rootfs": {
            "type": "layers",
            "diff_ids": list(diff_ids) if diff_ids is not None else [str(d.digest) for d in layers],
        },
        "config": {},
        **(config or {}),
    }
    raw = json.dumps(image_config).encode()
    config_desc = Descriptor(mt.OCI_CONFIG, Digest.of(raw), len(raw))
    repo.put_blob_bytes(config_desc, raw)
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": config_desc.to_json(),
        "layers": [d.to_json() for d in layers],
    }
    manifest = parse_manifest(json.dumps(doc).encode(), mt.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest)
    return manifest


def push_random_image(
    repo: Repository, seed: str, platform: str, *, layers: int, layer_size: int
) -> ImageManifest:
    """One image of ``layers`` random layers (seeded ``{seed}{platform}#{i}``) for ``platform``."""
    blobs = [push_random_blob(repo, f"{seed}{platform}#{i}", layer_size) for i in range(layers)]
    return push_image_manifest(repo, Platform.parse(platform), blobs)


def push_random_index(
    repo: Repository, tag: str, platforms: Sequence[str], *, layers: int, layer_size: int
) -> Index:
    """An index of one image per platform, each of ``layers`` random layers, tagged ``tag``.

    The shape of a multi-platform release (``docker buildx build --platform a,b --push``)
    with big layers; layer seeds include ``tag``, so two tags share no blob.
    """
    entries = [
        push_random_image(
            repo, f"{tag}/", platform, layers=layers, layer_size=layer_size
        ).descriptor(Platform.parse(platform))
        for platform in platforms
    ]
    index = build_index(entries)
    repo.put_manifest(index, tag)
    return index
