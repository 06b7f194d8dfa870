"""``polyarch inspect``."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.table import Table

from polyarch.cli.options import common_options, make_context, pop_global
from polyarch.cli.render import console, human_size, print_json
from polyarch.operations.inspect import InspectResult, inspect
from polyarch.operations.referrers import Referrer

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
@click.option(
    "--referrers",
    is_flag=True,
    help="Also list signatures, SBOMs, attestations referring to it (docs/referrers.md).",
)
@common_options
def inspect_command(
    ref: str, raw: bool, as_json: bool, platform: str | None, referrers: bool, **kwargs: Any
) -> None:
    """Show what REF is: an index with its entries, or an image with its layers."""
    options = pop_global(kwargs)
    with make_context(options) as ctx:
        result = inspect(ref, ctx, platform=platform, referrers=referrers)
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
        platforms = {e.digest: e.platform for e in result.entries}
        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("PLATFORM", "KIND", "DIGEST", "SIZE", "ATTESTS"):
            table.add_column(col, no_wrap=True)
        for e in result.entries:
            attests = ""
            if e.attests:
                attests = str(platforms.get(e.attests) or e.attests.short)
            table.add_row(
                str(e.platform) if e.platform else "-",
                e.kind or "",
                str(e.digest),
                human_size(e.size),
                attests,
            )
        out.print()
        out.print(table)
        render_referrers(result)
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
        table.add_row(str(layer.digest), layer.media_type, human_size(layer.size))
    out.print()
    out.print(table)
    render_referrers(result)


def render_referrers(result: InspectResult) -> None:
    """With --referrers: a tree per subject (the index, then each entry)."""
    if result.referrers is None:
        return
    out = console()
    names = {e.digest: str(e.platform or e.kind or "") for e in result.entries}
    names[result.digest] = "this " + ("index" if result.entries else "manifest")
    out.print()
    out.print("[bold]REFERRERS[/bold]")

    def lines(found: tuple[Referrer, ...], depth: int) -> None:
        for r in found:
            where = f" ({r.tag})" if r.tag else ""
            out.print(
                f"{'  ' * depth}{r.artifact_type or '-'}  {r.digest}  "
                f"{human_size(r.manifest.size)}  {r.form}{where}",
                soft_wrap=True,
            )
            lines(r.referrers, depth + 1)

    for subject, found in result.referrers.items():
        out.print(f"  {names.get(subject, '')} {subject}: {len(found) or 'none'}")
        lines(found, 2)
