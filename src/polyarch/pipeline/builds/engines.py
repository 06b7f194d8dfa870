"""Which engine builds a variant: its builder chosen there, and the engine named in records.

A spec may give each variant its own engine (``engine:``: a docker context, a ``DOCKER_HOST``,
a buildx builder: engine/endpoint.py). :func:`reach_engine` chooses the builder of one
engine with docker's options on every command of it; :func:`identify_engine` names the
engine that built, as its build records carry it (docs/release.md, "One engine per
variant").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from polyarch.engine.builders import BuilderChoice, choose_builder
from polyarch.engine.endpoint import EngineChoice, EngineIdentity, engine_identity, on_engine
from polyarch.engine.process import ProcessRunner
from polyarch.pipeline.builds.request import BuildRequest

__all__ = ["ReachedEngine", "identify_engine", "reach_engine"]


@dataclass(frozen=True, slots=True)
class ReachedEngine:
    """How one engine is reached: the runner (docker's options added), the builder chosen
    there, and ``via``, the docker context or host those options name."""

    run: ProcessRunner
    choice: BuilderChoice
    via: EngineChoice | None


def reach_engine(
    engine: EngineChoice | None, request: BuildRequest, run: ProcessRunner
) -> ReachedEngine:
    """Choose the builder of ``engine`` (docker's options on every command of it).

    A buildx builder of the ``docker`` driver is a docker context's own builder (buildx
    names it after the context); buildx 0.29 refuses ``--builder NAME`` for it ("use
    `docker --context=NAME buildx` to switch to context"), so it is reached as that context.
    """
    engine_run = on_engine(run, engine, request.docker)
    named = engine.buildx_builder if engine is not None else None
    choice = choose_builder(
        request.builder,
        engine_run,
        docker=request.docker,
        buildx_builder=named or request.buildx_builder,
    )
    if engine is not None and named and choice.driver == "docker":
        via = EngineChoice("docker-context", named)
        return ReachedEngine(
            on_engine(run, via, request.docker), replace(choice, explicit_name=False), via
        )
    return ReachedEngine(engine_run, choice, engine)


def identify_engine(
    reached: ReachedEngine, engine: EngineChoice | None, docker: str
) -> EngineIdentity:
    """Which engine builds: ``docker info`` of the engine reached, named as the spec named
    it. A buildx builder of another driver runs a BuildKit that is no engine's: its name
    alone."""
    if engine is not None and engine.buildx_builder and reached.via is engine:
        return EngineIdentity(engine.label, name=reached.choice.name)
    found = engine_identity(reached.run, reached.via, docker=docker)
    return replace(found, endpoint=engine.label if engine is not None else found.endpoint)
