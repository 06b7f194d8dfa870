"""Layouts a real engine writes, against the imitations the integration tier reads.

Docker with the containerd image store (both engines of scripts/engine.sh: Docker 26.1 with
containerd 1.7 and buildx 0.13, Docker 28.5 with containerd 2.1 and buildx 0.29) writes OCI
layouts two ways: ``docker save`` exports what the content store
holds (containerd's ``WithSkipMissing``: after ``docker pull --platform linux/amd64`` of a
multi-platform index, only the index and the amd64 image, neither the other platform nor
any attestation manifest), and ``docker buildx build --output type=oci`` exports the whole
index. tests/support/foreign_layouts.py imitates both so that the integration tests need
no engine; here the real outputs are compared with the imitations' (the same documents,
the same blobs present) and polyarch reads them: the platform and the attestation that
were never saved are named, with what copies the rest.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.domain.manifest import Index
from support.cli import assert_one_line_error, run_cli
from support.engine import Engine, build_and_push, docker
from support.foreign_layouts import CREATED, IMAGE_NAME, REF_NAME, docker_save_layout
from support.registry import RegistryServer

pytestmark = pytest.mark.e2e

TWO = ("linux/amd64", "linux/arm64")


@dataclass(frozen=True)
class Saved:
    """``docker save`` of a two-platform index after pulling linux/amd64 only."""

    ref: Reference
    index: Index
    real: Path
    imitation: Path


def _extract(tar: Path, into: Path) -> Path:
    with tarfile.open(tar) as archive:
        archive.extractall(into, filter="data")
    return into


def _blobs(root: Path) -> set[str]:
    return {f"{p.parent.name}:{p.name}" for p in (root / "blobs").glob("*/*")}


def _index_json(root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root / "index.json").read_text())
    return doc


@pytest.fixture(scope="module")
def saved(
    docker_engine: Engine,
    busybox_rootfs: dict[str, Path],
    registry: RegistryServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Saved:
    host, repo = registry.host, f"e2e/save{uuid.uuid4().hex[:6]}"
    for platform in TWO:  # BuildKit wrappers: image + provenance attestation each
        build_and_push(
            host, repo, platform.split("/")[1], platform, rootfs=busybox_rootfs[platform]
        )
    ref = Reference.parse(f"{host}/{repo}:v1")
    made = run_cli("create", "-t", str(ref), str(ref.with_tag("amd64")), str(ref.with_tag("arm64")))
    assert made.code == 0, made.err
    work = tmp_path_factory.mktemp("saved")
    docker("pull", "--platform", "linux/amd64", str(ref))
    try:
        docker("save", "-o", str(work / "save.tar"), str(ref))
    finally:
        subprocess.run(["docker", "rmi", str(ref)], capture_output=True, check=False)
    real = _extract(work / "save.tar", work / "real")
    with Context() as ctx:
        imitation = work / "imitation"
        index = docker_save_layout(
            ctx.repository(ref), "v1", imitation, host=host, repository=repo, pulled="linux/amd64"
        )
    return Saved(ref, index, real, imitation)


def test_docker_save_writes_what_the_imitation_writes(saved: Saved) -> None:
    assert _index_json(saved.real) == _index_json(saved.imitation)
    assert json.loads((saved.real / "manifest.json").read_text()) == json.loads(
        (saved.imitation / "manifest.json").read_text()
    )
    assert _blobs(saved.real) == _blobs(saved.imitation)
    # WithSkipMissing: the other platform and every attestation manifest were not saved.
    arm64 = next(d for d in saved.index.images if str(d.platform) == "linux/arm64")
    assert f"sha256:{arm64.digest.hex}" not in _blobs(saved.real)
    assert not any(f"sha256:{a.digest.hex}" in _blobs(saved.real) for a in saved.index.attestations)


def test_polyarch_reads_a_real_docker_save(saved: Saved, registry2: RegistryServer) -> None:
    layout = f"oci:{saved.real}"
    tags = run_cli("tags", "--json", layout)
    assert tags.code == 0 and tags.json()["tags"] == ["v1"], tags.err
    shown = run_cli("inspect", "--json", f"{layout}:v1")
    assert shown.code == 0 and shown.json()["digest"] == str(saved.index.digest), shown.err
    dest = f"{registry2.host}/e2e/saved{uuid.uuid4().hex[:6]}:v1"
    everything = run_cli("copy", f"{layout}:v1", dest)
    assert_one_line_error(everything, 1, "linux/arm64", "not saved", "--platform linux/amd64")
    attested = run_cli("copy", "--platform", "linux/amd64", f"{layout}:v1", dest)
    assert_one_line_error(attested, 1, "attestation", "linux/amd64", "--attestations drop")
    saved_part = ["--platform", "linux/amd64", "--attestations", "drop"]
    copied = run_cli("copy", *saved_part, f"{layout}:v1", dest)
    assert copied.code == 0, copied.err
    assert run_cli("verify", dest).code == 0


def test_buildx_oci_output_is_what_the_imitation_writes(
    docker_engine: Engine, busybox_rootfs: dict[str, Path], tmp_path: Path
) -> None:
    """buildx --output type=oci,name=N: one entry, every blob, the annotations imitated."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "busybox").write_bytes((busybox_rootfs["linux/amd64"] / "bin/busybox").read_bytes())
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox", "true"]\n'
    )
    name = "registry.example/team/app:1.0"
    out = tmp_path / "out.tar"
    docker(
        "buildx", "build", "--network", "none", "--platform", ",".join(TWO),
        "--provenance", "mode=min", "--output", f"type=oci,dest={out},name={name}", str(context),
    )  # fmt: skip
    real = _extract(out, tmp_path / "real")
    doc = _index_json(real)
    assert doc["mediaType"] == "application/vnd.oci.image.index.v1+json"
    (entry,) = doc["manifests"]
    assert sorted(entry["annotations"]) == sorted([CREATED, IMAGE_NAME, REF_NAME])
    assert entry["annotations"][REF_NAME] == "1.0" and entry["annotations"][IMAGE_NAME] == name
    index = json.loads((real / "blobs/sha256" / entry["digest"][7:]).read_text())
    listed = {m["digest"] for m in index["manifests"]}
    assert len(listed) == 4  # two images, two attestation manifests: every blob is saved
    assert {f"sha256:{d[7:]}" for d in listed} <= _blobs(real)
    shown = run_cli("inspect", "--json", f"oci:{real}")
    assert shown.code == 0 and shown.json()["digest"] == entry["digest"], shown.err
    shown = run_cli("inspect", "--json", f"oci:{real}:1.0")
    assert shown.code == 0, shown.err
