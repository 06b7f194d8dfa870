"""``build``: build the spec's variants, push each one, write one record per variant.

Each variant is built from its own context and Dockerfile, for its own platform, all of
them at once (one thread each; the engine runs concurrent builds). Two builders:

* ``buildx`` (when ``docker buildx version`` works): pushes by digest, no tag at all::

    docker buildx build --platform P -f DOCKERFILE [--build-arg K=V] [--target T]
        [--label K=V] [--network MODE]
        --output type=image,name=REPO,push-by-digest=true,name-canonical=true,push=true
        --metadata-file TMP CONTEXT

  then ``containerimage.digest`` of the metadata file (a BuildKit wrapper's digest when
  attestations are on) is resolved to the platform image manifest's digest;
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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from polyarch.errors import InvalidInput, InvalidPlatform, PlatformNotFound, PolyarchError
from polyarch.operations.context import Context, borrowed
from polyarch.operations.records import Record
from polyarch.operations.resolve import Resolution, resolve
from polyarch.pipeline.commands import (
    ProcessResult,
    ProcessRunner,
    buildx_build_argv,
    detect_builder,
    docker_build_argv,
    run_process,
)
from polyarch.pipeline.spec import Spec, Variant
from polyarch.platform import Platform

__all__ = [
    "BUILDERS",
    "DEFAULT_RECORDS_DIR",
    "BuildFailed",
    "BuildFailure",
    "BuildRequest",
    "BuildResult",
    "Builder",
    "ProcessResult",
    "ProcessRunner",
    "build_variants",
    "buildx_build_argv",
    "detect_builder",
    "docker_build_argv",
    "record_file_name",
    "run_process",
]

#: Where ``polyarch build`` writes its records unless told otherwise.
DEFAULT_RECORDS_DIR: Final = "polyarch-records"
Builder = Literal["auto", "buildx", "docker"]
BUILDERS: Final = ("auto", "buildx", "docker")
_REVISION: Final = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

OutputCallback = Callable[[Platform, str], None]


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
    """The records written (spec order, each ``origin`` its file) and the failures."""

    builder: Literal["buildx", "docker"]
    records: tuple[Record, ...]
    failures: tuple[BuildFailure, ...]

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
    ) -> BuildRequest:
        """Validate what a CLI or a script has: every platform must be a spec variant's."""
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
        return cls(
            spec,
            tuple(chosen),
            Path(records_dir),
            "buildx" if builder == "buildx" else "docker" if builder == "docker" else "auto",
            network,
            docker,
        )

    @property
    def variants(self) -> tuple[Variant, ...]:
        """The variants to build, in spec order (all of them when no platform was given)."""
        wanted = set(self.platforms)
        return tuple(v for v in self.spec.variants if not wanted or v.platform in wanted)


def record_file_name(platform: Platform) -> str:
    """``<os>-<arch>[-<variant>].json`` for the normalized platform.

    >>> record_file_name(Platform.parse("linux/arm/v7"))
    'linux-arm-v7.json'
    """
    p = platform.normalized()
    return "-".join(part for part in (p.os, p.architecture, p.variant) if part) + ".json"


class _VariantFailed(Exception):
    def __init__(self, failure: BuildFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


class _Builder:
    """Builds one request's variants with one builder and one context."""

    def __init__(
        self,
        request: BuildRequest,
        ctx: Context,
        run: ProcessRunner,
        on_output: OutputCallback | None,
        builder: Literal["buildx", "docker"],
    ) -> None:
        self.request = request
        self.ctx = ctx
        self.run = run
        self.on_output = on_output
        self.builder = builder
        self.repository = str(request.spec.images[0])

    def emit(self, platform: Platform, line: str) -> None:
        if self.on_output is not None:
            self.on_output(platform, line)

    def command(self, variant: Variant, argv: Sequence[str], step: str) -> None:
        """Run one step, streaming its output; a non-zero exit fails the variant."""
        platform = variant.platform
        self.emit(platform, "$ " + " ".join(argv))
        result = self.run(argv, on_line=lambda line: self.emit(platform, line))
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
        extra: dict[str, object] = {}
        if self.builder == "docker":
            tag = self.request.spec.per_platform_tag(variant)
            ref = f"{self.repository}:{tag}"
            network = self.request.network
            argv = docker_build_argv(variant, ref, network=network, docker=self.request.docker)
            self.command(variant, argv, "build")
            self.command(variant, [self.request.docker, "push", ref], "push")
            resolution = self.resolved(variant, ref)
            extra["tag"] = tag
        else:
            with tempfile.TemporaryDirectory(prefix="polyarch-buildx-") as tmp:
                metadata = Path(tmp) / "metadata.json"
                argv = buildx_build_argv(
                    variant,
                    self.repository,
                    metadata,
                    network=self.request.network,
                    docker=self.request.docker,
                )
                self.command(variant, argv, "build")
                pushed = _metadata_digest(variant.platform, metadata)
            resolution = self.resolved(variant, f"{self.repository}@{pushed}")
        if resolution.source == "wrapper":
            # Publishing from the wrapper keeps the image's attestations (provenance, SBOM).
            extra["wrapper"] = str(resolution.source_digest)
        return self.write(variant, resolution.digest, extra)

    def write(self, variant: Variant, digest: object, extra: dict[str, object]) -> Record:
        """Write the variant's record file atomically; the record, its origin that file."""
        base = self.request.spec.path.parent
        info: dict[str, object] = {
            "context": _shown(variant.context, base),
            "dockerfile": _shown(variant.dockerfile, base),
            "revision": self.revision(variant.context),
            "builder": self.builder,
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
        data = json.loads(metadata.read_text())
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
    builder = request.builder
    if builder == "auto":
        builder = detect_builder(run, request.docker)
    variants = request.variants
    for variant in variants:
        (request.records_dir / record_file_name(variant.platform)).unlink(missing_ok=True)
    with borrowed(context) as ctx:
        worker = _Builder(request, ctx, run, on_output, builder)

        def one(variant: Variant) -> Record | BuildFailure:
            try:
                return worker.build_one(variant)
            except _VariantFailed as exc:
                return exc.failure
            except (PolyarchError, OSError) as exc:  # the record could not be written...
                text = exc.one_line() if isinstance(exc, PolyarchError) else str(exc)
                return BuildFailure(variant.platform, "record", text)

        with ThreadPoolExecutor(max_workers=max(1, len(variants))) as pool:
            outcomes = list(pool.map(one, variants))
    return BuildResult(
        builder,
        tuple(o for o in outcomes if isinstance(o, Record)),
        tuple(o for o in outcomes if isinstance(o, BuildFailure)),
    )
