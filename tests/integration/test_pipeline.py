"""The pipeline against a real registry, with the docker CLI faked (no engine needed).

The fake ``docker build``/``docker push`` and ``docker buildx build`` push what the real
ones push (a Docker schema2 image under the per-platform tag; a BuildKit wrapper with a
provenance attestation by digest, plus a metadata file), so everything after the
command lines is real: resolving, records, publishing, verifying, tag deletion.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from polyarch import (
    Context,
    ImageManifest,
    InvalidInput,
    Platform,
    Reference,
    TransportSettings,
)
from polyarch.engine.process import ProcessResult, run_process
from polyarch.engine.runner import DockerRunner
from polyarch.pipeline.builds.request import BuildRequest
from polyarch.pipeline.builds.variants import build_variants
from polyarch.pipeline.publish.run import NOT_DELETED, EngineUnavailable, PublishRequest, publish
from polyarch.pipeline.specfile import load_spec
from polyarch.pipeline.specfile.model import Spec
from support.images import push_image, push_wrapper
from support.registry import RegistryServer

pytestmark = pytest.mark.integration


def _spec(tmp_path: Path, host: str, *, run: bool = False) -> Spec:
    repo = f"{host}/t{uuid.uuid4().hex[:8]}/metrics-api"
    for name in ("app-amd64", "app-arm64"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    text = (
        f"image: {repo}\ntags: [v2.0.0, latest]\nvariants:\n"
        "  - {platform: linux/amd64, context: app-amd64}\n"
        "  - {platform: linux/arm64, context: app-arm64, target: runtime}\n"
    )
    if run:
        text += "verify:\n  run: [/app/healthcheck]\n"
    (tmp_path / "polyarch.yaml").write_text(text)
    return load_spec(tmp_path / "polyarch.yaml")


class FakeDocker:
    """``docker`` faked by pushing to the real registry; ``git`` really runs."""

    def __init__(self, ctx: Context, *, wrong_platform: bool = False) -> None:
        self.ctx = ctx
        self.wrong_platform = wrong_platform
        self.built: dict[str, str] = {}  # ref -> platform
        self.calls: list[list[str]] = []
        # The builds run in threads; pushes of identical blobs (the attestation's config)
        # into one repository at the same moment make distribution 2.8's filesystem driver
        # answer DIGEST_INVALID. Real builds push from separate engines; serialize ours.
        self._push_lock = threading.Lock()

    def __call__(
        self, argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
    ) -> ProcessResult:
        argv = list(argv)
        self.calls.append(argv)
        if argv[0] == "git":
            return run_process(argv)
        platform = argv[argv.index("--platform") + 1] if "--platform" in argv else ""
        if self.wrong_platform:
            platform = "linux/amd64"
        if argv[1] == "build":
            self.built[argv[argv.index("-t") + 1]] = platform
        elif argv[1] == "push":
            ref = Reference.parse(argv[2])
            assert ref.tag is not None
            with self._push_lock:
                push_image(self.ctx.repository(ref), self.built[argv[2]], tag=ref.tag, docker=True)
        elif argv[1:3] == ["buildx", "build"]:
            output = argv[argv.index("--output") + 1]
            name = dict(kv.split("=", 1) for kv in output.split(","))["name"]
            repo = self.ctx.repository(Reference.parse(name))
            with self._push_lock:
                pushed = push_wrapper(repo, platform, tag=f"scratch-{uuid.uuid4().hex[:6]}")
            meta = {"containerimage.digest": str(pushed.index.digest), "image.name": name}
            Path(argv[argv.index("--metadata-file") + 1]).write_text(json.dumps(meta))
        if on_line is not None:
            on_line(f"fake {argv[1]}")
        return ProcessResult(0, "")


def test_docker_builder_records_the_platform_images_then_publish(
    registry: RegistryServer, ctx: Context, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, registry.host)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com",
         "commit", "-q", "--allow-empty", "-m", "x"],
        check=True,
    )  # fmt: skip
    head = run_process(["git", "-C", str(tmp_path), "rev-parse", "HEAD"]).output.strip()
    fake = FakeDocker(ctx)
    request = BuildRequest.build(spec, records_dir=tmp_path / "records", builder="docker")
    result = build_variants(request, ctx, run=fake)
    assert result.ok, result.failures
    repo = str(spec.images[0])
    for record, variant in zip(result.records, spec.variants, strict=True):
        data = json.loads(Path(record.origin).read_text())
        tag = spec.per_platform_tag(variant)
        assert data == {
            "schema": "polyarch.record/v1",
            "platform": str(variant.platform),
            "repository": repo,
            "digest": str(ctx.repository(spec.images[0]).head_manifest(tag).digest),  # type: ignore[union-attr]
            "context": variant.context.name,
            "dockerfile": f"{variant.context.name}/Dockerfile",
            "revision": head,
            "builder": "docker",
            # The fake engine does not answer docker info: only where it was reached.
            "engine": {"endpoint": "default", "id": None, "version": None, "name": None},
            "time": data["time"],
            "tag": tag,
        }
        assert data["time"].endswith("Z")

    published = publish(PublishRequest.build(spec, [tmp_path / "records"], cleanup=True), ctx)
    assert published.ok, [c.message for r in published.reports for c in r.failed]
    index = ctx.repository(spec.images[0]).get_manifest("v2.0.0")
    assert {str(d.platform): d.digest for d in index.images} == {  # type: ignore[union-attr]
        str(r.platform): r.digest for r in result.records
    }
    assert ctx.repository(spec.images[0]).head_manifest("latest").digest == index.digest  # type: ignore[union-attr]
    # distribution 2.8 cannot delete a tag alone: both stay, each with the warning.
    assert [(c.deleted, c.message) for c in published.cleanup] == [(False, NOT_DELETED)] * 2
    assert set(ctx.repository(spec.images[0]).list_tags()) >= {
        "v2.0.0-linux-amd64",
        "v2.0.0-linux-arm64",
    }


def test_buildx_builder_records_the_image_inside_the_wrapper(
    registry: RegistryServer, ctx: Context, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, registry.host)
    request = BuildRequest.build(spec, records_dir=tmp_path / "records", builder="buildx")
    result = build_variants(request, ctx, run=FakeDocker(ctx))
    assert result.ok, result.failures
    repo = ctx.repository(spec.images[0])
    for record in result.records:
        # The platform image, not the wrapper the metadata file names.
        assert isinstance(repo.get_manifest(str(record.digest)), ImageManifest)
        assert record.extra["revision"] is None  # tmp_path is no git work tree
        wrapper = repo.get_manifest(record.extra["wrapper"])  # published from, for attestations
        assert wrapper.is_wrapper  # type: ignore[union-attr]
        assert wrapper.images[0].digest == record.digest  # type: ignore[union-attr]
        assert "tag" not in record.extra
    published = publish(PublishRequest.build(spec, [tmp_path / "records"], cleanup=True), ctx)
    assert published.ok
    assert published.cleanup == ()  # pushed by digest: no per-platform tag to remove
    assert [len(e.attestations) for e in published.create.entries] == [1, 1]


def test_buildx_metadata_files_are_records(
    registry: RegistryServer, ctx: Context, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, registry.host)
    repo = ctx.repository(spec.images[0])
    meta = tmp_path / "artifacts"
    for platform in ("linux/amd64", "linux/arm64"):
        wrapper = push_wrapper(repo, platform, tag=f"x-{platform.replace('/', '-')}")
        (meta / platform.replace("/", "-")).mkdir(parents=True)
        (meta / platform.replace("/", "-") / "metadata.json").write_text(
            json.dumps({"containerimage.digest": str(wrapper.index.digest)})
        )
    published = publish(PublishRequest.build(spec, [meta]), ctx)
    assert published.ok
    assert [str(v.variant.platform) for v in published.variants] == ["linux/amd64", "linux/arm64"]


def test_a_record_for_the_wrong_platform_is_refused_before_publishing(
    registry: RegistryServer, ctx: Context, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, registry.host)
    repo = ctx.repository(spec.images[0])
    amd = push_image(repo, "linux/amd64", tag="a")
    records = tmp_path / "records"
    records.mkdir()
    for name in ("linux/amd64", "linux/arm64"):
        (records / f"{name.replace('/', '-')}.json").write_text(
            json.dumps({"platform": name, "repository": str(spec.images[0]),
                        "digest": str(amd.digest)})
        )  # fmt: skip
    with pytest.raises(InvalidInput, match=r"linux-arm64.json: .*linux/amd64"):
        publish(PublishRequest.build(spec, [records]), ctx)
    assert repo.head_manifest("v2.0.0") is None


def test_a_build_of_the_wrong_platform_fails_that_variant(
    registry: RegistryServer, ctx: Context, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, registry.host)
    request = BuildRequest.build(spec, records_dir=tmp_path / "r", builder="docker")
    result = build_variants(request, ctx, run=FakeDocker(ctx, wrong_platform=True))
    assert [r.platform for r in result.records] == [Platform.parse("linux/amd64")]
    (failure,) = result.failures
    assert failure.step == "resolve", failure.message
    assert "is a single image for linux/amd64; a linux/arm64 host would not pull it" in (
        failure.message
    )
    assert "does the Dockerfile start FROM an image of another platform?" in failure.message
    assert not (tmp_path / "r" / "linux-arm64.json").exists()


def test_run_without_an_engine_fails_before_publishing(
    registry: RegistryServer, ctx: Context, tmp_path: Path
) -> None:
    spec = _spec(tmp_path, registry.host, run=True)
    result = build_variants(
        BuildRequest.build(spec, records_dir=tmp_path / "r", builder="docker"),
        ctx,
        run=FakeDocker(ctx),
    )
    runner = DockerRunner("/nonexistent/docker")
    with pytest.raises(EngineUnavailable, match=r"asks verify\.run, but it cannot run"):
        publish(PublishRequest.build(spec, list(result.records)), ctx, runner=runner)
    assert ctx.repository(spec.images[0]).head_manifest("v2.0.0") is None
    no_run = publish(
        PublishRequest.build(spec, list(result.records), run=False), ctx, runner=runner
    )
    assert no_run.ok
    assert not [c for c in no_run.reports[0].checks if c.check == "run"]


@pytest.mark.parametrize("deletes", [True, False], ids=["delete-enabled", "delete-disabled"])
def test_distribution_cannot_delete_a_tag_alone(
    registry_binary: str, tmp_path: Path, deletes: bool
) -> None:
    config = {"storage": {"delete": {"enabled": deletes}}}
    with (
        RegistryServer(binary=registry_binary, workdir=tmp_path, extra_config=config) as server,
        Context(TransportSettings()) as ctx,
    ):
        ref = Reference.parse(f"{server.host}/app:v1-linux-amd64")
        repo = ctx.repository(ref)
        pushed = push_image(repo, "linux/amd64", tag="v1-linux-amd64", docker=True)
        assert repo.delete_tag("v1-linux-amd64") is False
        assert repo.list_tags() == ["v1-linux-amd64"]
        assert repo.head_manifest(str(pushed.digest)) is not None
