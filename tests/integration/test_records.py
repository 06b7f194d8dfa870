"""Build records as evidence, against real wrappers in real registries (issue 14 §3).

The metadata files are written exactly as buildx and bake write them
(support/buildx_metadata.py); the wrappers are real content pushed to a real
``docker-registry`` (support/images.py).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, CopyRequest, CreateRequest, copy_image, create_index, verify
from polyarch.domain.reference import Reference
from polyarch.operations.verify.request import VerifyReport, VerifyRequest
from polyarch.pipeline.publish.run import PublishRequest, publish
from polyarch.pipeline.specfile import load_spec
from support.buildx_metadata import write_bake_metadata, write_build_metadata
from support.cli import run_cli
from support.images import PushedWrapper, push_image, push_wrapper
from support.registry import RegistryServer

pytestmark = pytest.mark.integration

PLATFORMS = ("linux/amd64", "linux/arm64")


def _repo(host: str) -> str:
    return f"{host}/t{uuid.uuid4().hex[:8]}/metrics-api"


def _wrappers(ctx: Context, repo: str) -> dict[str, PushedWrapper]:
    """What two buildx builds push by digest: one wrapper each (tags only to keep them)."""
    store = ctx.repository(Reference.parse(repo))
    return {
        p: push_wrapper(store, p, tag=f"build-{p.replace('/', '-')}", source="abc123")
        for p in PLATFORMS
    }


def _metadata(tmp_path: Path, repo: str, wrappers: dict[str, PushedWrapper]) -> Path:
    """One metadata file per build, as two CI jobs upload them; two image.name shapes."""
    directory = tmp_path / "metadata"
    names = {"linux/amd64": repo, "linux/arm64": f"{repo}:v1-arm64,{repo}:latest-arm64"}
    for platform, pushed in wrappers.items():
        path = directory / platform.replace("/", "-") / "metadata.json"
        write_build_metadata(path, pushed, names[platform])
    return directory


def _spec(tmp_path: Path, images: list[str], *, contexts: bool = True) -> Path:
    for name in ("app-amd64", "app-arm64"):
        if contexts:
            (tmp_path / name).mkdir(exist_ok=True)
            (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "polyarch.yaml").write_text(
        f"image: {json.dumps(images)}\ntags: [v2.0.0]\nvariants:\n"
        "  - {platform: linux/amd64, context: app-amd64}\n"
        "  - {platform: linux/arm64, context: app-arm64}\n"
    )
    return tmp_path / "polyarch.yaml"


def _checks(report: VerifyReport, name: str) -> list[Any]:
    return [c for c in report.checks if c.check == name]


@pytest.mark.parametrize("where", ["same", "repository", "registry", "layout"])
def test_verify_against_buildx_metadata_on_any_copy_of_the_index(
    ctx: Context, registry: RegistryServer, registry2: RegistryServer, tmp_path: Path, where: str
) -> None:
    repo = _repo(registry.host)
    wrappers = _wrappers(ctx, repo)
    meta = _metadata(tmp_path, repo, wrappers)
    target = f"{repo}:v1"
    create_index(
        CreateRequest.build([target], [f"{repo}@{w.index.digest}" for w in wrappers.values()]),
        ctx,
    )
    copies = {
        "same": target,
        "repository": f"{_repo(registry.host)}:v1",
        "registry": f"{_repo(registry2.host)}:v1",
        "layout": f"oci:{tmp_path / 'layout'}:v1",
    }
    if where != "same":
        copy_image(CopyRequest.build(target, copies[where]), ctx)
    report = verify(VerifyRequest.build(copies[where], records=[meta], exact=True), ctx)
    assert report.ok, [c.message for c in report.failed]
    digests = _checks(report, "digests")
    assert {c.platform for c in digests} == set(PLATFORMS)
    # The wrapper was read where image.name says it was pushed, and the report says so.
    assert all(c.details["evidence"] == "wrapper" and "wrapper" in c.message for c in digests)
    assert {c.details["digest"] for c in digests} == {
        str(w.image.digest) for w in wrappers.values()
    }


def test_a_garbage_collected_wrapper_is_unverifiable_not_a_mismatch_and_resolved_records_remain(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry.host)
    wrappers = _wrappers(ctx, repo)
    meta = _metadata(tmp_path, repo, wrappers)
    spec = load_spec(_spec(tmp_path, [repo]))
    published = publish(PublishRequest.build(spec, [meta]), ctx)
    assert published.ok
    # publish keeps the resolved evidence: image digest next to the wrapper digest.
    resolved = tmp_path / "resolved"
    resolved.mkdir()
    for i, variant in enumerate(published.to_json()["variants"]):
        wrapper = wrappers[variant["platform"]]
        assert variant["digest"] == str(wrapper.image.digest)
        assert variant["wrapper"] == str(wrapper.index.digest)
        assert variant["resolved"]["digest"] == variant["digest"]
        (resolved / f"{i}.json").write_text(json.dumps(variant["resolved"]))

    store = ctx.repository(Reference.parse(repo))
    for pushed in wrappers.values():  # retention policy / garbage collection
        store.delete_manifest(pushed.index.digest)

    target = f"{repo}:v2.0.0"
    gone = verify(VerifyRequest.build(target, records=[meta]), ctx)
    assert not gone.ok
    problems = _checks(gone, "records")
    assert len(problems) == 2 and all("unverifiable" in c.message for c in problems)
    assert all(c.details["evidence"] == "none" for c in problems)
    assert not [c for c in _checks(gone, "digests") if c.status.value == "fail"]

    kept = verify(VerifyRequest.build(target, records=[resolved], exact=True), ctx)
    assert kept.ok, [c.message for c in kept.failed]
    assert all(c.details["evidence"] == "record" for c in _checks(kept, "digests"))


def test_the_config_digest_is_evidence_when_the_manifest_was_re_encoded(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry.host)
    store = ctx.repository(Reference.parse(repo))
    # Provenance off: buildx records the image itself, its platform and its config digest.
    built = push_image(store, "linux/amd64", payload=b"same\n")
    meta = write_build_metadata(tmp_path / "meta.json", built, repo)
    # The same image converted to Docker media types (same config bytes, another manifest).
    converted = push_image(store, "linux/amd64", payload=b"same\n", docker=True)
    assert converted.digest != built.digest
    assert converted.manifest.config.digest == built.manifest.config.digest
    create_index(CreateRequest.build([f"{repo}:v1"], [f"{repo}@{converted.digest}"]), ctx)
    report = verify(VerifyRequest.build(f"{repo}:v1", records=[meta]), ctx)
    assert report.ok, [c.message for c in report.failed]
    (line,) = _checks(report, "digests")
    assert line.details["evidence"] == "config" and "config digest" in line.message

    other = push_image(store, "linux/amd64", payload=b"other\n", docker=True)
    create_index(CreateRequest.build([f"{repo}:v2"], [f"{repo}@{other.digest}"]), ctx)
    report = verify(VerifyRequest.build(f"{repo}:v2", records=[meta]), ctx)
    (line,) = _checks(report, "digests")
    assert line.status.value == "fail" and f"recorded {built.digest}" in line.message


def test_publish_from_buildx_metadata_to_two_registries_without_build_contexts(
    ctx: Context, registry: RegistryServer, registry2: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry.host)
    wrappers = _wrappers(ctx, repo)
    meta = _metadata(tmp_path, repo, wrappers)
    mirror = _repo(registry2.host)
    spec = _spec(tmp_path, [repo, mirror], contexts=False)
    kept = tmp_path / "resolved"
    result = run_cli(
        "publish", "--spec", str(spec), "--records", str(meta), "--json",
        "--resolved-records", str(kept),
    )  # fmt: skip
    assert result.code == 0, result.out + result.err
    data = result.json()
    assert [r["ok"] for r in data["verify"]] == [True, True]
    for variant in data["variants"]:
        pushed = wrappers[variant["platform"]]
        assert variant["digest"] == str(pushed.image.digest)
        assert variant["wrapper"] == str(pushed.index.digest)
        assert variant["attestations"] == 1
    # The resolved records name image and wrapper, and verify the mirror on their own.
    for platform, pushed in wrappers.items():
        written = json.loads((kept / f"{platform.replace('/', '-')}.json").read_text())
        assert (written["digest"], written["wrapper"], written["platform"]) == (
            str(pushed.image.digest),
            str(pushed.index.digest),
            platform,
        )
    checked = run_cli("verify", f"{mirror}:v2.0.0", "--records", str(kept), "--exact")
    assert checked.code == 0, checked.out + checked.err

    table = run_cli(
        "publish", "--spec", str(spec), "--records", str(meta), "--no-verify", "--no-trunc"
    )
    assert table.code == 0, table.out + table.err
    rows = [line.split() for line in table.out.splitlines() if line.startswith("linux/")]
    assert {(r[0], r[1], r[-1]) for r in rows if len(r) == 4} == {
        (p, str(w.image.digest), "1") for p, w in wrappers.items()
    }
    assert not any(str(w.index.digest) in table.out for w in wrappers.values())


def test_bake_metadata_is_one_record_per_target(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry.host)
    wrappers = _wrappers(ctx, repo)
    bake = write_bake_metadata(
        tmp_path / "bake.json",
        {
            "app-amd64": (wrappers["linux/amd64"], f"{repo}:v1-amd64"),
            "app-arm64": (wrappers["linux/arm64"], f"{repo}:v1-arm64"),
        },
        warnings=True,
    )
    spec = load_spec(_spec(tmp_path, [repo]))
    published = publish(PublishRequest.build(spec, [bake]), ctx)
    assert published.ok, [c.message for r in published.reports for c in r.failed]
    assert [v.record.origin for v in published.variants] == [
        f"{bake}[app-amd64]",
        f"{bake}[app-arm64]",
    ]


def test_create_straight_from_records(
    ctx: Context, registry: RegistryServer, registry2: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry.host)
    wrappers = _wrappers(ctx, repo)
    bake = write_bake_metadata(
        tmp_path / "bake.json",
        {t.replace("/", "-"): (w, repo) for t, w in wrappers.items()},
        warnings=False,
    )
    target = f"{_repo(registry2.host)}:v1"
    result = run_cli("create", "-t", target, "--records", str(bake), "--json")
    assert result.code == 0, result.out + result.err
    entries = result.json()["entries"]
    assert {(e["platform"], e["digest"]) for e in entries} == {
        (p, str(w.image.digest)) for p, w in wrappers.items()
    }
    assert all(len(e["attestations"]) == 1 for e in entries)
    report = verify(VerifyRequest.build(target, records=[bake], exact=True), ctx)
    assert report.ok, [c.message for c in report.failed]


def test_a_build_record_whose_wrapper_is_gone_publishes_its_image(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry.host)
    wrappers = _wrappers(ctx, repo)
    records = tmp_path / "records"
    records.mkdir()
    for platform, pushed in wrappers.items():
        record = {
            "schema": "polyarch.record/v1",
            "platform": platform,
            "repository": repo,
            "digest": str(pushed.image.digest),
            "wrapper": str(pushed.index.digest),
        }
        (records / f"{platform.replace('/', '-')}.json").write_text(json.dumps(record))
    gone = wrappers["linux/arm64"]
    ctx.repository(Reference.parse(repo)).delete_manifest(gone.index.digest)
    spec = load_spec(_spec(tmp_path, [repo]))
    published = publish(PublishRequest.build(spec, [records]), ctx)
    assert published.ok, [c.message for r in published.reports for c in r.failed]
    counts = {str(v.variant.platform): published.attestation_count(v) for v in published.variants}
    assert counts == {"linux/amd64": 1, "linux/arm64": 0}
    created = run_cli("create", "-t", f"{repo}:from-records", "--records", str(records))
    assert created.code == 0, created.err
