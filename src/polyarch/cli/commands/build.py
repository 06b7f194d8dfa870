"""``polyarch build``, and what the pipeline commands share (the spec option, build output)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
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


def builder_options(func: F) -> F:
    """``--platform``, ``--builder``, ``--buildx-builder`` and ``--network`` (build, release)."""
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


def load(spec_path: str | None) -> Spec:
    """The spec named by ``--spec``, or the one in the current directory."""
    return load_spec(find_spec(explicit=spec_path))


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
        "polyarch build",
        "polyarch build --platform linux/arm64 --records arm64-records/",
        "polyarch build --builder docker --json",
    ),
)
@spec_option
@builder_options
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
    platforms: tuple[str, ...],
    builder: str,
    buildx_builder: str | None,
    network: str | None,
    records_dir: str,
    as_json: bool,
    no_trunc: bool,
    **kwargs: Any,
) -> None:
    """Build the spec's variants in parallel, push each one, write one record per variant.

    Build output goes to stderr, each line prefixed by its platform. A variant that
    fails is named (with the exit code) after the others finished; it gets no record.
    """
    options = pop_global(kwargs)
    spec = load(spec_path)
    request = BuildRequest.build(
        spec,
        platforms=platforms,
        records_dir=records_dir,
        builder=builder,
        network=network,
        buildx_builder=buildx_builder_given(builder, buildx_builder),
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
    how = result.choice.describe() if result.choice else result.builder
    out.print(styled((f"built with {how}", "bold"), f": {len(result.records)} record(s)"))
    columns = [Column("PLATFORM"), Column("DIGEST"), Column("TAG"), Column("RECORD", wrap=True)]
    print_table(out, columns, rows)
