"""The spec's release keys: tag rules, flavor, annotations, build inputs, runner, builder."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyarch.engine.endpoint import EngineChoice
from polyarch.pipeline.specfile import load_spec
from polyarch.pipeline.specfile.inputs import CacheInput, SecretInput, SshInput
from polyarch.pipeline.specfile.model import SpecError, UnresolvedTags
from polyarch.pipeline.tags.evaluate import evaluate_tags
from polyarch.pipeline.tags.rules import Flavor
from polyarch.pipeline.version import from_version

HEAD = """\
image: registry.example.com/metrics-api
variants:
  - platform: linux/amd64
    context: app-amd64
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("app-amd64", "app-arm64", "shared"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "npmrc").write_text("registry=https://npm.example.com/\n")
    return tmp_path


def _load(root: Path, text: str):  # type: ignore[no-untyped-def]
    (root / "polyarch.yaml").write_text(text)
    return load_spec(root / "polyarch.yaml")


def _error(root: Path, text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        _load(root, text)
    return info.value


def test_tag_rules_need_a_version(root: Path) -> None:
    spec = _load(
        root,
        """\
image: ghcr.io/seeds/metrics-api
tags:
  - type=semver,pattern={{version}}
  - type=semver,pattern={{major}}.{{minor}}
  - type=semver,pattern={{major}}
  - type=sha
flavor: [latest=auto]
variants:
  - {platform: linux/amd64, context: app-amd64}
""",
    )
    assert spec.tags == () and spec.has_rules
    assert [r.type for r in spec.tag_rules] == ["semver", "semver", "semver", "sha"]
    assert spec.flavor == Flavor()
    with pytest.raises(UnresolvedTags, match=r"tags are rules .* need a version"):
        spec.targets()
    family = evaluate_tags(spec.tag_rules, from_version("v3.14.1"), spec.flavor)
    assert family.tags == ("3.14.1", "3.14", "3", "latest")
    resolved = spec.with_tags(family.tags)
    assert [str(t) for t in resolved.targets()][:2] == [
        "ghcr.io/seeds/metrics-api:3.14.1",
        "ghcr.io/seeds/metrics-api:3.14",
    ]
    assert resolved.per_platform_tag(resolved.variants[0]) == "3.14.1-linux-amd64"


def test_plain_tags_and_fixed_raw_rules_stay_static(root: Path) -> None:
    spec = _load(
        root, HEAD.replace("variants:", "tags: [v2.0.0, 'type=raw,value=stable']\nvariants:")
    )
    assert spec.tags == ("v2.0.0", "stable")
    assert not spec.has_rules
    assert [r.type for r in spec.tag_rules] == ["raw", "raw"]


def test_default_tags_are_latest(root: Path) -> None:
    spec = _load(root, HEAD)
    assert spec.tags == ("latest",)
    assert [r.value.source for r in spec.tag_rules if r.value] == ["latest"]


@pytest.mark.parametrize(
    ("tags", "line", "detail"),
    [
        ("[type=semver]", 1, "tags[0]: tag rule 'type=semver': missing pattern attribute"),
        (
            "['type=sha,formt=long']",
            1,
            "tags[0]: tag rule 'type=sha,formt=long': type=sha takes no",
        ),
        ("['type=semver,pattern={{vesion}}']", 1, "unknown expression {{vesion}}"),
        ("[v1, 'type=sha', 'type=sha']", 1, "tags[2]: duplicate tag rule 'type=sha'"),
        ("['v1+build']", 1, "tags[0]: invalid tag 'v1+build'"),
    ],
)
def test_bad_tag_rules(root: Path, tags: str, line: int, detail: str) -> None:
    error = _error(root, f"tags: {tags}\n" + HEAD)
    assert (error.line, detail in error.detail) == (line, True), error.detail
    assert error.exit_code == 2


def test_flavor(root: Path) -> None:
    spec = _load(root, "flavor: ['prefix=py-,onlatest=true', latest=false]\n" + HEAD)
    assert spec.flavor == Flavor("false", "py-", True)
    error = _error(root, "flavor: latest=sometimes\n" + HEAD)
    assert error.line == 1 and "invalid latest flavor entry" in error.detail


def test_annotations(root: Path) -> None:
    spec = _load(
        root,
        HEAD
        + """\
annotations:
  org.opencontainers.image.description: the seeds' API, built from {{sha}}
  manifest-descriptor:com.example.tier: edge
  org.opencontainers.image.licenses: Apache-2.0
""",
    )
    assert spec.annotations["manifest-descriptor:com.example.tier"] == "edge"
    assert "{{sha}}" in spec.annotations["org.opencontainers.image.description"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("manifest:com.example.x: y", "manifest: annotations belong in each image manifest"),
        ("com.example.x: '{{version}}'", "unknown expression {{version}}"),
        ("com.example.x: yes", "is a YAML boolean"),
        ("com.example.x:", "has no value"),
    ],
)
def test_bad_annotations(root: Path, body: str, detail: str) -> None:
    error = _error(root, HEAD + f"annotations:\n  {body}\n")
    assert error.line == 6 and detail in error.detail, error.detail


def test_build_inputs(root: Path) -> None:
    spec = _load(
        root,
        HEAD
        + """\
    runner: [self-hosted, linux, x64]
    builder: {docker-context: amd64-box}
    secrets: ['id=npmrc,src=npmrc', 'type=env,id=token,env=GH_TOKEN']
    ssh: default
    cache-from:
      - type=local,src=cache/amd64
      - ghcr.io/seeds/cache:amd64
    cache-to: 'type=local,dest=cache/amd64,mode=max'
    build-contexts: {shared: shared, base: 'docker-image://registry.example.com/base:1'}
    provenance: mode=max
    sbom: true
    attest: [type=sbom]
    no-cache: true
    pull: true
  - platform: linux/arm64
    context: app-arm64
    builder: {docker-host: 'ssh://build@arm64.example.com'}
    provenance: false
""",
    )
    amd64, arm64 = spec.variants
    inputs = amd64.inputs
    assert amd64.runner == ("self-hosted", "linux", "x64")
    assert amd64.builder == EngineChoice("docker-context", "amd64-box")
    assert inputs.secrets == (
        SecretInput("npmrc", str(root / "npmrc")),
        SecretInput("token", env="GH_TOKEN"),
    )
    assert inputs.ssh == (SshInput("default"),)
    assert inputs.cache_from == (
        CacheInput("local", (("src", str(root / "cache/amd64")),)),
        CacheInput("registry", (("ref", "ghcr.io/seeds/cache:amd64"),)),
    )
    assert inputs.cache_to[0].to_buildx() == f"type=local,dest={root}/cache/amd64,mode=max"
    assert dict(inputs.build_contexts) == {
        "shared": str(root / "shared"),
        "base": "docker-image://registry.example.com/base:1",
    }
    assert (inputs.provenance, inputs.sbom, inputs.attest) == ("mode=max", "true", ("type=sbom",))
    assert (inputs.no_cache, inputs.pull) == (True, True)
    assert (
        arm64.builder is not None
        and arm64.builder.label == "docker-host:ssh://build@arm64.example.com"
    )
    assert (arm64.inputs.provenance, bool(arm64.inputs.secrets)) == ("false", False)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("secrets: id=npmrc", "secret 'id=npmrc': say where its value is"),
        ("secrets: id=x,src=missing", "secret file 'missing' does not exist"),
        ("secrets: ['id=a,env=A', 'id=a,env=B']", "duplicate secret id 'a'"),
        ("secrets: id=a,env=A,src=npmrc", "give src or env, not both"),
        ("secrets: id=a,env=1A", "'1A' is not an environment variable name"),
        ("secrets: id=a,value=s3cr3t", "unexpected key 'value'"),
        ("ssh: 'a b'", "expected default or ID=PATH"),
        ("cache-from: type=ftp,dest=x", "unknown type 'ftp'"),
        (
            "build-contexts: {x: 'https://example.com/x.git'}",
            "x: 'https://example.com/x.git' is a remote",
        ),
        ("build-contexts: {x: 'target:base'}", "a Bake target context needs bake"),
        ("provenance: mode=full", "expected true, false, mode=min or mode=max"),
        ("sbom: maybe", "expected true, false or generator=IMAGE"),
        ("attest: type=vex", "type=provenance or type=sbom"),
        ("no-cache: 'yes'", "expected true or false"),
        ("runner: 'ubuntu 24'", "is not a runner label"),
        ("builder: {docker-context: a, buildx-builder: b}", "name one of docker-context"),
        ("builder: {kubernetes: x}", "unknown key 'kubernetes'"),
        ("builder: {docker-host: 'http://x'}", "expected unix://PATH"),
        ("builder: {docker-host: 'tcp://u:pw@host:2376'}", "a password in the URL is refused"),
        ("builder: {buildx-builder: 'a b'}", "not a name"),
    ],
)
def test_bad_inputs(root: Path, body: str, detail: str) -> None:
    error = _error(root, HEAD + f"    {body}\n")
    assert detail in error.detail, error.detail
    assert error.line is not None and error.line >= 3
    assert "s3cr3t" not in str(error) or "value=s3cr3t" in body


def test_flow_list_commas_get_a_hint(root: Path) -> None:
    """``secrets: [id=npmrc,src=npmrc]`` is two YAML items, ``id=npmrc`` and ``src=npmrc``."""
    error = _error(root, HEAD + "    secrets: [id=npmrc,src=npmrc]\n")
    assert "a comma separates items: quote each entry" in error.one_line()
