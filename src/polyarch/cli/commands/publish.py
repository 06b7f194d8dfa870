"""``polyarch publish``, and how publish results are shown (also used by ``release``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from polyarch.cli.commands import verify as verify_cmd
from polyarch.cli.commands.build import spec_option
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
from polyarch.pipeline.builds.request import DEFAULT_RECORDS_DIR
from polyarch.pipeline.publish.result import PublishResult, run_output
from polyarch.pipeline.publish.run import PublishRequest, publish
from polyarch.pipeline.specfile import find_spec, load_spec

__all__ = ["finish", "publish_command", "publish_options", "render", "write_github_files"]

F = TypeVar("F", bound=Callable[..., Any])


def publish_options(func: F) -> F:
    """``--cleanup``, ``--no-verify``, ``--no-run``, ``--json``, ``--no-trunc``: shared with
    release."""
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
        click.option("--json", "as_json", is_flag=True, help="Print a polyarch.publish/v1 object."),
        no_trunc_option,
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@click.command(
    "publish",
    epilog=examples(
        "polyarch publish",
        "polyarch publish --records amd64-records/ --records arm64-records/",
        "polyarch publish --file deploy/polyarch.yaml --no-run --json",
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
@publish_options
@common_options
def publish_command(
    spec_path: str | None,
    records: tuple[str, ...],
    resolved_dir: str | None,
    cleanup: bool,
    no_verify: bool,
    no_run: bool,
    as_json: bool,
    no_trunc: bool,
    **kwargs: Any,
) -> None:
    """Assemble the variants' records into one index, publish it to every tag, verify it.

    There must be exactly one record per variant of the spec (exit code 2 otherwise,
    naming what is missing or extra). With $GITHUB_OUTPUT set, appends digest= and tags=;
    with $GITHUB_STEP_SUMMARY set, appends a markdown table. Exit code 1 when the
    verification fails.
    """
    options = pop_global(kwargs)
    # publish builds nothing: the spec's build contexts need not be on this machine.
    spec = load_spec(find_spec(explicit=spec_path), paths=False)
    request = PublishRequest.build(
        spec,
        list(records) or [DEFAULT_RECORDS_DIR],
        cleanup=cleanup,
        verify=not no_verify,
        run=not no_run,
    )
    with make_context(options) as ctx:
        result = publish(request, ctx)
    if resolved_dir is not None:
        try:
            result.write_records(resolved_dir)
        except OSError as exc:
            raise InvalidInput(f"--resolved-records {resolved_dir}: {exc}") from None
    finish(result, options, as_json=as_json, no_trunc=no_trunc)


def finish(
    result: PublishResult, options: GlobalOptions, *, as_json: bool, no_trunc: bool = False
) -> None:
    """Show the result, write the GitHub files, and fail (exit 1) when it did not verify."""
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
        out.print(f"{target.reference}: {target.status} {was} -> {target.digest.short}")
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
    for outcome in result.cleanup:
        if outcome.deleted:
            out.print(f"deleted {outcome.reference}")
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
