"""``polyarch release``: build every variant on this machine, then publish (one machine)."""

from __future__ import annotations

import dataclasses
import tempfile
from typing import Any

import click

from polyarch.cli.commands.build import (
    BuildOutput,
    bake_options,
    builder_options,
    buildx_builder_given,
    load,
    spec_option,
)
from polyarch.cli.commands.publish import finish, naming_options, publish_options, read_metadata
from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import console, err_console, print_json, styled
from polyarch.domain.signing.keys import PrivateKey
from polyarch.engine.endpoint import parse_builder_for
from polyarch.operations.sign import password_from_environment
from polyarch.pipeline.builds.request import BuildRequest
from polyarch.pipeline.builds.variants import build_variants
from polyarch.pipeline.naming import Naming, name_release
from polyarch.pipeline.publish.run import PublishRequest, check_release_targets, publish
from polyarch.pipeline.specfile.model import Spec

#: Version tag of ``release --dry-run --json``'s object.
RELEASE_PLAN_SCHEMA = "polyarch.release-plan/v1"


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


def _plan(naming: Naming, spec: Spec, dropped: dict[Any, tuple[str, ...]]) -> dict[str, Any]:
    return {
        "schema": RELEASE_PLAN_SCHEMA,
        "tags": [str(t) for t in naming.targets],
        "version": naming.version,
        "platforms": [str(v.platform) for v in spec.variants],
        "annotations": list(naming.annotations),
        "held": [{"tag": tag, "higher": higher} for tag, higher in naming.held],
        "dropped": {str(t): list(lost) for t, lost in dropped.items()},
    }


@click.command(
    "release",
    epilog=examples(
        "polyarch release",
        "polyarch release --version v3.14.1 --dry-run",
        "polyarch release --builder-for linux/arm64=docker-host:ssh://ci@arm64-box",
    ),
)
@spec_option
@bake_options
@builder_options
@naming_options
@publish_options
@common_options
def release_command(
    spec_path: str | None,
    bake_files: tuple[str, ...],
    bake_targets: tuple[str, ...],
    platforms: tuple[str, ...],
    builder: str,
    buildx_builder: str | None,
    engines: tuple[str, ...],
    network: str | None,
    tags: tuple[str, ...],
    version: str | None,
    metadata: str | None,
    allow_platform_drop: bool,
    dry_run: bool,
    metadata_file: str | None,
    cleanup: bool,
    no_verify: bool,
    no_run: bool,
    sign_key: str | None,
    signature_format: str,
    as_json: bool,
    no_trunc: bool,
    **kwargs: Any,
) -> None:
    """Build every variant (in parallel, each on its own engine when the spec or
    --builder-for names one), then publish and verify: the one-machine path.

    The same as `polyarch build` into a temporary records directory followed by
    `polyarch publish` of it. Before anything is built, the tags are named and checked:
    a tag that would lose a platform it serves now is refused (exit 1) unless
    --allow-platform-drop; --dry-run stops there and shows them. Nothing is published
    when a build fails. --platform releases only the variants it names: the index then
    holds only those.
    """
    options = pop_global(kwargs)
    # The key is read (and decrypted) before anything is built: a wrong password costs nothing.
    key = PrivateKey.from_file(sign_key, password_from_environment()) if sign_key else None
    spec = load(spec_path, bake_files, bake_targets)
    action_metadata = read_metadata(metadata)
    with tempfile.TemporaryDirectory(prefix="polyarch-release-") as records_dir:
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
        narrowed = _only(spec, request)
        if narrowed is not spec:
            shown = ", ".join(str(v.platform) for v in narrowed.variants)
            err_console().print(
                f"note: releasing {len(narrowed.variants)} of {len(spec.variants)} variants"
                f" ({shown}); the index holds only those"
            )
        with make_context(options) as ctx:
            # Named and checked before anything is built or pushed.
            naming = name_release(
                narrowed, ctx, tags=tags, version=version, metadata=action_metadata
            )
            dropped = check_release_targets(
                naming.targets, narrowed.platforms, ctx, allow=allow_platform_drop
            )
            if dry_run:
                _show_plan(_plan(naming, narrowed, dropped), as_json=as_json)
                return
            output = None if options.quiet else BuildOutput()
            built = build_variants(request, ctx, on_output=output)
            built.raise_for_failures()
            publishing = PublishRequest.build(
                narrowed,
                list(built.records),
                cleanup=cleanup,
                verify=not no_verify,
                run=not no_run,
                sign_key=key,
                signature_format=signature_format,
                tags=tags,
                version=version,
                metadata=action_metadata,
                allow_platform_drop=allow_platform_drop,
            )
            result = publish(publishing, ctx)
    finish(result, options, as_json=as_json, no_trunc=no_trunc, metadata_file=metadata_file)


def _show_plan(plan: dict[str, Any], *, as_json: bool) -> None:
    """``release --dry-run``: the tags, the platforms, what would be dropped; nothing built."""
    if as_json:
        print_json(plan)
        return
    out = console()
    out.print(
        styled(
            ("dry run", "bold"),
            f": would build {', '.join(plan['platforms'])} and publish "
            f"version {plan['version'] or '-'} to {len(plan['tags'])} tag(s):",
        )
    )
    for tag in plan["tags"]:
        out.print(f"  {tag}", highlight=False)
    for held in plan["held"]:
        out.print(f"  ({held['tag']} stays on {held['higher']}, a higher release)")
    for tag, lost in plan["dropped"].items():
        out.print(f"  {tag} would no longer serve {', '.join(lost)} (--allow-platform-drop)")
