"""create: assemble and publish multi-platform indexes against real registries."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import uuid
from typing import Any

import pytest

from polyarch import (
    Context,
    CreateRequest,
    Index,
    Platform,
    Reference,
    create_index,
    resolve,
)
from polyarch.domain import mediatype as mt
from support.cli import assert_one_line_error, run_cli
from support.images import push_attestation, push_image, push_index, push_wrapper
from support.schema import assert_valid

pytestmark = pytest.mark.integration


def _repo(registry: Any, name: str = "app") -> Reference:
    return Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/{name}")


def _index_at(ctx: Context, ref: Reference) -> Index:
    manifest = ctx.repository(ref).get_manifest(ref.identifier)
    assert isinstance(manifest, Index), manifest
    return manifest


def _platforms(index: Index) -> dict[str, str]:
    return {str(d.platform): d.digest for d in index.images}


def test_seed_scenario_docker_image_plus_buildkit_wrapper(ctx: Context, registry: Any) -> None:
    """amd64 as a plain Docker schema2 image, arm64 as a Docker 29 wrapper with provenance."""
    repo_ref = _repo(registry, "metrics-api")
    repo = ctx.repository(repo_ref)
    amd64 = push_image(repo, "linux/amd64", tag="v2.0.0-amd64", docker=True)
    arm64 = push_wrapper(repo, "linux/arm64", tag="v2.0.0-arm64")
    # What each build job recorded: the inner platform manifest digest.
    recorded = {
        "linux/amd64": resolve(repo_ref.with_tag("v2.0.0-amd64"), ctx).digest,
        "linux/arm64": resolve(repo_ref.with_tag("v2.0.0-arm64"), ctx).digest,
    }
    assert recorded == {"linux/amd64": amd64.digest, "linux/arm64": arm64.image.digest}

    target = repo_ref.with_tag("v2.0.0")
    cli = run_cli(
        "create",
        "-t",
        str(target),
        "--json",
        str(repo_ref.with_tag("v2.0.0-amd64")),
        str(repo_ref.with_tag("v2.0.0-arm64")),
    )
    assert cli.code == 0, cli.err
    out = cli.json()
    assert out["schema"] == "polyarch.create/v1"
    assert out["targets"][0]["status"] == "created"
    assert out["targets"][0]["previous"] is None

    index = _index_at(ctx, target)
    assert index.digest == out["digest"]
    assert index.media_type == mt.OCI_INDEX
    assert_valid(index.raw, mt.OCI_INDEX)
    assert _platforms(index) == recorded
    # The attestation travelled with the arm64 image and points at it.
    [att] = index.attestations
    assert att.digest == arm64.attestation.digest
    assert att.attestation_subject == arm64.image.digest
    assert att.platform == Platform("unknown", "unknown")
    assert [d.digest for d in index.manifests] == [amd64.digest, arm64.image.digest, att.digest]
    # Hosts pull what was built for them.
    assert resolve(target, ctx, platform="linux/amd64").digest == amd64.digest
    assert resolve(target, ctx, platform="linux/arm64/v8").digest == arm64.image.digest

    again = run_cli(
        "create",
        "-t",
        str(target),
        str(repo_ref.with_tag("v2.0.0-arm64")),
        str(repo_ref.with_tag("v2.0.0-amd64")),
    )
    assert again.code == 0, again.err
    assert again.out.startswith(f"unchanged: {index.digest}")
    quiet = run_cli(
        "create",
        "-q",
        "-t",
        str(target),
        str(repo_ref.with_tag("v2.0.0-amd64")),
        str(repo_ref.with_tag("v2.0.0-arm64")),
    )
    assert quiet.out.strip() == index.digest


def test_peers_read_what_we_publish(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry)
    repo = ctx.repository(repo_ref)
    push_image(repo, "linux/amd64", tag="amd64")
    push_wrapper(repo, "linux/arm64", tag="arm64")
    target = repo_ref.with_tag("multi")
    result = create_index(
        CreateRequest.build([target], [repo_ref.with_tag("amd64"), repo_ref.with_tag("arm64")]), ctx
    )
    docker = shutil.which("docker")
    skopeo = shutil.which("skopeo")
    assert docker and skopeo, (
        "the docker CLI and skopeo are needed (scripts/setup.sh installs them)"
    )
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{target}"],
        capture_output=True,
        check=True,
    ).stdout
    assert raw == result.index.raw
    listed = subprocess.run(
        [docker, "manifest", "inspect", "--insecure", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert {(m["platform"]["os"], m["platform"]["architecture"]) for m in data["manifests"]} >= {
        ("linux", "amd64"),
        ("linux", "arm64"),
    }


def test_cross_repository_mounts_blobs(ctx: Context, registry: Any) -> None:
    src_a, src_b, dst = _repo(registry, "a"), _repo(registry, "b"), _repo(registry, "release")
    a = push_image(ctx.repository(src_a), "linux/amd64", tag="v1")
    b = push_wrapper(ctx.repository(src_b), "linux/arm64", tag="v1")
    target = dst.with_tag("v1")
    result = create_index(
        CreateRequest.build([target], [src_a.with_tag("v1"), src_b.with_tag("v1")]), ctx
    )
    stats = result.targets[0].transfer
    assert stats.blobs["mounted"] > 0 and stats.blobs["copied"] == 0
    assert stats.manifests_pushed == 3  # two images and the attestation
    dest = ctx.repository(dst)
    for image in (a.manifest, b.image.manifest, b.attestation):
        assert dest.head_manifest(image.digest) is not None
        for blob in image.blobs:
            assert dest.blob_size(blob.digest) == blob.size
    assert _platforms(_index_at(ctx, target)) == {
        "linux/amd64": a.digest,
        "linux/arm64": b.image.digest,
    }


def test_cross_registry_and_several_targets(ctx: Context, registry: Any, registry2: Any) -> None:
    src = _repo(registry, "src")
    repo = ctx.repository(src)
    push_index(repo, ["linux/amd64", "linux/arm64", "linux/s390x"], tag="all")
    targets = [
        _repo(registry, "one").with_tag("v1"),
        _repo(registry, "one").with_tag("latest"),
        _repo(registry2, "mirror").with_tag("v1"),
    ]
    targets.append(targets[2].with_tag("stable"))
    cli = run_cli(
        "create",
        "--json",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
        *itertools.chain.from_iterable(("-t", str(t)) for t in targets),
        str(src.with_tag("all")),
    )
    assert cli.code == 0, cli.err
    out = cli.json()
    digests = {str(t): _index_at(ctx, t).digest for t in targets}
    assert set(digests.values()) == {out["digest"]}
    assert sorted(_platforms(_index_at(ctx, targets[2]))) == ["linux/amd64", "linux/arm64"]
    by_ref = {t["reference"]: t for t in out["targets"]}
    assert by_ref[str(targets[2])]["transfer"]["blobs"]["copied"]["count"] > 0
    assert by_ref[str(targets[0])]["transfer"]["blobs"]["mounted"]["count"] > 0
    # Everything the index references is in the other registry too.
    mirror = ctx.repository(targets[2])
    for d in _index_at(ctx, targets[2]).manifests:
        child = mirror.get_manifest(d.digest)
        for blob in child.blobs:  # type: ignore[union-attr]
            assert mirror.blob_size(blob.digest) == blob.size


def test_deterministic_under_permutation(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry)
    repo = ctx.repository(repo_ref)
    sources = []
    for i, p in enumerate(["linux/arm/v7", "linux/amd64", "linux/arm64", "windows/amd64"]):
        if p.startswith("windows"):
            push_image(
                repo,
                p,
                tag=f"s{i}",
                config_platform=Platform("windows", "amd64", os_version="10.0.20348.2113"),
            )
        elif i == 2:
            push_wrapper(repo, p, tag=f"s{i}")
        else:
            push_image(repo, p, tag=f"s{i}")
        sources.append(str(repo_ref.with_tag(f"s{i}")))
    digests = set()
    raws = set()
    for n, order in enumerate(itertools.islice(itertools.permutations(sources), 0, None, 5)):
        request = CreateRequest.build([repo_ref.with_tag(f"p{n}")], list(order), dry_run=True)
        result = create_index(request, ctx)
        digests.add(result.digest)
        raws.add(result.index.raw)
    assert len(digests) == 1 and len(raws) == 1
    index = result.index
    assert [str(d.platform) for d in index.images] == [
        "linux/amd64",
        "linux/arm/v7",
        "linux/arm64",
        "windows/amd64",
    ]
    assert index.images[3].platform.os_version == "10.0.20348.2113"  # type: ignore[union-attr]
    # A dry run pushed nothing.
    assert ctx.repository(repo_ref).head_manifest("p0") is None


def test_append_replaces_a_platform_and_its_attestations(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry)
    repo = ctx.repository(repo_ref)
    amd = push_image(repo, "linux/amd64", tag="amd64-1")
    arm_old = push_wrapper(repo, "linux/arm64", tag="arm64-1", source="rev1")
    target = repo_ref.with_tag("v1")
    create_index(
        CreateRequest.build([target], [repo_ref.with_tag("amd64-1"), repo_ref.with_tag("arm64-1")]),
        ctx,
    )
    before = _index_at(ctx, target)

    arm_new = push_wrapper(repo, "linux/arm64/v8", tag="arm64-2", source="rev2")
    dry = run_cli(
        "create", "--append", "--dry-run", "-t", str(target), str(repo_ref.with_tag("arm64-2"))
    )
    assert dry.code == 0, dry.err
    assert "linux/arm64: replaced" in dry.out
    assert _index_at(ctx, target).digest == before.digest  # dry run moved nothing

    result = create_index(
        CreateRequest.build([target], [repo_ref.with_tag("arm64-2")], append=True), ctx
    )
    after = _index_at(ctx, target)
    assert after.digest == result.digest
    assert _platforms(after) == {"linux/amd64": amd.digest, "linux/arm64": arm_new.image.digest}
    assert [a.digest for a in after.attestations] == [arm_new.attestation.digest]
    assert arm_old.attestation.digest not in {d.digest for d in after.manifests}
    [change] = [c for c in result.targets[0].changes if c.change != "unchanged"]
    assert (change.platform, change.before, change.after) == (
        "linux/arm64",
        arm_old.image.digest,
        arm_new.image.digest,
    )

    # Appending to a tag that does not exist yet starts from nothing.
    fresh = repo_ref.with_tag("fresh")
    create_index(CreateRequest.build([fresh], [repo_ref.with_tag("amd64-1")], append=True), ctx)
    assert _platforms(_index_at(ctx, fresh)) == {"linux/amd64": amd.digest}


def test_attestations_drop_and_docker_format(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry)
    repo = ctx.repository(repo_ref)
    push_image(repo, "linux/amd64", tag="amd", docker=True)
    push_wrapper(repo, "linux/arm64", tag="arm")
    target = repo_ref.with_tag("v1")
    refused = run_cli(
        "create",
        "--format",
        "docker",
        "-t",
        str(target),
        str(repo_ref.with_tag("amd")),
        str(repo_ref.with_tag("arm")),
    )
    assert_one_line_error(refused, 2, "Docker format", "not a Docker manifest", "see --format")
    assert repo.head_manifest("v1") is None

    docker_arm = push_image(repo, "linux/arm64", tag="arm-docker", docker=True)
    ok = run_cli(
        "create",
        "--format",
        "docker",
        "-t",
        str(target),
        str(repo_ref.with_tag("amd")),
        str(repo_ref.with_tag("arm-docker")),
    )
    assert ok.code == 0, ok.err
    index = _index_at(ctx, target)
    assert index.media_type == mt.DOCKER_MANIFEST_LIST
    assert index.images[1].digest == docker_arm.digest

    dropped = create_index(
        CreateRequest.build(
            [repo_ref.with_tag("v2")],
            [repo_ref.with_tag("arm")],
            attestations="drop",
            annotations=["org.opencontainers.image.created=2026-11-22T00:00:00Z"],
        ),
        ctx,
    )
    assert dropped.index.attestations == ()
    assert dict(dropped.index.annotations) == {
        "org.opencontainers.image.created": "2026-11-22T00:00:00Z"
    }
    assert_valid(dropped.index.raw, mt.OCI_INDEX)


def test_platform_override_adds_what_the_config_cannot_say(ctx: Context, registry: Any) -> None:
    repo_ref = _repo(registry)
    repo = ctx.repository(repo_ref)
    push_image(repo, "linux/arm", tag="arm", config_platform=Platform("linux", "arm"))
    push_image(repo, "linux/amd64", tag="noplat", config_platform=False)
    result = create_index(
        CreateRequest.build(
            [repo_ref.with_tag("v1")],
            [
                f"{repo_ref.with_tag('arm')}=linux/arm/v6",
                f"{repo_ref.with_tag('noplat')}=linux/amd64",
            ],
        ),
        ctx,
    )
    assert [str(e.platform) for e in result.entries] == ["linux/amd64", "linux/arm/v6"]


def test_bad_input_changes_nothing(ctx: Context, registry: Any, basic_registry: Any) -> None:
    repo_ref = _repo(registry)
    repo = ctx.repository(repo_ref)
    amd = push_image(repo, "linux/amd64", tag="amd")
    push_image(repo, "linux/amd64", tag="amd-other", payload=b"other build")
    arm = push_wrapper(repo, "linux/arm64", tag="arm")
    push_image(
        repo,
        "linux/arm64",
        tag="arm-v8",
        config_platform=Platform("linux", "arm64", "v8"),
        payload=b"v8 build",
    )
    push_image(repo, "linux/amd64", tag="noplat", config_platform=False)
    art = push_attestation(repo, amd.manifest)
    target = repo_ref.with_tag("release")
    create_index(CreateRequest.build([target], [repo_ref.with_tag("amd")]), ctx)
    before = _index_at(ctx, target).digest
    t = str(target)
    amd_s, arm_s = str(repo_ref.with_tag("amd")), str(repo_ref.with_tag("arm"))

    cases = [
        (
            ("create", "-t", t, amd_s, str(repo_ref.with_tag("missing"))),
            1,
            ["missing", "not found"],
        ),
        (
            ("create", "-t", t, amd_s, f"{repo_ref}@{art.digest}"),
            2,
            ["attestation manifest, not an image"],
        ),
        (
            ("create", "-t", t, str(repo_ref.with_tag("noplat"))),
            2,
            ["names no platform", "=os/arch"],
        ),
        (("create", "-t", t, f"{amd_s}=linux/arm64"), 2, [amd_s, "linux/arm64", "linux/amd64"]),
        (
            ("create", "-t", t, amd_s, str(repo_ref.with_tag("amd-other"))),
            2,
            ["same platform", amd_s, str(repo_ref.with_tag("amd-other"))],
        ),
        (
            ("create", "-t", t, arm_s, str(repo_ref.with_tag("arm-v8"))),
            2,
            ["same platform", "linux/arm64"],
        ),
        (("create", "--format", "docker", "-t", t, arm_s), 2, ["Docker format", "see --format"]),
        (
            ("create", "--format", "docker", "--annotation", "a=b", "-t", t, amd_s),
            2,
            ["--annotation"],
        ),
        (("create", "--annotation", "novalue", "-t", t, amd_s), 2, ["novalue", "KEY=VALUE"]),
        (("create", "-t", f"{repo_ref}@{amd.digest}", amd_s), 2, ["digest", "needs a tag"]),
        (("create", "-t", t), 2, ["no source"]),
        (("create", amd_s), 2, ["-t"]),
        (("create", "-t", t, "Bad/Ref:"), 2, ["Bad/Ref:"]),
        (("create", "-t", t, f"{amd_s}=linux/"), 2, ["linux/"]),
        (("create", "--platform", "linux/s390x", "-t", t, amd_s), 2, ["linux/s390x"]),
        (("create", "-t", "127.0.0.1:9/nothing/here:v1", amd_s), 1, ["127.0.0.1:9"]),
        (("create", "-t", f"{basic_registry.host}/x/app:v1", amd_s), 1, [basic_registry.host]),
    ]
    for args, code, fragments in cases:
        result = run_cli(*args, env={"DOCKER_CONFIG": "/nonexistent"})
        assert_one_line_error(result, code, *fragments)
        assert _index_at(ctx, target).digest == before, args
    assert _index_at(ctx, repo_ref.with_tag("arm")).digest == arm.index.digest
