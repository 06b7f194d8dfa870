"""Attestation links are evidence (issue 14 §4), against a real registry.

An attestation names its image in the index annotation, in its own ``subject`` (OCI
artifact form) and in its in-toto statement. Where they disagree, ``verify`` fails the
attestations check naming the disagreement, and ``create`` / ``copy --platform`` refuse
the source (exit code 2, one line).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from polyarch import Context, verify
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest
from polyarch.domain.reference import Reference
from polyarch.operations.verify.request import VerifyRequest
from support.attestations import mislinked_index, push_artifact_attestation
from support.cli import assert_one_line_error, run_cli
from support.images import PushedImage, push_attestation, push_image
from support.registry import RegistryServer

pytestmark = pytest.mark.integration


def _images(ctx: Context, host: str) -> tuple[str, PushedImage, PushedImage]:
    repo = f"{host}/t{uuid.uuid4().hex[:8]}/app"
    store = ctx.repository(Reference.parse(repo))
    return repo, push_image(store, "linux/amd64"), push_image(store, "linux/arm64")


def _refusals(repo: str, tag: str, tmp_path: Path, *fragments: str) -> None:
    created = run_cli("create", "-t", f"{repo}:out", f"{repo}:{tag}")
    assert_one_line_error(created, 2, f"{repo}:{tag}", *fragments)
    copied = run_cli("copy", f"{repo}:{tag}", f"{repo}:arm-only", "--platform", "linux/arm64")
    assert_one_line_error(copied, 2, *fragments)
    # Leaving the attestations out spreads nothing: allowed.
    drop = ("--attestations", "drop")
    assert run_cli("create", "-t", f"{repo}:bare", f"{repo}:{tag}", *drop).code == 0
    bare = run_cli("copy", f"{repo}:{tag}", f"{repo}:arm-bare", "--platform", "linux/arm64", *drop)
    assert bare.code == 0, bare.err


def _attestation_failures(ctx: Context, ref: str) -> list[str]:
    report = verify(VerifyRequest.build(ref), ctx)
    return [c.message for c in report.failed if c.check == "attestations"]


def test_swapped_annotations_fail_verify_and_are_refused(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo, amd, arm = _images(ctx, registry.host)
    store = ctx.repository(Reference.parse(repo))
    amd_att = push_attestation(store, amd.manifest, source="amd")
    arm_att = push_attestation(store, arm.manifest, source="arm")
    # Each provenance filed under the other platform's image.
    mislinked_index(
        store, [amd, arm], [(amd_att, arm.digest), (arm_att, amd.digest)], tag="swapped"
    )
    failures = _attestation_failures(ctx, f"{repo}:swapped")
    assert len(failures) == 2
    assert any(
        f"{amd_att.digest.short} is filed under {arm.digest.short}" in m
        and f"names sha256:{amd.digest.hex[:12]}" in m
        for m in failures
    ), failures
    _refusals(repo, "swapped", tmp_path, "is filed under", "in-toto statement")


def test_the_oci_artifact_subject_must_name_the_image(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo, amd, arm = _images(ctx, registry.host)
    store = ctx.repository(Reference.parse(repo))
    amd_att = push_artifact_attestation(store, amd.manifest)
    arm_att = push_artifact_attestation(store, arm.manifest)
    mislinked_index(store, [amd, arm], [(amd_att, arm.digest), (arm_att, arm.digest)], tag="sub")
    failures = _attestation_failures(ctx, f"{repo}:sub")
    assert len(failures) == 1 and f"its subject names {amd.digest}" in failures[0], failures
    _refusals(repo, "sub", tmp_path, "its subject names")


def test_the_in_toto_statement_must_name_the_image(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo, amd, arm = _images(ctx, registry.host)
    store = ctx.repository(Reference.parse(repo))
    # Annotation and subject agree (arm64); only the statement inside names amd64.
    lying = push_artifact_attestation(store, arm.manifest, statement_subject=amd.digest)
    mislinked_index(store, [amd, arm], [(lying, arm.digest)], tag="statement")
    failures = _attestation_failures(ctx, f"{repo}:statement")
    assert len(failures) == 1 and "its in-toto statement" in failures[0], failures
    assert f"sha256:{amd.digest.hex[:12]}" in failures[0]
    _refusals(repo, "statement", tmp_path, "its in-toto statement")


@pytest.mark.parametrize("form", ["buildkit", "oci-artifact"])
def test_agreeing_links_pass_and_travel(
    ctx: Context, registry: RegistryServer, tmp_path: Path, form: str
) -> None:
    repo, amd, arm = _images(ctx, registry.host)
    store = ctx.repository(Reference.parse(repo))
    push = push_attestation if form == "buildkit" else push_artifact_attestation
    atts: list[tuple[ImageManifest, Digest]] = [
        (push(store, i.manifest), i.digest) for i in (amd, arm)
    ]
    mislinked_index(store, [amd, arm], atts, tag="good")
    report = verify(VerifyRequest.build(f"{repo}:good"), ctx)
    assert report.ok, [c.message for c in report.failed]
    copied = run_cli("copy", f"{repo}:good", f"{repo}:arm-only", "--platform", "linux/arm64")
    assert copied.code == 0, copied.err
    created = run_cli("create", "-t", f"{repo}:again", f"{repo}:good")
    assert created.code == 0, created.err
