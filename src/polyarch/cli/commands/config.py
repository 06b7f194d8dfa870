"""``polyarch config``."""

from __future__ import annotations

from typing import Any

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import console, print_json, styled
from polyarch.cli.render.streams import write_exact
from polyarch.errors import InvalidInput
from polyarch.operations.config import ImageConfigResult, image_config


@click.command(
    "config",
    epilog=examples(
        "polyarch config 127.0.0.1:5000/metrics-api:v2.0.0-amd64",
        "polyarch config --platform linux/arm64 127.0.0.1:5000/metrics-api:v2.0.0",
        "polyarch config --raw 127.0.0.1:5000/metrics-api@sha256:...",
    ),
)
@click.argument("ref", metavar="REF")
@click.option("--platform", metavar="P", help="The platform's image of an index (required).")
@click.option("--raw", is_flag=True, help="Print the config blob's exact bytes.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@common_options
def config_command(ref: str, platform: str | None, raw: bool, as_json: bool, **kwargs: Any) -> None:
    """Show the image config of REF (for an index: of its --platform image).

    \b
    Examples:
      polyarch config 127.0.0.1:5000/app:v1 --platform linux/arm64
      polyarch config --raw 127.0.0.1:5000/app:v1-amd64 | jq .config.Env
      polyarch config --json oci:./out:v1 --platform linux/amd64
    """
    if raw and as_json:
        raise InvalidInput("--raw and --json exclude each other: pick one")
    options = pop_global(kwargs)
    with make_context(options) as ctx:
        result = image_config(ref, ctx, platform=platform)
    if raw:
        write_exact(result.raw, f"config {result.digest} of {result.reference}")
    elif as_json:
        print_json(result.to_json())
    elif options.quiet:
        click.echo(result.digest)
    else:
        render(result)


def _list(values: tuple[str, ...] | None) -> str:
    if values is None:
        return "-"
    return " ".join(values) if values else "[]"


def render(result: ImageConfigResult) -> None:
    """The human view: one field per line, labels and env below."""
    out = console()
    out.print(styled((str(result.reference), "bold")))
    rows = [
        ("config", str(result.digest)),
        ("manifest", str(result.manifest_digest)),
        ("platform", str(result.platform) if result.platform else "(none)"),
        ("created", result.created or "-"),
        ("user", result.user or "-"),
        ("working dir", result.working_dir or "-"),
        ("entrypoint", _list(result.entrypoint)),
        ("cmd", _list(result.cmd)),
        ("exposed ports", " ".join(result.exposed_ports) or "-"),
        ("volumes", " ".join(result.volumes) or "-"),
        ("history", f"{result.history_count} entries, {result.layer_count} layers"),
    ]
    if result.stop_signal:
        rows.append(("stop signal", result.stop_signal))
    for name, value in rows:
        out.print(f"  {name:<14}{value}", markup=False)
    if result.env:
        out.print("  env")
        for item in result.env:
            out.print(f"    {item}", markup=False)
    if result.labels:
        out.print("  labels")
        for key, value in sorted(result.labels.items()):
            out.print(f"    {key}={value}", markup=False)
