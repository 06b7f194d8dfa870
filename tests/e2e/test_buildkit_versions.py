"""What each real BuildKit pushes, pinned per engine, and polyarch reading each as it is.

Docker 26 (buildx 0.13, containerd 1.7) and Docker 28.5 (buildx 0.29, containerd 2.1) both push
a single-platform build as a wrapper index: the image plus an ``unknown/unknown`` attestation
manifest linked by the ``vnd.docker.reference.*`` annotations. What differs, measured on the
engines of scripts/engine.sh and pinned here as it really is:

* provenance ``version=v1`` (``--provenance=mode=max,version=v1``): Docker 28.5 writes an SLSA
  v1 predicate (``buildDefinition``/``runDetails``, the revision under
  ``runDetails.metadata.buildkit_metadata.vcs``); Docker 26 ignores ``version`` and writes
  v0.2 (the revision under ``metadata["https://mobyproject.org/buildkit@v1#metadata"].vcs``).
  The default is v0.2 on both. polyarch's ``provenance`` check reads the revision from both.
* the default provenance mode is ``min`` on both (no ``buildConfig``); ``--provenance=true``
  is ``max`` on both (``buildConfig`` with the LLB definition).
* the in-toto subject's package URL: Docker 26 percent-encodes the registry's port colon
  (``pkg:docker/127.0.0.1%3A5000/...``), Docker 28.5 does not (``pkg:docker/127.0.0.1:5000/...``).
  polyarch links attestations by the subject's digest, never by that name.
* by default neither writes ``subject`` or ``artifactType`` on the attestation manifest, nor
  annotations other than the two ``vnd.docker.reference.*`` ones on its index entry. Asked for
  OCI artifacts (``--output type=image,...,oci-artifact=true``), Docker 28.5 writes the
  attestation manifest as one: ``artifactType``
  ``application/vnd.docker.attestation.manifest.v1+json``, the empty config
  (``application/vnd.oci.empty.v1+json``, inline ``data``) and a ``subject`` naming the image;
  Docker 26 ignores the option. polyarch reads both shapes the same: ``inspect``, ``create``,
  and ``verify``'s attestation links (annotation, subject, statement).
* ``--metadata-file``: buildx 0.13 on the docker driver writes ``containerimage.config.digest``
  equal to the *wrapper's* digest (not a config); buildx 0.29 drops that key and adds
  ``buildx.build.provenance`` (the min-mode predicate). polyarch reads only
  ``containerimage.digest`` (the wrapper) and resolves it to the image.
* a failed build's last line: ``ERROR: failed to solve: ...`` (buildx 0.13) and
  ``ERROR: failed to build: failed to solve: ...`` (buildx 0.29) (tests/e2e/test_pipeline.py).
"""

from __future__ import annotations

import json
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
from support.registry import RegistryServer

pytestmark = pytest.mark.e2e

V02 = "https://slsa.dev/provenance/v0.2"
V1 = "https://slsa.dev/provenance/v1"
BUILDKIT_METADATA = "https://mobyproject.org/buildkit@v1#metadata"
#: What ``--provenance=mode=max,version=v1`` gives on each engine.
ASKED_V1 = {"docker26": V02, "docker28": V1}


def git(context: Path, *args: str) -> str:
    ident = ["-c", "user.name=lab", "-c", "user.email=lab@example.invalid"]
    return subprocess.run(
        ["git", *ident, "-C", str(context), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


class Pushed:
    """One ``docker buildx build --push`` of the busybox context: wrapper, image, attestation."""

    def __init__(self, ref: str, metadata: dict[str, Any]) -> None:
        self.ref = ref
        self.metadata = metadata
        with Context(TransportSettings()) as ctx:
            reference = Reference.parse(ref)
            repo = ctx.repository(reference)
            wrapper = repo.get_manifest(reference.tag or "")
            assert isinstance(wrapper, Index), wrapper.raw
            self.wrapper = wrapper
            (self.image,) = wrapper.images
            (self.entry,) = wrapper.attestations
            manifest = repo.get_manifest(str(self.entry.digest))
            assert isinstance(manifest, ImageManifest)
            self.attestation = manifest
            (self.layer,) = manifest.layers
            self.statement: dict[str, Any] = json.loads(repo.read_blob(self.layer))


@pytest.fixture(scope="module")
def context(busybox_rootfs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build context in a git repository with an origin: BuildKit records its revision."""
    ctx = tmp_path_factory.mktemp("buildkit-context")
    shutil.copy2(busybox_rootfs["linux/amd64"] / "bin" / "busybox", ctx / "busybox")
    (ctx / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n'
    )
    git(ctx, "init", "-q")
    git(ctx, "remote", "add", "origin", "https://example.invalid/lab.git")
    git(ctx, "add", "-A")
    git(ctx, "commit", "-q", "-m", "lab")
    return ctx


@pytest.fixture(scope="module")
def build(docker_engine: Engine, registry: RegistryServer, context: Path) -> Iterator[Any]:
    """``build(tag, *flags)``: a real push of the context with those buildx flags."""
    repository = f"{registry.host}/buildkit-{docker_engine.name}-{uuid.uuid4().hex[:6]}/probe"
    done: dict[tuple[str, ...], Pushed] = {}

    def run(tag: str, *flags: str, output: str = "") -> Pushed:
        """``output``: image exporter options instead of ``--push`` (``oci-artifact=true``)."""
        key = (tag, *flags, output)
        if key not in done:
            ref = f"{repository}:{tag}"
            metadata = context.parent / f"metadata-{tag}.json"
            push = [f"--output=type=image,name={ref},push=true,{output}"] if output else ["--push"]
            docker(
                "buildx", "build", "--platform", "linux/amd64", "--network", "none", *push,
                "--metadata-file", metadata, *flags, "-t", ref, context,
            )  # fmt: skip
            done[key] = Pushed(ref, json.loads(metadata.read_text()))
        return done[key]

    yield run
    subprocess.run(
        ["docker", "image", "rm", "--force", *(p.ref for p in done.values())],
        capture_output=True,
        check=False,
    )


def test_the_default_push_is_a_wrapper_with_min_provenance_v02(
    docker_engine: Engine, build: Any, registry: RegistryServer
) -> None:
    pushed = build("default")
    assert str(pushed.image.platform) == "linux/amd64"
    assert str(pushed.entry.platform) == "unknown/unknown"
    assert pushed.entry.annotations == {
        "vnd.docker.reference.digest": str(pushed.image.digest),
        "vnd.docker.reference.type": "attestation-manifest",
    }
    assert pushed.image.annotations == {}
    # No OCI 1.1 subject or artifactType on the attestation manifest, on either engine.
    attestation = json.loads(pushed.attestation.raw)
    assert "subject" not in attestation and "artifactType" not in attestation
    assert "artifactType" not in json.loads(pushed.wrapper.raw)["manifests"][1]
    assert pushed.layer.annotations == {"in-toto.io/predicate-type": V02}
    statement = pushed.statement
    assert (statement["_type"], statement["predicateType"]) == (
        "https://in-toto.io/Statement/v0.1",
        V02,
    )
    assert "buildConfig" not in statement["predicate"]  # mode=min
    (subject,) = statement["subject"]
    assert subject["digest"] == {"sha256": str(pushed.image.digest).removeprefix("sha256:")}
    port = registry.host.rsplit(":", 1)[1]
    host = {"docker26": f"127.0.0.1%3A{port}", "docker28": f"127.0.0.1:{port}"}
    assert subject["name"].startswith(f"pkg:docker/{host[docker_engine.name]}/"), subject
    # polyarch: the wrapper resolves to its image, the attestation to that image.
    resolved = run_cli("resolve", pushed.ref)
    assert resolved.out.strip() == str(pushed.image.digest), resolved.err


def test_provenance_true_is_mode_max_on_both(build: Any) -> None:
    predicate = build("true", "--provenance=true").statement["predicate"]
    assert "llbDefinition" in predicate["buildConfig"]


def test_slsa_v1_where_asked_and_polyarch_reads_the_revision_from_each(
    docker_engine: Engine, build: Any, context: Path, registry: RegistryServer
) -> None:
    revision = git(context, "rev-parse", "HEAD")
    pushed = build("v1", "--provenance=mode=max,version=v1")
    expected = ASKED_V1[docker_engine.name]
    assert pushed.layer.annotations == {"in-toto.io/predicate-type": expected}
    statement = pushed.statement
    assert statement["predicateType"] == expected
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"  # on both
    predicate = statement["predicate"]
    if expected == V1:
        assert sorted(predicate) == ["buildDefinition", "runDetails"]
        vcs = predicate["runDetails"]["metadata"]["buildkit_metadata"]["vcs"]
    else:
        assert "buildDefinition" not in predicate
        vcs = predicate["metadata"][BUILDKIT_METADATA]["vcs"]
    assert vcs["revision"] == revision
    assert vcs["source"] == "https://example.invalid/lab.git"
    # polyarch's provenance check reads the revision from what this engine wrote.
    target = pushed.ref.rsplit(":", 1)[0] + ":index"
    created = run_cli("create", "-t", target, pushed.ref)
    assert created.code == 0, created.err
    verified = run_cli("verify", target, "--json")
    assert verified.code == 0, verified.out
    (check,) = [c for c in verified.json()["checks"] if c["check"] == "provenance"]
    assert check["status"] == "pass"
    assert check["message"] == f"1 variant(s) built from revision {revision[:12]}"
    assert check["details"]["revisions"] == {"linux/amd64": revision}


def test_the_metadata_file_of_each_buildx(docker_engine: Engine, build: Any) -> None:
    pushed = build("default")
    metadata = pushed.metadata
    assert metadata["containerimage.digest"] == str(pushed.wrapper.digest)
    assert metadata["containerimage.descriptor"]["digest"] == str(pushed.wrapper.digest)
    if docker_engine.name == "docker26":
        # buildx 0.13, docker driver: "config.digest" names the wrapper, not a config.
        assert metadata["containerimage.config.digest"] == str(pushed.wrapper.digest)
        assert "buildx.build.provenance" not in metadata
    else:
        assert "containerimage.config.digest" not in metadata
        provenance = metadata["buildx.build.provenance"]
        assert provenance["buildType"] == "https://mobyproject.org/buildkit@v1"
        assert provenance["invocation"]["environment"] == {"platform": "linux/amd64"}


EMPTY_CONFIG = {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "size": 2,
    "data": "e30=",
}


def test_oci_artifact_attestations_where_asked_and_polyarch_links_them(
    docker_engine: Engine, build: Any
) -> None:
    pushed = build("artifact", output="oci-artifact=true")
    attestation = json.loads(pushed.attestation.raw)
    image = {
        "mediaType": pushed.image.media_type,
        "digest": str(pushed.image.digest),
        "size": pushed.image.size,
    }
    if docker_engine.name == "docker28":
        assert attestation["artifactType"] == "application/vnd.docker.attestation.manifest.v1+json"
        assert attestation["config"] == EMPTY_CONFIG
        assert attestation["subject"] == image
    else:  # BuildKit 0.13 ignores oci-artifact: the default shape
        assert "artifactType" not in attestation and "subject" not in attestation
        assert attestation["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    # The index entry is the same on both: platform unknown/unknown, the two annotations.
    assert str(pushed.entry.platform) == "unknown/unknown"
    assert pushed.entry.annotations["vnd.docker.reference.digest"] == str(pushed.image.digest)
    inspected = run_cli("inspect", "--json", pushed.ref)
    assert inspected.code == 0, inspected.err
    kinds = {e["digest"]: (e["kind"], e.get("attests")) for e in inspected.json()["manifests"]}
    assert kinds == {
        str(pushed.image.digest): ("image", None),
        str(pushed.entry.digest): ("attestation", str(pushed.image.digest)),
    }
    target = pushed.ref.rsplit(":", 1)[0] + ":artifact-index"
    created = run_cli("create", "-t", target, pushed.ref)
    assert created.code == 0, created.err
    verified = run_cli("verify", target, "--json")
    assert verified.code == 0, verified.out
    checks = {c["check"]: c for c in verified.json()["checks"]}
    assert checks["attestations"]["status"] == "pass"
    assert checks["attestations"]["message"] == "provenance"
