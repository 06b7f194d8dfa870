"""The blob-info cache: promoting one image into many repositories moves its bytes once.

Against real registries: the image lives in registry A; it is copied into several
repositories of registry B. Without the cache every copy streams every blob from A; with it,
the first copy streams and the others mount inside B (containers/image's blob-info cache
does the same for skopeo and podman).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.content.blobinfo import BlobInfoCache
from support.cli import run_cli
from support.images import push_image

pytestmark = pytest.mark.integration


def _image(ctx: Context, registry: Any) -> Reference:
    ref = Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/src:v1")
    push_image(ctx.repository(ref), "linux/amd64", tag="v1", extra_layers=2)
    return ref


def _copy(source: Reference, dest: str, cache: Path | str) -> dict[str, Any]:
    cli = run_cli("copy", "--json", str(source), dest, env={"POLYARCH_BLOB_CACHE": str(cache)})
    assert cli.code == 0, cli.err
    blobs: dict[str, Any] = cli.json()["transfer"]["blobs"]
    return blobs


def test_promotion_into_many_repositories_moves_bytes_once(
    ctx: Context, registry: Any, registry2: Any, tmp_path: Path
) -> None:
    source = _image(ctx, registry)
    cache = tmp_path / "blob-info.sqlite3"
    prefix = f"{registry2.host}/t{uuid.uuid4().hex[:8]}"
    first = _copy(source, f"{prefix}/app1:v1", cache)
    assert first["copied"]["count"] > 0 and first["mounted"]["count"] == 0
    for n in range(2, 5):
        later = _copy(source, f"{prefix}/app{n}:v1", cache)
        assert later["copied"]["bytes"] == 0, later
        assert later["mounted"]["count"] == first["copied"]["count"]


def test_without_the_cache_every_copy_streams(ctx: Context, registry: Any, registry2: Any) -> None:
    source = _image(ctx, registry)
    prefix = f"{registry2.host}/t{uuid.uuid4().hex[:8]}"
    first = _copy(source, f"{prefix}/app1:v1", "off")
    second = _copy(source, f"{prefix}/app2:v1", "off")
    assert second["copied"]["count"] == first["copied"]["count"] > 0
    assert second["mounted"]["count"] == 0


def test_stale_entry_falls_back_to_upload_and_is_forgotten(
    ctx: Context, registry: Any, registry2: Any, tmp_path: Path
) -> None:
    source = _image(ctx, registry)
    cache_path = tmp_path / "blob-info.sqlite3"
    manifest = ctx.repository(source).get_manifest("v1")
    digests = [str(b.digest) for b in manifest.blobs]  # type: ignore[attr-defined]
    cache = BlobInfoCache(cache_path)
    for digest in digests:  # a repository that never held them (or was emptied since)
        cache.record(registry2.host, "gone/repo", digest)
    cache.close()
    dest = f"{registry2.host}/t{uuid.uuid4().hex[:8]}/app:v1"
    blobs = _copy(source, dest, cache_path)
    assert blobs["copied"]["count"] == len(digests) and blobs["mounted"]["count"] == 0
    cache = BlobInfoCache(cache_path)
    for digest in digests:
        assert "gone/repo" not in cache.candidates(registry2.host, digest, exclude="x")
    cache.close()
