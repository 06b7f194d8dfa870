"""The seed lab for real: two codebases, a real BuildKit, one tag, each platform pulled and run.

Once per engine of scripts/engine.sh: ``[docker26]`` Docker 26 (Debian 13's dockerd, containerd
1.7 image store) with buildx 0.13, ``[docker28]`` Docker 28.5 (Debian unstable's, containerd 2.1
image store) with buildx 0.29; each with its default builder, the ``docker`` driver, as on a
stock docker-ce or Docker Desktop; the docker CLI is the engine's own. examples/metrics-api
holds the two codebases: a "Go" service for linux/amd64 (one stage) and a multi-stage "legacy
Python" service for linux/arm64 (``--target runtime``), each ``FROM scratch`` plus Debian's
static busybox. They are built separately, the way the seeds' two CI runners do, each pushed to
its per-platform tag by the engine as a real BuildKit wrapper (image manifest +
``unknown/unknown`` provenance attestation manifest): amd64 with ``docker buildx build
--provenance=true --push``, arm64 with plain ``docker build`` + ``docker push``. Then ``polyarch
create``, ``polyarch verify --run``, and what a user finally does: ``docker pull --platform``
and ``docker run`` of each platform. Then the newest readers (crane, oras, skopeo 1.22, podman
5.8) read the published index byte for byte. Then the builder choice (``--builder``, ``--buildx-
builder``) on that real default builder.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from polyarch import Context, Index, Reference, TransportSettings
from polyarch.domain.manifest import ImageManifest
from support.cli import assert_one_line_error, run_cli
from support.engine import Engine, docker
from support.example import prepare_example
from support.readers import Readers
from support.registry import RegistryServer
from support.require import missing

pytestmark = pytest.mark.e2e

IN_TOTO = "application/vnd.in-toto+json"
OUTPUT = {
    "linux/amd64": "metrics-api (go) ok on x86_64",
    "linux/arm64": "metrics-api (python, production) ok on aarch64",
}
MACHINE = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


@dataclass(frozen=True)
class Lab:
    """The example prepared in a fresh repository of the test registry."""

    spec: Path
    repository: str

    def ref(self, tag: str) -> str:
        return f"{self.repository}:{tag}"


@pytest.fixture(scope="module")
def lab(
    docker_engine: Engine,
    registry: RegistryServer,
    busybox_rootfs: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Lab]:
    """examples/metrics-api in its own repository; the local images removed at the end."""
    repository = f"{registry.host}/lab-{uuid.uuid4().hex[:8]}/metrics-api"
    spec = prepare_example(
        tmp_path_factory.mktemp("lab") / "metrics-api", repository, rootfs=busybox_rootfs
    )
    yield Lab(spec, repository)
    listed = docker("images", "--format", "{{.Repository}} {{.ID}}")
    ours = {
        row.split()[1]
        for row in listed.splitlines()
        if row.startswith(repository.rsplit("/", 1)[0])
    }
    if ours:
        subprocess.run(["docker", "rmi", "--force", *ours], capture_output=True, check=False)


def _get(ref: str) -> ImageManifest | Index:
    with Context(TransportSettings()) as ctx:
        reference = Reference.parse(ref)
        return ctx.repository(reference).get_manifest(reference.tag or str(reference.digest))


def _blob(ref: str, descriptor: object) -> bytes:
    with Context(TransportSettings()) as ctx:
        return ctx.repository(Reference.parse(ref)).read_blob(descriptor)  # type: ignore[arg-type]


def assert_buildkit_wrapper(ref: str, platform: str) -> str:
    """``ref`` is what BuildKit pushes: one image of ``platform`` + its provenance attestation.

    Returns the platform image's digest.
    """
    wrapper = _get(ref)
    assert isinstance(wrapper, Index), f"{ref} is not an index: {wrapper.media_type}"
    assert wrapper.is_wrapper, wrapper.raw.decode()
    (image,) = wrapper.images
    assert str(image.platform) == platform
    (attestation,) = wrapper.attestations
    assert str(attestation.platform) == "unknown/unknown"
    assert attestation.annotations["vnd.docker.reference.type"] == "attestation-manifest"
    assert attestation.annotations["vnd.docker.reference.digest"] == str(image.digest)
    manifest = _get(f"{ref.rsplit(':', 1)[0]}@{attestation.digest}")
    assert isinstance(manifest, ImageManifest) and manifest.is_attestation
    (layer,) = manifest.layers
    assert layer.media_type == IN_TOTO
    statement = json.loads(_blob(ref, layer))
    assert statement["predicateType"].startswith("https://slsa.dev/provenance/")
    assert [s["digest"]["sha256"] for s in statement["subject"]] == [
        str(image.digest).removeprefix("sha256:")
    ]
    return str(image.digest)


@pytest.fixture(scope="module")
def seeds(lab: Lab) -> dict[str, str]:
    """The two variants built separately by the real engine: platform -> image digest."""
    root = lab.spec.parent
    amd, arm = lab.ref("v1-amd64"), lab.ref("v1-arm64")
    # Runner 1: the Go service, buildx (docker driver), provenance, pushed by the build.
    docker(
        "buildx", "build", "--platform", "linux/amd64", "--provenance=true", "--push",
        "--network", "none", "-t", amd, root / "app-amd64",
    )  # fmt: skip
    # Runner 2: the legacy Python service, plain docker build (BuildKit too) + docker push.
    docker(
        "build", "--platform", "linux/arm64", "--target", "runtime", "--build-arg",
        "PYTHON_ENV=production", "--network", "none", "-t", arm, root / "app-arm64",
    )  # fmt: skip
    docker("push", arm)
    return {
        "linux/amd64": assert_buildkit_wrapper(amd, "linux/amd64"),
        "linux/arm64": assert_buildkit_wrapper(arm, "linux/arm64"),
    }


@pytest.fixture(scope="module")
def published(lab: Lab, seeds: dict[str, str]) -> Index:
    """``polyarch create`` of the two wrappers into ``v1``: the index as the registry serves it."""
    target = lab.ref("v1")
    created = run_cli("create", "-t", target, lab.ref("v1-amd64"), lab.ref("v1-arm64"))
    assert created.code == 0, created.err
    index = _get(target)
    assert isinstance(index, Index)
    return index


def test_the_seed_lab_create_verify_pull_and_run(
    lab: Lab, seeds: dict[str, str], published: Index
) -> None:
    target = lab.ref("v1")
    index = published
    assert {str(d.platform): str(d.digest) for d in index.images} == seeds
    # The provenance of each variant travels with it, attached to its image.
    for digest in seeds.values():
        assert len(index.attestations_for(digest)) == 1

    verified = run_cli(
        "verify", target, "--exact", "--run=/app/healthcheck", "--json",
        *[f"--expect={p}={d}" for p, d in seeds.items()],
        *[f"--expect-output={p}={text.replace('(', '.').replace(')', '.')}$"
          for p, text in OUTPUT.items()],
    )  # fmt: skip
    assert verified.code == 0, verified.out + verified.err
    report = verified.json()
    runs = {c["platform"]: c for c in report["checks"] if c["check"] == "run"}
    for platform, text in OUTPUT.items():
        assert runs[platform]["status"] == "pass", runs[platform]
        assert runs[platform]["details"]["output"].strip() == text

    # What a user of the tag does: pull one platform, run it (arm64 under QEMU).
    for platform, text in OUTPUT.items():
        docker("pull", "--platform", platform, target)
        ran = docker("run", "--rm", "--network", "none", "--platform", platform, target,
                     "/app/healthcheck")  # fmt: skip
        assert ran.strip() == text
        machine = docker("run", "--rm", "--network", "none", "--platform", platform, target,
                         "/bin/busybox", "uname", "-m")  # fmt: skip
        assert machine.strip() == MACHINE[platform]


def test_the_newest_readers_read_the_published_index_byte_identical(
    lab: Lab, seeds: dict[str, str], published: Index, tmp_path: Path
) -> None:
    readers, reason = Readers.find(tmp_path / "readers")
    if readers is None:
        missing(reason)
    target = lab.ref("v1")
    raw = published.raw
    # crane 0.20.7, oras 1.3, skopeo 1.22 (Debian sid): the exact bytes we published.
    assert readers.crane_manifest(target) == raw
    assert readers.oras_manifest(target) == raw
    assert readers.skopeo_raw(target) == raw
    # podman 5.8 resolves the index to each platform's image and records the index digest.
    for platform, digest in seeds.items():
        image = readers.podman_pull(target, platform)
        assert image["Digest"] == digest, (platform, readers.version("podman"))
        assert f"{lab.repository}@{published.digest}" in image["RepoDigests"]  # type: ignore[operator]
        assert f"{image['Os']}/{image['Architecture']}" == platform


# --- the builder choice on the real default builder (docker driver) -----------------------


def _build(lab: Lab, records: Path, *args: str, env: dict[str, str] | None = None) -> Sequence[str]:
    result = run_cli(
        "build", "--spec", str(lab.spec), "--platform", "linux/amd64", "--records", str(records),
        "--network", "none", *args, env=env,
    )  # fmt: skip
    assert result.code == 0, result.err
    return [result.out, result.err]


def test_buildx_by_digest_on_the_docker_driver_fails_early_with_what_to_do(
    lab: Lab, tmp_path: Path
) -> None:
    result = run_cli(
        "build", "--spec", str(lab.spec), "--records", str(tmp_path), "--builder", "buildx"
    )
    assert_one_line_error(
        result,
        2,
        'buildx builder "default" uses the docker driver, which cannot push by digest',
        "docker buildx create --use --driver docker-container",
    )
    assert "$ docker" not in result.err  # nothing was built
    assert list(tmp_path.iterdir()) == []


def test_a_named_buildx_builder_is_used_and_recorded(lab: Lab, tmp_path: Path) -> None:
    _, err = _build(lab, tmp_path / "flag", "--buildx-builder", "default")
    assert "$ docker buildx build --builder default --platform linux/amd64" in err
    record = json.loads((tmp_path / "flag" / "linux-amd64.json").read_text())
    assert record["builder"] == "buildx:default"
    assert record["tag"] == "v2.0.0-linux-amd64"
    assert (
        assert_buildkit_wrapper(lab.ref("v2.0.0-linux-amd64"), "linux/amd64") == (record["digest"])
    )
    assert record["wrapper"] == str(_get(lab.ref("v2.0.0-linux-amd64")).digest)

    _, err = _build(lab, tmp_path / "env", env={"BUILDX_BUILDER": "default"})
    assert "$ docker buildx build --builder default --platform linux/amd64" in err
    record = json.loads((tmp_path / "env" / "linux-amd64.json").read_text())
    assert record["builder"] == "buildx:default"

    missing = run_cli(
        "build", "--spec", str(lab.spec), "--records", str(tmp_path / "x"),
        "--buildx-builder", "nope",
    )  # fmt: skip
    assert_one_line_error(missing, 2, 'cannot inspect buildx builder "nope"')


def test_the_docker_builder_on_a_buildkit_engine(lab: Lab, tmp_path: Path) -> None:
    # docker build is BuildKit here too: the per-platform tag is a wrapper, resolved to its
    # image; BUILDX_BUILDER in the environment is not an error for the docker builder.
    out, err = _build(lab, tmp_path, "--builder", "docker", env={"BUILDX_BUILDER": "default"})
    assert "[linux/amd64] $ docker build --platform linux/amd64" in err
    assert "built with docker build + docker push, per-platform tags" in out
    record = json.loads((tmp_path / "linux-amd64.json").read_text())
    assert record["builder"] == "docker"
    wrapper = _get(lab.ref("v2.0.0-linux-amd64"))
    assert record["wrapper"] == str(wrapper.digest)
    assert (
        assert_buildkit_wrapper(lab.ref("v2.0.0-linux-amd64"), "linux/amd64") == (record["digest"])
    )
