"""scripts/test.sh without root: one line naming the tier it cannot run and why, exit 2.

The README's test command sets up the engines itself, which needs root; a user without root
and without sudo is told so in one line before anything runs, unless ``--no-e2e`` asks to leave
that tier out. Run here as ``nobody`` (``setpriv``, from root) with no terminal, so that sudo
is not asked either.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from support.require import missing

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            missing("setpriv not installed (util-linux)")
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    elif shutil.which("sudo"):
        missing("this user has sudo: scripts/test.sh would run itself through it")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/nonexistent"}
    return subprocess.run(
        [*prefix, "bash", str(ROOT / "scripts" / "test.sh"), *args],
        cwd="/",
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_root_one_line_names_the_e2e_tier_and_exit_2() -> None:
    result = as_nobody("-x")
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "test: cannot run the e2e tier: it starts Docker engines (dockerd, binfmt_misc), which"
        " needs root and there is no sudo; run as root, or pass --no-e2e to leave it out"
    ]
