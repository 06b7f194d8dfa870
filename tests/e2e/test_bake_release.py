"""Issue 21 §1 on the real engine: ``polyarch release --bake FILE``, no spec at all.

A team that describes its build with Bake keeps it: one target per codebase (the
metrics-api example's Go and Python codebases, each with its own Dockerfile and stage), the
targets' ``tags`` naming the repository. ``release --bake`` asks the real buildx to resolve
the file (``bake --print``), builds each target's platform as a variant, publishes one index
to ``--tag``'s tags and writes the metadata file; ``build --bake --target`` builds one target
alone, as a CI job of ``matrix --bake`` does.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from polyarch import Context, Index, Reference, TransportSettings
from support.cli import run_cli
from support.engine import Engine
from support.example import prepare_example
from support.registry import RegistryServer

pytestmark = pytest.mark.e2e

NO_GITHUB = {"GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_REF": "", "GITHUB_SHA": ""}

BAKE = """\
group "default" { targets = ["api-amd64", "api-arm64"] }

target "api-amd64" {
  context = "app-amd64"
  platforms = ["linux/amd64"]
  tags = ["REPO:amd64"]
}

target "api-arm64" {
  context = "app-arm64"
  target = "runtime"
  platforms = ["linux/arm64"]
  args = { PYTHON_ENV = "production" }
  tags = ["REPO:arm64"]
}
"""


def test_release_from_bake_targets_alone(
    docker_engine: Engine, registry: RegistryServer, busybox_rootfs: dict[str, Path], tmp_path: Path
) -> None:
    repository = f"{registry.host}/bake-{uuid.uuid4().hex[:8]}/metrics-api"
    prepare_example(tmp_path / "project", repository, rootfs=busybox_rootfs)
    (tmp_path / "project" / "polyarch.yaml").unlink()  # Bake alone
    bake = tmp_path / "project" / "docker-bake.hcl"
    bake.write_text(BAKE.replace("REPO", repository))
    metadata = tmp_path / "metadata.json"
    result = run_cli(
        "release", "--bake", str(bake), "--network", "none", "--no-run",
        "--tag", "1.2.3", "--tag", "latest", "--metadata-file", str(metadata), "--json",
        env=NO_GITHUB, timeout=900,
    )  # fmt: skip
    assert result.code == 0, result.err[-4000:]
    doc = result.json()
    assert doc["tags"] == [f"{repository}:1.2.3", f"{repository}:latest"]
    with Context(TransportSettings()) as ctx:
        index = ctx.repository(Reference.parse(repository)).get_manifest("1.2.3")
    assert isinstance(index, Index)
    assert sorted(str(d.platform) for d in index.images) == ["linux/amd64", "linux/arm64"]
    assert index.annotations["org.opencontainers.image.version"] == "1.2.3"
    written = json.loads(metadata.read_text())
    assert written["containerimage.digest"] == doc["digest"] == str(index.digest)
    assert written["image.name"] == repository
    # The arm64 target's own stage and build argument were built.
    assert "--target runtime" in result.err and "PYTHON_ENV=production" in result.err

    one = run_cli(
        "build", "--bake", str(bake), "--target", "api-arm64", "--network", "none",
        "--records", str(tmp_path / "records"), "--json",
        env=NO_GITHUB, timeout=900,
    )  # fmt: skip
    assert one.code == 0, one.err[-4000:]
    assert [r["platform"] for r in one.json()] == ["linux/arm64"]
    assert "[linux/amd64]" not in one.err

    # A spec naming the Bake file instead of variants: publish reads the targets too.
    (tmp_path / "project" / "polyarch.yaml").write_text(
        f"image: {repository}\ntags: [v9]\nbake: {{file: docker-bake.hcl}}\n"
    )
    other = run_cli(
        "build", "--spec", str(tmp_path / "project"), "--platform", "linux/amd64",
        "--network", "none", "--records", str(tmp_path / "records"),
        env=NO_GITHUB, timeout=900,
    )  # fmt: skip
    assert other.code == 0, other.err[-4000:]
    matrix = run_cli("matrix", "--spec", str(tmp_path / "project"), env=NO_GITHUB)
    assert [e["target"] for e in matrix.json()["include"]] == ["api-amd64", "api-arm64"]
    published = run_cli(
        "publish", "--spec", str(tmp_path / "project"), "--records", str(tmp_path / "records"),
        "--no-run", env=NO_GITHUB,
    )  # fmt: skip
    assert published.code == 0, published.err
    with Context(TransportSettings()) as ctx:
        nine = ctx.repository(Reference.parse(repository)).get_manifest("v9")
    assert isinstance(nine, Index)
    assert sorted(str(d.platform) for d in nine.images) == ["linux/amd64", "linux/arm64"]
