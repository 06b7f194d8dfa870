"""The real ``docker buildx bake --print`` against the fixtures tests/unit/test_bake.py reads.

tests/unit/bake_print/*.json were printed by buildx 0.13.1 and 0.29.1 from
tests/support/bake_project. Here the buildx of each engine of scripts/engine.sh (0.13 with
Docker 26, 0.29 with Docker 28.5) prints the same files again, and polyarch must read the
same variants from it: if buildx changes what ``--print`` says, this fails and the
fixtures are refreshed. ``--print`` needs no engine, only the buildx plugin (and, for
``ssh = ["default"]``, a socket in ``SSH_AUTH_SOCK``: buildx checks that it exists).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from polyarch.pipeline.bake.definition import bake_print, parse_bake_print
from polyarch.pipeline.bake.variants import bake_variants
from support.engine import Engine
from support.require import missing

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parent.parent / "support" / "bake_project"
FIXTURES = Path(__file__).resolve().parent.parent / "unit" / "bake_print"


@pytest.fixture(scope="module")
def buildx_env(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The active engine's environment (its buildx: 0.13 with Docker 26, 0.29 with Docker 28),
    an ssh agent socket and the variable a secret names."""
    env = dict(os.environ)
    agent = tmp_path_factory.mktemp("agent") / "agent.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(agent))  # buildx only checks that the agent socket exists
    env["SSH_AUTH_SOCK"] = str(agent)
    env["GH_TOKEN"] = "not-a-real-token"
    proc = subprocess.run(
        ["docker", "buildx", "version"], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        missing("docker buildx is not installed: ./scripts/engine.sh install")
    env["BUILDX_VERSION_SEEN"] = proc.stdout
    return env


def _fixture_version(version_output: str) -> str:
    found = re.search(r"\b0\.(\d+)\.", version_output)
    assert found, version_output
    # Before 0.14 --print writes CSV strings; the object form holds from then on.
    return "0.13.1" if int(found[1]) < 14 else "0.29.1"


@pytest.mark.parametrize(
    ("kind", "file", "targets"),
    [
        ("hcl", "docker-bake.hcl", ["api-amd64", "api-arm64"]),
        ("compose", "compose.yaml", []),
    ],
)
def test_live_print_reads_like_the_fixture(
    buildx_env: dict[str, str], kind: str, file: str, targets: list[str]
) -> None:
    version = _fixture_version(buildx_env["BUILDX_VERSION_SEEN"])
    live = bake_print([file], targets, cwd=PROJECT, env=buildx_env)
    stored = parse_bake_print((FIXTURES / f"{kind}-buildx-{version}.json").read_text(), PROJECT)
    if kind == "compose" and version == "0.13.1":
        assert "platforms" not in live.targets["api-amd64"].attrs  # the quirk the unit test shows
        return
    assert bake_variants(live, targets) == bake_variants(stored, targets)
    secret_value = buildx_env["GH_TOKEN"]
    assert secret_value not in repr(live), "bake --print never prints a secret's value"


def test_matrix_from_bake_targets(buildx_env: dict[str, str]) -> None:
    """``polyarch matrix --bake FILE --target T...``: one job per platform of each target."""
    from support.cli import run_cli

    result = run_cli(
        "matrix", "--bake", str(PROJECT / "docker-bake.hcl"),
        "--target", "api-amd64", "--target", "api-arm64", "--runner", "linux/arm/v7=ubuntu-24.04",
        env={**buildx_env, "GITHUB_OUTPUT": ""},
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.json()["include"] == [
        {"platform": "linux/amd64", "runner": "ubuntu-24.04", "artifact": "records-linux-amd64",
         "target": "api-amd64"},
        {"platform": "linux/arm64", "runner": "ubuntu-24.04-arm",
         "artifact": "records-linux-arm64", "target": "api-arm64"},
        {"platform": "linux/arm/v7", "runner": "ubuntu-24.04",
         "artifact": "records-linux-arm-v7", "target": "api-arm64"},
    ]  # fmt: skip
