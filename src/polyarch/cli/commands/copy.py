"""``polyarch copy``."""

from __future__ import annotations

from typing import Any

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import console, human_size, print_json
from polyarch.cli.render.progress import TransferProgress
from polyarch.content.attestations.links import ATTESTATION_MODES
from polyarch.content.transfer import DEFAULT_JOBS, BlobAction
from polyarch.operations.copy import copy_images
from polyarch.operations.copy.request import CopyRequest, CopyResult


@click.command(
    "copy",
    epilog=examples(
        "polyarch copy --platform linux/amd64 --platform linux/arm64 SRC:1.0 DST:1.0-slim",
        "polyarch copy --attestations drop 127.0.0.1:5000/app:1.0 oci:./app-layout:1.0",
        "polyarch copy staging.example.com/app:3.14.1 R1/app:3.14.1 R1/app:3.14 R2/app:3.14.1",
    ),
)
@click.argument("source", metavar="SRC")
@click.argument("destinations", metavar="DST...", nargs=-1, required=True)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="P",
    help="Copy only these platforms of an index (a sub-index).",
)
@click.option(
    "--attestations",
    type=click.Choice(ATTESTATION_MODES),
    default="keep",
    show_default=True,
    help="keep: copy the index as it is, attestation manifests (provenance, SBOM) included; "
    "drop: leave them out; referrers: write each as an OCI 1.1 referrer of its image instead "
    "(docs/referrers.md). drop and referrers write a sub-index with a new digest.",
)
@click.option(
    "--jobs", type=int, default=DEFAULT_JOBS, show_default=True, help="Blobs moved at once."
)
@click.option(
    "--referrers/--no-referrers",
    default=True,
    show_default=True,
    help="Carry signatures, SBOMs and attestations attached to the image (docs/referrers.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@common_options
def copy_command(
    source: str,
    destinations: tuple[str, ...],
    platforms: tuple[str, ...],
    attestations: str,
    jobs: int,
    referrers: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Copy an image or a whole index from SRC to each DST (registries or oci:DIR layouts).

    The index digest is kept unless --platform or --attestations drop asks for a
    sub-index. Blobs are mounted within a registry, skipped when present, else streamed.
    With several DSTs (a release's tags, several registries) SRC is read once, each
    repository gets the content once, and the tags move only when every DST has it.
    """
    options = pop_global(kwargs)
    requests = [
        CopyRequest.build(
            source,
            destination,
            platforms=platforms,
            attestations=attestations,
            jobs=jobs,
            referrers=referrers,
        )
        for destination in destinations
    ]
    with make_context(options) as ctx, TransferProgress(quiet=options.quiet or as_json) as progress:
        results = copy_images(requests, ctx, progress=progress)
    if as_json:  # one DST: the object, as before; several: an array of them, in order
        documents = [result.to_json() for result in results]
        print_json(documents[0] if len(documents) == 1 else documents)
    elif options.quiet:
        click.echo(results[0].digest)  # every DST holds the same content
    else:
        for result in results:
            render(result)


def render(result: CopyResult) -> None:
    """The final summary: digest, what moved, how long."""
    out = console()
    stats = result.stats
    moved = stats.bytes[BlobAction.COPIED]
    rate = f", {human_size(int(moved / result.seconds))}/s" if moved and result.seconds > 0 else ""
    out.print(f"{result.destination} -> {result.digest}")
    if result.filtered:
        out.print(f"  sub-index of {result.source_digest} ({', '.join(result.platforms)})")
    out.print(
        f"  blobs: {stats.blobs[BlobAction.COPIED]} copied ({human_size(moved)}), "
        f"{stats.blobs[BlobAction.MOUNTED]} mounted, {stats.blobs[BlobAction.SKIPPED]} skipped; "
        f"manifests: {stats.manifests_pushed} pushed, {stats.manifests_present} present; "
        f"{result.seconds:.2f} s{rate}"
    )
    if result.referrers:
        pushed = sum(r.status != "present" for r in result.referrers)
        out.print(f"  referrers: {len(result.referrers)} ({pushed} written)")
