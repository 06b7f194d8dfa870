"""verify --run with the real Docker engine: amd64 natively, arm64 under QEMU, a broken variant."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, CreateRequest, Reference, TransportSettings, create_index
from support.cli import run_cli
from support.engine import Engine, build_and_push
from support.measured import MIB, finish, start_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def release(
    docker_engine: Engine, busybox_rootfs: dict[str, Path], registry: Any
) -> Iterator[dict[str, Any]]:
    """Two good variants and a broken amd64 one, assembled into two indexes."""
    repo = f"e2e-verify-{uuid.uuid4().hex[:6]}/metrics-api"
    host = registry.host
    digests = {
        name: build_and_push(
            host, repo, name, platform, fail_entrypoint=fail, rootfs=busybox_rootfs[platform]
        )
        for name, platform, fail in [
            ("amd64", "linux/amd64", False),
            ("arm64", "linux/arm64", False),
            ("broken-amd64", "linux/amd64", True),
        ]
    }
    base = Reference.parse(f"{host}/{repo}")
    with Context(TransportSettings()) as ctx:
        for tag, parts in [("good", ["amd64", "arm64"]), ("broken", ["broken-amd64", "arm64"])]:
            request = CreateRequest.build([base.with_tag(tag)], [base.with_tag(p) for p in parts])
            create_index(request, ctx)
    yield {"base": base, "digests": digests}
    # verify --run pulled the images into the engine: remove them again.
    listed = subprocess.run(
        ["docker", "image", "ls", "-q", "--filter", f"reference={host}/{repo}"],
        capture_output=True,
        text=True,
        check=False,
    )
    ids = sorted(set(listed.stdout.split()))
    if ids:
        subprocess.run(["docker", "rmi", "--force", *ids], capture_output=True, check=False)


def test_every_platform_starts_and_reports_its_machine(release: dict[str, Any]) -> None:
    target = str(release["base"].with_tag("good"))
    cli = run_cli(
        "verify",
        target,
        "--exact",
        "--expect",
        f"linux/amd64={release['digests']['amd64']}",
        "--expect",
        f"linux/arm64={release['digests']['arm64']}",
        "--run=uname -m",
        "--expect-output",
        "linux/amd64=x86_64",
        "--expect-output",
        "linux/arm64=aarch64",
        "--json",
    )
    assert cli.code == 0, cli.out + cli.err
    runs = {c["platform"]: c for c in cli.json()["checks"] if c["check"] == "run"}
    assert runs["linux/amd64"]["status"] == "pass"
    assert runs["linux/amd64"]["details"]["machine"] == "x86_64"
    assert runs["linux/amd64"]["details"]["native"] is True
    assert runs["linux/arm64"]["details"]["machine"] == "aarch64"
    assert runs["linux/arm64"]["details"]["native"] is False
    assert "under emulation" in runs["linux/arm64"]["message"]

    human = run_cli("verify", target, "--run")  # the image's own command
    assert human.code == 0, human.out
    assert "exited 0 natively" in human.out and "exited 0 under emulation" in human.out


def test_a_variant_whose_entrypoint_fails_is_caught(release: dict[str, Any]) -> None:
    target = str(release["base"].with_tag("broken"))
    cli = run_cli("verify", target, "--run", "--json")
    assert cli.code == 1
    runs = {c["platform"]: c for c in cli.json()["checks"] if c["check"] == "run"}
    assert runs["linux/amd64"]["status"] == "fail"
    assert runs["linux/amd64"]["details"]["exitCode"] not in (0, None)
    assert runs["linux/arm64"]["status"] == "pass"
    # Without --run the same index passes every static check: only starting it shows the bug.
    assert run_cli("verify", target).code == 0


def test_wrong_output_fails(release: dict[str, Any]) -> None:
    target = str(release["base"].with_tag("good"))
    cli = run_cli("verify", target, "--run=uname -m", "--expect-output", "linux/arm64=x86_64")
    assert cli.code == 1
    assert "does not match" in cli.out


def test_an_image_printing_without_end_is_read_with_a_bound(release: dict[str, Any]) -> None:
    """``docker run`` prints what the image prints: here 100 MiB per platform (issue 25).

    The docker CLI's output is read as it comes and only its head and tail kept
    (``engine/process.py``); before, ``subprocess.run`` collected all of it (a process
    capturing 300 MiB that way peaks at 612 MiB). Measured here with ``wait4`` on the real
    CLI: 30 MiB.
    """
    target = str(release["base"].with_tag("good"))
    started = start_cli("verify", target, "--run=head -c 104857600 /dev/zero", "--json")
    result = finish(started, 900)
    assert result.code == 0, result.err[-600:]
    runs = [c for c in json.loads(result.out)["checks"] if c["check"] == "run"]
    assert runs and all(c["status"] == "pass" for c in runs), runs
    assert result.max_rss < 150 * MIB, f"peak RSS {result.max_rss / MIB:.0f} MiB"
