"""``build``: build the spec's variants, push each one, write one record per variant.

Each variant is built from its own context and Dockerfile, for its own platform, all of
them at once (one thread each), each on its own engine when the spec's ``builder:`` or the
request's ``engines`` name one (:mod:`polyarch.engine.endpoint`: docker's ``--context`` /
``--host`` options on every command of that variant, or a buildx builder), else on the
engine ``docker`` reaches. The builder of each engine is chosen first
(:func:`~polyarch.engine.builders.choose_builder`: ``auto`` asks ``docker buildx
inspect`` for the builder's driver), and the engine asked who it is (``docker info``,
recorded as ``engine``). The variant's build inputs (secrets, ssh, caches, build
contexts, attestations) are buildx's flags (:mod:`.commands`):

* ``buildx`` on a driver that pushes by digest (``docker-container``, ``kubernetes``,
  ``remote``): no tag at all::

    docker buildx build [--builder NAME] --platform P -f DOCKERFILE [--build-arg K=V]
        [--target T] [--label K=V] [--network MODE]
        --output type=image,name=REPO,push-by-digest=true,name-canonical=true,push=true
        --metadata-file TMP CONTEXT

  then ``containerimage.digest`` of the metadata file (a BuildKit wrapper's digest when
  attestations are on) is resolved to the platform image manifest's digest;
* ``buildx`` on the ``docker`` driver (the default builder of a stock Docker; ``auto``
  only): the same with ``--output type=image,name=REPO:TAG,push=true``, the per-platform
  tag of :meth:`Spec.per_platform_tag`, then the pushed wrapper is resolved likewise;
* ``docker`` (the plain engine, which cannot push by digest alone)::

    docker build --platform P -f DOCKERFILE [...] [--network MODE] -t REPO:TAG CONTEXT
    docker push REPO:TAG

  with the per-platform tag of :meth:`Spec.per_platform_tag`, then that tag is resolved
  to the platform image manifest's digest (never a wrapper's).

``REPO`` is the spec's first image. Each successful variant gets a ``polyarch.record/v1``
file ``<os>-<arch>[-<variant>].json`` in the records directory (see docs/records.md); a
failed one gets none (a stale one from an earlier run is removed first) and is reported
in :attr:`BuildResult.failures` while the others finish. The library never prints: build
output goes, line by line, to the ``on_output`` callback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

from polyarch.content.context import Context, borrowed
from polyarch.content.records.formats import Record
from polyarch.content.resolution import Resolution
from polyarch.domain.platform import Platform
from polyarch.engine.builders import (
    BuilderChoice,
    choose_builder,
)
from polyarch.engine.endpoint import EngineChoice, EngineIdentity
from polyarch.engine.process import ProcessRunner, run_process
from polyarch.errors import PlatformNotFound, PolyarchError
from polyarch.files import load_json
from polyarch.operations.resolve import resolve
from polyarch.pipeline.builds.commands import (
    buildx_build_argv,
    docker_build_argv,
    docker_unsupported,
)
from polyarch.pipeline.builds.engines import ReachedEngine, identify_engine, reach_engine
from polyarch.pipeline.builds.request import (
    BuildFailure,
    BuildRequest,
    BuildResult,
    record_file_name,
)
from polyarch.pipeline.naming import build_tag
from polyarch.pipeline.specfile.model import Spec, Variant

__all__ = ["build_variants"]

_REVISION: Final = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

OutputCallback = Callable[[Platform, str], None]


class _VariantFailed(Exception):
    def __init__(self, failure: BuildFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


class _Tags:
    """The spec with its per-platform tags named, worked out once, when a variant needs one
    (tag rules are evaluated for the version: :func:`~polyarch.pipeline.naming.build_tag`)."""

    def __init__(self, request: BuildRequest, run: ProcessRunner) -> None:
        self.request = request
        self.run = run
        self.lock = threading.Lock()
        self.spec: Spec | None = None

    def per_platform_tag(self, variant: Variant) -> str:
        with self.lock:
            if self.spec is None:
                self.spec = build_tag(self.request.spec, version=self.request.version, run=self.run)
        return self.spec.per_platform_tag(variant)


class _Builder:
    """Builds one request's variants on one engine, with one builder and one context."""

    def __init__(
        self,
        request: BuildRequest,
        ctx: Context,
        run: ProcessRunner,
        on_output: OutputCallback | None,
        choice: BuilderChoice,
        *,
        engine: EngineChoice | None = None,
        identity: EngineIdentity | None = None,
        tags: _Tags | None = None,
    ) -> None:
        self.request = request
        self.ctx = ctx
        self.run = run
        self.on_output = on_output
        self.choice = choice
        self.engine = engine
        self.identity = identity
        self.tags = tags or _Tags(request, run)
        self.repository = str(request.spec.images[0])

    def emit(self, platform: Platform, line: str) -> None:
        if self.on_output is not None:
            self.on_output(platform, line)

    def command(
        self,
        variant: Variant,
        argv: Sequence[str],
        step: str,
        shown_argv: Sequence[str] | None = None,
    ) -> None:
        """Run one step, streaming its output; a non-zero exit fails the variant.

        ``shown_argv`` is the line to show (credentials masked) when it differs; the
        engine's options (``--host``, ``--context``) are shown where they are added.
        """
        platform = variant.platform
        line = list(shown_argv or argv)
        flags = self.engine.docker_flags if self.engine is not None else ()
        if flags and line and line[0] == self.request.docker:
            line = [line[0], *flags, *line[1:]]
        self.emit(platform, "$ " + " ".join(line))
        result = self.run(argv, on_line=lambda out: self.emit(platform, out))
        if result.returncode != 0:
            shown = " ".join(argv[:3]) if argv[1] == "buildx" else " ".join(argv[:2])
            raise _VariantFailed(
                BuildFailure(
                    platform,
                    step,
                    f"`{shown}` exited with code {result.returncode}",
                    result.returncode,
                )
            )

    def resolved(self, variant: Variant, ref: str) -> Resolution:
        """The platform image manifest behind ``ref``; it must be the variant's platform."""
        hint = " (does the Dockerfile start FROM an image of another platform?)"
        try:
            resolution = resolve(ref, self.ctx, platform=variant.platform)
        except PlatformNotFound as exc:
            raise _VariantFailed(
                BuildFailure(variant.platform, "resolve", f"{exc}{hint}")
            ) from None
        except PolyarchError as exc:
            message = f"cannot resolve {ref}: {exc.one_line()}"
            raise _VariantFailed(BuildFailure(variant.platform, "resolve", message)) from None
        got = resolution.platform.normalized() if resolution.platform else None
        want = variant.platform.normalized()
        if got is None or (got.os, got.architecture, got.variant) != (
            want.os,
            want.architecture,
            want.variant,
        ):
            message = f"{ref} is an image for {got or 'no platform'}, not {want}{hint}"
            raise _VariantFailed(BuildFailure(variant.platform, "resolve", message))
        return resolution

    def build_one(self, variant: Variant) -> Record:
        """Build, push, resolve and record one variant."""
        tag: str | None
        if self.choice.kind == "docker":
            resolution, tag = self.push_with_docker(variant)
        else:
            resolution, tag = self.push_with_buildx(variant)
        extra: dict[str, object] = {} if tag is None else {"tag": tag}
        if resolution.source == "wrapper":
            # Publishing from the wrapper keeps the image's attestations (provenance, SBOM).
            extra["wrapper"] = str(resolution.source_digest)
        return self.write(variant, resolution.digest, extra)

    def push_with_docker(self, variant: Variant) -> tuple[Resolution, str]:
        """``docker build`` + ``docker push`` of the per-platform tag; the tag resolved."""
        unsupported = docker_unsupported(variant)
        if unsupported:
            raise _VariantFailed(
                BuildFailure(
                    variant.platform,
                    "build",
                    f"{', '.join(unsupported)} need docker buildx; the docker builder "
                    "(docker build + docker push) cannot pass them",
                )
            )
        tag = self.tags.per_platform_tag(variant)
        ref = f"{self.repository}:{tag}"
        network = self.request.network
        argv = docker_build_argv(variant, ref, network=network, docker=self.request.docker)
        self.command(variant, argv, "build")
        self.command(variant, [self.request.docker, "push", ref], "push")
        return self.resolved(variant, ref), tag

    def push_with_buildx(self, variant: Variant) -> tuple[Resolution, str | None]:
        """``docker buildx build --push``: by digest, or (docker driver) to the per-platform tag."""
        tag = None if self.choice.push_by_digest else self.tags.per_platform_tag(variant)
        with tempfile.TemporaryDirectory(prefix="polyarch-buildx-") as tmp:
            metadata = Path(tmp) / "metadata.json"

            def argv(masked: bool) -> list[str]:
                return buildx_build_argv(
                    variant,
                    self.repository,
                    metadata,
                    network=self.request.network,
                    docker=self.request.docker,
                    builder=self.choice.name if self.choice.explicit_name else None,
                    tag=tag,
                    masked=masked,
                )

            self.command(variant, argv(False), "build", argv(True))
            pushed = _metadata_digest(variant.platform, metadata)
        return self.resolved(variant, f"{self.repository}@{pushed}"), tag

    def write(self, variant: Variant, digest: object, extra: dict[str, object]) -> Record:
        """Write the variant's record file atomically; the record, its origin that file."""
        base = self.request.spec.path.parent
        info: dict[str, object] = {
            "context": _shown(variant.context, base),
            "dockerfile": _shown(variant.dockerfile, base),
            "revision": self.revision(variant.context),
            "builder": self.choice.label,
            **({"engine": self.identity.to_json()} if self.identity is not None else {}),
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            **extra,
        }
        path = self.request.records_dir / record_file_name(variant.platform)
        record = Record.from_json(
            {
                "schema": "polyarch.record/v1",
                "platform": str(variant.platform),
                "repository": self.repository,
                "digest": str(digest),
                **info,
            },
            str(path),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(record.to_json(), indent=2) + "\n")
        os.replace(tmp, path)
        return record

    def revision(self, context: Path) -> str | None:
        """``git rev-parse HEAD`` of the context's work tree, or None when it is not one."""
        result = self.run(["git", "-C", str(context), "rev-parse", "--is-inside-work-tree", "HEAD"])
        lines = result.output.split()
        if result.returncode != 0 or "true" not in lines:
            return None
        return next((line for line in lines if _REVISION.match(line)), None)


def _shown(path: Path, base: Path) -> str:
    """``path`` relative to the spec's directory when it is inside it, else absolute."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _metadata_digest(platform: Platform, metadata: Path) -> str:
    try:
        data = load_json(metadata, what="buildx metadata file")
        digest = data["containerimage.digest"]
        if not isinstance(digest, str):
            raise TypeError(digest)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _VariantFailed(
            BuildFailure(
                platform, "metadata", f"no containerimage.digest in buildx metadata ({exc!r})"
            )
        ) from None
    return digest


def build_variants(
    request: BuildRequest,
    context: Context | None = None,
    *,
    run: ProcessRunner = run_process,
    on_output: OutputCallback | None = None,
) -> BuildResult:
    """Build every requested variant in parallel; push, resolve and record each one.

    Never raises for a failed build: the failures are in the result, and the other
    variants finish (call :meth:`BuildResult.raise_for_failures` to make them an error).
    Raises :class:`BuilderUnsuitable` before building anything when the builder asked
    for cannot be used (see :func:`~polyarch.engine.builders.choose_builder`).
    ``on_output(platform, line)`` receives every line of every build (from several
    threads), ``run`` runs the commands (tests pass a fake).

    For example, the arm64 variant alone, as its CI runner does::

        spec = load_spec(find_spec())
        request = BuildRequest.build(spec, platforms=["linux/arm64"], records_dir="records")
        result = build_variants(request, on_output=lambda p, line: print(f"[{p}] {line}"))
        # [linux/arm64] $ docker build --platform linux/arm64 -f /src/app-arm64/Dockerfile ...
        # [linux/arm64] Step 1/9 : FROM scratch AS base
        result.raise_for_failures()
        [(str(r.platform), r.origin) for r in result.records]
        # [('linux/arm64', 'records/linux-arm64.json')]
    """
    variants = request.variants
    engines = list(dict.fromkeys(request.engine_of(v) for v in variants))
    tags = _Tags(request, run)
    # One builder choice per engine, before anything is built (a builder that cannot be
    # used fails the whole request here).
    chosen: dict[EngineChoice | None, ReachedEngine] = {
        engine: reach_engine(engine, request, run) for engine in engines
    }
    first = (
        chosen[engines[0]].choice
        if engines
        else choose_builder(
            request.builder, run, docker=request.docker, buildx_builder=request.buildx_builder
        )
    )
    for variant in variants:
        (request.records_dir / record_file_name(variant.platform)).unlink(missing_ok=True)
    with borrowed(context) as ctx:
        workers: dict[EngineChoice | None, _Builder] = {}
        for engine, reached in chosen.items():
            workers[engine] = _Builder(
                request,
                ctx,
                reached.run,
                on_output,
                reached.choice,
                engine=reached.via,
                identity=identify_engine(reached, engine, request.docker),
                tags=tags,
            )

        def one(variant: Variant) -> Record | BuildFailure:
            try:
                return workers[request.engine_of(variant)].build_one(variant)
            except _VariantFailed as exc:
                return exc.failure
            except (PolyarchError, OSError) as exc:  # the record could not be written...
                text = exc.one_line() if isinstance(exc, PolyarchError) else str(exc)
                return BuildFailure(variant.platform, "record", text)

        with ThreadPoolExecutor(max_workers=max(1, len(variants))) as pool:
            outcomes = list(pool.map(one, variants))
    return BuildResult(
        first.kind,
        tuple(o for o in outcomes if isinstance(o, Record)),
        tuple(o for o in outcomes if isinstance(o, BuildFailure)),
        first,
    )
