"""Variants from ``docker buildx bake --print``: what buildx 0.13.1 and 0.29.1 really print.

``bake_print/*.json`` are the stdout of Debian's buildx 0.13.1 (trixie) and 0.29.1 (sid)
run in ``tests/support/bake_project`` (no engine needed)::

    SSH_AUTH_SOCK=<a socket> docker buildx bake -f docker-bake.hcl --print \\
        api-amd64 api-arm64 inline shm chained
    docker buildx bake -f compose.yaml --print

tests/e2e/test_bake_print.py runs the installed buildx on the same files and checks that
it still prints what these fixtures hold (as far as polyarch reads it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from polyarch.domain.platform import Platform
from polyarch.engine.bake import bake_print_argv
from polyarch.pipeline.bake.definition import BakeError, parse_bake_print
from polyarch.pipeline.bake.variants import bake_variants
from polyarch.pipeline.specfile.inputs import CacheInput, SecretInput, SshInput

FIXTURES = Path(__file__).parent / "bake_print"
PROJECT = Path("/src/project")
VERSIONS = ("0.13.1", "0.29.1")


def _definition(kind: str, version: str):  # type: ignore[no-untyped-def]
    return parse_bake_print((FIXTURES / f"{kind}-buildx-{version}.json").read_text(), PROJECT)


@pytest.mark.parametrize("version", VERSIONS)
def test_hcl_targets_become_variants(version: str) -> None:
    definition = _definition("hcl", version)
    # Targets named on the command line become bake's "default" group.
    assert set(definition.default_targets()) == {
        "api-amd64",
        "api-arm64",
        "inline",
        "shm",
        "chained",
    }
    variants = bake_variants(definition, ["api-amd64", "api-arm64"])
    assert [str(v.platform) for v in variants] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    amd64, arm64, armv7 = variants
    assert amd64.context == PROJECT / "app-amd64"
    assert amd64.dockerfile == PROJECT / "app-amd64/Dockerfile"
    assert dict(amd64.build_args) == {"BUILD_DATE": "2024"}
    assert dict(amd64.labels) == {"org.opencontainers.image.vendor": "seeds"}
    inputs = amd64.inputs
    assert inputs.secrets == (
        SecretInput("npmrc", str(PROJECT / "npmrc")),
        SecretInput("token", env="GH_TOKEN"),
    )
    assert inputs.ssh == (SshInput("default"),)
    assert [c.to_buildx() for c in inputs.cache_from] == [f"type=local,src={PROJECT}/cache/amd64"]
    assert inputs.cache_to[0].type == "local"
    assert inputs.cache_to[0].get("dest") == f"{PROJECT}/cache/amd64"
    assert inputs.cache_to[0].get("mode") == "max"
    assert dict(inputs.build_contexts) == {
        "shared": str(PROJECT / "shared"),
        "base": "docker-image://registry.example.com/base:1",
    }
    assert [set(a.split(",")) for a in inputs.attest] == [
        {"type=provenance", "mode=max"},
        {"type=sbom"},
    ]
    assert (inputs.no_cache, inputs.pull) == (True, True)
    # One target, two platforms: two variants of the same build.
    assert (arm64.dockerfile, arm64.target) == (
        PROJECT / "app-arm64/docker/prod.Dockerfile",
        "runtime",
    )
    assert (armv7.dockerfile, armv7.target) == (arm64.dockerfile, "runtime")
    assert dict(arm64.build_args) == {
        "BUILD_DATE": "2024",
        "PYTHON_ENV": "production",
        "WORKERS": "4",
    }
    assert [set(a.split(",")) for a in arm64.inputs.attest] == [
        {"type=provenance", "disabled=true"}
    ]
    assert arm64.inputs.secrets == ()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("inline", "dockerfile-inline is not supported"),
        ("shm", "shm-size not supported by polyarch"),
        ("chained", "context 'base' is the target 'api-amd64', which only bake builds"),
        ("nope", "bake target 'nope' is not defined"),
    ],
)
@pytest.mark.parametrize("version", VERSIONS)
def test_targets_that_cannot_be_variants(version: str, target: str, message: str) -> None:
    with pytest.raises(BakeError, match=message) as info:
        bake_variants(_definition("hcl", version), [target])
    assert info.value.exit_code == 2


def test_compose_with_buildx_0_29() -> None:
    [variant] = bake_variants(_definition("compose", "0.29.1"))
    assert variant.platform == Platform.parse("linux/amd64")
    assert (variant.context, variant.target) == (PROJECT / "app-amd64", "runtime")
    assert variant.inputs.secrets == (
        SecretInput("npmrc", str(PROJECT / "npmrc")),
        SecretInput("token", env="GH_TOKEN"),
    )
    assert (variant.inputs.no_cache, variant.inputs.pull) == (True, True)


def test_compose_with_buildx_0_13_has_no_platforms() -> None:
    """buildx 0.13.1 leaves a compose service's platforms out of --print: said in one line."""
    with pytest.raises(BakeError, match="'api-amd64' has no platforms"):
        bake_variants(_definition("compose", "0.13.1"))


def test_two_targets_one_platform() -> None:
    definition = parse_bake_print(
        '{"target": {"a": {"context": "a", "platforms": ["linux/arm64"]},'
        ' "b": {"context": "b", "platforms": ["linux/arm64/v8"]}}}',
        PROJECT,
    )
    with pytest.raises(BakeError, match="'a' and 'b' both build linux/arm64"):
        bake_variants(definition, ["a", "b"])


@pytest.mark.parametrize(
    "context",
    ["https://github.com/seeds/api.git", "git@github.com:seeds/api.git", "github.com/x/y"],
)
def test_remote_context_is_refused(context: str) -> None:
    definition = parse_bake_print(
        f'{{"target": {{"a": {{"context": "{context}", "platforms": ["linux/amd64"]}}}}}}', PROJECT
    )
    with pytest.raises(BakeError, match="remote contexts are not supported"):
        bake_variants(definition)


def test_cwd_prefix_and_argv() -> None:
    definition = parse_bake_print(
        '{"target": {"a": {"context": "cwd://app", "platforms": ["linux/amd64"]}}}', PROJECT
    )
    assert bake_variants(definition)[0].context == PROJECT / "app"
    assert bake_print_argv(["docker-bake.hcl", "override.hcl"], ["a"]) == [
        "docker", "buildx", "bake", "-f", "docker-bake.hcl", "-f", "override.hcl", "--print", "a",
    ]  # fmt: skip


def test_cache_mask() -> None:
    cache = CacheInput.parse("type=s3,region=eu-west-1,bucket=b,secret_access_key=S3CR3T")
    assert "S3CR3T" not in cache.to_buildx(masked=True)
    assert "secret_access_key=***" in cache.to_buildx(masked=True)
    assert "S3CR3T" in cache.to_buildx()


@pytest.mark.parametrize("version", VERSIONS)
def test_targets_alone_make_a_spec_whose_image_their_tags_name(version: str) -> None:
    """``--bake`` without a spec: the repository of the targets' tags is the image."""
    from polyarch.pipeline.bake.variants import spec_from_bake

    definition = _definition("hcl", version)
    spec = spec_from_bake(definition, ["api-amd64", "api-arm64"], PROJECT / "docker-bake.hcl")
    assert [str(i) for i in spec.images] == ["registry.example.com/metrics-api"]
    assert spec.tags == ("latest",)
    assert [(str(v.platform), v.bake_target) for v in spec.variants] == [
        ("linux/amd64", "api-amd64"),
        ("linux/arm64", "api-arm64"),
        ("linux/arm/v7", "api-arm64"),
    ]
    with pytest.raises(BakeError, match="name no image in tags"):
        spec_from_bake(definition, ["api-arm64"], PROJECT / "docker-bake.hcl")


def test_a_spec_keeps_its_image_tags_and_verify_with_bake_variants(tmp_path: Path) -> None:
    from polyarch.pipeline.bake.variants import with_bake_variants
    from polyarch.pipeline.specfile import load_spec

    (tmp_path / "docker-bake.hcl").write_text("# printed by the fixture\n")
    (tmp_path / "polyarch.yaml").write_text(
        "image: ghcr.io/seeds/metrics-api\n"
        "tags: [v2]\n"
        "bake: {file: docker-bake.hcl, targets: [api-amd64, api-arm64]}\n"
        "verify: {run: true, expect-output: {linux/arm/v7: 'ok'}}\n"
    )
    spec = load_spec(tmp_path / "polyarch.yaml")
    assert spec.variants == () and spec.bake is not None
    assert spec.bake.files == ((tmp_path / "docker-bake.hcl").resolve(),)
    resolved = with_bake_variants(spec, _definition("hcl", "0.29.1"))
    assert [str(p) for p in resolved.platforms] == ["linux/amd64", "linux/arm64", "linux/arm/v7"]
    assert resolved.targets()[0].name == "ghcr.io/seeds/metrics-api"
    with pytest.raises(BakeError, match="names linux/arm/v7, which no Bake target builds"):
        with_bake_variants(spec, _definition("hcl", "0.29.1"), ["api-amd64"])


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("bake: {file: missing.hcl}\n", "Bake file 'missing.hcl' does not exist"),
        (
            "bake: {file: docker-bake.hcl}\nvariants: [{platform: linux/amd64, context: .}]\n",
            "give the variants or the Bake targets that make them, not both",
        ),
        ("bake: {targets: [a]}\n", "missing required key 'file'"),
        ("tags: [v1]\n", "missing required key 'variants' (or 'bake'"),
    ],
)
def test_the_bake_key_is_checked(tmp_path: Path, text: str, fragment: str) -> None:
    from polyarch.pipeline.specfile import load_spec
    from polyarch.pipeline.specfile.model import SpecError

    (tmp_path / "docker-bake.hcl").write_text("")
    (tmp_path / "polyarch.yaml").write_text("image: ghcr.io/seeds/api\n" + text)
    with pytest.raises(SpecError, match=re.escape(fragment)):
        load_spec(tmp_path / "polyarch.yaml")


def test_groups_are_expanded() -> None:
    definition = parse_bake_print(
        '{"group": {"default": {"targets": ["all"]}, "all": {"targets": ["a", "b"]}},'
        ' "target": {"a": {"platforms": ["linux/amd64"]}, "b": {"platforms": ["linux/arm64"]}}}',
        PROJECT,
    )
    assert definition.expand([]) == ["a", "b"]
    assert definition.expand(["all", "a"]) == ["a", "b"]
    assert [v.bake_target for v in bake_variants(definition, ["all"])] == ["a", "b"]
