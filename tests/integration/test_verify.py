"""verify against a real registry: a good index passes, each failure mode is caught for real."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from polyarch import (
    Context,
    CreateRequest,
    Descriptor,
    Platform,
    Reference,
    VerifyRequest,
    build_index,
    create_index,
    verify,
)
from support.cli import assert_one_line_error, run_cli
from support.images import push_attestation, push_image, push_wrapper

pytestmark = pytest.mark.integration


def _release(
    ctx: Context, registry: Any, *, amd_source: str = "abc123", arm_source: str = "abc123"
) -> dict[str, Any]:
    """The seeds' release: amd64 plain Docker image, arm64 Docker 29 wrapper; one index."""
    repo_ref = Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/metrics-api")
    repo = ctx.repository(repo_ref)
    amd = push_wrapper(repo, "linux/amd64", tag="v2.0.0-amd64", source=amd_source)
    arm = push_wrapper(repo, "linux/arm64", tag="v2.0.0-arm64", source=arm_source)
    target = repo_ref.with_tag("v2.0.0")
    create_index(
        CreateRequest.build(
            [target], [repo_ref.with_tag("v2.0.0-amd64"), repo_ref.with_tag("v2.0.0-arm64")]
        ),
        ctx,
    )
    return {"repo_ref": repo_ref, "repo": repo, "target": target, "amd": amd, "arm": arm}


def _records(tmp_path: Path, rel: dict[str, Any]) -> Path:
    directory = tmp_path / "records"
    directory.mkdir()
    for name, pushed in (("linux/amd64", rel["amd"]), ("linux/arm64", rel["arm"])):
        record = {
            "schema": "polyarch.record/v1",
            "platform": name,
            "repository": str(rel["repo_ref"]),
            "digest": str(pushed.image.digest),
            "builder": "test",
        }
        (directory / f"{name.replace('/', '-')}.json").write_text(json.dumps(record))
    return directory


def _statuses(report: Any, check: str) -> list[str]:
    return [c.status.value for c in report.checks if c.check == check]


def test_a_correct_release_passes(ctx: Context, registry: Any, tmp_path: Path) -> None:
    rel = _release(ctx, registry)
    records = _records(tmp_path, rel)
    target = str(rel["target"])
    cli = run_cli(
        "verify",
        target,
        "--records",
        str(records),
        "--exact",
        "--expect",
        f"linux/arm64={rel['arm'].image.digest}",
        "--json",
    )
    assert cli.code == 0, cli.out + cli.err
    data = cli.json()
    assert data["schema"] == "polyarch.verify/v1" and data["ok"] is True
    assert data["summary"]["fail"] == 0
    checks = {c["check"] for c in data["checks"]}
    assert checks >= {
        "kind",
        "platforms",
        "digests",
        "children",
        "configs",
        "blobs",
        "attestations",
        "pull",
        "provenance",
    }
    assert {c["platform"] for c in data["checks"] if c["check"] == "digests"} == {
        "linux/amd64",
        "linux/arm64",
    }
    prov = next(
        c for c in data["checks"] if c["check"] == "attestations" and c["platform"] == "linux/arm64"
    )
    assert prov["details"]["kinds"] == ["provenance"]
    provenance = next(c for c in data["checks"] if c["check"] == "provenance")
    assert provenance["status"] == "pass" and "abc123" in provenance["message"]

    human = run_cli("verify", target, "--platform", "linux/amd64", "--platform", "linux/arm64")
    assert human.code == 0, human.out
    assert "OK:" in human.out and "FAILED" not in human.out


def test_buildx_metadata_records_name_the_wrapper(
    ctx: Context, registry: Any, tmp_path: Path
) -> None:
    rel = _release(ctx, registry)
    meta = tmp_path / "metadata.json"
    # buildx with attestations records the wrapper index digest, not the image's.
    meta.write_text(
        json.dumps(
            {
                "containerimage.digest": str(rel["arm"].index.digest),
                "containerimage.descriptor": {
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "digest": str(rel["arm"].index.digest),
                    "size": rel["arm"].index.size,
                },
                "image.name": str(rel["repo_ref"]),
            }
        )
    )
    report = verify(VerifyRequest.build(rel["target"], records=[meta]), ctx)
    assert report.ok, [c for c in report.checks if c.status != "pass"]
    [digest_check] = [c for c in report.checks if c.check == "digests"]
    assert digest_check.platform == "linux/arm64" and digest_check.status == "pass"


def test_failure_modes_are_caught(ctx: Context, registry: Any, tmp_path: Path) -> None:
    rel = _release(ctx, registry)
    target = rel["target"]

    wrong = verify(
        VerifyRequest.build(target, expect=[f"linux/amd64={rel['arm'].image.digest}"]), ctx
    )
    assert not wrong.ok and _statuses(wrong, "digests") == ["fail"]
    assert "recorded" in wrong.failed[0].message

    missing = verify(VerifyRequest.build(target, platforms=["linux/amd64", "linux/s390x"]), ctx)
    assert [c.platform for c in missing.failed] == ["linux/s390x"]

    extra = verify(VerifyRequest.build(target, platforms=["linux/amd64"], exact=True), ctx)
    assert [(c.check, c.platform) for c in extra.failed] == [("platforms", "linux/arm64")]

    cli = run_cli("verify", str(target), "--platform", "linux/s390x")
    assert cli.code == 1 and "FAILED" in cli.out and "linux/s390x" in cli.out

    single = verify(VerifyRequest.build(rel["repo_ref"].with_digest(rel["amd"].image.digest)), ctx)
    assert not single.ok and single.failed[0].check == "kind"
    assert "single image manifest (linux/amd64)" in single.failed[0].message


def test_a_lying_descriptor_an_orphan_and_a_deleted_blob(ctx: Context, registry: Any) -> None:
    repo_ref = Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/app")
    repo = ctx.repository(repo_ref)
    amd = push_image(repo, "linux/amd64")
    other = push_image(repo, "linux/ppc64le")
    orphan = push_attestation(repo, other.manifest)
    entries = [
        amd.manifest.descriptor(Platform("linux", "arm64")),  # an amd64 image claiming arm64
        Descriptor(
            orphan.media_type,
            orphan.digest,
            orphan.size,
            Platform("unknown", "unknown"),
            {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": str(other.digest),
            },
        ),
    ]
    index = build_index(entries)
    repo.put_manifest(index, "lying")
    report = verify(VerifyRequest.build(repo_ref.with_tag("lying")), ctx)
    failed = {(c.check, c.platform) for c in report.failed}
    assert ("configs", "linux/arm64") in failed
    assert any(c.check == "attestations" and "orphan" in c.message for c in report.failed)

    # Delete a layer blob through the registry API: a pull would fail half way.
    good = push_image(repo, "linux/s390x", tag="s390x")
    create_index(
        CreateRequest.build([repo_ref.with_tag("good")], [repo_ref.with_tag("s390x")]), ctx
    )
    assert verify(VerifyRequest.build(repo_ref.with_tag("good")), ctx).ok
    repo.delete_blob(good.manifest.layers[0].digest)
    broken = verify(VerifyRequest.build(repo_ref.with_tag("good")), ctx)
    assert [c.check for c in broken.failed] == ["blobs"]
    assert str(good.manifest.layers[0].digest) in broken.failed[0].message


def test_provenance_and_pull_warnings(ctx: Context, registry: Any) -> None:
    rel = _release(ctx, registry, amd_source="1111111aaaa", arm_source="2222222bbbb")
    report = verify(VerifyRequest.build(rel["target"]), ctx)
    assert report.ok  # warnings do not fail...
    assert any(c.check == "provenance" and c.status == "warn" for c in report.checks)
    strict = run_cli("verify", "--strict", str(rel["target"]))
    assert strict.code == 1  # ...unless --strict

    repo_ref = Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/app")
    repo = ctx.repository(repo_ref)
    push_image(repo, "linux/amd64/v2", tag="v2", config_platform=Platform("linux", "amd64", "v2"))
    push_image(repo, "linux/arm/v7", tag="arm")
    create_index(
        CreateRequest.build(
            [repo_ref.with_tag("x")], [repo_ref.with_tag("v2"), repo_ref.with_tag("arm")]
        ),
        ctx,
    )
    report = verify(VerifyRequest.build(repo_ref.with_tag("x")), ctx)
    warnings = [c.message for c in report.warnings]
    assert any("plain linux/amd64 host gets nothing" in w for w in warnings), warnings
    assert any("linux/arm64 host would pull linux/arm/v7" in w for w in warnings), warnings


def test_bad_input(registry: Any, tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{")
    target = f"{registry.host}/none/app:v1"
    for args, fragment in [
        (("--expect", "linux/amd64"), "PLATFORM=VALUE"),
        (("--expect", "linux/amd64=sha256:abc"), "sha256"),
        (("--records", str(tmp_path / "nope.json")), "does not exist"),
        (("--records", str(bad_json)), "not valid JSON"),
        (("--expect-output", "linux/amd64=x"), "--run"),
        (("--run=true", "--expect-output", "linux/amd64=("), "regular expression"),
    ]:
        assert_one_line_error(run_cli("verify", target, *args), 2, fragment)
    assert_one_line_error(run_cli("verify", target), 1, "not found")
