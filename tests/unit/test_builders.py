"""The builder choice (``--builder``, ``--buildx-builder``) for each answer buildx can give.

A fake runner stands for ``docker``: it answers ``docker buildx version`` and ``docker
buildx inspect [NAME]`` with what buildx 0.13 prints (the driver line of each driver), and
records every command line; ``buildx build`` writes the metadata file buildx writes.
The real default (the docker driver of Docker 26) is in tests/e2e/test_real_buildkit.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from polyarch.engine.builders import (
    BuilderChoice,
    BuilderUnsuitable,
    choose_builder,
    parse_buildx_inspect,
)
from polyarch.engine.process import ProcessResult
from polyarch.errors import InvalidInput
from polyarch.pipeline.builds.request import BuildRequest
from polyarch.pipeline.builds.variants import build_variants
from polyarch.pipeline.specfile import load_spec
from polyarch.pipeline.specfile.model import Spec

WRAPPER = "sha256:" + "ab" * 32


def inspect_output(name: str, driver: str) -> str:
    """``docker buildx inspect`` as buildx 0.13.1 prints it (trimmed node details)."""
    return (
        f"Name:          {name}\nDriver:        {driver}\nLast Activity: 2026-11-30 14:00:00 +0000"
        f" UTC\n\nNodes:\nName:      {name}0\nEndpoint:  unix:///var/run/docker.sock\n"
        "Status:    running\nBuildKit version: v0.13.2\nPlatforms: linux/amd64, linux/arm64\n"
    )


@dataclass
class FakeDocker:
    """``docker`` with buildx whose builders are ``builders`` (name -> driver)."""

    builders: dict[str, str] = field(default_factory=lambda: {"default": "docker"})
    active: str = "default"
    has_buildx: bool = True
    calls: list[list[str]] = field(default_factory=list)

    def __call__(
        self, argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
    ) -> ProcessResult:
        argv = list(argv)
        self.calls.append(argv)
        if argv[0] == "git":
            return ProcessResult(128, "fatal: not a git repository")
        if argv[1] == "buildx" and not self.has_buildx:
            return ProcessResult(1, "docker: 'buildx' is not a docker command.")
        if argv[1:3] == ["buildx", "version"]:
            return ProcessResult(0, "github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3")
        if argv[1:3] == ["buildx", "inspect"]:
            name = argv[3] if len(argv) > 3 else self.active
            if name not in self.builders:
                return ProcessResult(1, f'ERROR: no builder "{name}" found')
            return ProcessResult(0, inspect_output(name, self.builders[name]))
        if argv[1:3] == ["buildx", "build"]:
            # The build fails here (no registry): what matters is the command line.
            return ProcessResult(1, "ERROR: failed to push")
        return ProcessResult(1, "unexpected")

    def builds(self) -> list[list[str]]:
        return [argv for argv in self.calls if argv[1:3] == ["buildx", "build"]]


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    for name in ("app-amd64", "app-arm64"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "polyarch.yaml").write_text(
        "image: registry.example.com/metrics-api\ntags: [v2.0.0]\nvariants:\n"
        "  - {platform: linux/amd64, context: app-amd64}\n"
        "  - {platform: linux/arm64, context: app-arm64}\n"
    )
    return load_spec(tmp_path / "polyarch.yaml")


# --- choose_builder: one test per driver answer ---------------------------------------


@pytest.mark.parametrize("driver", ["docker-container", "kubernetes", "remote"])
def test_auto_pushes_by_digest_where_the_driver_can(driver: str) -> None:
    fake = FakeDocker({"ci": driver}, active="ci")
    choice = choose_builder("auto", fake)
    assert choice == BuilderChoice("buildx", "ci", driver, push_by_digest=True)
    assert choice.label == "buildx:ci"
    assert fake.calls == [["docker", "buildx", "version"], ["docker", "buildx", "inspect"]]


def test_auto_on_the_docker_driver_pushes_per_platform_tags() -> None:
    # The default builder of Docker Desktop and docker-ce: push-by-digest is refused there.
    choice = choose_builder("auto", FakeDocker())
    assert choice == BuilderChoice("buildx", "default", "docker", push_by_digest=False)
    assert choice.describe() == 'buildx builder "default" (docker driver), per-platform tags'


def test_auto_without_buildx_is_the_docker_path() -> None:
    fake = FakeDocker(has_buildx=False)
    assert choose_builder("auto", fake) == BuilderChoice("docker")
    assert fake.calls == [["docker", "buildx", "version"]]


def test_buildx_on_the_docker_driver_fails_early_saying_what_to_do() -> None:
    with pytest.raises(BuilderUnsuitable) as caught:
        choose_builder("buildx", FakeDocker())
    assert caught.value.exit_code == 2
    assert caught.value.one_line() == (
        'buildx builder "default" uses the docker driver, which cannot push by digest'
        " (create one that can (docker buildx create --use --driver docker-container), choose"
        " another buildx builder, or let the auto builder push per-platform tags)"
    )


def test_buildx_without_buildx_fails_early() -> None:
    with pytest.raises(BuilderUnsuitable, match=r"docker buildx is not available"):
        choose_builder("buildx", FakeDocker(has_buildx=False))


def test_a_named_builder_is_inspected_and_passed_on() -> None:
    fake = FakeDocker({"default": "docker", "ci": "docker-container"})
    choice = choose_builder("buildx", fake, buildx_builder="ci")
    assert choice == BuilderChoice("buildx", "ci", "docker-container", True, explicit_name=True)
    assert fake.calls[-1] == ["docker", "buildx", "inspect", "ci"]


def test_an_unknown_named_builder_is_one_line() -> None:
    with pytest.raises(BuilderUnsuitable) as caught:
        choose_builder("auto", FakeDocker(), buildx_builder="nope")
    assert caught.value.one_line() == (
        'cannot inspect buildx builder "nope": ERROR: no builder "nope" found'
        " (`docker buildx ls` lists the builders)"
    )


def test_docker_asks_buildx_nothing() -> None:
    fake = FakeDocker()
    assert choose_builder("docker", fake) == BuilderChoice("docker")
    assert fake.calls == []


def test_an_inspect_without_a_driver_line() -> None:
    fake = FakeDocker()
    fake.builders = {}

    def silent(
        argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
    ) -> ProcessResult:
        return ProcessResult(0, "")

    # Explicit buildx is trusted; auto takes the per-platform tag, which every driver can push.
    assert choose_builder("buildx", silent).push_by_digest
    assert not choose_builder("auto", silent).push_by_digest


def test_parse_buildx_inspect_takes_the_builders_lines_not_the_nodes() -> None:
    assert parse_buildx_inspect(inspect_output("ci", "remote")) == ("ci", "remote")
    assert parse_buildx_inspect("garbage") == (None, None)


# --- the build command lines each choice gives ---------------------------------------


def test_auto_on_the_docker_driver_builds_with_a_per_platform_tag(
    spec: Spec, tmp_path: Path
) -> None:
    fake = FakeDocker()
    request = BuildRequest.build(spec, records_dir=tmp_path / "r")
    result = build_variants(request, run=fake)
    assert result.builder == "buildx"
    assert result.choice == BuilderChoice("buildx", "default", "docker", False)
    outputs = sorted(argv[argv.index("--output") + 1] for argv in fake.builds())
    assert outputs == [
        "type=image,name=registry.example.com/metrics-api:v2.0.0-linux-amd64,push=true",
        "type=image,name=registry.example.com/metrics-api:v2.0.0-linux-arm64,push=true",
    ]
    assert all("--builder" not in argv for argv in fake.builds())  # buildx's own choice
    assert [f.step for f in result.failures] == ["build", "build"]


def test_a_by_digest_driver_builds_by_digest_with_the_named_builder(
    spec: Spec, tmp_path: Path
) -> None:
    fake = FakeDocker({"default": "docker", "ci": "docker-container"})
    request = BuildRequest.build(
        spec, platforms=["linux/arm64"], records_dir=tmp_path / "r", buildx_builder="ci"
    )
    build_variants(request, run=fake)
    (argv,) = fake.builds()
    assert argv[3:5] == ["--builder", "ci"]
    assert argv[argv.index("--output") + 1] == (
        "type=image,name=registry.example.com/metrics-api,push-by-digest=true,"
        "name-canonical=true,push=true"
    )


def test_buildx_on_the_docker_driver_builds_nothing(spec: Spec, tmp_path: Path) -> None:
    fake = FakeDocker()
    request = BuildRequest.build(spec, records_dir=tmp_path / "r", builder="buildx")
    with pytest.raises(BuilderUnsuitable):
        build_variants(request, run=fake)
    assert fake.builds() == []


def test_the_record_names_the_buildx_builder(spec: Spec, tmp_path: Path) -> None:
    """The record's ``builder`` says which buildx builder built it (``buildx:NAME``)."""
    fake = FakeDocker({"ci": "docker-container"}, active="ci")
    request = BuildRequest.build(spec, platforms=["linux/amd64"], records_dir=tmp_path / "r")
    # Stop before resolving (no registry here): what the record would say is the label.
    assert build_variants(request, run=fake).choice.label == "buildx:ci"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"buildx_builder": ""}, "buildx builder name '' is not a name"),
        ({"buildx_builder": "a b"}, "buildx builder name 'a b' is not a name"),
        (
            {"buildx_builder": "ci", "builder": "docker"},
            "buildx builder 'ci' named, but the docker builder uses none",
        ),
    ],
)
def test_request_rejects_a_bad_builder_name(
    spec: Spec, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        BuildRequest.build(spec, **kwargs)  # type: ignore[arg-type]
    assert caught.value.message == message


def test_metadata_of_a_tagged_push_is_resolved(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docker driver's metadata names the wrapper; that digest is what gets resolved."""
    seen: list[str] = []

    class Writes(FakeDocker):
        def __call__(
            self, argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
        ) -> ProcessResult:
            if list(argv[1:3]) == ["buildx", "build"]:
                meta = {"containerimage.digest": WRAPPER, "image.name": "x"}
                Path(argv[argv.index("--metadata-file") + 1]).write_text(json.dumps(meta))
                self.calls.append(list(argv))
                return ProcessResult(0, "")
            return super().__call__(argv, on_line=on_line)

    def fake_resolve(ref: str, *args: object, **kwargs: object) -> object:
        seen.append(ref)
        raise InvalidInput("stop here")

    monkeypatch.setattr("polyarch.pipeline.builds.variants.resolve", fake_resolve)
    request = BuildRequest.build(spec, platforms=["linux/amd64"], records_dir=tmp_path / "r")
    result = build_variants(request, run=Writes())
    assert seen == [f"registry.example.com/metrics-api@{WRAPPER}"]
    assert result.failures[0].step == "resolve"
