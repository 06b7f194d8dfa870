"""``create --append`` keeps what it does not change (issue 10, kind 1) and reads buildx syntax
(kind 4); its output says what changed per platform (issue 11). Real registry throughout."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from polyarch import Context, CreateRequest, Index, Platform, Reference, create_index, resolve
from polyarch.domain import mediatype as mt
from support.cli import assert_one_line_error, run_cli
from support.images import push_image
from support.index_shapes import ZSTD_MARK, entry, push_pair, push_raw_index, windows
from support.shapes import push_platformless_index

pytestmark = pytest.mark.integration

#: polyarch.operations.create.parts.PART_TAG_PREFIX (literal: these tests also run on old code)
PART_TAG_PREFIX = "polyarch-part-"

DESCRIPTION = "org.opencontainers.image.description"
SOURCE = "org.opencontainers.image.source"


def _repo(registry: Any, name: str = "app") -> Reference:
    return Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/{name}")


def _index_at(ctx: Context, ref: Reference) -> Index:
    manifest = ctx.repository(ref).get_manifest(ref.identifier)
    assert isinstance(manifest, Index), manifest
    return manifest


def _create(*args: str) -> Any:
    cli = run_cli("create", "--json", *args)
    assert cli.code == 0, cli.err
    return cli.json()


def _three_images(ctx: Context, repo_ref: Reference) -> None:
    repo = ctx.repository(repo_ref)
    for platform, tag in (
        ("linux/amd64", "amd64"),
        ("linux/arm64", "arm64"),
        ("linux/s390x", "s390x"),
    ):
        push_image(repo, platform, tag=tag)


def test_append_keeps_and_merges_index_annotations(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry, "an")
    _three_images(ctx, repo_ref)
    target = str(repo_ref.with_tag("v1"))
    _create(
        "-t", target,
        "--annotation", f"{DESCRIPTION}=metrics API",
        "--annotation", f"{SOURCE}=https://example.com/old",
        str(repo_ref.with_tag("amd64")), str(repo_ref.with_tag("arm64")),
    )  # fmt: skip
    out = _create(
        "--append", "-t", target,
        "--annotation", f"{SOURCE}=https://example.com/new",
        str(repo_ref.with_tag("s390x")),
    )  # fmt: skip
    index = _index_at(ctx, repo_ref.with_tag("v1"))
    assert len(index.images) == 3
    assert dict(index.annotations) == {
        DESCRIPTION: "metrics API",
        SOURCE: "https://example.com/new",
    }
    assert out["targets"][0]["status"] == "updated"


def test_append_keeps_unknown_fields_subject_artifact_type_and_entry_annotations(
    ctx: Context, registry: Any
) -> None:
    repo_ref = _repo(registry, "fields")
    repo = ctx.repository(repo_ref)
    amd64 = push_image(repo, "linux/amd64", tag="amd64")
    push_image(repo, "linux/arm64", tag="arm64")
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "artifactType": "application/vnd.example.bundle",
        "manifests": [
            entry(amd64, annotations={"com.example.tier": "gold"}, **{"x-example": [1, 2]}),
        ],
        "subject": amd64.manifest.descriptor().to_json(),
        "annotations": {DESCRIPTION: "kept"},
        "x-vendor-field": {"nested": True},
    }
    push_raw_index(repo, doc, "v1")
    _create("--append", "-t", str(repo_ref.with_tag("v1")), str(repo_ref.with_tag("arm64")))
    after = json.loads(_index_at(ctx, repo_ref.with_tag("v1")).raw)
    assert after["artifactType"] == doc["artifactType"]
    assert after["subject"] == doc["subject"]
    assert after["x-vendor-field"] == {"nested": True}
    assert after["annotations"] == {DESCRIPTION: "kept"}
    first = after["manifests"][0]
    assert first["annotations"] == {"com.example.tier": "gold"}
    assert first["x-example"] == [1, 2]
    assert len(after["manifests"]) == 2


def test_append_of_an_image_already_there_is_unchanged(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry, "an")
    _three_images(ctx, repo_ref)
    target = str(repo_ref.with_tag("v1"))
    first = _create(
        "-t", target, "--annotation", f"{DESCRIPTION}=x",
        str(repo_ref.with_tag("amd64")), str(repo_ref.with_tag("arm64")),
    )  # fmt: skip
    again = _create("--append", "-t", target, str(repo_ref.with_tag("arm64")))
    assert again["digest"] == first["digest"]
    assert again["targets"][0]["status"] == "unchanged"
    assert {c["change"] for c in again["targets"][0]["changes"]} == {"unchanged"}
    assert _index_at(ctx, repo_ref.with_tag("v1")).digest == first["digest"]


def _dual(ctx: Context, repo_ref: Reference) -> Index:
    repo = ctx.repository(repo_ref)
    amd64, amd64_zstd = push_pair(repo, "linux/amd64")
    arm64, arm64_zstd = push_pair(repo, "linux/arm64")
    push_image(repo, "linux/s390x", tag="s390x")
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            entry(amd64),
            entry(amd64_zstd, zstd=True),
            entry(arm64),
            entry(arm64_zstd, zstd=True),
        ],
    }
    return push_raw_index(repo, doc, "v1")


def test_append_keeps_the_order_of_zstd_twins(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry, "dual")
    before = _dual(ctx, repo_ref)
    target = repo_ref.with_tag("v1")
    picks = {p: resolve(target, ctx, platform=p).digest for p in ("linux/amd64", "linux/arm64")}
    assert picks == {
        "linux/amd64": before.manifests[0].digest,
        "linux/arm64": before.manifests[2].digest,
    }
    _create("--append", "-t", str(target), str(repo_ref.with_tag("s390x")))
    after = _index_at(ctx, target)
    assert [d.digest for d in after.manifests[:4]] == [d.digest for d in before.manifests]
    assert [d.annotations.get(ZSTD_MARK) for d in after.manifests] == [
        None,
        "true",
        None,
        "true",
        None,
    ]
    assert str(after.manifests[4].platform) == "linux/s390x"
    for platform, digest in picks.items():
        assert resolve(target, ctx, platform=platform).digest == digest


def test_append_refuses_an_index_whose_picks_depend_on_order(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry, "dup")
    repo = ctx.repository(repo_ref)
    one = push_image(repo, "linux/amd64", payload=b"one")
    two = push_image(repo, "linux/amd64", payload=b"two")
    push_image(repo, "linux/s390x", tag="s390x")
    before = push_raw_index(
        repo,
        {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [entry(one), entry(two)]},
        "v1",
    )
    cli = run_cli(
        "create", "--append", "-t", str(repo_ref.with_tag("v1")), str(repo_ref.with_tag("s390x"))
    )
    assert_one_line_error(cli, 2, "holds 2 images for linux/amd64", "depends on their order")
    assert _index_at(ctx, repo_ref.with_tag("v1")).digest == before.digest
    assert not [t for t in repo.list_tags() if t.startswith(PART_TAG_PREFIX)]


def test_third_windows_release_is_added_not_replaced(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry, "win")
    repo = ctx.repository(repo_ref)
    for version, tag in (
        ("10.0.17763.1", "ltsc2019"),
        ("10.0.20348.1", "ltsc2022"),
        ("10.0.26100.1", "ltsc2025"),
    ):
        push_image(repo, windows(version), tag=tag)
    target = str(repo_ref.with_tag("v1"))
    _create("-t", target, str(repo_ref.with_tag("ltsc2019")), str(repo_ref.with_tag("ltsc2022")))
    out = _create("--append", "-t", target, str(repo_ref.with_tag("ltsc2025")))
    changes = {(c.get("osVersion"), c["change"]) for c in out["targets"][0]["changes"]}
    assert changes == {
        ("10.0.17763.1", "unchanged"),
        ("10.0.20348.1", "unchanged"),
        ("10.0.26100.1", "added"),
    }
    assert [e.get("osVersion") for e in out["entries"]] == [
        "10.0.17763.1",
        "10.0.20348.1",
        "10.0.26100.1",
    ]
    assert all(e["platform"] == "windows/amd64" for e in out["entries"])
    assert len(_index_at(ctx, repo_ref.with_tag("v1")).images) == 3


def test_buildx_annotation_prefixes(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry, "bx")
    _three_images(ctx, repo_ref)
    target = repo_ref.with_tag("v1")
    _create(
        "-t", str(target),
        "--annotation", f"index:{DESCRIPTION}=from buildx",
        "--annotation", "manifest-descriptor:com.example.all=yes",
        "--annotation", "manifest-descriptor[linux/arm64]:com.example.tier=edge",
        str(repo_ref.with_tag("amd64")), str(repo_ref.with_tag("arm64")),
    )  # fmt: skip
    index = _index_at(ctx, target)
    assert dict(index.annotations) == {DESCRIPTION: "from buildx"}
    by_platform = {str(d.platform): dict(d.annotations) for d in index.images}
    assert by_platform == {
        "linux/amd64": {"com.example.all": "yes"},
        "linux/arm64": {"com.example.all": "yes", "com.example.tier": "edge"},
    }
    for bad, fragment in (
        (f"manifest:{DESCRIPTION}=x", "manifest: annotations belong in each image manifest"),
        (f"index-descriptor:{DESCRIPTION}=x", "index-descriptor: annotations"),
        (f"index[linux/amd64]:{DESCRIPTION}=x", "takes no [platform] filter"),
    ):
        cli = run_cli(
            "create",
            "-t",
            str(repo_ref.with_tag("bad")),
            "--annotation",
            bad,
            str(repo_ref.with_tag("amd64")),
        )
        assert_one_line_error(cli, 2, fragment)
    with pytest.raises(Exception):  # noqa: B017 - the tag must not exist
        ctx.repository(repo_ref).get_manifest("bad")


def test_append_prints_per_platform_changes(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry, "out")
    _three_images(ctx, repo_ref)
    target = str(repo_ref.with_tag("v1"))
    _create("-t", target, str(repo_ref.with_tag("amd64")))
    cli = run_cli("create", "--append", "-t", target, str(repo_ref.with_tag("arm64")))
    assert cli.code == 0, cli.err
    lines = [line.strip() for line in cli.out.splitlines()]
    assert any(line.startswith("linux/amd64: unchanged") for line in lines), cli.out
    assert any(line.startswith("linux/arm64: added - ->") for line in lines), cli.out
    arm64 = next(line for line in lines if line.startswith("linux/arm64 "))
    assert str(repo_ref.with_tag("arm64")) in arm64  # named by its SOURCE, not "existing"


def test_dry_run_json_is_pretty(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry, "dry")
    _three_images(ctx, repo_ref)
    cli = run_cli(
        "create",
        "--dry-run",
        "--json",
        "-t",
        str(repo_ref.with_tag("v1")),
        str(repo_ref.with_tag("amd64")),
    )
    assert cli.code == 0, cli.err
    assert cli.out.startswith("{\n  ")
    assert json.loads(cli.out)["dryRun"] is True
    human = run_cli(
        "create", "--dry-run", "-t", str(repo_ref.with_tag("v1")), str(repo_ref.with_tag("amd64"))
    )
    assert human.code == 0, human.err
    assert human.out.startswith("{\n  "), human.out


def test_parts_are_cleaned_after_an_append(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry, "clean")
    _three_images(ctx, repo_ref)
    target = repo_ref.with_tag("v1")
    for tag in ("amd64", "arm64", "s390x"):
        create_index(CreateRequest.build([target], [repo_ref.with_tag(tag)], append=True), ctx)
    tags = ctx.repository(repo_ref).list_tags()
    assert sorted(tags) == ["amd64", "arm64", "s390x", "v1"]
    assert {str(d.platform) for d in _index_at(ctx, target).images} == {
        str(Platform.parse(p)) for p in ("linux/amd64", "linux/arm64", "linux/s390x")
    }


def test_append_to_an_oci_layout_keeps_annotations_and_leaves_no_part(
    ctx: Context, registry: Any, tmp_path: Any
) -> None:
    repo_ref = _repo(registry, "lay")
    _three_images(ctx, repo_ref)
    layout = f"oci:{tmp_path / 'layout'}"
    _create(
        "-t", f"{layout}:v1", "--annotation", f"{DESCRIPTION}=kept",
        str(repo_ref.with_tag("amd64")),
    )  # fmt: skip
    out = _create("--append", "-t", f"{layout}:v1", str(repo_ref.with_tag("arm64")))
    assert out["targets"][0]["status"] == "updated"
    index_json = json.loads((tmp_path / "layout" / "index.json").read_text())
    names = [
        m.get("annotations", {}).get("org.opencontainers.image.ref.name")
        for m in index_json["manifests"]
    ]
    assert names == ["v1"], names
    cli = run_cli("inspect", "--raw", f"{layout}:v1")
    assert cli.code == 0, cli.err
    top = json.loads(cli.out)
    assert top["annotations"] == {DESCRIPTION: "kept"}
    assert [m["platform"]["architecture"] for m in top["manifests"]] == ["amd64", "arm64"]


def test_create_from_an_index_with_zstd_twins_keeps_the_pair(ctx: Context, registry: Any) -> None:
    """The duplicate rule is the same for sources as for an existing index."""
    repo_ref = _repo(registry, "dual")
    source = _dual(ctx, repo_ref)
    copy = repo_ref.with_tag("copy")
    out = _create("-t", str(copy), str(repo_ref.with_tag("v1")))
    assert out["targets"][0]["status"] == "created"
    index = _index_at(ctx, copy)
    assert [d.digest for d in index.manifests] == [d.digest for d in source.manifests]
    assert [d.annotations.get(ZSTD_MARK) for d in index.manifests] == [None, "true", None, "true"]
    assert resolve(copy, ctx, platform="linux/amd64").digest == source.manifests[0].digest


def test_append_to_an_index_whose_entries_have_no_platform(ctx: Context, registry: Any) -> None:
    """Entries without ``platform`` (optional in the OCI spec) are matched by their config.

    Appending s390x keeps both entries exactly as written (no platform added to them);
    appending an amd64 rebuild replaces the amd64 entry in place; appending the arm64 image
    already there changes nothing.
    """
    repo_ref = _repo(registry, "np")
    repo = ctx.repository(repo_ref)
    before, (amd, arm) = push_platformless_index(repo, ["linux/amd64", "linux/arm64"], tag="v1")
    push_image(repo, "linux/s390x", tag="s390x")
    target = str(repo_ref.with_tag("v1"))
    added = _create("--append", "-t", target, str(repo_ref.with_tag("s390x")))
    assert [c["change"] for c in added["targets"][0]["changes"]].count("added") == 1
    after = _index_at(ctx, repo_ref.with_tag("v1"))
    raw = json.loads(after.raw)["manifests"]
    assert raw[:2] == json.loads(before.raw)["manifests"]  # kept as written, in order
    assert raw[2]["platform"] == {"architecture": "s390x", "os": "linux"}

    same = _create("--append", "-t", target, f"{repo_ref}@{arm.manifest.digest}")
    assert same["targets"][0]["status"] == "unchanged"
    assert _index_at(ctx, repo_ref.with_tag("v1")).digest == after.digest

    rebuilt = push_image(repo, "linux/amd64", tag="amd64-2", payload=b"rebuilt")
    replaced = _create("--append", "-t", target, str(repo_ref.with_tag("amd64-2")))
    changes = {c["platform"]: c["change"] for c in replaced["targets"][0]["changes"]}
    assert changes["linux/amd64"] == "replaced"
    final = _index_at(ctx, repo_ref.with_tag("v1"))
    digests = [str(d.digest) for d in final.manifests]
    assert digests == [str(rebuilt.manifest.digest), str(arm.manifest.digest), raw[2]["digest"]]
    assert str(amd.manifest.digest) not in digests
    host = resolve(str(repo_ref.with_tag("v1")), ctx, platform="linux/amd64")
    assert host.digest == rebuilt.manifest.digest
