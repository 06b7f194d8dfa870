"""OCI layouts as other tools write them: the real tools where installed, else imitations.

Real tools (found on ``PATH``, else in the prefixes of scripts/debian.sh, where
scripts/setup.sh unpacks sid's crane and oras; :func:`find_tool`), run against a loopback
registry:

* ``skopeo copy --all docker://R oci:DIR:NAME``: ``NAME`` is written as given into
  ``org.opencontainers.image.ref.name``, a full reference included (``rancher/pause:3.6``);
  skopeo 1.9 writes ``index.json`` without a top-level ``mediaType``.
* ``crane pull --format=oci R DIR``: appends an entry without ``ref.name`` per pull;
  ``--annotate-ref`` names it by the whole reference (``127.0.0.1:PORT/lib/app:v1``).
* ``oras cp --to-oci-layout R DIR:TAG``: the tag as ``ref.name``, plus an untagged entry
  (with its ``platform``) for every child manifest it copied.

Measured with skopeo 1.9.3 and 1.22, crane 0.20.7 and oras 1.3.

Imitations of what an engine writes (so that the integration tier needs no engine), each
checked against the real engines by tests/e2e/test_engine_layouts.py (scripts/engine.sh's Docker
26.1 with containerd 1.7 and buildx 0.13, and Docker 28.5 with containerd 2.1 and buildx 0.29,
both with the containerd image store: the same documents):

* :func:`docker_save_layout`: ``docker save`` with the containerd image store (moby
  ``daemon/containerd/image_exporter.go`` ``ExportImage`` -> containerd's archive
  exporter): ``index.json`` (with ``mediaType``) whose one entry carries
  ``containerd.io/distribution.source.HOST`` (the host without its port),
  ``io.containerd.image.name`` (the full name) and ``org.opencontainers.image.ref.name``
  (its tag); ``manifest.json`` for the legacy loader; and, through ``WithSkipMissing``,
  only what the content store held: after a pull of one platform, the index blob and that
  platform's image, not the other platforms' manifests nor the attestation manifests.
* :func:`buildx_oci_layout`: ``docker buildx build --output type=oci[,name=N]`` (BuildKit
  ``exporter/oci/export.go`` through the same archive exporter): one entry, the
  multi-platform index with its attestation manifests, all blobs present, annotated with
  ``org.opencontainers.image.created``; with ``name`` also ``io.containerd.image.name``
  and ``org.opencontainers.image.ref.name`` (no tag of its own without it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, Manifest
from polyarch.storage.repository import Repository
from support.require import missing

__all__ = [
    "CREATED",
    "IMAGE_NAME",
    "INDEX",
    "REF_NAME",
    "buildx_oci_layout",
    "docker_save_layout",
    "find_tool",
    "run_tool",
]

REF_NAME = "org.opencontainers.image.ref.name"
IMAGE_NAME = "io.containerd.image.name"
INDEX = "application/vnd.oci.image.index.v1+json"
_ROOT = Path(__file__).resolve().parents[2]
#: How each tool is installed (scripts/setup.sh does all three; CI runs it).
_INSTALL = {
    "skopeo": "apt-get install skopeo",
    "oras": "bash scripts/debian.sh sid install oras",
    "crane": "bash scripts/debian.sh sid install crane",
}
_DEBIAN = _ROOT / "scripts" / "debian.sh"


def _prefix_dirs() -> list[Path]:
    """Where scripts/debian.sh unpacks each suite's binaries (sid first: the newest)."""
    dirs = []
    for suite, what in (("sid", "bin"), ("sid", "glibc-bin"), ("trixie", "bin")):
        try:
            out = subprocess.run(
                ["bash", str(_DEBIAN), suite, what],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        dirs.append(Path(out.stdout.strip()))
    return dirs


def find_tool(name: str) -> str:
    """The path of ``name`` (skopeo, crane, oras): ``PATH`` first, then the private prefixes
    of scripts/debian.sh (as tests/support/readers.py finds sid's readers).

    A missing tool fails the test under CI and skips it, loudly, elsewhere.
    """
    found = shutil.which(name)
    if found:
        return found
    for folder in _prefix_dirs():
        if os.access(folder / name, os.X_OK):
            return str(folder / name)
    missing(f"{name} is not installed ({_INSTALL.get(name, f'apt-get install {name}')})")


def run_tool(name: str, *args: str, home: Path) -> str:
    """Run a real tool with a private HOME; returns stdout, raises with stderr on failure."""
    proc = subprocess.run(
        [find_tool(name), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home), "DOCKER_CONFIG": str(home / ".docker")},
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{name} {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _go_json(doc: Any) -> bytes:
    """Go's ``json.Marshal``: compact, map keys sorted (struct fields keep their order)."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _write_blob(root: Path, digest: Digest, data: bytes) -> None:
    path = root / "blobs" / digest.algorithm / digest.hex
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o444)  # the tar header's mode (blobRecord)


def _copy_image(repo: Repository, root: Path, manifest: ImageManifest) -> None:
    _write_blob(root, manifest.digest, manifest.raw)
    for blob in manifest.blobs:
        _write_blob(root, blob.digest, repo.read_blob(blob))


def _start(root: Path) -> None:
    root.mkdir(parents=True)
    (root / "oci-layout").write_bytes(_go_json({"imageLayoutVersion": "1.0.0"}))


#: What BuildKit stamps on the entry it exports (a fixed time here).
CREATED = "org.opencontainers.image.created"
_CREATED_AT = "2026-01-01T00:00:00Z"


def _entry(index: Manifest, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "mediaType": index.media_type,
        "digest": str(index.digest),
        "size": index.size,
        "annotations": dict(sorted(annotations.items())),
    }


def _index_doc(entry: dict[str, Any]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": INDEX, "manifests": [entry]}


def docker_save_layout(
    repo: Repository, tag: str, root: Path, *, host: str, repository: str, pulled: str
) -> Index:
    """What ``docker save HOST/REPOSITORY:TAG`` leaves, extracted into ``root``, after the
    engine pulled only platform ``pulled`` of the index at ``tag``.

    Returns the index. Its other platforms' manifests and every attestation manifest are
    listed by the index but absent (containerd fetched only the pulled platform).
    """
    index = repo.get_manifest(tag)
    assert isinstance(index, Index)
    _start(root)
    _write_blob(root, index.digest, index.raw)
    saved: ImageManifest | None = None
    for entry in index.images:
        if entry.platform is not None and str(entry.platform) == pulled:
            child = repo.get_manifest(str(entry.digest))
            assert isinstance(child, ImageManifest)
            _copy_image(repo, root, child)
            saved = child
    assert saved is not None, f"{pulled} is not in the index"
    name = f"{host}/{repository}:{tag}"
    # containerd's distribution-source label names the host without its port.
    source = f"containerd.io/distribution.source.{host.rpartition(':')[0] or host}"
    annotations = {source: repository, IMAGE_NAME: name, REF_NAME: tag}
    (root / "index.json").write_bytes(_go_json(_index_doc(_entry(index, annotations))))
    legacy = [
        {
            "Config": f"blobs/{saved.config.digest.algorithm}/{saved.config.digest.hex}",
            "RepoTags": [name],
            "Layers": [f"blobs/{d.digest.algorithm}/{d.digest.hex}" for d in saved.layers],
        }
    ]
    (root / "manifest.json").write_bytes(_go_json(legacy))
    return index


def buildx_oci_layout(repo: Repository, tag: str, root: Path, *, name: str | None = None) -> Index:
    """What ``buildx build --output type=oci,dest=X.tar[,name=NAME]`` leaves, extracted.

    Every blob of the index at ``tag`` (images and attestation manifests) is written.
    """
    index = repo.get_manifest(tag)
    assert isinstance(index, Index)
    _start(root)
    _write_blob(root, index.digest, index.raw)
    for entry in index.manifests:
        child = repo.get_manifest(str(entry.digest))
        assert isinstance(child, ImageManifest)
        _copy_image(repo, root, child)
    annotations = {CREATED: _CREATED_AT}
    if name is not None:
        annotations |= {IMAGE_NAME: name, REF_NAME: name.rpartition(":")[2]}
    (root / "index.json").write_bytes(_go_json(_index_doc(_entry(index, annotations))))
    return index
