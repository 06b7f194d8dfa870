"""``polyarch delete``."""

from __future__ import annotations

import sys
from typing import Any

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import err_console, print_json
from polyarch.errors import InvalidInput
from polyarch.operations.delete import DeletePlan, delete, plan_delete


@click.command(
    "delete",
    epilog=examples(
        "polyarch delete --dry-run 127.0.0.1:5000/metrics-api:v2.0.0-amd64",
        "polyarch delete --yes 127.0.0.1:5000/metrics-api@sha256:...",
    ),
)
@click.argument("ref", metavar="REF")
@click.option("-y", "--yes", is_flag=True, help="Delete a digest without asking.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Delete a manifest even when another tag reaches it (as the child of an index, "
    "a member of a nested index, a referrer), or when the tags cannot be listed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@common_options
def delete_command(
    ref: str, yes: bool, dry_run: bool, force: bool, as_json: bool, **kwargs: Any
) -> None:
    """Delete a tag (REPO:TAG) or a manifest and its tags (REPO@DIGEST).

    A tag alone goes where the registry allows it (OCI 1.1, layouts); distribution 2.8
    deletes only by digest: then nothing is deleted and the error says what deleting the
    digest would remove. A digest is deleted after a confirmation (or with --yes), and
    only when no other tag reaches it: the platform images of a release have no tag of
    their own, yet deleting one breaks the release. The plan names every tag that
    reaches it (exit 2 without --force). Nothing else is ever deleted: not an index's
    children, not blobs.

    \b
    Examples:
      polyarch delete 127.0.0.1:5000/app:v1-rc1
      polyarch delete --dry-run 127.0.0.1:5000/app@sha256:9f86d0...
      polyarch delete --yes 127.0.0.1:5000/app@sha256:9f86d0...
      polyarch delete --yes --force 127.0.0.1:5000/app@sha256:9f86d0...
    """
    options = pop_global(kwargs)
    with make_context(options) as ctx:
        plan = plan_delete(ref, ctx)
        if not dry_run and plan.target == "manifest" and not yes:
            _confirm(plan)
        if not dry_run:
            plan = delete(plan, ctx, force=force)
    if as_json:
        print_json(plan.to_json())
    elif not options.quiet or dry_run:
        _say(plan, dry_run)


def _describe(plan: DeletePlan) -> str:
    ref = plan.reference
    if plan.target == "tag":
        return f"the tag {ref.tag} of {ref.name} (the {plan.kind} {plan.digest} stays)"
    tags = ", ".join(plan.tags) + ("" if plan.tags_complete else ", ...")
    text = f"the {plan.kind} {ref.name}@{plan.digest}"
    if plan.tags:
        text += f" and its tags: {tags}"
    elif not plan.reached_by and plan.tags_complete:
        text += " (no tag reaches it)"
    if plan.children:
        text += f"; its {len(plan.children)} child manifest(s) stay"
    if plan.reached_by:
        routes = "; ".join(r.describe() for r in plan.reached_by)
        text += f"; it is reached by {routes} (without --force the delete is refused)"
    if plan.children_unreached:
        text += f"; {len(plan.children_unreached)} manifest(s) it reaches would be left unreached"
    if not plan.tags_complete:
        text += f"; what the tags reach is unknown: {'; '.join(plan.problems)}"
    return text


def _confirm(plan: DeletePlan) -> None:
    if not sys.stdin.isatty():
        raise InvalidInput(
            f"deleting {plan.reference} needs a confirmation: {_describe(plan)}",
            hint="pass --yes to delete it without asking",
        )
    if not click.confirm(f"Delete {_describe(plan)}?", err=True, default=False):
        raise click.Abort()


def _say(plan: DeletePlan, dry_run: bool) -> None:
    verb = "would delete" if dry_run else "deleted"
    err_console().print(f"{verb} {_describe(plan)}", markup=False, highlight=False)
