"""``polyarch resolve``."""

from __future__ import annotations

from typing import Any

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import err_console, print_json, styled
from polyarch.operations.resolve import resolve


@click.command(
    "resolve",
    epilog=examples(
        "polyarch resolve 127.0.0.1:5000/app:1.0-amd64",
        "polyarch resolve --platform linux/arm64 127.0.0.1:5000/app:1.0",
        "polyarch resolve --json --platform linux/arm/v7 127.0.0.1:5000/app:1.0 | jq -r .pinned",
    ),
)
@click.argument("ref", metavar="REF")
@click.option("--platform", metavar="P", help="Required for a multi-platform index.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@common_options
def resolve_command(ref: str, platform: str | None, as_json: bool, **kwargs: Any) -> None:
    """Print the digest of REF's platform-specific image manifest.

    For a Docker 29 / BuildKit wrapper (one image plus attestations) this is the
    image's digest, not the wrapper's that `docker push` prints.
    """
    options = pop_global(kwargs)
    with make_context(options) as ctx:
        result = resolve(ref, ctx, platform=platform)
    if as_json:
        print_json(result.to_json())
        return
    click.echo(result.digest)
    if not options.quiet:
        detail = f"{result.platform or 'no platform'} image"
        if result.source != "image":
            detail += f", from {result.source} {result.source_digest}"
        err_console().print(styled((detail, "dim")))
