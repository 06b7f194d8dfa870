"""Where a variant builds: one Docker engine or buildx builder per variant, and its identity.

The seeds' native arm64 "runner" may be a remote Docker engine or a buildx builder node
rather than a CI job. A variant names it (``builder:`` in the spec, ``--builder-for
PLATFORM=KIND:VALUE``) as an :class:`EngineChoice`:

* ``docker-context: NAME``: ``docker --context NAME ...`` (a context ``docker context
  create`` made: its endpoint, TLS material and the buildx builders of that context);
* ``docker-host: URL``: ``docker --host URL ...`` (``unix://``, ``tcp://``, ``ssh://``,
  ``npipe://``, what ``DOCKER_HOST`` takes);
* ``buildx-builder: NAME``: ``docker buildx build --builder NAME`` (any buildx builder:
  ``docker-container``, ``remote``, ``kubernetes``..., on whatever nodes it has).

The first two are docker's global options, so every command polyarch runs for the
variant (``buildx version``, ``buildx inspect``, ``buildx build``, ``build``, ``push``,
``info``) reaches that engine: :func:`on_engine` wraps a
:class:`~polyarch.engine.process.ProcessRunner` to insert them. Measured with Docker
26.1.5 and buildx 0.13.1: ``docker --host unix:///B.sock buildx inspect`` and ``docker
--context b buildx inspect`` both talk to engine B (its BuildKit worker's UUID), while
``DOCKER_HOST`` names engine A; ``--context`` with ``DOCKER_HOST`` set prints a warning
that the variable overrides the context, yet the flag wins.

Which engine built a variant is recorded (:func:`engine_identity`: ``docker info``'s
engine ID, server version and name), so a record says where its image came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from polyarch.domain.platform import Platform
from polyarch.engine.process import ProcessResult, ProcessRunner
from polyarch.errors import InvalidInput, InvalidPlatform

__all__ = [
    "ENGINE_KINDS",
    "EngineChoice",
    "EngineIdentity",
    "engine_identity",
    "on_engine",
    "parse_builder_for",
]

#: The kinds of :class:`EngineChoice`, in the order the spec documents them.
ENGINE_KINDS: Final = ("docker-context", "docker-host", "buildx-builder")
_HOST: Final = re.compile(r"(unix|tcp|ssh|npipe)://\S+")
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
# docker info's answer, on one line of its own among any warnings it prints.
_INFO_MARK: Final = "polyarch-engine"
_INFO_FORMAT: Final = _INFO_MARK + " {{.ID}} {{.ServerVersion}} {{.Name}}"


@dataclass(frozen=True, slots=True)
class EngineChoice:
    """Where a variant builds: ``kind`` (one of :data:`ENGINE_KINDS`) and its ``value``.

    Build it with :meth:`build`, which checks the value.
    """

    kind: str
    value: str

    KINDS: ClassVar[tuple[str, ...]] = ENGINE_KINDS

    @classmethod
    def build(cls, kind: str, value: str) -> EngineChoice:
        """Check ``kind`` and ``value``.

        Raises :class:`~polyarch.errors.InvalidInput` for an unknown kind, a host that is
        not a ``unix|tcp|ssh|npipe://`` URL, a URL holding a password (it would be
        recorded), or a context or builder name that is not a name.
        """
        if kind not in ENGINE_KINDS:
            raise InvalidInput(f"builder: unknown kind {kind!r} ({', '.join(ENGINE_KINDS)})")
        if kind == "docker-host":
            if not _HOST.fullmatch(value):
                raise InvalidInput(
                    f"builder.docker-host {value!r}: expected unix://PATH, tcp://HOST:PORT, "
                    "ssh://USER@HOST or npipe://PATH"
                )
            if re.match(r"(tcp|ssh)://[^/@]*:[^/@]*@", value):
                raise InvalidInput(
                    "builder.docker-host: a password in the URL is refused (it would be "
                    "recorded); use ssh:// with keys or TLS certificates"
                )
        elif not _NAME.fullmatch(value):
            raise InvalidInput(f"builder.{kind} {value!r}: not a name")
        return cls(kind, value)

    @classmethod
    def parse(cls, text: str) -> EngineChoice:
        """``KIND:VALUE`` (``docker-host:ssh://ci@arm64-box``), as ``--builder-for`` takes it."""
        kind, sep, value = text.partition(":")
        if not sep or kind not in ENGINE_KINDS:
            raise InvalidInput(
                f"builder {text!r}: expected KIND:VALUE, KIND one of {', '.join(ENGINE_KINDS)}"
            )
        return cls.build(kind, value)

    @property
    def label(self) -> str:
        """How records name it: ``docker-context:NAME``, ``docker-host:URL``..."""
        return f"{self.kind}:{self.value}"

    @property
    def docker_flags(self) -> tuple[str, ...]:
        """docker's global options that reach this engine (none for a buildx builder)."""
        if self.kind == "docker-context":
            return ("--context", self.value)
        if self.kind == "docker-host":
            return ("--host", self.value)
        return ()

    @property
    def buildx_builder(self) -> str | None:
        """The buildx builder instance to name (``--builder NAME``), for that kind only."""
        return self.value if self.kind == "buildx-builder" else None


def parse_builder_for(values: Sequence[str]) -> dict[Platform, EngineChoice]:
    """``--builder-for PLATFORM=KIND:VALUE`` values, keyed by normalized platform.

    Raises :class:`~polyarch.errors.InvalidInput` for a value without ``=``, a bad
    platform or engine, or a platform given twice.
    """
    out: dict[Platform, EngineChoice] = {}
    for value in values:
        platform_text, sep, engine = value.partition("=")
        if not sep:
            raise InvalidInput(
                f"builder for {value!r}: expected PLATFORM=KIND:VALUE, e.g. "
                "linux/arm64=docker-host:ssh://ci@arm64-box",
                parameter="engines",
            )
        try:
            platform = Platform.parse(platform_text).normalized()
            choice = EngineChoice.parse(engine)
        except (InvalidPlatform, InvalidInput) as exc:
            raise InvalidInput(
                f"builder for {value!r}: {exc.message}", parameter="engines"
            ) from None
        if platform in out:
            raise InvalidInput(
                f"builder for {value!r}: {platform} given twice", parameter="engines"
            )
        out[platform] = choice
    return out


def on_engine(run: ProcessRunner, choice: EngineChoice | None, docker: str) -> ProcessRunner:
    """``run``, with the engine's global options put after ``docker`` in every command.

    Commands of other programs (``git``) run as they are; without a choice (or for a
    buildx builder, named on the build itself) ``run`` is returned unchanged.
    """
    flags = choice.docker_flags if choice is not None else ()
    if not flags:
        return run

    def wrapped(
        argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
    ) -> ProcessResult:
        if argv and argv[0] == docker:
            argv = [argv[0], *flags, *argv[1:]]
        return run(argv, on_line=on_line)

    return wrapped


@dataclass(frozen=True, slots=True)
class EngineIdentity:
    """Which engine answered: where it was reached and what ``docker info`` said.

    ``endpoint`` is the :attr:`EngineChoice.label` (``default``: the engine ``docker``
    reaches by itself, ``DOCKER_HOST`` or the current context); ``id``, ``version`` and
    ``name`` are ``docker info``'s ``ID``, ``ServerVersion`` and ``Name`` (``None`` when
    it did not answer, as with a buildx builder that is no Docker engine).
    """

    endpoint: str
    id: str | None = None
    version: str | None = None
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"endpoint", "id", "version", "name"}`` (what records hold as ``engine``)."""
        return {
            "endpoint": self.endpoint,
            "id": self.id,
            "version": self.version,
            "name": self.name,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EngineIdentity:
        """The object :meth:`to_json` wrote (missing keys are ``None``)."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls(text("endpoint") or "default", text("id"), text("version"), text("name"))


def engine_identity(
    run: ProcessRunner, choice: EngineChoice | None = None, *, docker: str = "docker"
) -> EngineIdentity:
    """Ask the engine ``choice`` reaches who it is (``docker info``); never raises.

    ``run`` runs the command as it is (wrap it with :func:`on_engine` first). An engine
    that does not answer gives an identity with its endpoint only.
    """
    endpoint = choice.label if choice is not None else "default"
    result = run([docker, "info", "--format", _INFO_FORMAT])
    if result.returncode != 0:
        return EngineIdentity(endpoint)
    for line in result.output.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == _INFO_MARK:
            name = words[3] if len(words) > 3 else None
            return EngineIdentity(endpoint, words[1], words[2], name)
    return EngineIdentity(endpoint)
