"""``polyarch publish``, and how publish results are shown (also used by ``release``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from polyarch.cli.commands import verify as verify_cmd
from polyarch.cli.commands.build import load, spec_option
from polyarch.cli.commands.sign import signature_format_option
from polyarch.cli.options import GlobalOptions, common_options, examples, make_context, pop_global
from polyarch.cli.render.output import (
    console,
    err_console,
    format_digest,
    no_trunc_option,
    print_json,
    styled,
)
from polyarch.cli.render.table import Column, print_table
from polyarch.errors import InvalidInput
from polyarch.operations.sign import password_from_environment
from polyarch.pipeline.builds.request import DEFAULT_RECORDS_DIR
from polyarch.pipeline.metadata import ActionMetadata, load_action_metadata
from polyarch.pipeline.metadata_file import write_metadata_file
from polyarch.pipeline.publish.result import PublishResult, run_output
from polyarch.pipeline.publish.run import PublishRequest, publish

__all__ = [
    "finish",
    "naming_options",
    "publish_command",
    "publish_options",
    "read_metadata",
    "render",
    "write_github_files",
    "write_metadata",
]

F = TypeVar("F", bound=Callable[..., Any])


def publish_options(func: F) -> F:
    """``--cleanup``, ``--no-verify``, ``--no-run``, ``--sign-key``, ``--signature-format``,
    ``--json``, ``--no-trunc``: shared with release."""
    decorators = [
        click.option(
            "--cleanup",
            is_flag=True,
            help="Delete the per-platform tags the docker builder pushed, where the registry "
            "can delete a tag without deleting the image (else: a warning per tag).",
        ),
        click.option("--no-verify", is_flag=True, help="Publish without verifying."),
        click.option(
            "--no-run",
            is_flag=True,
            help="Verify without starting the images, even if the spec's verify.run asks.",
        ),
        click.option(
            "--sign-key",
            metavar="FILE",
            help="Sign the index and each image with this cosign private key right after the "
            "tags are written (password from COSIGN_PASSWORD); verification then checks the "
            "signatures too. A signature that cannot be written fails the release.",
        ),
        signature_format_option(),
        click.option("--json", "as_json", is_flag=True, help="Print a polyarch.publish/v1 object."),
        no_trunc_option,
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def naming_options(func: F) -> F:
    """``--tag``, ``--version``, ``--metadata``, ``--allow-platform-drop``, ``--dry-run``,
    ``--metadata-file``: where the index goes and what is refused (publish, release)."""
    decorators = [
        click.option(
            "--tag",
            "tags",
            multiple=True,
            metavar="TAG",
            help="Publish to this tag of every image instead of the spec's tags (repeatable).",
        ),
        click.option(
            "--version",
            "version",
            metavar="VERSION",
            help="The version the spec's tag rules are evaluated for (v3.14.1, or a git ref "
            "such as refs/heads/main; default: $GITHUB_REF in GitHub Actions, else git).",
        ),
        click.option(
            "--metadata",
            "metadata",
            metavar="FILE",
            help="docker/metadata-action's JSON output (its json output, or env: for "
            "$DOCKER_METADATA_OUTPUT_JSON): its tags and index annotations.",
        ),
        click.option(
            "--allow-platform-drop",
            is_flag=True,
            help="Move a tag even when the new index no longer serves a platform it serves "
            "now (refused by default).",
        ),
        click.option(
            "--dry-run",
            is_flag=True,
            help="Show the tags and the index it would publish (and any refusal); write nothing.",
        ),
        click.option(
            "--metadata-file",
            metavar="FILE",
            help="Write the index's descriptor and name as docker buildx imagetools create "
            "--metadata-file does.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def read_metadata(source: str | None) -> ActionMetadata | None:
    """``--metadata FILE`` (or ``env:``) read, or ``None``."""
    return None if source is None else load_action_metadata(source)


def write_metadata(path: str | None, content: dict[str, Any]) -> None:
    """``--metadata-file``: write ``content`` there when asked."""
    if path is not None:
        write_metadata_file(path, content)


@click.command(
    "publish",
    epilog=examples(
        "polyarch publish --records amd64-records/ --records arm64-records/",
        "polyarch publish --version v3.14.1 --dry-run",
        "polyarch publish --metadata env: --metadata-file metadata.json",
    ),
)
@spec_option
@click.option(
    "--records",
    "records",
    multiple=True,
    metavar="DIR",
    help="Records: files or directories, searched for *.json (repeatable: one per CI "
    f"artifact; default: {DEFAULT_RECORDS_DIR}). buildx metadata files are read too.",
)
@click.option(
    "--resolved-records",
    "resolved_dir",
    metavar="DIR",
    help="Also write each variant's resolved record (image digest next to the wrapper's) "
    "to DIR: evidence for verify --records after the wrappers are garbage-collected.",
)
@naming_options
@publish_options
@common_options
def publish_command(
    spec_path: str | None,
    records: tuple[str, ...],
    resolved_dir: str | None,
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
    """Assemble the variants' records into one index, publish it to every tag, verify it.

    There must be exactly one record per variant of the spec (exit code 2 otherwise,
    naming what is missing or extra). The tags are the spec's (tag rules evaluated for
    --version, else $GITHUB_REF, else git), --tag's or --metadata's. A tag that would no
    longer serve a platform it serves now is refused (exit 1, nothing written) unless
    --allow-platform-drop. With $GITHUB_OUTPUT set, appends digest=, tags= and version=;
    with $GITHUB_STEP_SUMMARY set, appends a markdown table. Exit code 1 when the
    verification fails.
    """
    options = pop_global(kwargs)
    # publish builds nothing: the spec's build contexts need not be on this machine (a
    # spec whose variants are Bake targets is printed by bake all the same).
    spec = load(spec_path, paths=False)
    request = PublishRequest.build(
        spec,
        list(records) or [DEFAULT_RECORDS_DIR],
        cleanup=cleanup,
        verify=not no_verify,
        run=not no_run,
        sign_key=sign_key,
        password=password_from_environment() if sign_key else None,
        signature_format=signature_format,
        tags=tags,
        version=version,
        metadata=read_metadata(metadata),
        allow_platform_drop=allow_platform_drop,
        dry_run=dry_run,
    )
    with make_context(options) as ctx:
        result = publish(request, ctx)
    if resolved_dir is not None and not dry_run:
        try:
            result.write_records(resolved_dir)
        except OSError as exc:
            raise InvalidInput(f"--resolved-records {resolved_dir}: {exc}") from None
    finish(result, options, as_json=as_json, no_trunc=no_trunc, metadata_file=metadata_file)


def finish(
    result: PublishResult,
    options: GlobalOptions,
    *,
    as_json: bool,
    no_trunc: bool = False,
    metadata_file: str | None = None,
) -> None:
    """Show the result, write the metadata and GitHub files, and fail (exit 1) when it did
    not verify. A dry run writes no file."""
    if not result.dry_run:
        write_metadata(metadata_file, result.metadata_file())
    if as_json:
        print_json(result.to_json())
    elif options.quiet:
        click.echo(result.digest)
    else:
        render(result, no_trunc=no_trunc)
    for outcome in result.cleanup:
        if not outcome.deleted:
            err_console().print(
                styled(("warning", "yellow"), f": {outcome.reference} {outcome.message}")
            )
    naming = result.naming
    for warning in naming.warnings if naming is not None else ():
        err_console().print(styled(("warning", "yellow"), f": {warning}"))
    for tag, higher in naming.held if naming is not None else ():
        err_console().print(f"note: {tag} stays on {higher}, a higher release")
    if not result.dry_run:
        write_github_files(result, os.environ)
    result.raise_for_failures()


def render(result: PublishResult, *, no_trunc: bool = False) -> None:
    """The index and where it went, each verification, what each platform printed."""
    out = console()
    create = result.create
    out.print(
        styled((str(create.digest), "bold"))
        if not create.unchanged
        else f"unchanged: {create.digest}"
    )
    rows = []
    for item in result.variants:
        record = item.record
        count = result.attestation_count(item)
        rows.append(
            [
                str(item.variant.platform),
                format_digest(record.digest, no_trunc=no_trunc),
                record.origin,
                str(count or "-"),
            ]
        )
    columns = [Column("PLATFORM"), Column("DIGEST"), Column("RECORD", wrap=True)]
    print_table(out, [*columns, Column("ATTESTATIONS")], rows)
    for target in create.targets:
        was = target.previous.short if target.previous else "(new tag)"
        status = "would move" if create.dry_run and target.status != "unchanged" else target.status
        out.print(f"{target.reference}: {status} {was} -> {target.digest.short}")
        if target.previous is not None and target.status != "unchanged":
            for change in target.changes:
                if change.change != "unchanged":
                    before = change.before.short if change.before else "-"
                    after = change.after.short if change.after else "-"
                    out.print(
                        f"  {change.label}: {change.change} {before} -> {after}", highlight=False
                    )
    for report in result.reports:
        out.print()
        verify_cmd.render(report)
    runs = [(v, result.run_check(v.variant.platform)) for v in result.variants]
    if any(check for _, check in runs):
        rows = [
            [
                str(item.variant.platform),
                check.status.value if check else "-",
                run_output(check) if check else "",
            ]
            for item, check in runs
        ]
        out.print()
        print_table(out, [Column("PLATFORM"), Column("RUN"), Column("OUTPUT", wrap=True)], rows)
    for signed in result.signatures:
        written = sum(s.stored.status == "pushed" for s in signed.signed)
        out.print(
            f"signed {signed.target}: {len(signed.signed)} signature(s) "
            f"({signed.signature_format} form), {written} written"
        )
    for outcome in result.cleanup:
        if outcome.deleted:
            out.print(f"deleted {outcome.reference}")
    if result.dry_run:
        out.print(f"\ndry run: would publish {result.digest} to {len(result.tags)} tag(s):")
        for tag in result.tags:
            out.print(f"  {tag}", highlight=False)
        return
    verdict = "not verified" if not result.reports else "verified" if result.ok else "FAILED"
    out.print(f"\npublished {result.digest} to {len(result.tags)} tag(s): {verdict}")


def write_github_files(result: PublishResult, env: Mapping[str, str]) -> None:
    """Append to ``$GITHUB_OUTPUT`` and ``$GITHUB_STEP_SUMMARY`` when they are set."""
    for name, text in (
        ("GITHUB_OUTPUT", result.github_outputs()),
        ("GITHUB_STEP_SUMMARY", result.step_summary()),
    ):
        path = env.get(name)
        if path:
            with Path(path).open("a", encoding="utf-8") as handle:
                handle.write(text)
