"""Seed 001's release workflow, as docs/github-actions.md shows it, run here step by step.

The workflow and the spec are read from docs/github-actions.md (the page is the test's
input, so the page cannot drift from what works). The repository is the metrics-api
example (two codebases: Go for linux/amd64, Python for linux/arm64) with the page's
``polyarch.yaml``, its images pointed at two real registries ("every registry"),
committed and tagged ``v3.14.1``. Then the jobs run in the order of their ``needs``, each
step in order (:mod:`support.workflow`), with the environment a tag push gives a job:
``GITHUB_REF=refs/tags/v3.14.1``, ``GITHUB_SHA``, ``GITHUB_EVENT_NAME=push``,
``GITHUB_EVENT_PATH`` (the push payload: repository, head commit), ``GITHUB_REPOSITORY``,
``GITHUB_SERVER_URL``; the polyarch steps through action.yml (installed into a fresh venv
with pip, as on a runner), against the real engine (scripts/engine.sh) and registries.

What it proves: the matrix job's output is the build matrix (one job per variant, on the
native runner labels); each build job builds its own variant and uploads its record; the
publish job publishes one index to the tag family of the version in both registries,
verifies it (both platforms started, arm64 under QEMU), writes the metadata file and the
step outputs; the index carries the version's annotations; the deploy job reads them.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from polyarch import Context, Index, Reference, TransportSettings
from support.engine import Engine
from support.example import prepare_example
from support.github_action import run_action
from support.registry import RegistryServer
from support.workflow import Runner

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "github-actions.md"
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def _doc_block(first_line: str) -> str:
    for block in _BLOCK.findall(DOC.read_text()):
        if block.startswith(first_line + "\n"):
            return str(block)
    raise AssertionError(f"docs/github-actions.md has no yaml block starting {first_line!r}")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=seeds", "-c", "user.email=ci@example.com",
         *args],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture(scope="session")
def action_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """action.yml's install step, run once for both engines (pip installs this checkout into
    a fresh venv)."""
    work = tmp_path_factory.mktemp("action")
    installed = run_action({"command": "--version"}, work)
    assert installed.codes[0] == 0, installed.logs
    return work


def test_the_seed_001_workflow_runs_step_by_step(
    docker_engine: Engine,
    registry: RegistryServer,
    registry2: RegistryServer,
    busybox_rootfs: dict[str, Path],
    action_work: Path,
    tmp_path: Path,
) -> None:
    name = f"seeds-{uuid.uuid4().hex[:8]}/metrics-api"
    images = [f"{registry.host}/{name}", f"{registry2.host}/{name}"]
    repo = tmp_path / "metrics-api"
    prepare_example(repo, images[0], rootfs=busybox_rootfs)
    spec_text = _doc_block("# polyarch.yaml")
    spec_text, count = re.subn(r"(?m)^image: .*$", f"image: [{', '.join(images)}]", spec_text)
    assert count == 1
    (repo / "polyarch.yaml").write_text(spec_text)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    # The example ignores the busybox binaries (never committed here); this repository
    # stands for the user's, whose codebases are whole.
    _git(repo, "add", "-f", "app-amd64/busybox", "app-arm64/busybox")
    _git(repo, "commit", "-q", "-m", "metrics-api 3.14.1")
    _git(repo, "tag", "v3.14.1")
    sha = _git(repo, "rev-parse", "HEAD")
    committed = _git(repo, "show", "-s", "--format=%cI", "HEAD")

    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "ref": "refs/tags/v3.14.1",
                "head_commit": {"id": sha, "timestamp": committed},
                "repository": {
                    "name": "metrics-api",
                    "html_url": "https://github.com/seeds/metrics-api",
                    "default_branch": "main",
                    "description": "Metrics API, two codebases",
                    "license": {"spdx_id": "Apache-2.0"},
                },
            }
        )
    )
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF": "refs/tags/v3.14.1",
        "GITHUB_REF_NAME": "v3.14.1",
        "GITHUB_SHA": sha,
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "seeds/metrics-api",
        "GITHUB_SERVER_URL": "https://github.com",
    }
    workflow: dict[str, Any] = yaml.safe_load(_doc_block("# .github/workflows/release.yml"))
    runner = Runner(
        repo,
        tmp_path / "runner",
        action_work,
        github,
        secrets={"GITHUB_TOKEN": "not-used", "DOCKERHUB_TOKEN": "not-used"},
        variables={"DOCKERHUB_USERNAME": "seeds"},
    )
    run = runner.run_workflow(workflow)
    failed = [(j.name, s) for j in run.jobs for s in j.steps if s[1] != 0]
    assert not failed, failed[0][1][2][-4000:] if failed else ""
    assert [j.name for j in run.jobs] == ["matrix", "build", "build", "publish", "deploy"]

    # The matrix job: one build job per variant, on the runner that runs it natively.
    (matrix_job,) = run.job("matrix")
    assert json.loads(matrix_job.outputs["matrix"]) == {
        "include": [
            {"platform": "linux/amd64", "runner": "ubuntu-24.04",
             "artifact": "records-linux-amd64"},
            {"platform": "linux/arm64", "runner": "ubuntu-24.04-arm",
             "artifact": "records-linux-arm64"},
        ]
    }  # fmt: skip
    builds = run.job("build")
    assert [(b.runs_on, b.matrix["platform"]) for b in builds] == [
        ("ubuntu-24.04", "linux/amd64"),
        ("ubuntu-24.04-arm", "linux/arm64"),
    ]
    for build in builds:
        log = "\n".join(build.actions[0].logs)
        platform = build.matrix["platform"]
        assert f"[{platform}] $ docker buildx build --platform {platform}" in log
        other = "linux/arm64" if platform == "linux/amd64" else "linux/amd64"
        assert f"[{other}]" not in log, "a build job builds its own variant only"
        # Tag rules name the per-platform tag after the version being released.
        assert f"3.14.1-{platform.replace('/', '-')}" in log

    # The publish job: the tag family of the version, in every registry, verified.
    (publish_job,) = run.job("publish")
    outputs = publish_job.outputs
    family = ("3.14.1", "3.14", "3", f"sha-{sha[:7]}", "latest")
    assert outputs["version"] == "3.14.1"
    assert outputs["tags"].split(",") == [f"{image}:{tag}" for image in images for tag in family]
    publish_log = "\n".join(publish_job.actions[0].logs)
    assert "verified" in publish_log
    metadata = json.loads((runner.work.glob("publish-*/metadata.json").__next__()).read_text())
    assert metadata["containerimage.digest"] == outputs["digest"]
    assert metadata["image.name"] == ",".join(sorted(images))
    with Context(TransportSettings()) as ctx:
        for image in images:
            for tag in family:
                found = ctx.repository(Reference.parse(image)).head_manifest(tag)
                assert found is not None and str(found.digest) == outputs["digest"], (image, tag)
        index = ctx.repository(Reference.parse(images[1])).get_manifest("3.14.1")
    assert isinstance(index, Index)
    assert sorted(str(d.platform) for d in index.images) == ["linux/amd64", "linux/arm64"]
    assert {
        key: index.annotations[f"org.opencontainers.image.{key}"]
        for key in ("version", "revision", "source", "title", "licenses")
    } == {
        "version": "3.14.1",
        "revision": sha,
        "source": "https://github.com/seeds/metrics-api",
        "title": "metrics-api",
        "licenses": "Apache-2.0",
    }
    assert index.annotations["org.opencontainers.image.created"].startswith(committed[:19])
    summary = publish_job.actions[0].summary
    assert "| linux/arm64 |" in summary and "pass" in summary

    (deploy_job,) = run.job("deploy")
    assert f"deploying 3.14.1 at {outputs['digest']}" in deploy_job.steps[0][2]
    assert sorted(set(run.stood_in)) == [
        "docker/login-action",
        "docker/setup-buildx-action",
        "docker/setup-qemu-action",
    ]
