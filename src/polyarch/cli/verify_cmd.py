"""``polyarch verify``."""

from __future__ import annotations

import shlex
from typing import Any

import click
from rich.table import Table

from polyarch.cli.options import common_options, make_context, pop_global
from polyarch.cli.render import console, print_json
from polyarch.operations.verify import Status, VerifyReport, VerifyRequest, verify

_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}


@click.command("verify")
@click.argument("target", metavar="TARGET")
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="P",
    help="Platform that must be present (repeatable).",
)
@click.option(
    "--expect",
    multiple=True,
    metavar="P=DIGEST",
    help="Platform P's entry must be DIGEST (repeatable).",
)
@click.option(
    "--records",
    multiple=True,
    metavar="PATH",
    help="Build records (files or directories; polyarch records or buildx metadata files).",
)
@click.option("--exact", is_flag=True, help="Fail on platforms nobody expected.")
@click.option(
    "--run",
    "run",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[CMD]",
    help=(
        "Start each platform with the local Docker engine (QEMU for foreign ones); CMD "
        "replaces the image's command. Give TARGET before --run, or write --run=CMD."
    ),
)
@click.option(
    "--expect-output",
    multiple=True,
    metavar="P=REGEX",
    help="With --run: platform P's output must match REGEX.",
)
@click.option(
    "--require-referrer",
    "require_referrers",
    multiple=True,
    metavar="TYPE",
    help=(
        "Each platform image (index:TYPE: the index) must have a referrer of artifact "
        "type TYPE naming it; presence only, not signatures (docs/referrers.md). Repeatable."
    ),
)
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@common_options
def verify_command(
    target: str,
    platforms: tuple[str, ...],
    expect: tuple[str, ...],
    records: tuple[str, ...],
    exact: bool,
    run: str | None,
    expect_output: tuple[str, ...],
    require_referrers: tuple[str, ...],
    strict: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Prove TARGET is a complete multi-platform index of what was built, and that it starts.

    Exit code 0 only when no check failed (with --strict: and none warned).
    """
    options = pop_global(kwargs)
    request = VerifyRequest.build(
        target,
        platforms=platforms,
        expect=expect,
        records=records,
        exact=exact,
        run=run is not None,
        command=shlex.split(run) if run else None,
        expect_output=expect_output,
        strict=strict,
        require_referrers=require_referrers,
    )
    with make_context(options) as ctx:
        report = verify(request, ctx)
    if as_json:
        print_json(report.to_json())
    elif not options.quiet:
        render(report)
    if not report.ok:
        raise click.exceptions.Exit(1)


def render(report: VerifyReport) -> None:
    """A compact table, one line per check, then the verdict."""
    out = console()
    out.print(f"[bold]{report.target}[/bold] {report.digest or ''}")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("STATUS", "CHECK", "PLATFORM", "DETAIL"):
        table.add_column(col, no_wrap=col != "DETAIL")
    for check in report.checks:
        table.add_row(
            f"[{_STYLE[check.status]}]{check.status.value}[/]",
            check.check,
            check.platform or "",
            check.message,
        )
    out.print(table)
    counts = {s: sum(c.status is s for c in report.checks) for s in Status}
    summary = (
        f"{counts[Status.PASS]} passed, {counts[Status.WARN]} warnings, "
        f"{counts[Status.FAIL]} failed"
    )
    verdict = "[green]OK[/green]" if report.ok else "[bold red]FAILED[/bold red]"
    out.print(f"{verdict}: {summary}" + (" (strict: warnings fail)" if report.strict else ""))
