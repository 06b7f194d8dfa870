"""``polyarch prune``."""

from __future__ import annotations

import sys
from typing import Any

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import console, err_console, print_json
from polyarch.domain.digest import Digest
from polyarch.errors import InvalidInput
from polyarch.files import read_text
from polyarch.operations.prune import PrunePlan, parse_candidates, parse_duration, plan_prune, prune

#: The most a candidate list may hold (a file, or standard input): 64 MiB of digests.
_CANDIDATES_LIMIT = 64 * 1024 * 1024


@click.command(
    "prune",
    epilog=examples(
        "polyarch prune --dry-run oci:./out",
        "polyarch prune --yes --keep-untagged-newer-than 7d oci:./out",
        "polyarch prune --dry-run --candidates untagged.txt 127.0.0.1:5000/app",
    ),
)
@click.argument("repository", metavar="REPO")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("-y", "--yes", is_flag=True, help="Delete without asking.")
@click.option(
    "--force",
    is_flag=True,
    help="Delete the unreached candidates even when the tags cannot all be read (a refused "
    "tag list): some may then be reached after all.",
)
@click.option(
    "--keep-untagged-newer-than",
    "keep_untagged_newer_than",
    metavar="DURATION",
    help="Keep candidates created within DURATION (30m, 12h, 7d, 2w), and those whose age "
    "cannot be told.",
)
@click.option(
    "--candidate",
    "candidate",
    multiple=True,
    metavar="DIGEST",
    help="A manifest to consider for deletion (repeatable): a registry cannot list its "
    "manifests, so name the untagged ones its own API lists.",
)
@click.option(
    "--candidates",
    "candidates",
    metavar="FILE|-",
    help="Digests to consider, one per line or blank-separated ('-': standard input), as "
    "vendors' listings print them (aws ecr list-images, gh api .../versions).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@common_options
def prune_command(
    repository: str,
    dry_run: bool,
    yes: bool,
    force: bool,
    keep_untagged_newer_than: str | None,
    candidate: tuple[str, ...],
    candidates: str | None,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Delete the untagged manifests of REPO that no tag reaches, and nothing else.

    What a tag reaches is kept: the children of a tagged index (the platform images of a
    release have no tag of their own), members of nested indexes, and the referrers
    (signatures, SBOMs) of what is reached. Referrer tags are no roots: a signature of
    an image no tag reaches is pruned. An oci: layout lists every manifest it holds; a
    registry cannot (the distribution spec lists tags only), so there prune finds the
    referrers of unreached subjects by their tags and deletes the candidates you name
    (--candidate, --candidates) that no tag reaches. Indexes go before their children.

    \b
    Examples:
      polyarch prune --dry-run oci:./out
      aws ecr list-images --repository-name app --filter tagStatus=UNTAGGED \\
        --query 'imageIds[].imageDigest' --output text \\
        | polyarch prune --yes --candidates - 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app
      polyarch prune --json --dry-run --candidate sha256:9f86d0... 127.0.0.1:5000/app
    """
    options = pop_global(kwargs)
    if candidates == "-" and options.password_stdin:
        raise InvalidInput(
            "--candidates - and --password-stdin both read standard input",
            hint="give the candidates in a file, or the password in POLYARCH_PASSWORD",
        )
    window = None
    if keep_untagged_newer_than is not None:
        window = parse_duration(keep_untagged_newer_than)
    wanted: list[Digest] = parse_candidates("\n".join(candidate), source="--candidate")
    if candidates is not None:
        wanted += parse_candidates(_read_candidates(candidates), source=candidates)
    with make_context(options) as ctx:
        plan = plan_prune(repository, ctx, candidates=wanted, keep_newer_than=window)
        if not dry_run and plan.delete:
            if not yes:
                _confirm(plan)
            show = None if as_json or options.quiet else _deleted
            plan = prune(plan, ctx, force=force, progress=show)
    if as_json:
        print_json(plan.to_json())
    elif not options.quiet or dry_run:
        _say(plan)


def _read_candidates(source: str) -> str:
    if source == "-":
        data = sys.stdin.buffer.read(_CANDIDATES_LIMIT + 1)
        if len(data) > _CANDIDATES_LIMIT:
            raise InvalidInput("the candidates on standard input are over 64 MiB")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"the candidates on standard input are not UTF-8 text (offset {exc.start})"
            ) from None
    try:
        return read_text(source, what="candidates file", limit=_CANDIDATES_LIMIT)
    except FileNotFoundError:
        raise InvalidInput(
            f"candidates file {source} not found", hint="give a file of digests, or - for stdin"
        ) from None


def _summary(plan: PrunePlan) -> str:
    verb = "deleted" if plan.done else "would delete"
    count = len(plan.deleted) if plan.done else len(plan.delete)
    reached = sum(1 for k in plan.kept if k.reason == "reached")
    young = len(plan.kept) - reached
    parts = [f"{verb} {count}", f"keep {reached} (a tag reaches them)"]
    if young:
        parts.append(f"keep {young} (newer than asked, or of unknown age)")
    if plan.absent:
        parts.append(f"{len(plan.absent)} absent")
    looked = "every manifest" if plan.listed else "referrer tags and the candidates given"
    return f"{plan.repository}: {len(plan.candidates)} candidate(s) ({looked}): " + ", ".join(parts)


def _say(plan: PrunePlan) -> None:
    out = console()
    out.print(_summary(plan), markup=False, highlight=False)
    if not plan.done:  # what was deleted is on stderr already, one line each
        for digest in plan.delete:
            out.print(f"  delete  {digest}", markup=False, highlight=False)
    for kept in plan.kept:
        why: str = kept.reason
        if kept.routes:
            why = f"reached by {kept.routes[0].describe()}"
            if len(kept.routes) > 1:
                why += f" (and {len(kept.routes) - 1} more)"
        elif kept.created:
            why = f"{why}, created {kept.created}"
        out.print(f"  keep    {kept.digest}  {why}", markup=False, highlight=False)
    for digest in plan.absent:
        out.print(f"  absent  {digest}", markup=False, highlight=False)
    if not plan.complete:
        out.print(
            f"  incomplete: {'; '.join(plan.problems)}"
            + ("" if plan.done else " (prune refuses without --force)"),
            markup=False,
            highlight=False,
        )


def _deleted(digest: Digest) -> None:
    err_console().print(f"deleted {digest}", markup=False, highlight=False)


def _confirm(plan: PrunePlan) -> None:
    if not sys.stdin.isatty():
        raise InvalidInput(
            f"pruning {plan.repository} needs a confirmation: {_summary(plan)}",
            hint="pass --yes to delete without asking, or --dry-run to look first",
        )
    if not click.confirm(f"{_summary(plan)}. Delete?", err=True, default=False):
        raise click.Abort()
