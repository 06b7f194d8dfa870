"""copy between repositories, registries and OCI layouts, against real registries."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from polyarch import (
    Context,
    CopyRequest,
    CreateRequest,
    Index,
    Reference,
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
from support.images import staged_release
from support.schema import assert_valid

pytestmark = pytest.mark.integration


def _release(ctx: Context, registry: Any) -> tuple[Reference, Index]:
    """A two-platform index with a provenance attestation, as create publishes it."""
    return staged_release(ctx, registry.host)


def test_cross_registry_copy_keeps_the_digest(ctx: Context, registry: Any, registry2: Any) -> None:
    source, index = _release(ctx, registry)
    dest = Reference.parse(f"{registry2.host}/prod/app:v1")
    cli = run_cli("copy", "--json", str(source), str(dest))
    assert cli.code == 0, cli.err
    out = cli.json()
    assert out["schema"] == "polyarch.copy/v1"
    assert out["digest"] == out["sourceDigest"] == index.digest
    assert out["transfer"]["blobs"]["copied"]["count"] > 0
    assert out["transfer"]["manifests"]["pushed"] == 3
    assert ctx.repository(dest).get_manifest("v1").raw == index.raw
    assert verify(
        VerifyRequest.build(dest, platforms=["linux/amd64", "linux/arm64"], exact=True), ctx
    ).ok

    again = copy_image(CopyRequest.build(source, dest), ctx)
    assert again.stats.blobs["copied"] == 0 and again.stats.manifests_pushed == 0


def test_same_registry_promotion_mounts(ctx: Context, registry: Any) -> None:
    source, index = _release(ctx, registry)
    dest = Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/prod:v1")
    result = copy_image(CopyRequest.build(source, dest), ctx)
    assert result.digest == index.digest
    assert result.stats.blobs["copied"] == 0
    assert result.stats.blobs["mounted"] > 0
    # Progress lines in a CI log (no TTY): one line per blob, then the summary.
    other = Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/prod:v1")
    cli = run_cli("copy", str(source), str(other))
    assert cli.code == 0, cli.err
    assert "mounted" in cli.err and "blobs:" in cli.out


def test_platform_filter_makes_a_sub_index(ctx: Context, registry: Any, registry2: Any) -> None:
    source, _ = _release(ctx, registry)
    dest = Reference.parse(f"{registry2.host}/arm-only/app:v1")
    result = copy_image(CopyRequest.build(source, dest, platforms=["linux/arm64"]), ctx)
    assert result.filtered and result.platforms == ("linux/arm64",)
    sub = ctx.repository(dest).get_manifest("v1")
    assert isinstance(sub, Index)
    assert [str(d.platform) for d in sub.images] == ["linux/arm64"]
    assert len(sub.attestations) == 1  # the arm64 image's attestation came along
    assert_valid(sub.raw, mt.OCI_INDEX)
    dropped = copy_image(
        CopyRequest.build(source, dest.with_tag("v1-noatt"), attestations="drop"), ctx
    )
    assert ctx.repository(dest).get_manifest(dropped.digest).attestations == ()  # type: ignore[union-attr]
    missing = run_cli("copy", "--platform", "linux/s390x", str(source), str(dest))
    assert_one_line_error(missing, 2, "linux/s390x")


def test_oci_layout_round_trip(ctx: Context, registry: Any, registry2: Any, tmp_path: Path) -> None:
    source, index = _release(ctx, registry)
    layout = tmp_path / "layout"
    cli = run_cli("copy", str(source), f"oci:{layout}:v1")
    assert cli.code == 0, cli.err
    assert_valid(json.loads((layout / "oci-layout").read_text()), "oci-layout")
    assert_valid((layout / "index.json").read_bytes(), mt.OCI_INDEX)
    ref = parse_location(f"oci:{layout}:v1")
    # Every operation works on the layout through the same storage interface.
    assert inspect(ref, ctx).digest == index.digest
    assert resolve(ref, ctx, platform="linux/arm64").digest == index.images[1].digest
    report = verify(
        VerifyRequest.build(ref, platforms=["linux/amd64", "linux/arm64"], exact=True), ctx
    )
    assert report.ok, report.failed
    inspected = run_cli("inspect", "--json", f"oci:{layout}:v1").json()
    assert inspected["digest"] == index.digest

    # Assemble offline from the layout, then publish from the layout to a registry.
    created = create_index(
        CreateRequest.build([f"oci:{layout}:amd-only"], [f"oci:{layout}@{index.images[0].digest}"]),
        ctx,
    )
    assert [str(e.platform) for e in created.entries] == ["linux/amd64"]
    back = Reference.parse(f"{registry2.host}/from-layout/app:v1")
    result = copy_image(CopyRequest.build(f"oci:{layout}:v1", back), ctx)
    assert result.digest == index.digest
    assert verify(VerifyRequest.build(back), ctx).ok

    not_a_layout = tmp_path / "plain"
    not_a_layout.mkdir()
    (not_a_layout / "file.txt").write_text("x")
    assert_one_line_error(run_cli("inspect", f"oci:{not_a_layout}:v1"), 2, str(not_a_layout))
