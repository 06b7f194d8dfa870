"""Issue 21 against a real registry: tag families from a version, metadata-action's output,
the platform-drop guard, ``--metadata-file``.

Variants are pushed with support.images (what a build would have pushed) and described
by records, so no engine is needed; everything after that is the real CLI against the real
registry. The engine side (building with secrets and caches, two engines, the GitHub
workflow run locally) is in tests/e2e.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Index, Reference
from support.cli import Result, assert_one_line_error, run_cli
from support.images import push_image
from support.registry import RegistryServer

pytestmark = pytest.mark.integration

SEMVER_FAMILY = """\
tags:
  - type=semver,pattern={{version}}
  - type=semver,pattern={{major}}.{{minor}}
  - type=semver,pattern={{major}}
"""
SHA = "860c1904a1ce19322e91ac35af1ab07466440c37"
#: Keeps the CLI from appending to a real CI job's files, and from reading its ref.
CLEAN_ENV = {
    "GITHUB_OUTPUT": "",
    "GITHUB_STEP_SUMMARY": "",
    "GITHUB_REF": "",
    "GITHUB_SHA": "",
    "GITHUB_EVENT_NAME": "",
    "GITHUB_EVENT_PATH": "",
}


def _repo(registry: RegistryServer) -> Reference:
    return Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/metrics-api")


def _release(
    ctx: Context, tmp_path: Path, repo: Reference, platforms: tuple[str, ...], tags: str
) -> tuple[Path, Path]:
    """A spec with ``tags`` (YAML) for ``platforms``, their images pushed, one record each."""
    records = tmp_path / "records"
    records.mkdir(parents=True, exist_ok=True)
    variants = ""
    for platform in platforms:
        name = "app-" + platform.replace("/", "-")
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
        variants += f"  - {{platform: {platform}, context: {name}}}\n"
        pushed = push_image(ctx.repository(repo), platform, tag=f"build-{name}")
        record = {
            "schema": "polyarch.record/v1",
            "platform": platform,
            "repository": str(repo),
            "digest": str(pushed.digest),
        }
        (records / f"{name}.json").write_text(json.dumps(record))
    spec = tmp_path / "polyarch.yaml"
    spec.write_text(f"image: {repo}\n{tags}variants:\n{variants}")
    return spec, records


def _publish(spec: Path, records: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return run_cli(
        "publish",
        "--spec",
        str(spec),
        "--records",
        str(records),
        "--no-verify",
        *args,
        env={**CLEAN_ENV, **(env or {})},
    )


def _digest(ctx: Context, ref: Reference) -> str | None:
    found = ctx.repository(ref).head_manifest(ref.tag or "latest")
    return None if found is None else str(found.digest)


def _platforms(ctx: Context, ref: Reference) -> list[str]:
    index = ctx.repository(ref).get_manifest(ref.tag or "latest")
    assert isinstance(index, Index)
    return sorted(str(d.platform) for d in index.images)


def test_publish_the_tag_family_of_a_version(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    """``--version v3.14.1`` with semver rules: 3.14.1, 3.14, 3 and latest, one index."""
    repo = _repo(registry)
    spec, records = _release(ctx, tmp_path, repo, ("linux/amd64", "linux/arm64"), SEMVER_FAMILY)
    dry = _publish(spec, records, "--version", "v3.14.1", "--dry-run", "--json")
    assert dry.code == 0, dry.err
    assert [t.rsplit(":", 1)[1] for t in dry.json()["tags"]] == ["3.14.1", "3.14", "3", "latest"]
    assert _digest(ctx, repo.with_tag("3.14.1")) is None, "--dry-run writes nothing"
    result = _publish(spec, records, "--version", "v3.14.1")
    assert result.code == 0, result.err
    digests = {_digest(ctx, repo.with_tag(t)) for t in ("3.14.1", "3.14", "3", "latest")}
    assert len(digests) == 1 and None not in digests
    index = ctx.repository(repo).get_manifest("3.14.1")
    assert isinstance(index, Index)
    assert index.annotations["org.opencontainers.image.version"] == "3.14.1"


def test_a_prerelease_gets_its_version_only_and_latest_stays(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry)
    spec, records = _release(ctx, tmp_path, repo, ("linux/amd64",), SEMVER_FAMILY)
    assert _publish(spec, records, "--version", "v3.14.1").code == 0
    latest = _digest(ctx, repo.with_tag("latest"))
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"default_branch": "main"}}))
    github = {
        "GITHUB_REF": "refs/tags/v3.15.0-rc.1",
        "GITHUB_SHA": SHA,
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
    }
    result = _publish(spec, records, "--json", env=github)
    assert result.code == 0, result.err
    assert [t.rsplit(":", 1)[1] for t in result.json()["tags"]] == ["3.15.0-rc.1"]
    assert _digest(ctx, repo.with_tag("latest")) == latest
    index = ctx.repository(repo).get_manifest("3.15.0-rc.1")
    assert isinstance(index, Index)
    assert index.annotations["org.opencontainers.image.revision"] == SHA


def test_latest_stays_on_the_highest_release(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    """A patch of an older line (3.13.9 after 3.14.1) takes neither latest nor 3
    (metadata-action#80, #326): no floating tag moves backwards."""
    repo = _repo(registry)
    spec, records = _release(ctx, tmp_path, repo, ("linux/amd64",), SEMVER_FAMILY)
    assert _publish(spec, records, "--version", "v3.14.1").code == 0
    latest = _digest(ctx, repo.with_tag("latest"))
    result = _publish(spec, records, "--version", "v3.13.9", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert [t.rsplit(":", 1)[1] for t in data["tags"]] == ["3.13.9", "3.13"]
    assert data["held"] == [
        {"tag": "3", "higher": "3.14.1"},
        {"tag": "latest", "higher": "3.14.1"},
    ]
    assert "note: 3 stays on 3.14.1, a higher release" in result.err
    assert _digest(ctx, repo.with_tag("latest")) == latest
    assert _digest(ctx, repo.with_tag("3")) == latest


def test_publish_reads_metadata_action_output(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    """A workflow that runs docker/metadata-action passes its JSON; nothing else changes."""
    repo = _repo(registry)
    spec, records = _release(ctx, tmp_path, repo, ("linux/amd64", "linux/arm64"), "")
    meta = {
        "tags": [f"{repo}:2.0.1", f"{repo}:2.0", f"{repo}:latest"],
        "tag-names": ["2.0.1", "2.0", "latest"],
        "labels": {"org.opencontainers.image.version": "2.0.1"},
        "annotations": [
            "manifest:org.opencontainers.image.version=2.0.1",
            "index:org.opencontainers.image.version=2.0.1",
            "index:org.opencontainers.image.source=https://github.com/seeds/metrics-api",
        ],
    }
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(meta))
    result = _publish(spec, records, "--metadata", str(path))
    assert result.code == 0, result.err
    index = ctx.repository(repo).get_manifest("2.0")
    assert isinstance(index, Index)
    assert index.annotations["org.opencontainers.image.source"] == (
        "https://github.com/seeds/metrics-api"
    )
    assert _digest(ctx, repo.with_tag("latest")) == _digest(ctx, repo.with_tag("2.0.1"))


def _create(*args: str) -> Result:
    return run_cli("create", *args, env=CLEAN_ENV)


def test_create_refuses_to_drop_a_platform(ctx: Context, registry: RegistryServer) -> None:
    """microsoft/go#2313: a partial publish must not take linux/amd64 away from a tag."""
    repo = _repo(registry)
    amd64 = push_image(ctx.repository(repo), "linux/amd64", tag="amd64")
    arm64 = push_image(ctx.repository(repo), "linux/arm64", tag="arm64")
    other = Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/mirror")
    both = (f"{repo}@{amd64.digest}", f"{repo}@{arm64.digest}")
    assert _create("-t", f"{repo}:3", *both).code == 0
    before = _digest(ctx, repo.with_tag("3"))

    dry = _create("-t", f"{repo}:3", "--dry-run", f"{repo}@{arm64.digest}")
    assert_one_line_error(dry, 1, f"{repo}:3", "would no longer serve linux/amd64")
    refused = _create("-t", f"{other}:3", "-t", f"{repo}:3", f"{repo}@{arm64.digest}")
    assert_one_line_error(refused, 1, "refusing to move", "linux/amd64", "--allow-platform-drop")
    assert _digest(ctx, repo.with_tag("3")) == before
    assert _digest(ctx, other.with_tag("3")) is None, "nothing written to any target"

    appended = _create("-t", f"{repo}:3", "--append", f"{repo}@{arm64.digest}")
    assert appended.code == 0, appended.err
    assert _platforms(ctx, repo.with_tag("3")) == ["linux/amd64", "linux/arm64"]

    allowed = _create("-t", f"{repo}:3", "--allow-platform-drop", f"{repo}@{arm64.digest}")
    assert allowed.code == 0, allowed.err
    assert _platforms(ctx, repo.with_tag("3")) == ["linux/arm64"]


def test_publish_refuses_to_drop_a_platform(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    """A variant removed from the spec: publish refuses to take its platform off the tags."""
    repo = _repo(registry)
    spec, records = _release(ctx, tmp_path / "a", repo, ("linux/amd64", "linux/arm64"), "")
    assert _publish(spec, records).code == 0
    narrow, narrow_records = _release(ctx, tmp_path / "b", repo, ("linux/arm64",), "")
    refused = _publish(narrow, narrow_records)
    assert_one_line_error(refused, 1, f"{repo}:latest", "would no longer serve linux/amd64")
    assert _platforms(ctx, repo.with_tag("latest")) == ["linux/amd64", "linux/arm64"]
    assert _publish(narrow, narrow_records, "--allow-platform-drop").code == 0


def test_create_writes_the_imagetools_metadata_file(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry)
    amd64 = push_image(ctx.repository(repo), "linux/amd64", tag="amd64")
    path = tmp_path / "metadata.json"
    result = _create(
        "-t", f"{repo}:1", "-t", f"{repo}:latest", "--metadata-file", str(path),
        f"{repo}@{amd64.digest}",
    )  # fmt: skip
    assert result.code == 0, result.err
    written: dict[str, Any] = json.loads(path.read_text())
    digest = _digest(ctx, repo.with_tag("1"))
    assert written["containerimage.descriptor"]["digest"] == digest
    assert written["containerimage.digest"] == digest
    assert written["image.name"] == repo.name


def test_publish_dry_run_shows_a_drop_and_exits_1(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    """The lead's rule: --dry-run exits 1 where the real run would be refused; with
    --allow-platform-drop it lists the tags, and still writes nothing."""
    repo = _repo(registry)
    spec, records = _release(ctx, tmp_path / "a", repo, ("linux/amd64", "linux/arm64"), "")
    assert _publish(spec, records).code == 0
    before = _digest(ctx, repo.with_tag("latest"))
    narrow, narrow_records = _release(ctx, tmp_path / "b", repo, ("linux/arm64",), "")
    dry = _publish(narrow, narrow_records, "--dry-run")
    assert_one_line_error(dry, 1, f"{repo}:latest", "would no longer serve linux/amd64")
    shown = _publish(narrow, narrow_records, "--dry-run", "--allow-platform-drop")
    assert shown.code == 0, shown.err
    assert "dry run: would publish" in shown.out and f"  {repo}:latest" in shown.out
    assert "linux/amd64: removed" in shown.out
    assert _digest(ctx, repo.with_tag("latest")) == before


def test_publish_tag_overrides_and_writes_the_metadata_file(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry)
    spec, records = _release(ctx, tmp_path, repo, ("linux/amd64",), SEMVER_FAMILY)
    output = tmp_path / "github_output"
    output.write_text("")
    path = tmp_path / "metadata.json"
    result = _publish(
        spec, records, "--tag", "nightly", "--tag", "edge", "--metadata-file", str(path),
        env={"GITHUB_OUTPUT": str(output)},
    )  # fmt: skip
    assert result.code == 0, result.err
    digest = _digest(ctx, repo.with_tag("nightly"))
    assert digest is not None and _digest(ctx, repo.with_tag("edge")) == digest
    written = json.loads(path.read_text())
    assert written["containerimage.descriptor"]["digest"] == digest
    assert written["image.name"] == repo.name
    assert output.read_text().splitlines() == [
        f"digest={digest}",
        f"tags={repo}:nightly,{repo}:edge",
        "version=nightly",
    ]
    bad = _publish(spec, records, "--tag", "-x")
    assert_one_line_error(bad, 2, "tag '-x' is not a valid tag", "--tag")


def test_rules_without_a_version_say_so(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry)
    spec, records = _release(ctx, tmp_path, repo, ("linux/amd64",), SEMVER_FAMILY)
    result = _publish(spec, records)  # no --version, no GitHub, no git
    assert_one_line_error(result, 2, "the tag rules make no tag for no ref", "--version")


def test_release_dry_run_names_the_tags_and_builds_nothing(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    """release checks the tags before building: a refusal builds and pushes nothing."""
    repo = _repo(registry)
    spec, records = _release(ctx, tmp_path, repo, ("linux/amd64", "linux/arm64"), SEMVER_FAMILY)
    assert _publish(spec, records, "--version", "v3.14.1").code == 0
    plan = run_cli(
        "release", "--spec", str(spec), "--version", "v3.14.2", "--dry-run", "--json",
        env={**CLEAN_ENV, "PATH": "/nonexistent"},  # no docker: nothing may be built
    )  # fmt: skip
    assert plan.code == 0, plan.err
    data = plan.json()
    assert data["schema"] == "polyarch.release-plan/v1"
    assert [t.rsplit(":", 1)[1] for t in data["tags"]] == ["3.14.2", "3.14", "3", "latest"]
    assert data["platforms"] == ["linux/amd64", "linux/arm64"]
    assert "org.opencontainers.image.version=3.14.2" in data["annotations"]
    refused = run_cli(
        "release", "--spec", str(spec), "--version", "v3.14.2", "--platform", "linux/arm64",
        env={**CLEAN_ENV, "PATH": "/nonexistent"},
    )  # fmt: skip
    assert refused.code == 1, refused.err
    note, error = refused.err.strip().splitlines()
    assert note.startswith("note: releasing 1 of 2 variants (linux/arm64)")
    # 3.14.2 is a new tag; 3.14 serves both platforms now.
    assert error.startswith(f"error: refusing to move {repo}:3.14: it would no longer serve ")
    assert "linux/amd64" in error and "--allow-platform-drop" in error


def test_create_version_publishes_the_family_with_annotations(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    """create --version: a target without a tag gets the version's family (imagetools with
    metadata-action in one command); a target with a tag keeps it."""
    repo = _repo(registry)
    amd64 = push_image(ctx.repository(repo), "linux/amd64", tag="amd64")
    result = run_cli(
        "create", "--version", "v2.1.0", "-t", str(repo), "--tag", f"{repo}:stable",
        f"{repo}@{amd64.digest}", "--json",
        env={**CLEAN_ENV, "SOURCE_DATE_EPOCH": "1700000000"},
    )  # fmt: skip
    assert result.code == 0, result.err
    tags = [t["reference"].rsplit(":", 1)[1] for t in result.json()["targets"]]
    assert tags == ["2.1.0", "2.1", "2", "latest", "stable"]
    index = ctx.repository(repo).get_manifest("2.1")
    assert isinstance(index, Index)
    # SOURCE_DATE_EPOCH names the instant; the revision is git's where create runs.
    assert index.annotations["org.opencontainers.image.created"] == "2023-11-14T22:13:20.000Z"
    assert index.annotations["org.opencontainers.image.version"] == "2.1.0"
    older = push_image(ctx.repository(repo), "linux/amd64", tag="older")
    patch = run_cli(
        "create", "--version", "v2.0.9", "-t", str(repo), f"{repo}@{older.digest}", "--json",
        env=CLEAN_ENV,
    )  # fmt: skip
    assert patch.code == 0, patch.err
    assert [t["reference"].rsplit(":", 1)[1] for t in patch.json()["targets"]] == ["2.0.9", "2.0"]


def test_create_reads_metadata_action_output(
    ctx: Context, registry: RegistryServer, tmp_path: Path
) -> None:
    repo = _repo(registry)
    amd64 = push_image(ctx.repository(repo), "linux/amd64", tag="amd64")
    meta = tmp_path / "meta.json"
    meta.write_text(
        json.dumps(
            {
                "tags": [f"{repo}:1.2.3", f"{repo}:1.2"],
                "annotations": ["index:org.opencontainers.image.version=1.2.3"],
            }
        )
    )
    result = run_cli(
        "create", "--metadata", "env:", f"{repo}@{amd64.digest}",
        env={**CLEAN_ENV, "DOCKER_METADATA_OUTPUT_JSON": meta.read_text()},
    )  # fmt: skip
    assert result.code == 0, result.err
    index = ctx.repository(repo).get_manifest("1.2")
    assert isinstance(index, Index)
    assert index.annotations == {"org.opencontainers.image.version": "1.2.3"}
    assert _digest(ctx, repo.with_tag("1.2.3")) == str(index.digest)
    missing = run_cli("create", f"{repo}@{amd64.digest}", env=CLEAN_ENV)
    assert_one_line_error(missing, 2, "Missing option '-t' / '--target'")
