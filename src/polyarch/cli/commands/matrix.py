"""``polyarch matrix``: the CI build matrix, one job per variant, from the spec or Bake."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from polyarch.cli.commands.build import bake_options, load, spec_option
from polyarch.cli.options import common_options, examples, pop_global
from polyarch.pipeline.matrix import build_matrix, github_output_line, parse_runner_overrides


@click.command(
    "matrix",
    epilog=examples(
        "polyarch matrix --github-output",
        "polyarch matrix --runner linux/arm64=self-hosted,arm64",
        "polyarch matrix --bake docker-bake.hcl --target api-amd64 --target api-arm64",
    ),
)
@spec_option
@bake_options
@click.option(
    "--runner",
    "runners",
    multiple=True,
    metavar="PLATFORM=LABEL[,LABEL]",
    help="The CI runner label(s) of this platform's job (repeatable; default: the variant's "
    "runner:, else GitHub's hosted runner of that architecture).",
)
@click.option(
    "--github-output",
    is_flag=True,
    help="Also append matrix=<json> to $GITHUB_OUTPUT (for strategy.matrix: "
    "${{ fromJson(needs.<job>.outputs.matrix) }}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the matrix as JSON (the default).")
@common_options
def matrix_command(
    spec_path: str | None,
    bake_files: tuple[str, ...],
    bake_targets: tuple[str, ...],
    runners: tuple[str, ...],
    github_output: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Print the CI build matrix: {"include": [{"platform", "runner", "artifact"}, ...]}.

    One entry per variant, in spec order (per platform of each Bake target with --bake,
    with its "target"). "runner" is GitHub's hosted label that runs the platform natively
    (linux/amd64: ubuntu-24.04, linux/arm64: ubuntu-24.04-arm) unless the variant's
    runner: or --runner names one; another platform needs one named (exit 2).
    "artifact" names the job's records artifact.
    """
    pop_global(kwargs)
    spec = load(spec_path, bake_files, bake_targets, paths=False)
    entries = build_matrix(spec.variants, parse_runner_overrides(runners))
    matrix = {"include": [entry.to_json() for entry in entries]}
    click.echo(json.dumps(matrix, separators=(",", ":")))
    if github_output:
        path = os.environ.get("GITHUB_OUTPUT")
        if not path:
            raise click.UsageError("--github-output needs $GITHUB_OUTPUT (set by GitHub Actions)")
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(github_output_line("matrix", matrix) + "\n")
