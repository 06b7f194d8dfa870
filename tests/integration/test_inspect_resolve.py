"""inspect and resolve against a real registry, through the library and the real CLI."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from polyarch import (
    Context,
    ImageManifest,
    Index,
    InvalidInput,
    ManifestUnknown,
    Platform,
    PlatformNotFound,
    Reference,
    inspect,
    resolve,
)
from polyarch.domain import mediatype as mt
from support.cli import assert_one_line_error, run_cli
from support.images import push_image, push_index, push_wrapper
from support.schema import assert_valid

pytestmark = pytest.mark.integration

FOUR = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le"]


@pytest.fixture
def repo_ref(registry: Any) -> Reference:
    return Reference.parse(f"{registry.host}/test-{uuid.uuid4().hex[:8]}/app")


def test_docker_schema2_image(ctx: Context, repo_ref: Reference) -> None:
    repo = ctx.repository(repo_ref)
    image = push_image(repo, "linux/amd64", tag="v1-amd64", docker=True)
    ref = repo_ref.with_tag("v1-amd64")

    result = inspect(ref, ctx)
    assert result.kind == "image"
    assert result.media_type == mt.DOCKER_MANIFEST
    assert result.digest == image.digest
    assert result.platform == Platform("linux", "amd64")
    assert result.created == "2026-01-01T00:00:00Z"
    assert len(result.layers) == 1
    assert result.total_size == result.size + result.config.size + result.layers[0].size  # type: ignore[union-attr]

    res = resolve(ref, ctx)
    assert (res.digest, res.source, res.platform) == (
        image.digest,
        "image",
        Platform("linux", "amd64"),
    )
    assert resolve(ref, ctx, platform="linux/amd64").digest == image.digest
    with pytest.raises(PlatformNotFound, match="linux/amd64"):
        resolve(ref, ctx, platform="linux/arm64")

    cli = run_cli("resolve", str(ref))
    assert cli.code == 0, cli.err
    assert cli.out.strip() == image.digest


def test_oci_image_raw_and_json(ctx: Context, repo_ref: Reference) -> None:
    repo = ctx.repository(repo_ref)
    image = push_image(repo, "linux/arm/v7", tag="v1", extra_layers=2)
    ref = repo_ref.with_tag("v1")
    assert_valid(image.manifest.raw, mt.OCI_MANIFEST)

    raw = run_cli("inspect", "--raw", str(ref))
    assert raw.code == 0
    assert raw.out.encode() == image.manifest.raw  # the exact bytes, not a re-serialization

    data = run_cli("inspect", "--json", str(ref)).json()
    assert data["schema"] == "polyarch.inspect/v1"
    assert data["kind"] == "image"
    assert data["platform"] == "linux/arm/v7"
    assert data["digest"] == image.digest
    assert len(data["layers"]) == 3
    assert data["layersSize"] == sum(layer["size"] for layer in data["layers"])

    human = run_cli("inspect", str(ref))
    assert human.code == 0
    assert "linux/arm/v7" in human.out and image.digest in human.out


def test_buildkit_wrapper_resolves_to_the_image(ctx: Context, repo_ref: Reference) -> None:
    repo = ctx.repository(repo_ref)
    pushed = push_wrapper(repo, "linux/arm64", tag="v2.0.0-arm64")
    ref = repo_ref.with_tag("v2.0.0-arm64")
    assert_valid(pushed.index.raw, mt.OCI_INDEX)
    assert_valid(pushed.attestation.raw, mt.OCI_MANIFEST)

    res = resolve(ref, ctx)
    assert res.source == "wrapper"
    assert res.digest == pushed.image.digest  # never the wrapper's, never the attestation's
    assert res.source_digest == pushed.index.digest
    assert res.platform == Platform("linux", "arm64")
    assert str(res.pinned) == f"{repo_ref}@{pushed.image.digest}"

    cli = run_cli("resolve", str(ref))
    assert cli.code == 0, cli.err
    assert cli.out.strip() == pushed.image.digest
    assert "wrapper" in cli.err

    data = run_cli("resolve", "--json", str(ref)).json()
    assert data["digest"] == pushed.image.digest
    assert data["sourceDigest"] == pushed.index.digest
    assert data["source"] == "wrapper"

    result = inspect(ref, ctx)
    assert result.kind == "wrapper"
    kinds = [(e.kind, e.attests) for e in result.entries]
    assert kinds == [("image", None), ("attestation", pushed.image.digest)]

    human = run_cli("inspect", str(ref))
    assert "attestation" in human.out
    assert "linux/arm64" in human.out

    # --platform on a wrapper shows the image a host of that platform pulls.
    shown = inspect(ref, ctx, platform="linux/arm64/v8")
    assert shown.digest == pushed.image.digest
    assert shown.selected_from == pushed.index.digest

    # The attestation itself is not an image.
    att = Reference.parse(f"{repo_ref}@{pushed.attestation.digest}")
    assert inspect(att, ctx).kind == "attestation"
    with pytest.raises(InvalidInput, match="attestation"):
        resolve(att, ctx)


def test_four_platform_index(ctx: Context, repo_ref: Reference) -> None:
    repo = ctx.repository(repo_ref)
    index, images = push_index(repo, FOUR, tag="multi")
    ref = repo_ref.with_tag("multi")
    assert_valid(index.raw, mt.OCI_INDEX)
    by_platform = {str(i.platform): i.digest for i in images}

    result = inspect(ref, ctx)
    assert result.kind == "index"
    assert [str(e.platform) for e in result.entries] == FOUR

    for host, expected in [
        ("linux/amd64", "linux/amd64"),
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/ppc64le", "linux/ppc64le"),
    ]:
        assert resolve(ref, ctx, platform=host).digest == by_platform[expected], host
        cli = run_cli("resolve", "--platform", host, str(ref))
        assert cli.code == 0 and cli.out.strip() == by_platform[expected], (host, cli.err)

    with pytest.raises(InvalidInput, match="linux/amd64, linux/arm64, linux/arm/v7, linux/ppc64le"):
        resolve(ref, ctx)
    with pytest.raises(PlatformNotFound, match="s390x"):
        resolve(ref, ctx, platform="linux/s390x")

    no_platform = run_cli("resolve", str(ref))
    assert_one_line_error(no_platform, 2, "multi-platform index", "--platform", "linux/arm/v7")
    missing = run_cli("resolve", "--platform", "linux/s390x", str(ref))
    assert_one_line_error(missing, 1, "linux/s390x")

    selected = run_cli("inspect", "--json", "--platform", "linux/arm64", str(ref)).json()
    assert selected["digest"] == by_platform["linux/arm64"]
    assert selected["selectedFrom"] == index.digest
    assert selected["platform"] == "linux/arm64"

    listing = run_cli("inspect", "--json", str(ref)).json()
    assert [m["platform"] for m in listing["manifests"]] == FOUR
    assert all(m["kind"] == "image" for m in listing["manifests"])
    assert json.loads(run_cli("inspect", "--raw", str(ref)).out) == json.loads(index.raw)


def test_docker_manifest_list(ctx: Context, repo_ref: Reference) -> None:
    repo = ctx.repository(repo_ref)
    index, images = push_index(repo, ["linux/amd64", "linux/arm64"], tag="list", docker=True)
    manifest = repo.get_manifest("list")
    assert isinstance(manifest, Index)
    assert manifest.media_type == mt.DOCKER_MANIFEST_LIST
    assert manifest.raw == index.raw
    assert (
        resolve(repo_ref.with_tag("list"), ctx, platform="linux/arm64").digest == images[1].digest
    )


def test_by_digest_and_errors(ctx: Context, repo_ref: Reference) -> None:
    repo = ctx.repository(repo_ref)
    image = push_image(repo, "linux/amd64", tag="v1")
    by_digest = repo_ref.with_digest(image.digest)
    fetched = repo.get_manifest(image.digest)
    assert isinstance(fetched, ImageManifest) and fetched.raw == image.manifest.raw
    assert resolve(by_digest, ctx).digest == image.digest

    with pytest.raises(ManifestUnknown, match="not found"):
        inspect(repo_ref.with_tag("nope"), ctx)
    unknown_tag = run_cli("inspect", str(repo_ref.with_tag("nope")))
    assert_one_line_error(unknown_tag, 1, "not found", str(repo_ref.with_tag("nope")))

    bad_ref = run_cli("inspect", "Not/Valid")
    assert_one_line_error(bad_ref, 2, "Not/Valid")
    bad_platform = run_cli("resolve", "--platform", "linux/", str(by_digest))
    assert_one_line_error(bad_platform, 2, "linux/")
    no_registry = run_cli("inspect", "127.0.0.1:9/app:v1")
    assert_one_line_error(no_registry, 1, "127.0.0.1:9")
