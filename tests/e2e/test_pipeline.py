"""The seeds' metrics-api release, end to end, on the real engines and a real registry.

examples/metrics-api (a Go service for linux/amd64, a legacy Python one for linux/arm64,
each with its own Dockerfile) is built by the real ``polyarch`` CLI with the default
builder on each engine of scripts/engine.sh (Docker 26 with buildx 0.13, Docker 28.5 with
buildx 0.29, both BuildKit; ``--builder auto``
finds buildx's default builder, the ``docker`` driver, and pushes per-platform tags,
each a BuildKit wrapper with provenance): split across two "CI runners" (two record
directories), then published
and verified (each platform started, arm64 under QEMU); and on one machine with
``polyarch release``. Then the error paths: a missing record, a failing build, and
``--cleanup`` on distribution 2.8 (which cannot delete a tag alone).
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from polyarch import Context, Index, Reference, TransportSettings
from support.cli import Result, run_cli
from support.engine import Engine
from support.example import prepare_example
from support.registry import RegistryServer

pytestmark = pytest.mark.e2e

NOT_DELETED = "not deleted: registry cannot delete a tag without deleting the image"
#: Keeps publish from appending to a real CI job's GitHub files.
NO_GITHUB = {"GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": ""}


@dataclass(frozen=True)
class Example:
    """A prepared copy of the example: its spec and its repository."""

    spec: Path
    repository: str

    def target(self, tag: str = "v2.0.0") -> str:
        return f"{self.repository}:{tag}"


@pytest.fixture(scope="module")
def make_example(
    docker_engine: Engine,
    registry: RegistryServer,
    busybox_rootfs: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], Example]]:
    """Prepares examples, each in its own repository; removes the local images at the end."""
    prefix = f"{registry.host}/e2e-{uuid.uuid4().hex[:8]}"

    def make(name: str) -> Example:
        repository = f"{prefix}/{name}"
        spec = prepare_example(
            tmp_path_factory.mktemp(name) / "metrics-api", repository, rootfs=busybox_rootfs
        )
        return Example(spec, repository)

    yield make
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}} {{.ID}}"],
        capture_output=True,
        text=True,
        check=False,
    )  # built, and pulled by digest (untagged) by verify --run
    rows = [line.split() for line in listed.stdout.splitlines()]
    ours = sorted({row[1] for row in rows if len(row) == 2 and row[0].startswith(prefix + "/")})
    if ours:
        subprocess.run(["docker", "rmi", "--force", *ours], capture_output=True, check=False)


@dataclass(frozen=True)
class Runners:
    """The example built on two "runners": one record directory each."""

    example: Example
    amd64: Path
    arm64: Path
    builds: tuple[Result, Result]


@pytest.fixture(scope="module")
def runners(
    make_example: Callable[[str], Example], tmp_path_factory: pytest.TempPathFactory
) -> Runners:
    """``polyarch build --platform P --records runner-P`` for amd64, then arm64."""
    example = make_example("split")
    work = tmp_path_factory.mktemp("runners")
    results = []
    for arch in ("amd64", "arm64"):
        results.append(
            run_cli(
                "build",
                "--spec",
                str(example.spec),
                "--platform",
                f"linux/{arch}",
                "--records",
                str(work / f"runner-{arch}"),
                "--network",
                "none",
            )
        )
    amd, arm = results
    return Runners(example, work / "runner-amd64", work / "runner-arm64", (amd, arm))


def _record(directory: Path, name: str) -> dict[str, object]:
    return json.loads((directory / name).read_text())  # type: ignore[no-any-return]


def test_each_runner_builds_its_variant_and_records_it(runners: Runners) -> None:
    for result, directory, platform in zip(
        runners.builds, (runners.amd64, runners.arm64), ("linux/amd64", "linux/arm64"), strict=True
    ):
        assert result.code == 0, result.err
        # The build's output, prefixed: buildx on the default (docker driver) builder.
        assert f"[{platform}] $ docker buildx build --platform {platform}" in result.err
        assert f"[{platform}] #1 [internal] load build definition from Dockerfile" in result.err
        assert (
            'built with buildx builder "default" (docker driver), per-platform tags' in result.out
        )
        assert [p.name for p in directory.iterdir()] == [f"{platform.replace('/', '-')}.json"]
        record = _record(directory, f"{platform.replace('/', '-')}.json")
        assert record["platform"] == platform
        assert record["repository"] == runners.example.repository
        assert record["builder"] == "buildx:default"
        assert str(record["wrapper"]).startswith("sha256:")  # what was pushed: a wrapper
        assert record["wrapper"] != record["digest"]
        assert record["tag"] == f"v2.0.0-{platform.replace('/', '-')}"
        # The table shows digests as sha256: + 12 hex digits (cli/render.py).
        assert f"sha256:{str(record['digest']).split(':')[1][:12]}" in result.out
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(record["time"]))


def test_publish_assembles_the_recorded_images_and_runs_each_platform(
    runners: Runners, tmp_path: Path
) -> None:
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    outputs.write_text("earlier=kept\n")
    result = run_cli(
        "publish",
        "--spec",
        str(runners.example.spec),
        "--records",
        str(runners.amd64),
        "--records",
        str(runners.arm64),
        "--json",
        env={"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.code == 0, result.err
    doc = result.json()
    amd = _record(runners.amd64, "linux-amd64.json")
    arm = _record(runners.arm64, "linux-arm64.json")

    with Context(TransportSettings()) as ctx:
        target = Reference.parse(runners.example.target())
        index = ctx.repository(target).get_manifest("v2.0.0")
        latest = ctx.repository(target).head_manifest("latest")
    assert isinstance(index, Index)
    assert {str(d.platform): str(d.digest) for d in index.images} == {
        "linux/amd64": amd["digest"],
        "linux/arm64": arm["digest"],
    }
    assert doc["digest"] == str(index.digest) and latest is not None
    assert latest.digest == index.digest

    (report,) = doc["verify"]
    assert report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    runs = {c["platform"]: c for c in report["checks"] if c["check"] == "run"}
    assert runs["linux/amd64"]["details"]["output"].strip() == "metrics-api (go) ok on x86_64"
    assert runs["linux/arm64"]["details"]["output"].strip() == (
        "metrics-api (python, production) ok on aarch64"
    )
    assert runs["linux/arm64"]["details"]["native"] is False

    assert outputs.read_text() == (
        f"earlier=kept\ndigest={index.digest}\n"
        f"tags={runners.example.target()},{runners.example.target('latest')}\n"
        "version=v2.0.0\n"
    )
    text = summary.read_text()
    assert text.startswith(f"### polyarch publish: `{runners.example.target()}` (verified)")
    assert f"| linux/arm64 | `{arm['digest']}` | `{runners.arm64}/linux-arm64.json` | pass" in text
    assert "(metrics-api (python, production) ok on aarch64) |" in text

    verified = run_cli(
        "verify",
        runners.example.target(),
        "--records",
        str(runners.amd64),
        "--records",
        str(runners.arm64),
        "--exact",
        "--run=/app/healthcheck",
        "--expect-output",
        "linux/amd64=on x86_64$",
        "--expect-output",
        "linux/arm64=on aarch64$",
    )
    assert verified.code == 0, verified.out + verified.err
    assert "OK:" in verified.out


def test_cleanup_warns_that_distribution_cannot_delete_a_tag_alone(runners: Runners) -> None:
    result = run_cli(
        "publish",
        "--spec",
        str(runners.example.spec),
        "--records",
        str(runners.amd64),
        "--records",
        str(runners.arm64),
        "--cleanup",
        "--no-run",
        env=NO_GITHUB,
    )
    assert result.code == 0, result.err
    for platform in ("linux-amd64", "linux-arm64"):
        ref = f"{runners.example.target()}-{platform}"
        assert f"warning: {ref} {NOT_DELETED}" in result.err
    with Context(TransportSettings()) as ctx:
        tags = ctx.repository(Reference.parse(runners.example.target())).list_tags()
    assert {"v2.0.0-linux-amd64", "v2.0.0-linux-arm64", "v2.0.0", "latest"} <= set(tags)


def test_a_missing_record_is_named_and_nothing_is_published(
    make_example: Callable[[str], Example],
) -> None:
    example = make_example("missing")
    records = example.spec.parent / "records"
    built = run_cli(
        "build", "--spec", str(example.spec), "--platform", "linux/amd64", "--records", str(records)
    )
    assert built.code == 0, built.err
    result = run_cli(
        "publish", "--spec", str(example.spec), "--records", str(records), env=NO_GITHUB
    )
    assert result.code == 2, result.err
    assert result.err.strip() == (
        "error: records do not match the spec's variants: missing linux/arm64 (no record for"
        " it) (each variant's build writes one record; bring every build's records)"
    )
    with Context(TransportSettings()) as ctx:
        assert ctx.repository(Reference.parse(example.target())).head_manifest("v2.0.0") is None


#: The last line of a failed build, by buildx version: 0.29 says which step failed first.
FAILED_BUILD = {
    "docker26": "[linux/arm64] ERROR: failed to solve: ",
    "docker28": "[linux/arm64] ERROR: failed to build: failed to solve: ",
}


def test_a_failing_build_is_named_and_the_other_variant_finishes(
    make_example: Callable[[str], Example], docker_engine: Engine
) -> None:
    example = make_example("broken")
    dockerfile = example.spec.parent / "app-arm64" / "Dockerfile"
    text = dockerfile.read_text()
    dockerfile.write_text(
        text.replace("FROM runtime AS dev", "COPY missing.py /app/\n\nFROM runtime AS dev")
    )
    records = example.spec.parent / "records"
    result = run_cli("build", "--spec", str(example.spec), "--records", str(records))
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert last == (
        "error: build failed for linux/arm64: `docker buildx build` exited with code 1 (the"
        " build output above says why; no record was written for it)"
    ), result.err
    assert '"/missing.py": not found' in result.err
    assert FAILED_BUILD[docker_engine.name] in result.err
    assert "Traceback" not in result.err
    assert [p.name for p in records.iterdir()] == ["linux-amd64.json"]


def test_release_builds_and_publishes_on_one_machine(
    make_example: Callable[[str], Example],
) -> None:
    example = make_example("release")
    result = run_cli(
        "release", "--spec", str(example.spec), "--network", "none", "--json", env=NO_GITHUB
    )
    assert result.code == 0, result.err
    doc = result.json()
    assert [v["platform"] for v in doc["variants"]] == ["linux/amd64", "linux/arm64"]
    assert doc["tags"] == [example.target(), example.target("latest")]
    assert doc["verify"][0]["ok"]
    assert "[linux/amd64] $ docker buildx build --platform linux/amd64" in result.err
    with Context(TransportSettings()) as ctx:
        index = ctx.repository(Reference.parse(example.target())).get_manifest("latest")
    assert str(index.digest) == doc["digest"]
