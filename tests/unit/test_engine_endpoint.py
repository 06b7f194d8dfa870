"""Where a variant builds (engine/endpoint.py): the choice, docker's options, the identity.

The real thing (two engines side by side) is tests/e2e/test_engines.py; here the command
lines and the parsing, with a fake ProcessRunner that records every command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from polyarch.domain.platform import Platform
from polyarch.engine.endpoint import (
    EngineChoice,
    EngineIdentity,
    engine_identity,
    on_engine,
    parse_builder_for,
)
from polyarch.engine.process import ProcessResult
from polyarch.errors import InvalidInput


class Recorder:
    def __init__(self, answer: ProcessResult | None = None) -> None:
        self.calls: list[list[str]] = []
        self.answer = answer or ProcessResult(0, "")

    def __call__(
        self, argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
    ) -> ProcessResult:
        self.calls.append(list(argv))
        return self.answer


def test_each_kind_reaches_its_engine_through_docker_options() -> None:
    run = Recorder()
    context = on_engine(run, EngineChoice.build("docker-context", "arm64-box"), "docker")
    context(["docker", "buildx", "build", "."])
    context(["git", "rev-parse", "HEAD"])  # other programs run as they are
    host = on_engine(run, EngineChoice.parse("docker-host:ssh://ci@arm64-box"), "docker")
    host(["docker", "info"])
    assert run.calls == [
        ["docker", "--context", "arm64-box", "buildx", "build", "."],
        ["git", "rev-parse", "HEAD"],
        ["docker", "--host", "ssh://ci@arm64-box", "info"],
    ]
    builder = EngineChoice.build("buildx-builder", "arm64-nodes")
    assert on_engine(run, builder, "docker") is run  # named on the build (--builder) instead
    assert builder.buildx_builder == "arm64-nodes" and builder.docker_flags == ()
    assert on_engine(run, None, "docker") is run


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("docker-host:http://x", "expected unix://PATH"),
        ("docker-host:tcp://u:pw@host:2376", "a password in the URL is refused"),
        ("docker-host:ssh://u:pw@host", "a password in the URL is refused"),
        ("docker-context:two words", "not a name"),
        ("kubernetes:x", "expected KIND:VALUE"),
        ("arm64-box", "expected KIND:VALUE"),
    ],
)
def test_bad_choices_are_one_line(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        EngineChoice.parse(text)


def test_builder_for_values() -> None:
    parsed = parse_builder_for(
        ["linux/arm64/v8=docker-host:unix:///run/b.sock", "linux/amd64=buildx-builder:ci"]
    )
    assert parsed == {
        Platform.parse("linux/arm64"): EngineChoice("docker-host", "unix:///run/b.sock"),
        Platform.parse("linux/amd64"): EngineChoice("buildx-builder", "ci"),
    }
    with pytest.raises(InvalidInput, match="given twice"):
        parse_builder_for(["linux/arm64=docker-context:a", "linux/arm64/v8=docker-context:b"])
    with pytest.raises(InvalidInput, match="expected PLATFORM=KIND:VALUE"):
        parse_builder_for(["docker-context:a"])
    with pytest.raises(InvalidInput, match="builder for 'linux/=docker-context:a'"):
        parse_builder_for(["linux/=docker-context:a"])


def test_identity_from_docker_info_among_warnings() -> None:
    answer = ProcessResult(
        0,
        "WARNING: bridge-nf-call-iptables is disabled\n"
        "polyarch-engine 6b29c309-ff59-4cd2 26.1.5+dfsg1 vm\n",
    )
    run = Recorder(answer)
    choice = EngineChoice.build("docker-host", "unix:///tmp/b.sock")
    found = engine_identity(on_engine(run, choice, "docker"), choice)
    assert found == EngineIdentity(
        "docker-host:unix:///tmp/b.sock", "6b29c309-ff59-4cd2", "26.1.5+dfsg1", "vm"
    )
    assert run.calls[0][:4] == ["docker", "--host", "unix:///tmp/b.sock", "info"]
    assert EngineIdentity.from_json(found.to_json()) == found


def test_an_engine_that_does_not_answer_is_named_by_its_endpoint() -> None:
    down = Recorder(ProcessResult(1, "Cannot connect to the Docker daemon"))
    assert engine_identity(down) == EngineIdentity("default")
    garbled = Recorder(ProcessResult(0, "something else\n"))
    assert engine_identity(garbled).id is None
