"""What ``polyarch build`` is asked (:class:`BuildRequest`) and answers (:class:`BuildResult`).

The request is validated here, before anything runs: every platform must be one of the
spec's variants, the builder one of :data:`BUILDERS`, the network mode and the buildx
builder name words. The result holds the records written, the failures (one
:class:`BuildFailure` per variant that did not make it) and the builder choice. The build
itself is :func:`polyarch.pipeline.builds.variants.build_variants`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from polyarch.content.records.formats import Record
from polyarch.domain.platform import Platform
from polyarch.engine.builders import BuilderChoice
from polyarch.engine.endpoint import EngineChoice
from polyarch.errors import InvalidInput, InvalidPlatform, PolyarchError
from polyarch.pipeline.specfile.model import Spec, Variant

__all__ = [
    "BUILDERS",
    "DEFAULT_RECORDS_DIR",
    "BuildFailed",
    "BuildFailure",
    "BuildRequest",
    "BuildResult",
    "Builder",
    "record_file_name",
]

#: Where ``polyarch build`` writes its records unless told otherwise.
DEFAULT_RECORDS_DIR: Final = "polyarch-records"
Builder = Literal["auto", "buildx", "docker"]
BUILDERS: Final = ("auto", "buildx", "docker")


class BuildFailed(PolyarchError):
    """Some variants did not build or push; their output (above) says why. Fix and rerun."""


@dataclass(frozen=True, slots=True)
class BuildFailure:
    """One variant that failed: the step (``build``, ``push``, ``resolve``...) and why."""

    platform: Platform
    step: str
    message: str
    exit_code: int | None = None

    def __str__(self) -> str:
        return f"{self.platform}: {self.message}"


@dataclass(frozen=True, slots=True)
class BuildResult:
    """The records written (spec order, each ``origin`` its file) and the failures.

    ``builder`` is the command family used; ``choice`` says which buildx builder (name,
    driver) and whether the variants were pushed by digest or with per-platform tags.
    """

    builder: Literal["buildx", "docker"]
    records: tuple[Record, ...]
    failures: tuple[BuildFailure, ...]
    choice: BuilderChoice | None = None

    @property
    def ok(self) -> bool:
        """True when every variant built, pushed and was recorded."""
        return not self.failures

    def raise_for_failures(self) -> None:
        """Raise :class:`BuildFailed` naming every failed platform (none: do nothing)."""
        if self.failures:
            raise BuildFailed(
                "build failed for " + "; ".join(str(f) for f in self.failures),
                hint="the build output above says why; no record was written for "
                + ("it" if len(self.failures) == 1 else "them"),
            )


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """What to build: the spec, which of its platforms, where the records go, how."""

    spec: Spec
    platforms: tuple[Platform, ...] = ()
    records_dir: Path = Path(DEFAULT_RECORDS_DIR)
    builder: Builder = "auto"
    network: str | None = None
    #: The docker CLI to call (a name looked up in ``PATH``, or a path).
    docker: str = "docker"
    #: The buildx builder instance (``docker buildx build --builder NAME``); ``None``:
    #: the one buildx uses (``BUILDX_BUILDER``, else ``docker buildx use``).
    buildx_builder: str | None = None
    #: Where each platform builds, overriding the variant's ``builder:``
    #: (``--builder-for``), keyed by normalized platform.
    engines: Mapping[Platform, EngineChoice] = field(default_factory=dict)
    #: The version tag rules are evaluated for, to name per-platform tags (``--version``).
    version: str | None = None

    @classmethod
    def build(
        cls,
        spec: Spec,
        *,
        platforms: Sequence[str | Platform] = (),
        records_dir: str | Path = DEFAULT_RECORDS_DIR,
        builder: str = "auto",
        network: str | None = None,
        docker: str = "docker",
        buildx_builder: str | None = None,
        engines: Mapping[Platform, EngineChoice] | None = None,
        version: str | None = None,
    ) -> BuildRequest:
        """Validate what a CLI or a script has: every platform must be a spec variant's.

        ``builder`` is ``auto``, ``buildx`` or ``docker``; ``buildx_builder`` a buildx
        builder instance name (not with ``builder="docker"``); ``engines`` where some
        platforms build (each a variant's platform; a buildx builder not with
        ``builder="docker"``); ``version`` names the per-platform tags when the spec's
        tags are rules. Raises :class:`~polyarch.errors.InvalidInput` for anything else.
        """
        chosen: list[Platform] = []
        for given in platforms:
            try:
                platform = given if isinstance(given, Platform) else Platform.parse(given)
            except InvalidPlatform as exc:
                raise InvalidInput(f"platform {given!r}: {exc}", parameter="platforms") from None
            variant = spec.variant(platform)
            if variant is None:
                known = ", ".join(str(p) for p in spec.platforms)
                raise InvalidInput(
                    f"platform {given}: {spec.path.name} has no variant for it ({known})",
                    parameter="platforms",
                )
            if variant.platform not in chosen:
                chosen.append(variant.platform)
        if builder not in BUILDERS:
            raise InvalidInput(
                f"builder must be auto, buildx or docker, not {builder!r}", parameter="builder"
            )
        if network is not None and (not network or any(c.isspace() for c in network)):
            raise InvalidInput(
                f"network {network!r}: expected a network mode such as none", parameter="network"
            )
        if buildx_builder is not None:
            if not buildx_builder or any(c.isspace() for c in buildx_builder):
                raise InvalidInput(
                    f"buildx builder name {buildx_builder!r} is not a name",
                    parameter="buildx_builder",
                )
            if builder == "docker":
                raise InvalidInput(
                    f"buildx builder {buildx_builder!r} named, but the docker builder uses none",
                    hint="build with the auto or buildx builder to use it",
                )
        where: dict[Platform, EngineChoice] = {}
        for platform, engine in (engines or {}).items():
            variant = spec.variant(platform)
            if variant is None:
                known = ", ".join(str(p) for p in spec.platforms)
                raise InvalidInput(
                    f"builder for {platform}: no variant builds it ({known})", parameter="engines"
                )
            where[variant.platform] = engine
        for variant in spec.variants:
            named = where.get(variant.platform, variant.builder)
            if builder == "docker" and named is not None and named.buildx_builder:
                raise InvalidInput(
                    f"{variant.platform} builds on buildx builder {named.value!r}, but the "
                    "docker builder uses none",
                    hint="build with the auto or buildx builder",
                )
        return cls(
            spec,
            tuple(chosen),
            Path(records_dir),
            "buildx" if builder == "buildx" else "docker" if builder == "docker" else "auto",
            network,
            docker,
            buildx_builder,
            where,
            version,
        )

    @property
    def variants(self) -> tuple[Variant, ...]:
        """The variants to build, in spec order (all of them when no platform was given)."""
        wanted = set(self.platforms)
        return tuple(v for v in self.spec.variants if not wanted or v.platform in wanted)

    def engine_of(self, variant: Variant) -> EngineChoice | None:
        """Where ``variant`` builds: ``engines``' choice, else its ``builder:``, else
        ``None`` (the engine and buildx builder ``docker`` reaches by itself)."""
        return self.engines.get(variant.platform, variant.builder)


def record_file_name(platform: Platform) -> str:
    """``<os>-<arch>[-<variant>].json`` for the normalized platform.

    >>> record_file_name(Platform.parse("linux/arm/v7"))
    'linux-arm-v7.json'
    """
    p = platform.normalized()
    return "-".join(part for part in (p.os, p.architecture, p.variant) if part) + ".json"
