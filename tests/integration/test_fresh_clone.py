"""The README's promise: a fresh clone of this repository, alone in a folder, passes its tests.

The working tree's repository is cloned into a temporary folder with nothing beside it (no
guidance folder of the developers), then its unit tier (tests/unit and the doctests in src/) is
collected and run there with this interpreter, importing polyarch from the clone's own src/.
What is cloned is HEAD plus the uncommitted changes of tracked files (staged or not), so that a
developer's run checks what they are about to commit; untracked files are left out on purpose: a
file git does not know is exactly what a fresh clone lacks. In CI the working tree is a fresh
clone, so this is HEAD.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from support.require import missing

ROOT = Path(__file__).resolve().parents[2]


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, timeout=300, check=False
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr.decode()[-2000:]}"
    return proc.stdout


def fresh_clone(dest: Path) -> Path:
    """Clone ROOT's HEAD into ``dest``/polyarch and apply the tracked uncommitted changes."""
    clone = dest / "polyarch"
    head = git("rev-parse", "HEAD", cwd=ROOT).decode().strip()
    git("clone", "--quiet", "--no-hardlinks", "--no-checkout", str(ROOT), str(clone))
    git("checkout", "--quiet", "--detach", head, cwd=clone)
    changes = git("diff", "HEAD", "--binary", cwd=ROOT)
    if changes:
        git("apply", "--binary", "-", cwd=clone, stdin=changes)
    return clone


def test_a_fresh_clone_collects_and_passes_the_unit_tier(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        missing("not a git checkout (or no git): nothing to clone")
    clone = fresh_clone(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["polyarch"]  # nothing beside the clone
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "POLYARCH_"))}
    env["PYTHONPATH"] = str(clone / "src")
    where = subprocess.run(
        [sys.executable, "-c", "import polyarch; print(polyarch.__file__)"],
        cwd=clone, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(clone / "src")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit", "src"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    tail = (run.stdout + run.stderr)[-3000:]
    assert run.returncode == 0, tail
    summary = run.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary), summary
    assert not re.search(r"\b(failed|error|errors)\b", summary), summary
