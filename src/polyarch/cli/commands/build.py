"""``polyarch build``, and what the pipeline commands share (the spec option, build output)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import (
    console,
    format_digest,
    no_trunc_option,
    print_json,
    styled,
)
from polyarch.cli.render.table import Column, print_table
from polyarch.domain.platform import Platform
from polyarch.engine.endpoint import parse_builder_for
from polyarch.errors import InvalidInput
from polyarch.pipeline.bake.variants import resolve_bake
from polyarch.pipeline.builds.request import (
    BUILDERS,
    DEFAULT_RECORDS_DIR,
    BuildRequest,
    BuildResult,
)
from polyarch.pipeline.builds.variants import build_variants
from polyarch.pipeline.specfile import find_spec, load_spec
from polyarch.pipeline.specfile.model import Spec

__all__ = [
    "BuildOutput",
    "bake_options",
    "build_command",
    "builder_options",
    "buildx_builder_given",
    "load",
    "render",
    "spec_option",
]

F = TypeVar("F", bound=Callable[..., Any])


def spec_option(func: F) -> F:
    """``--spec PATH`` (alias ``--file``): the spec file, or a directory holding one."""
    return click.option(
        "--spec",
        "--file",
        "spec_path",
        metavar="PATH",
        help="The spec file, or its directory (default: ./polyarch.yaml or ./polyarch.yml).",
    )(func)


def bake_options(func: F) -> F:
    """``--bake FILE`` and ``--target T``: the variants are Bake targets (build, release,
    matrix)."""
    decorators = [
        click.option(
            "--bake",
            "bake_files",
            multiple=True,
            metavar="FILE",
            help="Take the variants from this Bake file's targets, as docker buildx bake "
            "--print resolves them (HCL, JSON or compose; repeatable, like bake -f). With a "
            "spec, the spec gives image, tags and verify; alone, the targets' tags name the "
            "image.",
        ),
        click.option(
            "--target",
            "bake_targets",
            multiple=True,
            metavar="T",
            help="The Bake target or group to use (repeatable; default: the spec's "
            "bake.targets, else the default group).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def builder_options(func: F) -> F:
    """``--platform``, ``--builder``, ``--buildx-builder``, ``--builder-for`` and ``--network``
    (build, release)."""
    decorators = [
        click.option(
            "--platform",
            "platforms",
            multiple=True,
            metavar="P",
            help="Build only this variant (repeatable; default: every variant of the spec).",
        ),
        click.option(
            "--builder",
            type=click.Choice(BUILDERS),
            default="auto",
            show_default=True,
            help="auto: buildx if installed, pushing by digest where its builder's driver can "
            "(docker-container, kubernetes, remote) and per-platform tags on the docker driver, "
            "else docker; buildx: by digest only (fails on the docker driver); docker: docker "
            "build + docker push of per-platform tags.",
        ),
        click.option(
            "--buildx-builder",
            envvar="BUILDX_BUILDER",
            metavar="NAME",
            help="The buildx builder instance to build with (docker buildx build --builder; "
            "default: $BUILDX_BUILDER, else the one `docker buildx use` chose). Recorded in "
            "each record's builder.",
        ),
        click.option(
            "--builder-for",
            "engines",
            multiple=True,
            metavar="PLATFORM=KIND:VALUE",
            help="Build this platform on its own engine (repeatable): KIND is docker-context, "
            "docker-host or buildx-builder, e.g. linux/arm64=docker-host:ssh://ci@arm64-box. "
            "Overrides the variant's builder: in the spec.",
        ),
        click.option(
            "--network",
            metavar="MODE",
            help="Network mode of the build's RUN steps (docker build --network).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def buildx_builder_given(builder: str, name: str | None) -> str | None:
    """``--buildx-builder``, except a ``BUILDX_BUILDER`` from the environment with ``--builder
    docker`` (which uses no buildx builder: the variable is meant for other tools too)."""
    source = click.get_current_context().get_parameter_source("buildx_builder")
    if builder == "docker" and source is click.core.ParameterSource.ENVIRONMENT:
        return None
    return name


def load(
    spec_path: str | None,
    bake_files: tuple[str, ...] = (),
    bake_targets: tuple[str, ...] = (),
    *,
    paths: bool = True,
) -> Spec:
    """The spec named by ``--spec`` (or the one in the current directory), its variants
    taken from Bake targets when ``--bake`` or its ``bake:`` say so.

    With ``--bake`` and no spec at all, the Bake targets alone make one.
    """
    path: Path | None
    if bake_files and spec_path is None:
        try:
            path = find_spec()
        except InvalidInput:
            path = None  # --bake alone: the targets name the image
    else:
        path = find_spec(explicit=spec_path)
    spec = load_spec(path, paths=paths) if path is not None else None
    if bake_files or (spec is not None and spec.bake is not None):
        return resolve_bake(spec, bake_files, bake_targets)
    if bake_targets:
        raise InvalidInput(
            "--target names Bake targets, but there is no Bake file",
            hint="give --bake FILE, or write bake: in the spec",
        )
    assert spec is not None
    return spec


class BuildOutput:
    """Prints build output lines on stderr, prefixed by platform, whole lines at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, platform: Platform, line: str) -> None:
        with self._lock:
            sys.stderr.write(f"[{platform}] {line}\n")
            sys.stderr.flush()


@click.command(
    "build",
    epilog=examples(
        "polyarch build --platform linux/arm64 --records arm64-records/",
        "polyarch build --bake docker-bake.hcl --target api-arm64",
        "polyarch build --builder-for linux/arm64=docker-context:arm64-box",
    ),
)
@spec_option
@bake_options
@builder_options
@click.option(
    "--version",
    "version",
    metavar="VERSION",
    help="The version the spec's tag rules are evaluated for, to name per-platform tags "
    "(default: $GITHUB_REF in GitHub Actions, else git).",
)
@click.option(
    "--records",
    "records_dir",
    default=DEFAULT_RECORDS_DIR,
    show_default=True,
    metavar="DIR",
    help="Where to write one record per variant (<os>-<arch>[-<variant>].json).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the records as a JSON list.")
@no_trunc_option
@common_options
def build_command(
    spec_path: str | None,
    bake_files: tuple[str, ...],
    bake_targets: tuple[str, ...],
    platforms: tuple[str, ...],
    builder: str,
    buildx_builder: str | None,
    engines: tuple[str, ...],
    network: str | None,
    version: str | None,
    records_dir: str,
    as_json: bool,
    no_trunc: bool,
    **kwargs: Any,
) -> None:
    """Build the spec's variants in parallel, push each one, write one record per variant.

    Each variant builds on its own engine when the spec's builder: or --builder-for
    names one; the record says which engine built it. Build output goes to stderr, each
    line prefixed by its platform. A variant that fails is named (with the exit code)
    after the others finished; it gets no record.
    """
    options = pop_global(kwargs)
    spec = load(spec_path, bake_files, bake_targets)
    request = BuildRequest.build(
        spec,
        platforms=platforms,
        records_dir=records_dir,
        builder=builder,
        network=network,
        buildx_builder=buildx_builder_given(builder, buildx_builder),
        engines=parse_builder_for(engines),
        version=version,
    )
    with make_context(options) as ctx:
        result = build_variants(request, ctx, on_output=None if options.quiet else BuildOutput())
    if as_json:
        print_json([r.to_json() for r in result.records])
    elif options.quiet:
        for record in result.records:
            click.echo(f"{record.platform} {record.digest}")
    else:
        render(result, no_trunc=no_trunc)
    result.raise_for_failures()


def render(result: BuildResult, *, no_trunc: bool = False) -> None:
    """One line per record: platform, digest, per-platform tag, record file."""
    out = console()
    if not result.records:
        return
    rows = []
    for record in result.records:
        tag = record.extra.get("tag")
        rows.append(
            [
                str(record.platform),
                format_digest(record.digest, no_trunc=no_trunc),
                tag if isinstance(tag, str) else "-",
                record.origin,
            ]
        )
    engines = [_engine_text(record.extra.get("engine")) for record in result.records]
    how = result.choice.describe() if result.choice else result.builder
    if len(set(engines)) > 1:
        how = "one engine per variant"
    out.print(styled((f"built with {how}", "bold"), f": {len(result.records)} record(s)"))
    columns = [Column("PLATFORM"), Column("DIGEST"), Column("TAG"), Column("RECORD", wrap=True)]
    if len(set(engines)) > 1:
        columns.append(Column("ENGINE", wrap=True))
        rows = [[*row, engine] for row, engine in zip(rows, engines, strict=True)]
    print_table(out, columns, rows)


def _engine_text(engine: object) -> str:
    """``docker-host:unix:///b.sock (26.1.5)``: where a record's variant was built."""
    if not isinstance(engine, dict):
        return "-"
    version = engine.get("version")
    return f"{engine.get('endpoint', '-')}" + (f" ({version})" if version else "")
