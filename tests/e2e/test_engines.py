"""Issue 21 §4 on two real Docker engines side by side: each variant built on its own engine.

The seeds' native arm64 "runner" may be a remote engine rather than a CI job. The two
engines of scripts/engine.sh run side by side (Docker 26 and Docker 28.5: their own
sockets, data roots and containerd). The active one (the ``docker_engine`` parameter) is
reached through a docker context named in the spec (``builder: {docker-context: ...}``)
and builds the Go codebase for linux/amd64; the other one is named with ``--builder-for
linux/arm64=docker-host:unix://...`` and builds the Python codebase for linux/arm64.
``polyarch release`` builds both at once, publishes one index and verifies it; each record
says which engine built its variant (``docker info``'s engine ID and version), each
engine's image store holds only its own variant, and ``polyarch verify --run`` starts both
platforms from the registry. The test runs once per engine, so each takes each role.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from support.cli import run_cli
from support.engine import ENGINES, Engine, EngineSetupError, engine_env
from support.example import prepare_example
from support.registry import RegistryServer
from support.require import missing

pytestmark = pytest.mark.e2e

NO_GITHUB = {"GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_REF": "", "GITHUB_SHA": ""}


def _docker(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``docker --config CONFIG ARGS`` (the test's own CLI config)."""
    return subprocess.run(
        ["docker", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _own_docker_config(tmp_path: Path, first_host: str) -> Path:
    """A DOCKER_CONFIG of the test's own: the buildx plugin, and a context for engine one."""
    config = tmp_path / "docker-config"
    plugins = config / "cli-plugins"
    plugins.mkdir(parents=True)
    source = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    buildx = source / "cli-plugins" / "docker-buildx"
    if buildx.exists():
        (plugins / "docker-buildx").symlink_to(buildx.resolve())
    done = _docker(config, "context", "create", "polyarch-one", "--docker", f"host={first_host}")
    assert done.returncode == 0, done.stderr
    return config


def _image_tags(engine_host: str, config: Path) -> set[str]:
    listed = _docker(
        config, "--host", engine_host, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"
    )
    assert listed.returncode == 0, listed.stderr
    return set(listed.stdout.split())


def test_each_variant_builds_on_its_own_engine_at_once(
    docker_engine: Engine,
    registry: RegistryServer,
    busybox_rootfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    first_host = docker_engine.env["DOCKER_HOST"]
    (other,) = [name for name in ENGINES if name != docker_engine.name]
    try:
        second_host = engine_env(other)["DOCKER_HOST"]
    except EngineSetupError as exc:
        missing(f"the second engine, {other}: {exc}")
    config = _own_docker_config(tmp_path, first_host)
    answered = _docker(config, "--host", second_host, "version", "--format", "{{.Server.Version}}")
    if answered.returncode != 0:
        missing(f"the second engine, {other}, does not answer: {answered.stderr.strip()}")
    repository = f"{registry.host}/engines-{uuid.uuid4().hex[:8]}/metrics-api"
    spec = prepare_example(tmp_path / "metrics-api", repository, rootfs=busybox_rootfs)
    # The first engine is named as a docker context on one run and as the buildx builder of
    # that context (docker driver, named after it) on the other: both kinds, both engines.
    kind = "docker-context" if docker_engine.name == ENGINES[0] else "buildx-builder"
    text = spec.read_text()
    spec.write_text(
        text.replace(
            "    context: app-amd64\n",
            f"    context: app-amd64\n    builder: {{{kind}: polyarch-one}}\n",
            1,
        )
    )
    env = {**NO_GITHUB, "DOCKER_CONFIG": str(config)}
    result = run_cli(
        "release", "--spec", str(spec), "--network", "none", "--json",
        "--builder-for", f"linux/arm64=docker-host:{second_host}",
        env=env, timeout=900,
    )  # fmt: skip
    assert result.code == 0, result.err[-4000:]
    # Each build ran on its engine: the command line shows where it went.
    # A context's own buildx builder (docker driver) is reached as the context: buildx 0.29
    # refuses --builder for it ("use `docker --context=polyarch-one buildx`").
    assert "[linux/amd64] $ docker --context polyarch-one buildx build" in result.err
    assert f"[linux/arm64] $ docker --host {second_host} buildx build" in result.err

    doc = result.json()
    assert doc["ok"], doc["verify"]
    engines = {v["platform"]: v["resolved"]["engine"] for v in doc["variants"]}
    first_id = _docker(config, "--host", first_host, "info", "--format", "{{.ID}}")
    assert engines["linux/amd64"]["endpoint"] == f"{kind}:polyarch-one"
    assert engines["linux/amd64"]["id"] == first_id.stdout.strip()
    assert engines["linux/arm64"]["endpoint"] == f"docker-host:{second_host}"
    second_id = _docker(config, "--host", second_host, "info", "--format", "{{.ID}}")
    assert engines["linux/arm64"]["id"] == second_id.stdout.strip()
    assert engines["linux/amd64"]["id"] != engines["linux/arm64"]["id"]
    # Docker 26 and Docker 28.5: each record names its own engine's version.
    assert engines["linux/amd64"]["version"] == docker_engine.version
    assert engines["linux/arm64"]["version"] == answered.stdout.strip()
    assert engines["linux/amd64"]["version"] != engines["linux/arm64"]["version"]

    # Each engine's image store holds its own variant only (the docker driver keeps the
    # per-platform tag it pushed).
    amd_tag, arm_tag = f"{repository}:v2.0.0-linux-amd64", f"{repository}:v2.0.0-linux-arm64"
    on_first, on_second = _image_tags(first_host, config), _image_tags(second_host, config)
    assert amd_tag in on_first and arm_tag not in on_first
    assert arm_tag in on_second and amd_tag not in on_second

    verified = run_cli("verify", f"{repository}:v2.0.0", "--run", env=env, timeout=600)
    assert verified.code == 0, verified.out + verified.err
    assert "linux/arm64" in verified.out and "linux/amd64" in verified.out
    for host, tag in ((first_host, amd_tag), (second_host, arm_tag)):
        _docker(config, "--host", host, "rmi", "--force", tag)
    shutil.rmtree(config, ignore_errors=True)
