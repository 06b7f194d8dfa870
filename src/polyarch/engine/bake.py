"""``docker buildx bake --print``: buildx resolves a Bake definition, polyarch reads the JSON.

Bake files (HCL, JSON, compose) have variables, functions, ``inherits``, groups and
compose's ``build:`` sections; only buildx evaluates them exactly. ``--print`` does, and
prints the resolved targets as JSON on stdout (its progress and warnings go to stderr)
without building anything or needing an engine: only the buildx plugin. What the JSON
means is :mod:`polyarch.pipeline.bake.definition`'s business; this module runs the command.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from polyarch.errors import PolyarchError

__all__ = ["BAKE_PRINT_TIMEOUT", "BakeFailed", "bake_print_argv", "print_bake_definition"]

#: Seconds ``bake --print`` may take (it reads files; a remote definition is fetched).
BAKE_PRINT_TIMEOUT: Final = 300


class BakeFailed(PolyarchError):
    """``docker buildx bake --print`` failed; its last line says why (a file, a variable)."""

    exit_code = 2


def bake_print_argv(
    files: Sequence[str | Path], targets: Sequence[str] = (), *, docker: str = "docker"
) -> list[str]:
    """``docker buildx bake -f FILE... --print [TARGET...]``."""
    argv = [docker, "buildx", "bake"]
    for file in files:
        argv += ["-f", str(file)]
    return [*argv, "--print", *targets]


def print_bake_definition(
    files: Sequence[str | Path],
    targets: Sequence[str] = (),
    *,
    cwd: Path,
    docker: str = "docker",
    env: Mapping[str, str] | None = None,
) -> str:
    """Run ``docker buildx bake --print`` in ``cwd``; its stdout (the JSON definition).

    ``env`` replaces the environment (``None``: this process's). Raises
    :class:`BakeFailed` with buildx's last error line when it fails (a missing file, an
    undefined target, an HCL error) or cannot run.
    """
    argv = bake_print_argv(files, targets, docker=docker)
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=None if env is None else dict(env),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
            timeout=BAKE_PRINT_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BakeFailed(f"`{' '.join(argv[:3])}` could not run: {exc}") from None
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
        last = (errors or proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BakeFailed(
            f"`docker buildx bake` could not print the definition (exit {proc.returncode}): {last}",
            hint="run it yourself to see the whole output",
        )
    return proc.stdout
