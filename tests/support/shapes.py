"""Image shapes registries serve that polyarch's own builds never produce (issue 10, kind 2).

Each fixture imitates something that exists:

* an index whose entries have no ``platform`` (optional in the OCI image spec; written by
  ``oras``, hand-made indexes and some ``crane index append`` runs);
* a CNAB / porter bundle: an OCI index naming another multi-platform index and an
  image, with entry annotations and index annotations (``io.cnab.*``);
* a Windows image whose base layer is a Docker *foreign* layer with ``urls``, the blob
  never pushed (every ``mcr.microsoft.com/windows/*`` base before 2023), and the OCI
  ``nondistributable`` form of the same;
* a Docker manifest list naming OCI manifests (some tools write that mix).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, build_index, parse_manifest
from polyarch.storage.repository import Repository
from support.images import PushedImage, make_layer, push_blob, push_image

#: What distribution needs in its config to accept manifests naming foreign layers
#: (``validation.manifests.urls``; without ``allow`` it refuses every URL).
FOREIGN_URLS_CONFIG: dict[str, Any] = {
    "validation": {"manifests": {"urls": {"allow": ["^https://mcr\\.microsoft\\.com/"]}}}
}
#: Where the Windows base layers of the fixtures claim to live.
MCR_BLOB_URL = "https://mcr.microsoft.com/v2/windows/servercore/blobs/"


def push_platformless_index(
    repo: Repository, platforms: list[str], *, tag: str
) -> tuple[Index, list[PushedImage]]:
    """An OCI index over one image per platform, its entries without ``platform``."""
    images = [push_image(repo, p) for p in platforms]
    index = build_index([i.manifest.descriptor() for i in images])
    repo.put_manifest(index, tag)
    return index, images


@dataclass(frozen=True)
class Bundle:
    """A CNAB-style bundle: ``top`` names ``inner`` (a multi-platform index) and ``invocation``."""

    top: Index
    inner: Index
    inner_images: list[PushedImage]
    invocation: PushedImage


def push_bundle(repo: Repository, *, tag: str) -> Bundle:
    """Push a bundle shaped like what cnab-to-oci / porter publish."""
    inner_images = [push_image(repo, p) for p in ("linux/amd64", "linux/arm64")]
    inner = build_index([i.manifest.descriptor(i.platform) for i in inner_images])
    repo.put_manifest(inner)
    invocation = push_image(repo, "linux/amd64", payload=b"porter invocation image\n")
    entries = [
        Descriptor(
            inner.media_type,
            inner.digest,
            inner.size,
            annotations={"io.cnab.manifest.type": "component", "io.cnab.component.name": "app"},
        ),
        Descriptor(
            invocation.manifest.media_type,
            invocation.digest,
            invocation.manifest.size,
            annotations={"io.cnab.manifest.type": "invocation"},
        ),
    ]
    top = build_index(
        entries,
        annotations={
            "io.cnab.runtime_version": "v1.0.0",
            "org.opencontainers.artifactType": "application/vnd.cnab.manifest.v1",
            "org.opencontainers.image.title": "porter-hello",
        },
    )
    repo.put_manifest(top, tag)
    return Bundle(top, inner, inner_images, invocation)


def _dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=3).encode()


@dataclass(frozen=True)
class WindowsImage:
    """A Windows image whose base layer lives at a URL, not in the registry."""

    manifest: ImageManifest
    foreign: Descriptor
    local: Descriptor


def push_windows_foreign(repo: Repository, *, tag: str | None, oci: bool = False) -> WindowsImage:
    """A windows/amd64 image: a foreign base layer (never pushed) plus one pushed layer.

    Docker schema2 with ``application/vnd.docker.image.rootfs.foreign.diff.tar.gzip`` by
    default (what ``mcr.microsoft.com/windows/servercore`` served); with ``oci`` the OCI
    ``application/vnd.oci.image.layer.nondistributable.v1.tar+gzip`` form.
    """
    base, base_diff = make_layer(b"windows base layer, not distributable\n", "Files/base.txt")
    foreign = Descriptor(
        mediatype.OCI_LAYER_NONDISTRIBUTABLE_GZIP if oci else mediatype.DOCKER_FOREIGN_LAYER,
        Digest.of(base),
        len(base),
        urls=(MCR_BLOB_URL + str(Digest.of(base)),),
    )
    app, app_diff = make_layer(b"app on windows\n", "Files/app.txt")
    local = push_blob(repo, mediatype.OCI_LAYER_GZIP if oci else mediatype.DOCKER_LAYER, app)
    config = {
        "architecture": "amd64",
        "os": "windows",
        "os.version": "10.0.17763.6189",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["cmd", "/S", "/C", "type", "C:\\app.txt"]},
        "rootfs": {"type": "layers", "diff_ids": [str(base_diff), str(app_diff)]},
    }
    config_desc = push_blob(
        repo, mediatype.OCI_CONFIG if oci else mediatype.DOCKER_CONFIG, _dumps(config)
    )
    media = mediatype.OCI_MANIFEST if oci else mediatype.DOCKER_MANIFEST
    doc = {
        "schemaVersion": 2,
        "mediaType": media,
        "config": config_desc.to_json(),
        "layers": [foreign.to_json(), local.to_json()],
    }
    manifest = parse_manifest(_dumps(doc), media)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest, tag)
    if tag is not None:
        repo.put_manifest(manifest)
    return WindowsImage(manifest, foreign, local)


def push_docker_list_of_oci(repo: Repository, *, tag: str) -> Index:
    """A Docker manifest list whose entries are OCI image manifests."""
    images = [push_image(repo, p) for p in ("linux/amd64", "linux/arm64")]
    index = build_index(
        [i.manifest.descriptor(i.platform) for i in images],
        media_type=mediatype.DOCKER_MANIFEST_LIST,
    )
    repo.put_manifest(index, tag)
    return index
