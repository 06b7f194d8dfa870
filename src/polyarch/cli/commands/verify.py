"""``polyarch verify``."""

from __future__ import annotations

import shlex
from typing import Any

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import (
    console,
    err_console,
    print_json,
    styled,
    terminal_width,
)
from polyarch.cli.render.table import Cell, Column, print_table
from polyarch.operations.verify import Status, VerifyReport, VerifyRequest, verify

_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red"}


@click.command(
    "verify",
    epilog=examples(
        "polyarch verify --platform linux/amd64 --platform linux/arm64 --exact 127.0.0.1:5000/a:1",
        "polyarch verify --records .polyarch/records --key cosign.pub 127.0.0.1:5000/app:1",
        "polyarch verify 127.0.0.1:5000/app:1 --run 'uname -m' --expect-output linux/arm64=aarch64",
    ),
)
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
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="FILE",
    help="A cosign public key (cosign.pub): the index and each image must carry a signature "
    "that verifies with it, or with another --key (repeatable; docs/signatures.md).",
)
@click.option(
    "--certificate-identity",
    metavar="ID",
    help="Keyless: the signing certificate's identity (a workflow URI or an e-mail), exactly.",
)
@click.option(
    "--certificate-oidc-issuer",
    metavar="URL",
    help="Keyless: the identity's OIDC issuer, exactly "
    "(GitHub Actions: https://token.actions.githubusercontent.com).",
)
@click.option(
    "--trusted-root",
    metavar="FILE",
    help="Keyless: the Sigstore trusted_root.json to verify against, offline "
    "(needs pip install 'polyarch[keyless]').",
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
    keys: tuple[str, ...],
    certificate_identity: str | None,
    certificate_oidc_issuer: str | None,
    trusted_root: str | None,
    strict: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Prove TARGET is a complete multi-platform index of what was built, and that it starts.

    Exit code 0 only when no check failed (with --strict: and none warned). With -q
    nothing is printed on success; a failure is one line on stderr naming the checks.
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
        keys=keys,
        certificate_identity=certificate_identity,
        certificate_oidc_issuer=certificate_oidc_issuer,
        trusted_root=trusted_root,
    )
    with make_context(options) as ctx:
        report = verify(request, ctx)
    if as_json:
        print_json(report.to_json())
    elif not options.quiet:
        render(report)
    if not report.ok:
        if options.quiet:
            # -q removes success noise, never the reason for a failure.
            err_console().print(failure_line(report), markup=False, highlight=False)
        raise click.exceptions.Exit(1)


def render(report: VerifyReport) -> None:
    """A compact table, one line per check, then the verdict."""
    from rich.text import Text  # only here: -q and --json runs load no rich

    out = console()
    head = Text(str(report.target), style="bold")
    if report.digest:
        width = terminal_width(out)
        fits = width is None or head.cell_len + 1 + len(report.digest) <= width
        head.append(" " if fits else "\n" + " " * 2)
        head.append(str(report.digest))
    out.print(head)
    columns = [Column("STATUS"), Column("CHECK"), Column("PLATFORM"), Column("DETAIL", wrap=True)]
    rows: list[list[Cell]] = [
        [
            Text(check.status.value, style=_STYLE[check.status]),
            check.check,
            check.platform or "",
            check.message,
        ]
        for check in report.checks
    ]
    print_table(out, columns, rows)
    counts = {s: sum(c.status is s for c in report.checks) for s in Status}
    summary = (
        f"{counts[Status.PASS]} passed, {counts[Status.WARN]} warnings, "
        f"{counts[Status.FAIL]} failed"
    )
    verdict = ("OK", "green") if report.ok else ("FAILED", "bold red")
    out.print(
        styled(verdict, f": {summary}" + (" (strict: warnings fail)" if report.strict else ""))
    )


def failure_line(report: VerifyReport) -> str:
    """One line naming what failed (and, with strict, what warned): for ``-q``.

    ``error: 127.0.0.1:5000/app:1 failed verification: digests (linux/arm64), run (linux/amd64)``
    """
    bad = {Status.FAIL} | ({Status.WARN} if report.strict else set())
    seen: list[str] = []
    for check in report.checks:
        if check.status in bad:
            name = f"{check.check} ({check.platform})" if check.platform else check.check
            if name not in seen:
                seen.append(name)
    what = "failed verification" + (" (strict: warnings fail)" if report.strict else "")
    return f"error: {report.target} {what}: {', '.join(seen)}"
