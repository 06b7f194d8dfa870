"""``polyarch release``: build every variant on this machine, then publish (one machine)."""

from __future__ import annotations

import dataclasses
import tempfile
from typing import Any

import click

from polyarch.cli.commands.build import (
    BuildOutput,
    builder_options,
    buildx_builder_given,
    load,
    spec_option,
)
from polyarch.cli.commands.publish import finish, publish_options
from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import err_console
from polyarch.pipeline.builds.request import BuildRequest
from polyarch.pipeline.builds.variants import build_variants
from polyarch.pipeline.publish.run import PublishRequest, publish
from polyarch.pipeline.specfile.model import Spec


def _only(spec: Spec, request: BuildRequest) -> Spec:
    """The spec narrowed to the variants ``--platform`` chose (all of them without it)."""
    variants = request.variants
    if len(variants) == len(spec.variants):
        return spec
    chosen = {v.platform for v in variants}
    outputs = {p: rx for p, rx in spec.verify.expect_output.items() if p in chosen}
    return dataclasses.replace(
        spec,
        variants=variants,
        verify=dataclasses.replace(spec.verify, expect_output=outputs),
    )


@click.command(
    "release",
    epilog=examples(
        "polyarch release",
        "polyarch release --platform linux/amd64 --platform linux/arm64",
        "polyarch release --file deploy/polyarch.yaml --no-run",
    ),
)
@spec_option
@builder_options
@publish_options
@common_options
def release_command(
    spec_path: str | None,
    platforms: tuple[str, ...],
    builder: str,
    buildx_builder: str | None,
    network: str | None,
    cleanup: bool,
    no_verify: bool,
    no_run: bool,
    as_json: bool,
    no_trunc: bool,
    **kwargs: Any,
) -> None:
    """Build every variant here (in parallel), then publish and verify: the one-machine path.

    The same as `polyarch build` into a temporary records directory followed by
    `polyarch publish` of it. Nothing is published when a build fails. --platform releases
    only the variants it names: the index then holds only those.
    """
    options = pop_global(kwargs)
    spec = load(spec_path)
    with tempfile.TemporaryDirectory(prefix="polyarch-release-") as records_dir:
        request = BuildRequest.build(
            spec,
            platforms=platforms,
            records_dir=records_dir,
            builder=builder,
            network=network,
            buildx_builder=buildx_builder_given(builder, buildx_builder),
        )
        narrowed = _only(spec, request)
        if narrowed is not spec:
            shown = ", ".join(str(v.platform) for v in narrowed.variants)
            err_console().print(
                f"note: releasing {len(narrowed.variants)} of {len(spec.variants)} variants"
                f" ({shown}); the index holds only those"
            )
        with make_context(options) as ctx:
            output = None if options.quiet else BuildOutput()
            built = build_variants(request, ctx, on_output=output)
            built.raise_for_failures()
            publishing = PublishRequest.build(
                narrowed,
                list(built.records),
                cleanup=cleanup,
                verify=not no_verify,
                run=not no_run,
            )
            result = publish(publishing, ctx)
    finish(result, options, as_json=as_json, no_trunc=no_trunc)
