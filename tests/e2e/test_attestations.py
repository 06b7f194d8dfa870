"""Real BuildKit attestations: provenance (mode=max) and an SBOM, in the index and as referrers.

On each engine of scripts/engine.sh (Docker 26 / BuildKit 0.13, Docker 28.5 / buildx 0.29),
each platform is built and pushed with
``docker buildx build --provenance=mode=max`` from a git-tracked context (BuildKit records the
revision, the Dockerfile and the build arguments). Then ``polyarch create --attestations
referrers`` publishes the index without its ``unknown/unknown`` entries, each attestation an
OCI 1.1 referrer of its image that real ``cosign3 discover`` (1.3) lists; ``inspect
--provenance`` says the same from the referrers as from the builds' wrappers; ``verify``
finds them there; ``sign`` signs the real index and real ``cosign verify`` accepts it.

An SBOM needs a generator image: ours (tests/support/sbom_scanner.py) on the test registry,
run by BuildKit on an engine in a network namespace of its own (``POLYARCH_ENGINE_NETNS=1``),
which reaches the registry through a loopback forwarder. On both engines: one attestation
manifest with two layers, the SPDX statement first, then the provenance.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Index, Reference, TransportSettings
from polyarch.domain.manifest import ImageManifest
from support.cli import run_cli
from support.engine import Engine, docker
from support.netns import LoopbackBridge
from support.registry import RegistryServer
from support.require import missing
from support.sbom_scanner import TOOL, NetnsEngine, netns_engine, scanner_context
from support.sigtools import PASSWORD, Cosign

pytestmark = pytest.mark.e2e

PLATFORMS = ("linux/amd64", "linux/arm64")
ARTIFACT = "application/vnd.docker.attestation.manifest.v1+json"


def docker_in(engine: NetnsEngine, *args: str | Path, timeout: float = 300) -> str:
    """Run the docker CLI against ``engine`` (not the active one); its stdout."""
    proc = subprocess.run(
        ["docker", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **engine.env},
    )
    assert proc.returncode == 0, f"docker {' '.join(map(str, args))}: {proc.stderr[-3000:]}"
    return proc.stdout


def git(context: Path, *args: str) -> str:
    ident = ["-c", "user.name=lab", "-c", "user.email=lab@example.invalid"]
    return subprocess.run(
        ["git", *ident, "-C", str(context), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def make_context(directory: Path, busybox: Path) -> tuple[Path, str]:
    """A git-tracked busybox context with an origin and a build argument; (dir, revision)."""
    directory.mkdir(parents=True)
    shutil.copy2(busybox, directory / "busybox")
    (directory / "Dockerfile").write_text(
        "FROM scratch\nARG GREETING=hi\nLABEL greeting=$GREETING\n"
        'COPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n'
    )
    git(directory, "init", "-q")
    git(directory, "remote", "add", "origin", "https://example.invalid/lab.git")
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "-m", "lab")
    return directory, git(directory, "rev-parse", "HEAD")


def wrapper_of(ref: str) -> Index:
    with Context(TransportSettings()) as ctx:
        reference = Reference.parse(ref)
        index = ctx.repository(reference).get_manifest(reference.tag or "")
    assert isinstance(index, Index)
    return index


@pytest.fixture(scope="module")
def built(
    docker_engine: Engine,
    registry: RegistryServer,
    busybox_rootfs: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """Each platform built with provenance mode=max and pushed as a BuildKit wrapper."""
    repository = f"{registry.host}/att-{docker_engine.name}-{uuid.uuid4().hex[:6]}/app"
    work = tmp_path_factory.mktemp("attestations")
    refs = {}
    revisions = {}
    for platform in PLATFORMS:
        context, revisions[platform] = make_context(
            work / platform.replace("/", "-"), busybox_rootfs[platform] / "bin" / "busybox"
        )
        ref = f"{repository}:build-{platform.replace('/', '-')}"
        docker(
            "buildx", "build", "--network", "none", "--provenance=mode=max",
            "--build-arg", "GREETING=hello", "--platform", platform, "-t", ref, "--push", context,
        )  # fmt: skip
        refs[platform] = ref
    yield {"repository": repository, "refs": refs, "revisions": revisions}
    for ref in refs.values():
        subprocess.run(["docker", "rmi", "--force", ref], capture_output=True, check=False)


def test_attestations_move_to_referrers_and_say_the_same(
    built: dict[str, Any], cosign3: Cosign, tmp_path: Path
) -> None:
    repository, refs = built["repository"], built["refs"]
    wrappers = {p: wrapper_of(ref) for p, ref in refs.items()}
    for wrapper in wrappers.values():
        assert len(wrapper.attestations) == 1  # BuildKit's unknown/unknown entry
    target = f"{repository}:v1"
    cli = run_cli("create", "--json", "--attestations", "referrers", "-t", target, *refs.values())
    assert cli.code == 0, cli.err
    index = wrapper_of(target)
    assert not index.attestations
    assert sorted(str(d.platform) for d in index.manifests) == list(PLATFORMS)
    moved = [r for t in cli.json()["targets"] for r in t["referrers"]]
    assert {r["artifactType"] for r in moved} == {ARTIFACT} and len(moved) == 2
    for d in index.manifests:
        [listed] = cosign3.discover(f"{repository}@{d.digest}")
        assert listed["artifactType"] == ARTIFACT
        # Docker 26 writes the older form: rewritten, its statement blobs unchanged.
        with Context(TransportSettings()) as ctx:
            repo = ctx.repository(Reference.parse(repository))
            referrer = repo.get_manifest(listed["digest"])
            source = repo.get_manifest(str(wrappers[str(d.platform)].attestations[0].digest))
        assert isinstance(referrer, ImageManifest) and isinstance(source, ImageManifest)
        assert referrer.subject is not None and referrer.subject.digest == d.digest
        assert [x.digest for x in referrer.layers] == [x.digest for x in source.layers]

    from_referrers = run_cli("inspect", "--provenance", "--json", target)
    assert from_referrers.code == 0, from_referrers.err
    provenance = {p["platform"]: p for p in from_referrers.json()["provenance"]}
    assert sorted(provenance) == list(PLATFORMS)
    for platform, p in provenance.items():
        assert p["where"] == "referrer"
        assert p["predicateType"] == "https://slsa.dev/provenance/v0.2"
        assert p["mode"] == "max"
        assert p["source"] == {
            "repository": "https://example.invalid/lab.git",
            "revision": built["revisions"][platform],
        }
        assert p["buildArgs"] == {"GREETING": "hello"}
        assert p["dockerfile"]["path"] == "Dockerfile"
        assert "LABEL greeting=$GREETING" in p["dockerfile"]["content"]
        in_index = run_cli("inspect", "--provenance", "--json", refs[platform]).json()
        [same] = in_index["provenance"]
        assert same["where"] == "index"
        drop = ("where", "attestation")
        assert {k: v for k, v in same.items() if k not in drop} == {
            k: v for k, v in p.items() if k not in drop
        }

    verify = run_cli("verify", "--json", target)
    checks = verify.json()["checks"]
    rows = {c["platform"]: c for c in checks if c["check"] == "attestations"}
    for platform in PLATFORMS:
        assert rows[platform]["status"] == "pass"
        assert rows[platform]["message"] == "provenance (1 as referrers)"
    [prov] = [c for c in checks if c["check"] == "provenance"]
    assert prov["details"]["revisions"] == built["revisions"]  # read from the referrers

    key, pub = cosign3.generate_key_pair("lab")
    signed = run_cli("sign", "--key", str(key), target, env={"COSIGN_PASSWORD": PASSWORD})
    assert signed.code == 0, signed.err
    for d in [index, *index.manifests]:
        proc = cosign3.verify(f"{repository}@{d.digest}", pub)
        assert proc.returncode == 0, proc.stderr


def test_buildkit_artifact_attestations_move_byte_for_byte(
    docker_engine: Engine, registry: RegistryServer, busybox_rootfs: dict[str, Path], tmp_path: Path
) -> None:
    """Asked for OCI artifacts (``oci-artifact=true``) and SLSA v1 (``version=v1``), Docker
    28.5 writes a v1 predicate in an attestation manifest already in the referrer form: it
    moves with its digest kept. Docker 26 ignores both options: its v0.2 statement in the
    older form is rewritten, a new digest. ``inspect --provenance`` reads either."""
    context, _ = make_context(tmp_path / "ctx", busybox_rootfs["linux/amd64"] / "bin" / "busybox")
    repository = f"{registry.host}/art-{docker_engine.name}-{uuid.uuid4().hex[:6]}/app"
    output = f"type=image,name={repository}:build,push=true,oci-artifact=true"
    docker(
        "buildx", "build", "--network", "none", "--provenance=mode=max,version=v1",
        "--build-arg", "GREETING=v1", "--platform", "linux/amd64", "--output", output, context,
    )  # fmt: skip
    [attestation] = wrapper_of(f"{repository}:build").attestations
    cli = run_cli("create", "--json", "--attestations", "referrers", "-t", f"{repository}:v1",
                  f"{repository}:build")  # fmt: skip
    assert cli.code == 0, cli.err
    [moved] = [r for t in cli.json()["targets"] for r in t["referrers"]]
    kept = moved["digest"] == str(attestation.digest)
    assert kept is (docker_engine.major >= 28), (docker_engine.version, moved)
    [entry] = run_cli("inspect", "--provenance", "--json", f"{repository}:v1").json()["provenance"]
    assert (entry["where"], entry["attestation"]) == ("referrer", moved["digest"])
    assert entry["slsaVersion"] == ("v1" if docker_engine.major >= 28 else "v0.2")
    assert (entry["mode"], entry["buildArgs"]) == ("max", {"GREETING": "v1"})
    assert entry["source"]["repository"] == "https://example.invalid/lab.git"
    assert "LABEL greeting=$GREETING" in entry["dockerfile"]["content"]


@pytest.fixture(scope="module")
def sbom_engine(docker_engine: Engine) -> Iterator[NetnsEngine]:
    """The same engine as ``docker_engine``, in a network namespace of its own."""
    try:
        with netns_engine(docker_engine.name) as engine:
            assert engine.netns.exists()
            yield engine
    except RuntimeError as exc:
        missing(f"{docker_engine.name} in a network namespace of its own: {exc}")
    assert not engine.netns.exists()  # engine.sh stop deleted the namespace


def test_a_real_sbom_from_our_generator(
    sbom_engine: NetnsEngine,
    registry: RegistryServer,
    busybox_rootfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    port = int(registry.host.rsplit(":", 1)[1])
    busybox = busybox_rootfs["linux/amd64"] / "bin" / "busybox"
    repository = f"{registry.host}/sbom-{uuid.uuid4().hex[:8]}"
    scanner = f"{repository}/scanner:1"
    bridge = LoopbackBridge(sbom_engine.netns, port)
    try:
        docker_in(
            sbom_engine, "buildx", "build", "--network", "none", "--provenance=false",
            "-t", scanner, "--push", scanner_context(tmp_path / "scanner", busybox),
        )  # fmt: skip
        context, _ = make_context(tmp_path / "app", busybox)
        ref = f"{repository}/app:v1"
        docker_in(
            sbom_engine, "buildx", "build", "--network", "none", "--provenance=mode=max",
            "--attest", f"type=sbom,generator={scanner}", "--platform", "linux/amd64",
            "-t", ref, "--push", context,
        )  # fmt: skip
    finally:
        bridge.close()
    wrapper = wrapper_of(ref)
    [attestation] = wrapper.attestations
    with Context(TransportSettings()) as ctx:
        manifest = ctx.repository(Reference.parse(ref)).get_manifest(str(attestation.digest))
    assert isinstance(manifest, ImageManifest)
    assert [x.annotations["in-toto.io/predicate-type"] for x in manifest.layers] == [
        "https://spdx.dev/Document",
        "https://slsa.dev/provenance/v0.2",
    ]
    inspected = run_cli("inspect", "--sbom", "--json", ref)
    assert inspected.code == 0, inspected.err
    [entry] = inspected.json()["sbom"]
    [sbom] = entry["sboms"]
    assert (sbom["format"], sbom["version"], sbom["packages"]) == ("SPDX", "SPDX-2.3", 1)
    assert sbom["tools"][0] == TOOL and sbom["where"] == "index"
    # Moved to referrers, the same SBOM is read there.
    moved = f"{repository}/moved:v1"
    copied = run_cli("copy", "--attestations", "referrers", ref, moved)
    assert copied.code == 0, copied.err
    [entry] = run_cli("inspect", "--sbom", "--json", moved).json()["sbom"]
    [again] = entry["sboms"]
    assert again["where"] == "referrer" and again["packages"] == 1
    human = run_cli("inspect", "--sbom", moved)
    assert f"SPDX SPDX-2.3, 1 package(s), by {TOOL}" in human.out
    assert json.loads(run_cli("verify", "--json", moved).out)["ok"]
