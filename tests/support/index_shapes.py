"""Index shapes real tools write, rebuilt as small fixtures for ``create --append`` tests.

* :func:`push_zstd_twin`: what ``buildah/podman manifest push --add-compression zstd``
  adds next to a gzip image: the same config, the layers recompressed with zstd
  (``application/vnd.oci.image.layer.v1.tar+zstd``), and in the index an entry annotated
  ``io.github.containers.compression.zstd: "true"`` right after the gzip instance.
* :func:`push_raw_index`: an index pushed from a JSON document as given, so that fields
  polyarch does not write (``artifactType``, ``subject``, unknown keys, entry
  annotations) are there, as other tools and future spec versions write them.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from typing import Any

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.manifest import ImageManifest, Index, parse_manifest
from polyarch.domain.platform import Platform
from polyarch.storage.repository import Repository
from support.images import PushedImage, push_blob, push_image
from support.require import missing

ZSTD_MARK = "io.github.containers.compression.zstd"


def _tar(content: bytes, name: str = "hello.txt") -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = 0
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def _zstd(data: bytes) -> bytes:
    exe = shutil.which("zstd")
    if exe is None:
        missing("the zstd command is needed to build zstd layers (apt-get install zstd)")
    return subprocess.run(
        [exe, "-q", "-c", "-3"], input=data, capture_output=True, check=True
    ).stdout


def push_zstd_twin(repo: Repository, gzip_image: PushedImage, payload: bytes) -> PushedImage:
    """The zstd instance of ``gzip_image`` (pushed with ``payload``): same config, zstd layer."""
    layer = push_blob(repo, mediatype.OCI_LAYER_ZSTD, _zstd(_tar(payload)))
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "config": gzip_image.manifest.config.to_json(),
        "layers": [layer.to_json()],
    }
    manifest = parse_manifest(json.dumps(doc, indent=3).encode(), mediatype.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest)
    return PushedImage(manifest, gzip_image.platform, None)


def push_pair(repo: Repository, platform: str) -> tuple[PushedImage, PushedImage]:
    """A gzip image and its zstd twin for ``platform``."""
    payload = f"pair {platform}\n".encode()
    gzip_image = push_image(repo, platform, payload=payload)
    return gzip_image, push_zstd_twin(repo, gzip_image, payload)


def entry(image: PushedImage, *, zstd: bool = False, **extra: Any) -> dict[str, Any]:
    """The index entry JSON for ``image`` (``zstd`` adds containers/image's mark)."""
    out = image.manifest.descriptor(image.platform).to_json()
    if zstd:
        out["annotations"] = {ZSTD_MARK: "true"}
    out.update(extra)
    return out


def push_raw_index(repo: Repository, doc: dict[str, Any], tag: str) -> Index:
    """Push ``doc`` as an OCI index under ``tag``, byte for byte as serialized here."""
    raw = json.dumps(doc, indent=2).encode()
    index = parse_manifest(raw, doc.get("mediaType", mediatype.OCI_INDEX))
    assert isinstance(index, Index)
    repo.put_manifest(index, tag)
    return index


def descriptor_json(d: Descriptor) -> dict[str, Any]:
    """A descriptor's JSON (for ``subject``)."""
    return d.to_json()


def windows(version: str) -> Platform:
    """``windows/amd64`` of one release (``os.version``)."""
    return Platform("windows", "amd64", os_version=version)
