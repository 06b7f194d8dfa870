"""``polyarch inspect``."""

from __future__ import annotations

from typing import Any

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import (
    console,
    format_digest,
    human_size,
    no_trunc_option,
    print_field,
    print_json,
    styled,
)
from polyarch.cli.render.streams import write_exact
from polyarch.cli.render.table import Column, print_table
from polyarch.content.referrers.discovery import Referrer
from polyarch.operations.inspect import InspectEntry, InspectResult, inspect

_KIND_TEXT = {
    "index": "multi-platform index",
    "wrapper": "single-platform wrapper (BuildKit: one image plus attestations)",
    "image": "image manifest",
    "attestation": "attestation manifest",
}


@click.command(
    "inspect",
    epilog=examples(
        "polyarch inspect 127.0.0.1:5000/app:1.0",
        "polyarch inspect --platform linux/arm64 127.0.0.1:5000/app:1.0",
        "polyarch inspect --raw 127.0.0.1:5000/app:1.0 | jq .manifests",
    ),
)
@click.argument("ref", metavar="REF")
@click.option("--raw", is_flag=True, help="Print the exact bytes the registry served.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@click.option("--platform", metavar="P", help="Show the manifest a host of platform P would pull.")
@click.option(
    "--referrers",
    is_flag=True,
    help="Also list signatures, SBOMs, attestations referring to it (docs/referrers.md).",
)
@click.option(
    "--provenance",
    is_flag=True,
    help="Show each platform's SLSA provenance: builder, source revision, Dockerfile, build "
    "arguments, materials (from the index's attestations and from referrers).",
)
@click.option(
    "--sbom",
    is_flag=True,
    help="Show each platform's SBOMs: format (SPDX, CycloneDX), package count, tool.",
)
@no_trunc_option
@common_options
def inspect_command(
    ref: str,
    raw: bool,
    as_json: bool,
    platform: str | None,
    referrers: bool,
    provenance: bool,
    sbom: bool,
    no_trunc: bool,
    **kwargs: Any,
) -> None:
    """Show what REF is: an index with its entries, or an image with its layers.

    REF is a registry reference (REGISTRY/REPO[:TAG][@DIGEST]) or an oci:DIR[:TAG] layout.
    """
    options = pop_global(kwargs)
    if raw and as_json:
        raise click.UsageError("--raw and --json cannot be combined: choose one output")
    with make_context(options) as ctx:
        result = inspect(
            ref, ctx, platform=platform, referrers=referrers, provenance=provenance, sbom=sbom
        )
    if raw:
        write_exact(result.raw, f"manifest {result.digest} of {result.reference}")
    elif as_json:
        print_json(result.to_json())
    elif options.quiet:
        click.echo(result.digest)
    else:
        render(result, no_trunc=no_trunc)


def render(result: InspectResult, *, no_trunc: bool = False) -> None:
    """The human view."""
    from rich.text import Text  # only here: -q and --json runs load no rich

    out = console()
    out.print(Text(str(result.reference), style="bold"))
    print_field(out, "digest", result.digest)
    print_field(out, "media type", result.media_type)
    print_field(out, "kind", _KIND_TEXT[result.kind])
    if result.selected_from:
        print_field(out, "selected", f"from index {result.selected_from}")
    if result.kind in ("index", "wrapper"):
        rows: list[list[str]] = []
        _entry_rows(rows, result.entries, 0, no_trunc=no_trunc)
        out.print()
        columns = ("PLATFORM", "KIND", "DIGEST", "SIZE", "ATTESTS")
        print_table(out, [Column(c) for c in columns], rows)
        render_referrers(result)
        render_attestations(result, no_trunc=no_trunc)
        return
    print_field(out, "platform", str(result.platform or "(none in config)"))
    if result.created:
        print_field(out, "created", result.created)
    count = len(result.layers)
    layers = f"{count} layer" + ("" if count == 1 else "s")
    print_field(out, "total size", f"{human_size(result.total_size)} ({layers})")
    rows = [
        [
            format_digest(layer.digest, no_trunc=no_trunc),
            layer.media_type + (" (external: not in the registry)" if layer.external else ""),
            human_size(layer.size),
        ]
        for layer in result.layers
    ]
    out.print()
    print_table(out, [Column("LAYER"), Column("MEDIA TYPE"), Column("SIZE")], rows)
    render_referrers(result)
    render_attestations(result, no_trunc=no_trunc)


def render_referrers(result: InspectResult) -> None:
    """With --referrers: a tree per subject (the index, then each entry)."""
    if result.referrers is None:
        return
    out = console()
    names = {e.digest: str(e.platform or e.kind or "") for e in result.entries}
    names[result.digest] = "this " + ("index" if result.entries else "manifest")
    out.print()
    out.print(styled(("REFERRERS", "bold")))

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


def render_attestations(result: InspectResult, *, no_trunc: bool = False) -> None:
    """With --provenance / --sbom: what each platform's attestations say."""
    out = console()
    if result.provenance is not None:
        out.print()
        out.print(styled(("PROVENANCE", "bold")))
        for p in result.provenance:
            label = p.platform or format_digest(p.image, no_trunc=no_trunc)
            if p.provenance is None:
                out.print(f"  {label}: {p.problem or 'none'}", soft_wrap=True, markup=False)
                continue
            prov = p.provenance
            where = f"{p.where} {format_digest(p.attestation, no_trunc=no_trunc)}"
            out.print(
                f"  {label}: SLSA {prov.slsa_version} ({prov.mode} mode), {where}",
                soft_wrap=True,
                markup=False,
            )
            dockerfile = prov.dockerfile or "-"
            if prov.dockerfile_text is not None:
                dockerfile += f" ({len(prov.dockerfile_text.splitlines())} lines recorded)"
            source = prov.source_repository or "-"
            if prov.source_revision:
                source += f" @ {prov.source_revision}"
            fields = [
                ("builder", prov.builder_id or "-"),
                ("build type", prov.build_type or "-"),
                ("source", source),
                ("dockerfile", dockerfile),
                ("build args", " ".join(f"{k}={v}" for k, v in prov.build_args.items()) or "-"),
            ]
            fields += [
                ("material", f"{m.uri} {format_digest(m.digest, no_trunc=no_trunc)}")
                for m in prov.materials
            ]
            for name, value in fields:
                out.print(f"    {name:<11} {value}", soft_wrap=True, markup=False)
    if result.sboms is not None:
        out.print()
        out.print(styled(("SBOM", "bold")))
        for entry in result.sboms:
            label = entry.platform or format_digest(entry.image, no_trunc=no_trunc)
            if not entry.sboms:
                text = "; ".join(entry.problems) or "none"
                out.print(f"  {label}: {text}", soft_wrap=True, markup=False)
            for found in entry.sboms:
                b = found.sbom
                tools = ", ".join(b.tools) or "an unnamed tool"
                where = f"{found.where} {format_digest(found.attestation, no_trunc=no_trunc)}"
                out.print(
                    f"  {label}: {b.format} {b.version or ''}, {b.packages} package(s), by "
                    f"{tools} ({where})",
                    soft_wrap=True,
                    markup=False,
                )


def _entry_rows(
    rows: list[list[str]], entries: tuple[InspectEntry, ...], depth: int, *, no_trunc: bool
) -> None:
    """One row per entry; a nested index's entries follow it, indented under it."""
    platforms = {e.digest: e.platform for e in entries}
    indent = "  " * (depth - 1) + "└ " if depth else ""
    for e in entries:
        attests = ""
        if e.attests:
            attests = str(platforms.get(e.attests) or format_digest(e.attests, no_trunc=no_trunc))
        rows.append(
            [
                indent + (str(e.platform) if e.platform else "-"),
                e.kind or "",
                format_digest(e.digest, no_trunc=no_trunc),
                human_size(e.size),
                attests,
            ]
        )
        if e.children:
            _entry_rows(rows, e.children, depth + 1, no_trunc=no_trunc)
