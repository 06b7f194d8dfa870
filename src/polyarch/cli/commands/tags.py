"""``polyarch tags``."""

from __future__ import annotations

from typing import Any

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import print_json
from polyarch.operations.tags import list_tags


@click.command(
    "tags",
    epilog=examples(
        "polyarch tags 127.0.0.1:5000/metrics-api",
        "polyarch tags --json 127.0.0.1:5000/metrics-api",
        "polyarch tags oci:./layout",
    ),
)
@click.argument("repository", metavar="REPO")
@click.option(
    "--page-size",
    type=int,
    metavar="N",
    help="Tags asked for per page of the registry's list (default 1000; every page is read).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@common_options
def tags_command(repository: str, page_size: int | None, as_json: bool, **kwargs: Any) -> None:
    """List the tags of REPO (a registry repository or an oci:DIR layout), one per line.

    \b
    Examples:
      polyarch tags 127.0.0.1:5000/metrics-api
      polyarch tags --json ghcr.io/acme/app | jq -r '.tags[]'
      polyarch tags oci:./out
    """
    options = pop_global(kwargs)
    with make_context(options) as ctx:
        result = list_tags(repository, ctx, page_size=page_size)
    if as_json:
        print_json(result.to_json())
        return
    if result.tags:  # one write: 100,000 tags are 100,000 lines
        click.echo("\n".join(result.tags))
