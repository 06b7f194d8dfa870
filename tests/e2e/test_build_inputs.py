"""Issue 21 §3 on the real engine: a secret reaches ``RUN --mount=type=secret`` and nothing
else; a local cache makes the second build of a variant a cache hit.

The variant is a busybox image (Debian's ``busybox-static``, no Docker Hub) whose
Dockerfile writes the SHA-256 of the secret it was given, never the secret, so the image
proves the secret was mounted. Then every place polyarch or the build writes to is
searched for the secret's value: the build's output at ``-vv``, ``--json``, the record,
and every blob in the registry's storage (the image's layers decompressed, its config,
the provenance attestation at ``mode=max``).

Measured by hand on the engine of scripts/engine.sh (Docker 26.1.5, buildx 0.13.1, the
docker driver with the containerd image store): ``docker buildx build --secret
id=token,env=GH_TOKEN --provenance mode=max`` records the secret's id and never its value
in the provenance, the log or the metadata file; ``--cache-to type=local,dest=D`` works on
that driver, and after ``docker buildx prune -af`` a build with ``--cache-from
type=local,src=D`` reports every step ``CACHED``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from support.cli import run_cli
from support.engine import Engine
from support.registry import RegistryServer

pytestmark = pytest.mark.e2e

TOKEN = f"TOKEN-{uuid.uuid4().hex}-S3CR3T"
NPMRC = f"//npm.example.com/:_authToken=NPMRC-{uuid.uuid4().hex}-S3CR3T\n"

# BuildKit does not key its cache on a secret's value: a RUN step that mounts a secret is
# reused from an earlier build with another value (measured: the engine's cache served the
# layer of the previous run's token). The run's own ENV line keeps other runs' layers out.
DOCKERFILE = f"""\
FROM scratch
COPY bin/busybox /bin/busybox
ENV POLYARCH_TEST_RUN={uuid.uuid4().hex}
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN --mount=type=secret,id=token,required=true sh -c 'sha256sum /run/secrets/token | cut -c1-64 > /token-sha256'
RUN --mount=type=secret,id=npmrc,required=true sh -c 'sha256sum /run/secrets/npmrc | cut -c1-64 > /npmrc-sha256'
"""  # noqa: E501 - a Dockerfile's lines


def _project(tmp_path: Path, rootfs: Path, image: str, extra: str = "") -> Path:
    context = tmp_path / "app"
    (context / "bin").mkdir(parents=True)
    shutil.copy(rootfs / "bin" / "busybox", context / "bin" / "busybox")
    (context / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / ".npmrc").write_text(NPMRC)
    spec = tmp_path / "polyarch.yaml"
    spec.write_text(
        f"image: {image}\n"
        "tags: [v1]\n"
        "variants:\n"
        "  - platform: linux/amd64\n"
        "    context: app\n"
        "    secrets: ['id=token,env=GH_TOKEN', 'id=npmrc,src=.npmrc']\n"
        "    provenance: mode=max\n" + extra
    )
    return spec


def _blobs(registry: RegistryServer) -> list[bytes]:
    out = []
    for path in Path(registry.storage_dir).rglob("data"):
        data = path.read_bytes()
        with contextlib.suppress(OSError, EOFError):
            data += gzip.decompress(data)
        out.append(data)
    return out


def test_a_secret_reaches_the_build_and_nothing_else(
    docker_engine: Engine,
    registry: RegistryServer,
    busybox_rootfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    image = f"{registry.host}/secrets-{uuid.uuid4().hex[:8]}/api"
    spec = _project(tmp_path, busybox_rootfs["linux/amd64"], image)
    records = tmp_path / "records"
    result = run_cli(
        "build", "--spec", str(spec), "--records", str(records), "--network", "none",
        "-vv", "--json",
        env={"GH_TOKEN": TOKEN, "GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": ""},
    )  # fmt: skip
    assert result.code == 0, result.err[-3000:]
    record = (records / "linux-amd64.json").read_text()
    for secret in (TOKEN, NPMRC.strip(), "S3CR3T"):
        assert secret not in result.out
        assert secret not in result.err
        assert secret not in record
    blobs = _blobs(registry)
    assert not [b for b in blobs if b"S3CR3T" in b], "a secret reached the registry"
    # The image proves the secrets were mounted: their hashes are in a layer.
    for value in (TOKEN, NPMRC):
        digest = hashlib.sha256(value.encode()).hexdigest().encode()
        assert any(digest in b for b in blobs), "the build did not see the secret"
    # The provenance names the secrets by id only (the registry is shared with other tests:
    # this build's mode=max provenance is the one that lists the secret ids).
    provenance = [b for b in blobs if b'"predicateType"' in b and b"slsa" in b]
    assert any(b'"id":"token"' in b.replace(b" ", b"") for b in provenance)
    assert any(b'"id":"npmrc"' in b.replace(b" ", b"") for b in provenance)


def test_a_local_cache_makes_the_second_build_a_hit(
    docker_engine: Engine,
    registry: RegistryServer,
    busybox_rootfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    image = f"{registry.host}/cache-{uuid.uuid4().hex[:8]}/api"
    cache = tmp_path / "cache"
    spec = _project(
        tmp_path,
        busybox_rootfs["linux/amd64"],
        image,
        f"    cache-from: type=local,src={cache}\n    cache-to: type=local,dest={cache},mode=max\n",
    )
    env = {"GH_TOKEN": TOKEN, "GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": ""}
    build = ("build", "--spec", str(spec), "--network", "none", "--records")
    first = run_cli(*build, str(tmp_path / "r1"), env=env)
    assert first.code == 0, first.err[-3000:]
    assert (cache / "index.json").is_file()
    # Forget everything the engine knows, so that only the local cache can make hits.
    subprocess.run(["docker", "buildx", "prune", "-af"], check=True, capture_output=True)
    second = run_cli(*build, str(tmp_path / "r2"), env=env)
    assert second.code == 0, second.err[-3000:]
    steps = [line for line in second.err.splitlines() if "] RUN " in line]
    assert len(steps) == 3, second.err[-3000:]
    cached = [line for line in second.err.splitlines() if line.endswith(" CACHED")]
    assert len(cached) >= 4, "COPY and the three RUN steps come from the local cache"
    one = json.loads((tmp_path / "r1" / "linux-amd64.json").read_text())
    two = json.loads((tmp_path / "r2" / "linux-amd64.json").read_text())
    assert one["digest"] == two["digest"], "a cache hit rebuilds the same image"
