"""The e2e infrastructure on the real Docker engine and a real registry.

Busybox images (Debian's ``busybox-static``, ``FROM scratch``) are built for
``linux/amd64`` and ``linux/arm64``, pushed to the ``registry`` fixture, and started
through :class:`DockerRunner` by digest: natively and under QEMU emulation.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from pathlib import Path

import pytest

from polyarch.domain.platform import Platform, compatible
from polyarch.engine.runner import DockerRunner
from support.cli import run_cli
from support.engine import Engine, build_and_push
from support.registry import RegistryServer
from support.require import missing

pytestmark = pytest.mark.e2e

AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
S390X = Platform.parse("linux/s390x")
REPO = "e2e/busybox"


@dataclass(frozen=True)
class Images:
    """Pinned references (``host/repo@sha256:...``) of the pushed test images."""

    amd64: str
    arm64: str
    failing: str


@pytest.fixture(scope="module")
def images(
    docker_engine: Engine, busybox_rootfs: dict[str, Path], registry: RegistryServer
) -> Iterator[Images]:
    """The busybox images, built and pushed once for this module (local copies removed)."""
    host = registry.host

    def push(tag: str, platform: str, *, fail: bool = False) -> str:
        rootfs = busybox_rootfs[platform]
        digest = build_and_push(host, REPO, tag, platform, fail_entrypoint=fail, rootfs=rootfs)
        return f"{host}/{REPO}@{digest}"

    pushed = Images(
        amd64=push("amd64", "linux/amd64"),
        arm64=push("arm64", "linux/arm64"),
        failing=push("failing-amd64", "linux/amd64", fail=True),
    )
    yield pushed
    subprocess.run(["docker", "rmi", "--force", *astuple(pushed)], capture_output=True, check=False)


@pytest.fixture
def runner(docker_engine: Engine) -> DockerRunner:
    """A runner on the local engine."""
    return DockerRunner(timeout=120)


def _need_emulator(runner: DockerRunner, platform: Platform) -> None:
    reason = runner.emulator_available(platform)
    if reason is not None:
        missing(f"{reason} (./scripts/engine.sh start enables the QEMU handlers)")


@pytest.mark.parametrize(("platform", "tag"), [(AMD64, "amd64"), (ARM64, "arm64")])
def test_pushed_tag_is_a_buildkit_wrapper_around_an_image_of_its_platform(
    images: Images, registry: RegistryServer, platform: Platform, tag: str
) -> None:
    # Each engine of scripts/engine.sh (Docker 26 and 28.5, containerd image store) builds with
    # BuildKit: `docker push` of a tag pushes a wrapper index (the OCI image manifest and
    # an unknown/unknown provenance attestation manifest), as Docker 29 does by default.
    pinned = getattr(images, tag)
    result = run_cli("resolve", "--json", f"{registry.host}/{REPO}:{tag}")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["platform"] == str(platform)
    assert doc["source"] == "wrapper"
    assert doc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert pinned.endswith("@" + doc["digest"])
    assert doc["sourceDigest"] != doc["digest"]


def test_amd64_runs_natively(images: Images, runner: DockerRunner) -> None:
    _need_emulator(runner, AMD64)
    result = runner.run(images.amd64, AMD64, ["uname", "-m"])
    assert result.error is None, result
    assert (result.exit_code, result.machine) == (0, "x86_64"), result
    assert result.native is compatible(Platform.host(), AMD64)
    if Platform.host() == AMD64:
        assert result.native


def test_arm64_runs_under_emulation(images: Images, runner: DockerRunner) -> None:
    _need_emulator(runner, ARM64)
    result = runner.run(images.arm64, ARM64, ["uname", "-m"])
    assert result.error is None, result
    assert (result.exit_code, result.machine) == (0, "aarch64"), result
    assert result.native is compatible(Platform.host(), ARM64)
    if Platform.host() == AMD64:
        assert not result.native
    assert result.ok


def test_default_command_runs(images: Images, runner: DockerRunner) -> None:
    _need_emulator(runner, ARM64)
    result = runner.run(images.arm64, ARM64, None)
    assert (result.error, result.exit_code, result.machine) == (None, 0, None), result
    assert result.output.strip() == "hello from aarch64"


def test_failing_entrypoint_gives_its_exit_code(images: Images, runner: DockerRunner) -> None:
    result = runner.run(images.failing, AMD64, None)
    assert result.error is None, result
    assert result.exit_code == 1, result
    assert not result.ok
    result = runner.run(images.amd64, AMD64, ["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (result.error, result.exit_code) == (None, 7), result
    assert result.output == "out\nerr\n"


def test_pull_failure_is_an_error_not_an_exit_code(
    images: Images, runner: DockerRunner, registry: RegistryServer
) -> None:
    absent = f"{registry.host}/{REPO}@sha256:{'0' * 64}"
    result = runner.run(absent, AMD64, ["uname", "-m"])
    assert result.exit_code is None
    assert result.error is not None
    assert result.error.startswith(f"cannot pull {absent} for linux/amd64: "), result.error


def test_timeout_removes_the_container(images: Images, docker_engine: Engine) -> None:
    result = DockerRunner(timeout=3).run(images.amd64, AMD64, ["sleep", "60"])
    assert result.exit_code is None
    assert result.error == f"{images.amd64} for linux/amd64 did not finish in 3 s"
    left = subprocess.run(
        ["docker", "ps", "--all", "--quiet", "--filter", "name=polyarch-run-"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert left.stdout.strip() == ""


def test_emulator_for_s390x(runner: DockerRunner) -> None:
    handler = runner.binfmt_dir / "qemu-s390x"
    enabled = handler.is_file() and handler.read_text().startswith("enabled")
    reason = runner.emulator_available(S390X)
    if enabled:
        assert reason is None
    else:
        assert reason is not None
        assert reason.startswith("no emulator for linux/s390x: "), reason
