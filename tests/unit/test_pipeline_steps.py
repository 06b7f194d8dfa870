"""The build pipeline without an engine or a registry: command lines, records, error paths.

The ``docker`` and ``git`` commands are a fake :class:`ProcessRunner` that records every
command line; nothing here opens a socket (builds that would push and resolve are
tested against a real registry in tests/integration/test_pipeline.py, and for real on
the engine in tests/e2e/test_pipeline.py).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from polyarch import (
    Digest,
    LayoutRepository,
    Platform,
    Record,
    RegistryClient,
    TransportSettings,
)
from polyarch.domain.manifest import build_index
from polyarch.domain.reference import Reference
from polyarch.engine.builders import detect_builder
from polyarch.engine.endpoint import EngineChoice
from polyarch.engine.process import ProcessResult, run_process
from polyarch.errors import InvalidInput
from polyarch.operations.create import CreateResult
from polyarch.operations.verify.request import Check, Status, VerifyReport
from polyarch.pipeline.builds.commands import buildx_build_argv, docker_build_argv
from polyarch.pipeline.builds.request import BuildFailed, BuildRequest, record_file_name
from polyarch.pipeline.builds.variants import build_variants
from polyarch.pipeline.publish.records import RecordMismatch, match_records
from polyarch.pipeline.publish.result import CleanupOutcome, PublishedVariant, PublishResult
from polyarch.pipeline.specfile import load_spec
from polyarch.pipeline.specfile.model import Spec

AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
D1 = Digest("sha256:" + "1" * 64)
D2 = Digest("sha256:" + "2" * 64)
D3 = Digest("sha256:" + "3" * 64)


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    """The metrics-api spec: Go amd64, legacy Python arm64 with a build arg and a target."""
    for name in ("app-amd64", "app-arm64"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app-arm64" / "docker").mkdir()
    (tmp_path / "app-arm64" / "docker" / "prod.Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "polyarch.yaml").write_text(
        "image: registry.example.com/metrics-api\n"
        "tags: [v2.0.0, latest]\n"
        "variants:\n"
        "  - platform: linux/amd64\n"
        "    context: app-amd64\n"
        "    labels: {org.opencontainers.image.title: metrics-api}\n"
        "  - platform: linux/arm64/v8\n"
        "    context: app-arm64\n"
        "    dockerfile: docker/prod.Dockerfile\n"
        "    build-args: {PYTHON_ENV: production, WORKERS: 4}\n"
        "    target: runtime\n"
    )
    return load_spec(tmp_path / "polyarch.yaml")


@dataclass
class FakeRunner:
    """Stands for :func:`run_process`: answers by command, records every command line."""

    answers: dict[str, ProcessResult] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)
    on_call: Callable[[list[str]], None] | None = None

    def key(self, argv: Sequence[str]) -> str:
        if argv[0] == "git":
            return "git"
        return " ".join(argv[1:3]) if argv[1] == "buildx" else argv[1]

    def __call__(
        self, argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
    ) -> ProcessResult:
        self.calls.append(list(argv))
        if self.on_call is not None:
            self.on_call(list(argv))
        for line in self.lines.get(self.key(argv), []):
            if on_line is not None:
                on_line(line)
        default = ProcessResult(128, "fatal: not a git repository")
        return self.answers.get(
            self.key(argv), default if argv[0] == "git" else ProcessResult(0, "")
        )


# --- command lines ------------------------------------------------------------------------


def test_docker_build_command_line(spec: Spec) -> None:
    arm = spec.variants[1]
    argv = docker_build_argv(arm, "registry.example.com/metrics-api:v2.0.0-linux-arm64")
    assert argv == [
        "docker",
        "build",
        "--platform",
        "linux/arm64",
        "-f",
        str(spec.path.parent / "app-arm64" / "docker" / "prod.Dockerfile"),
        "--build-arg",
        "PYTHON_ENV=production",
        "--build-arg",
        "WORKERS=4",
        "--target",
        "runtime",
        "-t",
        "registry.example.com/metrics-api:v2.0.0-linux-arm64",
        str(spec.path.parent / "app-arm64"),
    ]
    amd = docker_build_argv(spec.variants[0], "r/x:t", network="none", docker="/usr/bin/docker")
    assert amd[:2] == ["/usr/bin/docker", "build"]
    assert amd[amd.index("--label") + 1] == "org.opencontainers.image.title=metrics-api"
    assert amd[amd.index("--network") + 1] == "none"
    assert "--target" not in amd and "--build-arg" not in amd


def test_buildx_command_line_pushes_by_digest(spec: Spec, tmp_path: Path) -> None:
    meta = tmp_path / "meta.json"
    argv = buildx_build_argv(spec.variants[1], "registry.example.com/metrics-api", meta)
    assert argv[:3] == ["docker", "buildx", "build"]
    assert argv[argv.index("--platform") + 1] == "linux/arm64"
    assert argv[argv.index("--target") + 1] == "runtime"
    assert argv[argv.index("--output") + 1] == (
        "type=image,name=registry.example.com/metrics-api,"
        "push-by-digest=true,name-canonical=true,push=true"
    )
    assert argv[argv.index("--metadata-file") + 1] == str(meta)
    assert argv[-1] == str(spec.variants[1].context)
    assert "-t" not in argv


def test_record_file_names() -> None:
    assert record_file_name(AMD64) == "linux-amd64.json"
    assert record_file_name(Platform.parse("linux/arm64/v8")) == "linux-arm64.json"
    assert record_file_name(Platform.parse("linux/arm")) == "linux-arm-v7.json"


def test_detect_builder() -> None:
    assert detect_builder(FakeRunner()) == "buildx"
    missing = FakeRunner({"buildx version": ProcessResult(1, "docker: unknown command")})
    assert detect_builder(missing) == "docker"


# --- requests -----------------------------------------------------------------------------


def test_request_picks_variants_in_spec_order(spec: Spec) -> None:
    request = BuildRequest.build(spec, platforms=["linux/aarch64", "linux/amd64", "arm64"])
    assert request.platforms == (ARM64, AMD64)
    assert [v.platform for v in request.variants] == [AMD64, ARM64]
    assert BuildRequest.build(spec).variants == spec.variants


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"platforms": ["linux/s390x"]}, "has no variant for it (linux/amd64, linux/arm64)"),
        ({"platforms": ["linux/"]}, "platform 'linux/'"),
        ({"builder": "kaniko"}, "builder must be auto, buildx or docker"),
        ({"network": "two words"}, "network 'two words'"),
    ],
)
def test_request_rejects_bad_input(spec: Spec, kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        BuildRequest.build(spec, **kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)


# --- build error paths --------------------------------------------------------------------


def test_failed_build_is_reported_with_its_exit_code_and_writes_no_record(
    spec: Spec, tmp_path: Path
) -> None:
    records = tmp_path / "records"
    records.mkdir()
    stale = records / "linux-arm64.json"
    stale.write_text("{}")  # an earlier run's record must not survive a failed build
    fake = FakeRunner(
        {"build": ProcessResult(2, "boom")}, lines={"build": ["Step 1/2 : FROM scratch", "boom"]}
    )
    seen: list[tuple[str, str]] = []
    request = BuildRequest.build(
        spec, platforms=["linux/arm64"], records_dir=records, builder="docker"
    )
    result = build_variants(
        request, run=fake, on_output=lambda p, line: seen.append((str(p), line))
    )
    assert not result.ok and result.records == ()
    (failure,) = result.failures
    assert (failure.platform, failure.step, failure.exit_code) == (ARM64, "build", 2)
    assert str(failure) == "linux/arm64: `docker build` exited with code 2"
    assert not stale.exists()
    # docker info names the engine (recorded); no push after a failed build.
    assert [argv[1] for argv in fake.calls] == ["info", "build"]
    assert seen[0][1].startswith("$ docker build --platform linux/arm64 ")
    assert seen[1:] == [("linux/arm64", "Step 1/2 : FROM scratch"), ("linux/arm64", "boom")]
    with pytest.raises(BuildFailed) as info:
        result.raise_for_failures()
    assert info.value.one_line() == (
        "build failed for linux/arm64: `docker build` exited with code 2 "
        "(the build output above says why; no record was written for it)"
    )


def test_every_failure_is_reported(spec: Spec, tmp_path: Path) -> None:
    fake = FakeRunner({"push": ProcessResult(1, "denied")})
    result = build_variants(
        BuildRequest.build(spec, records_dir=tmp_path, builder="docker"), run=fake
    )
    assert sorted(str(f) for f in result.failures) == [
        "linux/amd64: `docker push` exited with code 1",
        "linux/arm64: `docker push` exited with code 1",
    ]
    pushed = sorted(argv[2] for argv in fake.calls if argv[1] == "push")
    assert pushed == [
        "registry.example.com/metrics-api:v2.0.0-linux-amd64",
        "registry.example.com/metrics-api:v2.0.0-linux-arm64",
    ]
    assert list(tmp_path.glob("*.json")) == []


def test_auto_builder_uses_buildx_when_it_answers(spec: Spec, tmp_path: Path) -> None:
    fake = FakeRunner({"buildx build": ProcessResult(1, "")})
    result = build_variants(
        BuildRequest.build(spec, platforms=["linux/amd64"], records_dir=tmp_path), run=fake
    )
    assert result.builder == "buildx"
    assert fake.calls[0] == ["docker", "buildx", "version"]
    assert fake.calls[1] == [
        "docker",
        "buildx",
        "inspect",
    ]  # which driver (tests/unit/test_builders.py)
    assert fake.calls[2][:2] == ["docker", "info"]  # which engine, for the record
    assert fake.calls[3][:3] == ["docker", "buildx", "build"]
    assert str(result.failures[0]) == "linux/amd64: `docker buildx build` exited with code 1"


def test_buildx_metadata_without_a_digest_fails_the_variant(spec: Spec, tmp_path: Path) -> None:
    def write_metadata(argv: list[str]) -> None:
        if argv[1:3] == ["buildx", "build"]:
            Path(argv[argv.index("--metadata-file") + 1]).write_text('{"buildx.build.ref": "x"}')

    fake = FakeRunner(on_call=write_metadata)
    request = BuildRequest.build(
        spec, platforms=["linux/amd64"], records_dir=tmp_path, builder="buildx"
    )
    (failure,) = build_variants(request, run=fake).failures
    assert failure.step == "metadata"
    assert "no containerimage.digest in buildx metadata" in failure.message


# --- the default runner -------------------------------------------------------------------


def test_run_process_streams_lines_and_returns_the_exit_code() -> None:
    lines: list[str] = []
    script = "import sys; print('out'); print('err', file=sys.stderr, flush=True); sys.exit(3)"
    result = run_process([sys.executable, "-c", script], on_line=lines.append)
    assert result.returncode == 3
    assert sorted(lines) == ["err", "out"]
    assert sorted(result.output.splitlines()) == ["err", "out"]


def test_run_process_reports_a_missing_program_as_127() -> None:
    lines: list[str] = []
    result = run_process(["/nonexistent/docker", "version"], on_line=lines.append)
    assert result.returncode == 127
    assert lines == [result.output] and "/nonexistent/docker" in result.output


# --- publish: matching records to variants ------------------------------------------------


def _record(platform: Platform, digest: Digest, origin: str) -> Record:
    return Record(digest, platform, "registry.example.com/metrics-api", origin)


def test_records_pair_with_variants(spec: Spec) -> None:
    arm, amd = _record(ARM64, D2, "b/arm.json"), _record(AMD64, D1, "a/amd.json")
    twice = _record(Platform.parse("linux/arm64/v8"), D2, "c/arm.json")  # same artifact twice
    matched = match_records(spec, [arm, amd, twice])
    assert [(v.variant.platform, v.record.origin) for v in matched] == [
        (AMD64, "a/amd.json"),
        (ARM64, "b/arm.json"),
    ]
    assert matched[0].source == f"registry.example.com/metrics-api@{D1}"


def test_missing_extra_and_conflicting_records_are_named(spec: Spec) -> None:
    records = [
        _record(ARM64, D2, "r1/linux-arm64.json"),
        _record(ARM64, D3, "r2/linux-arm64.json"),
        _record(Platform.parse("linux/s390x"), D1, "r3/linux-s390x.json"),
    ]
    with pytest.raises(RecordMismatch) as info:
        match_records(spec, records)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "missing linux/amd64 (no record for it)" in message
    assert "linux/arm64 more than once (r1/linux-arm64.json" in message
    assert "extra linux/s390x (r3/linux-s390x.json: not a variant of the spec)" in message


# --- publish: what it tells GitHub --------------------------------------------------------


def test_github_outputs_and_step_summary(spec: Spec) -> None:
    index = build_index([])
    create = CreateResult(index, (), (), dry_run=False)
    target = Reference.parse("registry.example.com/metrics-api:v2.0.0")
    run = Check(
        "run",
        Status.PASS,
        "exited 0 under emulation",
        "linux/arm64",
        {"output": "\nok | on aarch64\n"},
    )
    report = VerifyReport(target, index.digest, index.media_type, (run,))
    variants = (
        PublishedVariant(spec.variants[0], _record(AMD64, D1, "runner-amd64/linux-amd64.json")),
        PublishedVariant(spec.variants[1], _record(ARM64, D2, "runner-arm64/linux-arm64.json")),
    )
    cleanup = (CleanupOutcome(f"{target}-linux-amd64", False, "not deleted: reason"),)
    result = PublishResult(spec, variants, create, (report,), cleanup)
    assert result.ok
    assert result.github_outputs() == (
        f"digest={index.digest}\n"
        "tags=registry.example.com/metrics-api:v2.0.0,registry.example.com/metrics-api:latest\n"
    )
    summary = result.step_summary()
    assert summary.startswith(
        "### polyarch publish: `registry.example.com/metrics-api:v2.0.0` (verified)\n"
    )
    assert "| platform | digest | source record | run result |" in summary
    assert f"| linux/amd64 | `{D1}` | `runner-amd64/linux-amd64.json` | not run |" in summary
    assert (
        f"| linux/arm64 | `{D2}` | `runner-arm64/linux-arm64.json` | "
        "pass: exited 0 under emulation (ok \\| on aarch64) |"
    ) in summary
    assert "- `registry.example.com/metrics-api:v2.0.0-linux-amd64`: not deleted: reason" in summary
    doc = result.to_json()
    assert doc["schema"] == "polyarch.publish/v1"
    assert json.loads(json.dumps(doc))["variants"][1]["record"] == "runner-arm64/linux-arm64.json"


# --- concurrent builds resolve at once: the first requests race to pick http ---------------


def test_concurrent_first_requests_to_a_plain_http_loopback_registry_all_fall_back() -> None:
    """Regression: a thread whose https attempt failed after another thread had already
    decided on plain HTTP raised the TLS error instead of following the decision."""
    threads = 4
    barrier = threading.Barrier(threads)

    class PlainHttp(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.scheme == "https":
                barrier.wait(timeout=10)  # every thread tried https before any decided
                raise httpx.ConnectError(
                    "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
                    request=request,
                )
            return httpx.Response(200, json={"ok": True})

    with RegistryClient(TransportSettings(), transport=PlainHttp()) as client:

        def get(i: int) -> int:
            path = f"/v2/app/manifests/v{i}"
            return client.request("GET", "127.0.0.1:5000", path).status_code

        with ThreadPoolExecutor(threads) as pool:
            assert list(pool.map(get, range(threads))) == [200] * threads


# --- storage: deleting a tag alone ------------------------------------------------------


def test_layout_deletes_a_tag_and_keeps_the_manifest(tmp_path: Path) -> None:
    layout = LayoutRepository(tmp_path / "layout")
    index = build_index([])
    layout.put_manifest(index, "v1-linux-amd64")
    layout.put_manifest(index, "v1")
    assert layout.delete_tag("v1-linux-amd64") is True
    assert layout.list_tags() == ["v1"]
    assert layout.get_manifest(str(index.digest)).digest == index.digest
    assert layout.delete_tag("v1-linux-amd64") is True  # already gone
    assert LayoutRepository(tmp_path / "missing").delete_tag("v1") is True


# --- build inputs and engines (issue 21 §3, §4) ---------------------------------------------


def _inputs_spec(tmp_path: Path, extra: str, builder: str = "") -> Spec:
    for name in ("app-amd64", "app-arm64"):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".npmrc").write_text("//npm.example.com/:_authToken=NEVER-SHOWN\n")
    (tmp_path / "polyarch.yaml").write_text(
        "image: registry.example.com/metrics-api\n"
        "tags: [v2.0.0]\n"
        "variants:\n"
        "  - platform: linux/amd64\n"
        "    context: app-amd64\n" + extra + "  - platform: linux/arm64\n"
        "    context: app-arm64\n" + builder
    )
    return load_spec(tmp_path / "polyarch.yaml")


INPUTS = (
    "    secrets: ['id=npmrc,src=.npmrc', 'id=token,env=GH_TOKEN']\n"
    "    ssh: default\n"
    "    cache-from: 'type=s3,region=eu,bucket=b,secret_access_key=S3-KEY'\n"
    "    cache-to: 'type=local,dest=cache,mode=max'\n"
    "    build-contexts: {shared: shared, base: 'docker-image://registry.example.com/base:1'}\n"
    "    provenance: mode=max\n"
    "    sbom: true\n"
    "    no-cache: true\n"
    "    pull: true\n"
)


def test_build_inputs_become_buildx_flags(tmp_path: Path) -> None:
    spec = _inputs_spec(tmp_path, INPUTS)
    amd = spec.variants[0]
    argv = buildx_build_argv(amd, "registry.example.com/metrics-api", tmp_path / "m.json")
    pairs = [(argv[i], argv[i + 1]) for i in range(len(argv) - 1) if argv[i].startswith("--")]
    assert ("--secret", f"id=npmrc,src={tmp_path / '.npmrc'}") in pairs
    assert ("--secret", "id=token,env=GH_TOKEN") in pairs
    assert ("--ssh", "default") in pairs
    assert ("--cache-from", "type=s3,region=eu,bucket=b,secret_access_key=S3-KEY") in pairs
    assert ("--cache-to", f"type=local,dest={tmp_path / 'cache'},mode=max") in pairs
    assert ("--build-context", f"shared={tmp_path / 'shared'}") in pairs
    assert ("--build-context", "base=docker-image://registry.example.com/base:1") in pairs
    assert ("--provenance", "mode=max") in pairs and ("--sbom", "true") in pairs
    assert "--no-cache" in argv and "--pull" in argv
    shown = buildx_build_argv(amd, "r", tmp_path / "m.json", masked=True)
    assert "type=s3,region=eu,bucket=b,secret_access_key=***" in shown
    assert "NEVER-SHOWN" not in " ".join(argv), "a secret's value is never on a command line"
    plain = buildx_build_argv(spec.variants[1], "r", tmp_path / "m.json")
    assert "--secret" not in plain and "--no-cache" not in plain


def test_the_docker_builder_refuses_what_only_buildx_passes(tmp_path: Path) -> None:
    spec = _inputs_spec(tmp_path, INPUTS)
    argv = docker_build_argv(spec.variants[0], "r:t")
    assert "--secret" in argv and "--ssh" in argv and "--cache-to" not in argv
    fake = FakeRunner()
    result = build_variants(
        BuildRequest.build(spec, platforms=["linux/amd64"], records_dir=tmp_path, builder="docker"),
        run=fake,
    )
    assert str(result.failures[0]) == (
        "linux/amd64: cache-from, cache-to, build-contexts, provenance, sbom need docker buildx; "
        "the docker builder (docker build + docker push) cannot pass them"
    )
    assert not [c for c in fake.calls if c[1] == "build"]


def test_shown_command_lines_mask_cache_credentials(tmp_path: Path) -> None:
    spec = _inputs_spec(tmp_path, INPUTS)
    fake = FakeRunner({"buildx build": ProcessResult(1, "")})
    seen: list[str] = []
    build_variants(
        BuildRequest.build(spec, platforms=["linux/amd64"], records_dir=tmp_path),
        run=fake,
        on_output=lambda _p, line: seen.append(line),
    )
    command = next(line for line in seen if line.startswith("$ docker buildx build"))
    assert "secret_access_key=***" in command and "S3-KEY" not in "\n".join(seen)
    ran = next(c for c in fake.calls if c[1:3] == ["buildx", "build"])
    assert "type=s3,region=eu,bucket=b,secret_access_key=S3-KEY" in ran  # buildx gets it


def test_each_variants_commands_go_to_its_engine(tmp_path: Path) -> None:
    spec = _inputs_spec(tmp_path, "", "    builder: {docker-host: 'unix:///run/b.sock'}\n")
    idents = {
        "unix:///run/b.sock": "polyarch-engine BBBB 28.5.1 arm-box",
        None: "polyarch-engine AAAA 26.1.5 vm",
    }

    class Engines(FakeRunner):
        def __call__(
            self, argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
        ) -> ProcessResult:
            host = argv[2] if len(argv) > 2 and argv[1] == "--host" else None
            rest = list(argv[3:]) if host else list(argv[1:])
            self.calls.append(list(argv))
            if rest[:1] == ["info"]:
                return ProcessResult(0, idents[host])
            if rest[:2] == ["buildx", "inspect"]:
                return ProcessResult(0, "Name: default\nDriver: docker-container\n")
            if rest[:2] == ["buildx", "build"]:
                return ProcessResult(1, "")  # stops before resolving: no registry here
            return ProcessResult(0 if argv[0] == "docker" else 128, "")

    fake = Engines()
    request = BuildRequest.build(
        spec, records_dir=tmp_path / "records", engines={AMD64: EngineChoice("docker-context", "a")}
    )
    # Resolving what was pushed needs a registry (tests/e2e/test_engines.py has both
    # engines, the registry and the records): here, where each command goes.
    seen: list[tuple[str, str]] = []
    build_variants(request, run=fake, on_output=lambda p, line: seen.append((str(p), line)))
    builds = [c for c in fake.calls if "build" in c and "buildx" in c]
    assert sorted(c[1:3] for c in builds) == [["--context", "a"], ["--host", "unix:///run/b.sock"]]
    shown = [line for _, line in seen if line.startswith("$ docker")]
    assert any(line.startswith("$ docker --host unix:///run/b.sock buildx build") for line in shown)
    assert any(line.startswith("$ docker --context a buildx build") for line in shown)


@pytest.mark.parametrize(
    ("driver", "expected"),
    [
        # A context's own builder: buildx 0.29 refuses --builder for it (measured), so the
        # context is named instead (tests/e2e/test_engines.py does it on both engines).
        ("docker", ["docker", "--context", "ctx-b", "buildx", "build"]),
        ("docker-container", ["docker", "buildx", "build", "--builder", "ctx-b"]),
    ],
)
def test_a_named_buildx_builder_is_reached_by_its_driver(
    tmp_path: Path, driver: str, expected: list[str]
) -> None:
    spec = _inputs_spec(tmp_path, "", "    builder: {buildx-builder: ctx-b}\n")
    answers = {
        "buildx inspect": ProcessResult(0, f"Name: ctx-b\nDriver: {driver}\n"),
        "buildx build": ProcessResult(1, ""),  # stops before resolving: no registry here
    }

    class Runner(FakeRunner):
        def key(self, argv: Sequence[str]) -> str:
            rest = list(argv[3:]) if argv[1:2] == ["--context"] else list(argv[1:])
            return " ".join(rest[:2]) if rest[0] == "buildx" else rest[0]

    fake = Runner(answers)
    build_variants(
        BuildRequest.build(spec, platforms=["linux/arm64"], records_dir=tmp_path), run=fake
    )
    build = next(c for c in fake.calls if "build" in c and "buildx" in c)
    assert build[: len(expected)] == expected
