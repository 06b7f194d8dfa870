"""Issue 10, kind 2: every image shape registries serve, through every command, both backends.

Instances: an index without platforms, a CNAB-style bundle (nested index), Windows images
with foreign / non-distributable base layers, a Docker manifest list naming OCI manifests.
Each runs against the real registry (one that allows foreign-layer URLs, as distribution
must be configured to) and against an ``oci:`` layout.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyarch import (
    Context,
    CopyRequest,
    CreateRequest,
    Platform,
    PlatformNotFound,
    VerifyRequest,
    copy_image,
    create_index,
    inspect,
    parse_location,
    resolve,
    verify,
)
from polyarch.domain import mediatype as mt
from support.cli import assert_one_line_error, run_cli
from support.registry import RegistryServer
from support.shapes import (
    FOREIGN_URLS_CONFIG,
    push_bundle,
    push_docker_list_of_oci,
    push_platformless_index,
    push_windows_foreign,
)

pytestmark = pytest.mark.integration


def _serve(binary: str, workdir: Path) -> Iterator[RegistryServer]:
    server = RegistryServer(binary=binary, workdir=workdir, extra_config=FOREIGN_URLS_CONFIG)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def url_registry(registry_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A registry configured to accept manifests naming foreign layers by URL."""
    yield from _serve(registry_binary, tmp_path_factory.mktemp("url-registry"))


@pytest.fixture(scope="module")
def url_registry2(registry_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second such registry, for cross-registry copies."""
    yield from _serve(registry_binary, tmp_path_factory.mktemp("url-registry2"))


@pytest.fixture(params=["registry", "layout"])
def base(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh repository location (no tag) on either storage backend."""
    if request.param == "registry":
        host = request.getfixturevalue("url_registry").host
        return f"{host}/s{uuid.uuid4().hex[:8]}/app"
    return f"oci:{tmp_path}/src"


@pytest.fixture(params=["registry", "other-registry", "layout"])
def elsewhere(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A destination repository: same registry, another registry, or a layout."""
    if request.param == "registry":
        return f"{request.getfixturevalue('url_registry').host}/d{uuid.uuid4().hex[:8]}/app"
    if request.param == "other-registry":
        return f"{request.getfixturevalue('url_registry2').host}/d{uuid.uuid4().hex[:8]}/app"
    return f"oci:{tmp_path}/dst"


def _checks(report: Any, name: str) -> list[Any]:
    return [c for c in report.checks if c.check == name]


# -- entries without a platform -----------------------------------------------------------


def test_platformless_entries_match_by_config(ctx: Context, base: str, elsewhere: str) -> None:
    repo = ctx.repository(parse_location(base))
    _, (amd, arm) = push_platformless_index(repo, ["linux/amd64", "linux/arm64"], tag="v1")
    ref = f"{base}:v1"

    res = resolve(ref, ctx, platform="linux/arm64")
    assert (res.digest, res.platform) == (arm.digest, Platform("linux", "arm64"))
    assert resolve(ref, ctx, platform="linux/amd64").digest == amd.digest
    with pytest.raises(PlatformNotFound):
        resolve(ref, ctx, platform="linux/s390x")
    assert inspect(ref, ctx, platform="linux/arm64").digest == arm.digest

    copied = copy_image(CopyRequest.build(ref, f"{elsewhere}:arm", platforms=["linux/arm64"]), ctx)
    written = ctx.repository(parse_location(elsewhere)).get_manifest("arm")
    assert [d.digest for d in written.manifests] == [arm.digest]  # type: ignore[union-attr]
    assert written.manifests[0].platform is None  # type: ignore[union-attr]  # kept as written
    assert copied.digest == written.digest

    created = create_index(
        CreateRequest.build([f"{elsewhere}:made"], [ref], platforms=["linux/arm64"]), ctx
    )
    made = ctx.repository(parse_location(elsewhere)).get_manifest("made")
    assert [(d.digest, str(d.platform)) for d in made.manifests] == [  # type: ignore[union-attr]
        (arm.digest, "linux/arm64")
    ]
    assert created.digest == made.digest

    report = verify(VerifyRequest.build(ref, platforms=["linux/amd64", "linux/arm64"]), ctx)
    assert report.ok, [c.message for c in report.failed]
    assert {c.platform for c in _checks(report, "pull") if "pulls" in c.message} == {
        "linux/amd64",
        "linux/arm64",
    }
    assert len([c for c in report.warnings if "no platform in the index" in c.message]) == 2


def test_platformless_cli(ctx: Context, url_registry: Any) -> None:
    base = f"{url_registry.host}/np{uuid.uuid4().hex[:8]}/app"
    repo = ctx.repository(parse_location(base))
    _, (_, arm) = push_platformless_index(repo, ["linux/amd64", "linux/arm64"], tag="v1")
    out = run_cli("resolve", "--platform", "linux/arm64", f"{base}:v1")
    assert (out.code, out.out.strip()) == (0, arm.digest), out.err


# -- nested indexes (CNAB / porter bundles) -----------------------------------------------


def test_bundle_copy_inspect_verify(ctx: Context, base: str, elsewhere: str) -> None:
    repo = ctx.repository(parse_location(base))
    bundle = push_bundle(repo, tag="v1")
    ref = f"{base}:v1"

    result = copy_image(CopyRequest.build(ref, f"{elsewhere}:v1"), ctx)
    assert result.digest == result.source_digest == bundle.top.digest
    dst = ctx.repository(parse_location(elsewhere))
    assert dst.get_manifest("v1").raw == bundle.top.raw
    assert dst.get_manifest(str(bundle.inner.digest)).raw == bundle.inner.raw
    for image in [*bundle.inner_images, bundle.invocation]:
        assert dst.get_manifest(str(image.digest)).raw == image.manifest.raw
        for blob in image.manifest.blobs:
            assert dst.blob_size(blob.digest) == blob.size
    # Copying again finds everything in place.
    again = copy_image(CopyRequest.build(ref, f"{elsewhere}:v1"), ctx)
    assert again.stats.manifests_pushed == 0

    shown = inspect(f"{elsewhere}:v1", ctx)
    assert [e.kind for e in shown.entries] == ["index", "image"]
    nested = shown.entries[0]
    assert [str(c.platform) for c in nested.children] == ["linux/amd64", "linux/arm64"]
    assert nested.annotations["io.cnab.manifest.type"] == "component"
    assert shown.annotations["io.cnab.runtime_version"] == "v1.0.0"
    as_json = shown.to_json()
    assert [m["platform"] for m in as_json["manifests"][0]["manifests"]] == [
        "linux/amd64",
        "linux/arm64",
    ]

    # containerd walks the nested index first (its entry has no platform, like the image's).
    arm = resolve(f"{elsewhere}:v1", ctx, platform="linux/arm64")
    assert arm.digest == bundle.inner_images[1].digest
    assert arm.path == (bundle.inner.digest,)

    report = verify(VerifyRequest.build(f"{elsewhere}:v1"), ctx)
    assert report.ok, [c.message for c in report.failed]
    children = " ".join(c.message for c in _checks(report, "children"))
    assert "nested index" in children and "3 manifest(s)" in children
    # A linux/amd64 host walks the nested index first and never gets the invocation image.
    shadowed = [c for c in report.warnings if c.check == "pull"]
    assert [c.platform for c in shadowed] == ["linux/amd64"]
    assert "from nested index" in shadowed[0].message
    # Break a blob of a nested image: verify notices (it checks nested children too).
    if not elsewhere.startswith("oci:"):
        inner_layer = bundle.inner_images[1].manifest.layers[0]
        dst.delete_blob(inner_layer.digest)
        broken = verify(VerifyRequest.build(f"{elsewhere}:v1"), ctx)
        assert any(str(inner_layer.digest) in c.message for c in broken.failed)


def test_bundle_cli_shows_nesting(ctx: Context, url_registry: Any) -> None:
    base = f"{url_registry.host}/b{uuid.uuid4().hex[:8]}/bundle"
    bundle = push_bundle(ctx.repository(parse_location(base)), tag="v1")
    out = run_cli("inspect", "--no-trunc", f"{base}:v1")
    assert out.code == 0, out.err
    assert "└ linux/arm64" in out.out and str(bundle.inner.digest) in out.out


# -- foreign / non-distributable layers ---------------------------------------------------


@pytest.mark.parametrize("oci", [False, True], ids=["docker-foreign", "oci-nondistributable"])
def test_foreign_layers_are_never_required(
    ctx: Context, base: str, elsewhere: str, oci: bool
) -> None:
    repo = ctx.repository(parse_location(base))
    win = push_windows_foreign(repo, tag="win", oci=oci)
    assert repo.blob_size(win.foreign.digest) is None  # the blob never existed here
    index = create_index(CreateRequest.build([f"{base}:v1"], [f"{base}:win"]), ctx)

    report = verify(VerifyRequest.build(f"{base}:v1"), ctx)
    assert report.ok, [c.message for c in report.failed]
    external = [c for c in _checks(report, "blobs") if "external" in c.message]
    assert external and external[0].details["external"] == [str(win.foreign.digest)]

    copied = copy_image(CopyRequest.build(f"{base}:v1", f"{elsewhere}:v1"), ctx)
    assert copied.digest == index.digest
    dst = ctx.repository(parse_location(elsewhere))
    assert dst.get_manifest(str(win.manifest.digest)).raw == win.manifest.raw  # byte for byte
    assert dst.blob_size(win.foreign.digest) is None
    assert dst.blob_size(win.local.digest) == win.local.size

    made = create_index(CreateRequest.build([f"{elsewhere}:made"], [f"{base}:win"]), ctx)
    assert made.digest == index.digest  # same entry, same bytes, in another place
    assert verify(VerifyRequest.build(f"{elsewhere}:made"), ctx).ok

    shown = inspect(f"{base}:win", ctx)
    assert [layer.external for layer in shown.layers] == [True, False]
    assert shown.to_json()["layers"][0]["urls"] == list(win.foreign.urls)


# -- a Docker manifest list naming OCI manifests ------------------------------------------


def test_docker_list_of_oci_manifests_warns(ctx: Context, base: str, elsewhere: str) -> None:
    repo = ctx.repository(parse_location(base))
    index = push_docker_list_of_oci(repo, tag="v1")
    report = verify(VerifyRequest.build(f"{base}:v1"), ctx)
    assert report.ok and not report.failed
    mixed = [c for c in report.warnings if "some clients reject" in c.message]
    assert len(mixed) == 1 and mixed[0].check == "kind"
    assert index.media_type == mt.DOCKER_MANIFEST_LIST
    copied = copy_image(CopyRequest.build(f"{base}:v1", f"{elsewhere}:v1"), ctx)
    assert copied.digest == index.digest
    assert resolve(f"{elsewhere}:v1", ctx, platform="linux/arm64").media_type == mt.OCI_MANIFEST


def test_filtered_copy_of_a_bundle_is_refused_in_one_line(ctx: Context, url_registry: Any) -> None:
    base = f"{url_registry.host}/b{uuid.uuid4().hex[:8]}/bundle"
    push_bundle(ctx.repository(parse_location(base)), tag="v1")
    out = run_cli("copy", "--platform", "linux/arm64", f"{base}:v1", f"{base}:arm")
    assert_one_line_error(out, 2, "nested indexes", "not supported")
    assert ctx.repository(parse_location(base)).head_manifest("arm") is None
