"""``polyarch create``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import (
    console,
    err_console,
    format_digest,
    human_size,
    no_trunc_option,
    print_json,
    styled,
)
from polyarch.cli.render.table import Column, print_table
from polyarch.content.attestations.links import ATTESTATION_MODES
from polyarch.content.context import Context
from polyarch.content.transfer import BlobAction
from polyarch.domain import mediatype
from polyarch.domain.location import Location
from polyarch.operations.create import CreateRequest, CreateResult, create_index


@click.command(
    "create",
    epilog=examples(
        "polyarch create -t 127.0.0.1:5000/app:1.0 127.0.0.1:5000/app:1.0-amd64 "
        "127.0.0.1:5000/app:1.0-arm64",
        "polyarch create --append -t 127.0.0.1:5000/app:1.0 127.0.0.1:5000/app:1.0-riscv64",
        "polyarch create --version v3.14.1 -t 127.0.0.1:5000/app 127.0.0.1:5000/app:1.0-amd64",
    ),
)
@click.argument("sources", nargs=-1, metavar="SOURCE[=PLATFORM]...")
@click.option(
    "-t",
    "--target",
    "--tag",
    "targets",
    multiple=True,
    metavar="TARGET",
    help="Tag to publish the index to (repeatable: other repositories and registries too). "
    "With --version, a repository without a tag gets the version's tag family.",
)
@click.option(
    "--version",
    "version",
    metavar="VERSION",
    help="Publish each TARGET named without a tag to the tag family of this version "
    "(v3.14.1: 3.14.1, 3.14, 3 and latest, none moved below a higher release there), with "
    "org.opencontainers.image.* annotations of the version and commit.",
)
@click.option(
    "--metadata",
    "metadata",
    metavar="FILE",
    help="docker/metadata-action's JSON output (or env: for $DOCKER_METADATA_OUTPUT_JSON): "
    "its tags are targets too (a TARGET without a tag gets each of its tag names), its "
    "index annotations are written.",
)
@click.option(
    "--allow-platform-drop",
    is_flag=True,
    help="Move a tag even when the new index no longer serves a platform it serves now "
    "(refused by default; --append never drops one).",
)
@click.option(
    "--metadata-file",
    metavar="FILE",
    help="Write the index's descriptor and name as docker buildx imagetools create "
    "--metadata-file does (after publishing).",
)
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="P",
    help="Take only these platforms from multi-platform sources (repeatable).",
)
@click.option(
    "--attestations",
    type=click.Choice(ATTESTATION_MODES),
    default="keep",
    show_default=True,
    help="keep each image's attestation manifests (provenance, SBOM) in the index, drop "
    "them all, or move them to referrers: OCI 1.1 artifacts whose subject is the image, out "
    "of the index (docs/referrers.md).",
)
@click.option(
    "--format",
    "index_format",
    type=click.Choice(["oci", "docker"]),
    default=None,
    help="OCI image index, or Docker manifest list. Default: OCI for a new index; with "
    "--append the format of the index edited, while every entry fits it (a conversion "
    "is named in the plan).",
)
@click.option(
    "--annotation",
    "annotations",
    multiple=True,
    metavar="[TYPE:]KEY=VALUE",
    help="Annotation in buildx syntax (OCI only; repeatable): KEY=VALUE or index:KEY=VALUE "
    "for the index; manifest-descriptor:KEY=VALUE, or manifest-descriptor[linux/arm64]:"
    "KEY=VALUE, for the entries added.",
)
@click.option(
    "--append",
    is_flag=True,
    help="Merge into the index at the first target tag, keeping what is not replaced "
    "(safe for parallel jobs: docs/create.md).",
)
@click.option(
    "--records",
    "records",
    multiple=True,
    metavar="PATH",
    help="Build records as sources (polyarch records, buildx or bake metadata files; "
    "files or directories, repeatable): platform, digest and repository from each.",
)
@click.option(
    "--referrers/--no-referrers",
    default=True,
    show_default=True,
    help="Carry each source image's signatures, SBOMs, attestations (docs/referrers.md).",
)
@click.option("--dry-run", is_flag=True, help="Compute and show the plan; push nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@no_trunc_option
@common_options
def create_command(
    sources: tuple[str, ...],
    targets: tuple[str, ...],
    version: str | None,
    metadata: str | None,
    allow_platform_drop: bool,
    metadata_file: str | None,
    platforms: tuple[str, ...],
    attestations: str,
    index_format: str | None,
    annotations: tuple[str, ...],
    records: tuple[str, ...],
    append: bool,
    referrers: bool,
    dry_run: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Assemble SOURCE images into one multi-platform index and publish it to every TARGET.

    A SOURCE is a tag or digest reference anywhere: a single image, a BuildKit /
    Docker 29 wrapper (unwrapped; its attestations travel with it) or a multi-platform
    index. Each platform comes from the image's config; =PLATFORM may add a variant or
    os.version the config cannot say.
    """
    options = pop_global(kwargs)
    no_trunc = bool(kwargs.pop("no_trunc", False))
    if not targets and metadata is None:
        raise click.UsageError("Missing option '-t' / '--target' (or --metadata).")
    with make_context(options) as ctx:
        chosen: tuple[str, ...] | tuple[Location, ...] = targets
        notes = annotations
        if version is not None or metadata is not None:
            # Imported here: the release pipeline only for the commands that use it.
            from polyarch.cli.commands.publish import read_metadata
            from polyarch.pipeline.naming import name_targets

            naming = name_targets(targets, ctx, version=version, metadata=read_metadata(metadata))
            chosen, notes = naming.targets, (*naming.annotations, *annotations)
        # Records become sources (REPO@WRAPPER-or-IMAGE=PLATFORM), each resolved once.
        request = CreateRequest.build(
            chosen,
            [*sources, *_record_sources(records, ctx)],
            platforms=platforms,
            attestations=attestations,
            format=index_format,
            annotations=notes,
            append=append,
            dry_run=dry_run,
            referrers=referrers,
            allow_platform_drop=allow_platform_drop,
        )
        result = create_index(request, ctx)
    if metadata_file is not None and not dry_run:
        from polyarch.pipeline.metadata_file import metadata_file_content, write_metadata_file

        index = result.index
        content = metadata_file_content(
            index.media_type, str(index.digest), index.size, [t.reference for t in result.targets]
        )
        write_metadata_file(metadata_file, content)
    if as_json:
        data = result.to_json()
        if dry_run:
            data["index"] = json.loads(result.index.raw)
        print_json(data)
    elif options.quiet:
        click.echo(result.digest)
    else:
        render(result, no_trunc=no_trunc)


#: How the plan names the index media types.
_FORMAT_NAMES = {
    mediatype.DOCKER_MANIFEST_LIST: "Docker manifest list",
    mediatype.OCI_INDEX: "OCI image index",
}


def _plan_line(result: CreateResult, i: int) -> str:
    target = result.targets[i]
    stats = target.transfer
    parts = []
    for action in (BlobAction.MOUNTED, BlobAction.COPIED, BlobAction.SKIPPED):
        if stats.blobs[action]:
            parts.append(
                f"{stats.blobs[action]} {action.value} ({human_size(stats.bytes[action])})"
            )
    blobs = ", ".join(parts) or "no blobs to move"
    return f"blobs: {blobs}; manifests: {stats.manifests_pushed} to push"


def render(result: CreateResult, *, no_trunc: bool = False) -> None:
    """The human view: digest, per-platform table, per-target status and changes (and plan)."""
    out = console()
    if result.dry_run:
        sys.stdout.write(json.dumps(json.loads(result.index.raw), indent=2) + "\n")
        out.print(styled(("dry run", "bold"), f": index {result.digest} (nothing pushed)"))
    elif result.unchanged:
        out.print(f"unchanged: {result.digest}")
    else:
        out.print(styled((str(result.digest), "bold")))
    columns = [Column("PLATFORM"), Column("DIGEST"), Column("SOURCE"), Column("ATTESTATIONS")]
    rows = [
        [
            entry.platform.format_all(),
            format_digest(entry.descriptor.digest, no_trunc=no_trunc),
            entry.source,
            str(len(entry.attestations)) if entry.attestations else "-",
        ]
        for entry in result.entries
    ]
    print_table(out, columns, rows)
    if result.conversion is not None:
        converted = result.conversion
        because = {"format": "as asked (--format)", "index annotations": "it has annotations"}
        why = because.get(converted.because, f"{converted.because} does not fit the old format")
        out.print(
            f"format: {_FORMAT_NAMES.get(converted.from_type, converted.from_type)} -> "
            f"{_FORMAT_NAMES.get(converted.to_type, converted.to_type)} ({why})",
            markup=False,
            highlight=False,
        )
    for i, target in enumerate(result.targets):
        was = target.previous.short if target.previous else "(new tag)"
        verb = "would move" if result.dry_run and target.status != "unchanged" else target.status
        out.print(f"{target.reference}: {verb} {was} -> {target.digest.short}")
        if result.dry_run:
            out.print(f"  {_plan_line(result, i)}")
        # A new tag: every platform is added, the table above lists them.
        if target.previous is not None:
            for change in target.changes:
                before = change.before.short if change.before else "-"
                after = change.after.short if change.after else "-"
                out.print(f"  {change.label}: {change.change} {before} -> {after}", highlight=False)
        for r in target.referrers:
            tag = f" ({r.tag})" if r.tag else ""
            out.print(
                f"  referrer {r.digest.short} {r.artifact_type or '-'} of {r.subject.short}: "
                f"{r.status}, {r.listed_by}{tag}"
            )
    if result.rounds > 1:
        err_console().print(
            f"note: other writers appended at the same time; the tag was rewritten "
            f"{result.rounds} times until it held every writer's platforms"
        )


def _record_sources(records: tuple[str, ...], ctx: Context) -> list[str]:
    """The sources the ``--records`` files name (none given: the records code is not loaded)."""
    if not records:
        return []
    from polyarch.content.records.evidence import record_sources
    from polyarch.content.records.formats import load_records

    return record_sources(load_records(records), ctx)
