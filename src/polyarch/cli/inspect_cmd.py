"""``polyarch inspect``."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.table import Table

from polyarch.cli.options import common_options, make_context, pop_global
from polyarch.cli.render import console, human_size, print_json
from polyarch.operations.inspect import InspectEntry, InspectResult, inspect

_KIND_TEXT = {
    "index": "multi-platform index",
    "wrapper": "single-platform wrapper (BuildKit: one image plus attestations)",
    "image": "image manifest",
    "attestation": "attestation manifest",
}


@click.command("inspect")
@click.argument("ref", metavar="REF")
@click.option("--raw", is_flag=True, help="Print the exact bytes the registry served.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@click.option("--platform", metavar="P", help="Show the manifest a host of platform P would pull.")
@common_options
def inspect_command(
    ref: str, raw: bool, as_json: bool, platform: str | None, **kwargs: Any
) -> None:
    """Show what REF is: an index with its entries, or an image with its layers."""
    options = pop_global(kwargs)
    with make_context(options) as ctx:
        result = inspect(ref, ctx, platform=platform)
    if raw:
        sys.stdout.buffer.write(result.raw)
        sys.stdout.buffer.flush()
    elif as_json:
        print_json(result.to_json())
    elif options.quiet:
        click.echo(result.digest)
    else:
        render(result)


def render(result: InspectResult) -> None:
    """The human view."""
    out = console()
    out.print(f"[bold]{result.reference}[/bold]")
    out.print(f"  digest      {result.digest}")
    out.print(f"  media type  {result.media_type}")
    out.print(f"  kind        {_KIND_TEXT[result.kind]}")
    if result.selected_from:
        out.print(f"  selected    from index {result.selected_from}")
    if result.kind in ("index", "wrapper"):
        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("PLATFORM", "KIND", "DIGEST", "SIZE", "ATTESTS"):
            table.add_column(col, no_wrap=True)
        _entry_rows(table, result.entries, 0)
        out.print()
        out.print(table)
        return
    out.print(f"  platform    {result.platform or '(none in config)'}")
    if result.created:
        out.print(f"  created     {result.created}")
    count = len(result.layers)
    layers = f"{count} layer" + ("" if count == 1 else "s")
    out.print(f"  total size  {human_size(result.total_size)} ({layers})")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("LAYER", "MEDIA TYPE", "SIZE"):
        table.add_column(col, no_wrap=True)
    for layer in result.layers:
        media = layer.media_type + (" (external: not in the registry)" if layer.external else "")
        table.add_row(str(layer.digest), media, human_size(layer.size))
    out.print()
    out.print(table)


def _entry_rows(table: Table, entries: tuple[InspectEntry, ...], depth: int) -> None:
    """One row per entry; a nested index's entries follow it, indented under it."""
    platforms = {e.digest: e.platform for e in entries}
    indent = "  " * (depth - 1) + "└ " if depth else ""
    for e in entries:
        attests = ""
        if e.attests:
            attests = str(platforms.get(e.attests) or e.attests.short)
        table.add_row(
            indent + (str(e.platform) if e.platform else "-"),
            e.kind or "",
            str(e.digest),
            human_size(e.size),
            attests,
        )
        if e.children:
            _entry_rows(table, e.children, depth + 1)
