"""``--attestations referrers``: BuildKit attestations leave the index, linked by ``subject``.

``create``, ``copy`` and ``publish`` take ``--attestations referrers``
(beside ``keep`` and ``drop``). Each attestation manifest leaves the index and is pushed as
an OCI 1.1 artifact whose ``subject`` is the image it attests: byte for byte when BuildKit
0.32 already wrote it in that form, rewritten into it (same in-toto layers, new config,
``artifactType``, ``subject``) when it is the older dummy-config form. The registry here is
distribution 2.8 (no referrers API), so they are listed by the referrers tag schema, where
``oras discover`` (1.3, Debian sid) finds them. ``verify`` checks their links as it checks
those in an index (subject and statements must name the image).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.content.attestations.referrers import referrer_attestations
from polyarch.content.referrers.carry import attach_referrer
from polyarch.domain.manifest import ImageManifest, Index
from support.attestation_artifacts import (
    ARTIFACT_TYPE,
    push_artifact_attestation,
    push_buildkit_index,
)
from support.cli import assert_one_line_error, run_cli
from support.images import push_image, push_index, push_wrapper
from support.sigtools import Cosign

pytestmark = pytest.mark.integration


def _repo(registry: Any, name: str) -> Reference:
    return Reference.parse(f"{registry.host}/att/{name}{uuid.uuid4().hex[:8]}")


def test_copy_moves_buildkit_032_attestations_out_of_the_index_byte_for_byte(
    registry: Any, ctx: Context, cosign3: Cosign
) -> None:
    src = _repo(registry, "src")
    index, images, attestations = push_buildkit_index(
        ctx.repository(src), ["linux/amd64", "linux/arm64"], tag="v1"
    )
    dest = _repo(registry, "dest")
    cli = run_cli("copy", "--attestations", "referrers", "--json", f"{src}:v1", f"{dest}:v1")
    assert cli.code == 0, cli.err
    copied = ctx.repository(dest).get_manifest("v1")
    assert isinstance(copied, Index)
    assert [d.digest for d in copied.manifests] == [i.digest for i in images]  # no unknown/unknown
    for image, attestation in zip(images, attestations, strict=True):
        found = cosign3.discover(f"{dest}@{image.digest}")
        assert [(r["digest"], r["artifactType"]) for r in found] == [
            (str(attestation.digest), ARTIFACT_TYPE)  # the same bytes, the same digest
        ]
    verify = run_cli("verify", "--json", f"{dest}:v1")
    assert verify.code == 0, verify.out
    assert index.digest != copied.digest


def test_the_older_form_is_rewritten_with_a_subject(
    registry: Any, ctx: Context, cosign3: Cosign
) -> None:
    src = _repo(registry, "old")
    repo = ctx.repository(src)
    wrappers = [
        push_wrapper(repo, p, tag=f"w-{p.replace('/', '-')}")
        for p in ("linux/amd64", "linux/arm64")
    ]
    dest = _repo(registry, "made")
    sources = [f"{src}:w-linux-amd64", f"{src}:w-linux-arm64"]
    cli = run_cli("create", "--attestations", "referrers", "--json", "-t", f"{dest}:v1", *sources)
    assert cli.code == 0, cli.err
    made = ctx.repository(dest).get_manifest("v1")
    assert isinstance(made, Index) and not made.attestations
    for w in wrappers:
        [listed] = cosign3.discover(f"{dest}@{w.image.digest}")
        assert listed["artifactType"] == ARTIFACT_TYPE
        moved = ctx.repository(dest).get_manifest(listed["digest"])
        assert isinstance(moved, ImageManifest)
        assert moved.subject is not None and moved.subject.digest == w.image.digest
        # The statements are the same blobs: what the builder recorded is unchanged.
        assert [d.digest for d in moved.layers] == [d.digest for d in w.attestation.layers]


def test_keep_and_drop_still_mean_what_they_meant(registry: Any, ctx: Context) -> None:
    src = _repo(registry, "kd")
    index, _, _ = push_buildkit_index(ctx.repository(src), ["linux/amd64"], tag="v1")
    keep = run_cli("copy", "--json", f"{src}:v1", f"{_repo(registry, 'keep')}:v1")
    assert keep.code == 0, keep.err
    assert keep.json()["digest"] == str(index.digest)


def test_the_spec_takes_referrers(tmp_path: Any) -> None:
    """The spec's ``attestations:`` key takes the same three values."""
    from polyarch.pipeline.specfile import load_spec

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    spec = tmp_path / "polyarch.yaml"
    spec.write_text(
        "image: 127.0.0.1:5000/app\n"
        "attestations: referrers\n"
        "variants:\n  - {platform: linux/amd64, context: .}\n"
    )
    assert load_spec(spec).attestations == "referrers"


def _verify_rows(ref: str) -> tuple[int, dict[str | None, list[dict[str, Any]]]]:
    cli = run_cli("verify", "--json", ref)
    rows: dict[str | None, list[dict[str, Any]]] = {}
    for c in cli.json()["checks"]:
        if c["check"] == "attestations":
            rows.setdefault(c["platform"], []).append(c)
    return cli.code, rows


def test_verify_checks_the_links_of_referrer_attestations(registry: Any, ctx: Context) -> None:
    """A referrer attestation whose subject is the image but whose statement names another
    image fails, as an in-index one does; a linked one counts toward the image's kinds."""
    ref = _repo(registry, "links")
    repo = ctx.repository(ref)
    index, images = push_index(repo, ["linux/amd64", "linux/arm64"], tag="v1")
    amd64, arm64 = images
    good = push_artifact_attestation(repo, amd64)
    bad = push_artifact_attestation(repo, arm64, names=amd64.digest)
    for manifest in (good, bad):
        attach_referrer(repo, manifest)
    code, rows = _verify_rows(f"{ref}:v1")
    assert code == 1
    [amd] = rows["linux/amd64"]
    assert (amd["status"], amd["message"]) == ("pass", "provenance (1 as referrers)")
    assert amd["details"]["referrers"] == [str(good.digest)]
    failed = [r for r in rows["linux/arm64"] if r["status"] == "fail"]
    assert [r["message"] for r in failed] == [
        f"attestation referrer {bad.digest.short} of {arm64.digest.short}: its in-toto "
        f"statement {bad.layers[0].digest.short} names sha256:{amd64.digest.hex[:12]}"
    ]
    assert index.digest == repo.get_manifest("v1").digest  # verify writes nothing


def test_append_with_referrers_moves_what_the_index_held(registry: Any, ctx: Context) -> None:
    """``create --append --attestations referrers`` onto a tag whose index lists BuildKit
    attestations: the new platform's attestation and the existing ones all leave the index
    and become referrers, before the tag moves."""
    src = _repo(registry, "app")
    repo = ctx.repository(src)
    first = push_wrapper(repo, "linux/amd64", tag="w-amd64")
    second = push_wrapper(repo, "linux/arm64", tag="w-arm64")
    keep = run_cli("create", "-t", f"{src}:v1", f"{src}:w-amd64")
    assert keep.code == 0, keep.err
    assert len(index_at(ctx, src, "v1").attestations) == 1
    cli = run_cli(
        "create", "--json", "--append", "--attestations", "referrers", "-t", f"{src}:v1",
        f"{src}:w-arm64",
    )  # fmt: skip
    assert cli.code == 0, cli.err
    index = index_at(ctx, src, "v1")
    assert not index.attestations
    assert sorted(str(d.platform) for d in index.manifests) == ["linux/amd64", "linux/arm64"]
    for w in (first, second):
        moved = referrer_attestations(repo, [w.image.digest])[w.image.digest]
        assert [[x.digest for x in m.layers] for m in moved] == [
            [x.digest for x in w.attestation.layers]
        ]
    code, _ = _verify_rows(f"{src}:v1")
    assert code == 0


def index_at(ctx: Context, ref: Reference, tag: str) -> Index:
    index = ctx.repository(ref).get_manifest(tag)
    assert isinstance(index, Index)
    return index


def test_dry_run_and_single_images(registry: Any, ctx: Context) -> None:
    src = _repo(registry, "dry")
    repo = ctx.repository(src)
    push_wrapper(repo, "linux/amd64", tag="w")
    image = push_image(repo, "linux/arm64", tag="plain")
    dest = _repo(registry, "dry-dest")
    dry = run_cli(
        "create", "--json", "--dry-run", "--attestations", "referrers", "-t", f"{dest}:v1",
        f"{src}:w",
    )  # fmt: skip
    assert dry.code == 0, dry.err
    [moved] = [r for t in dry.json()["targets"] for r in t["referrers"]]
    assert (moved["status"], moved["artifactType"]) == ("would-push", ARTIFACT_TYPE)
    assert ctx.repository(dest).head_manifest(moved["digest"]) is None  # nothing written
    single = run_cli("copy", "--attestations", "referrers", f"{src}:plain", f"{dest}:x")
    assert_one_line_error(single, 2, "is a single image", "--attestations")
    assert image.tag == "plain"
