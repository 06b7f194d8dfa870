"""Instruction counts: the noise-free measure of CPU work, for a shared machine.

Wall and CPU times of a 100 ms command move by 30% and more when other work runs on the
same cores; the number of instructions a process executes does not. ``valgrind
--tool=callgrind`` counts them (``Ir``), for the measured process only (not the registry
it talks to), repeatably to within a fraction of a percent when the hash seed is fixed
(``PYTHONHASHSEED=0``). It runs the program about 50 times slower, so it is for start-up and
per-request costs, and for per-byte costs on tens of MiB, not for whole transfers.

An instruction count is converted to time only for reading: :func:`calibrate` measures this
machine's nanoseconds per instruction on ``python -c pass`` and a Python import (the best of
several runs, i.e. the least disturbed one).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["available", "calibrate", "count", "count_python"]

_COLLECTED = re.compile(r"Collected : (\d+)")


def available() -> bool:
    """Whether valgrind is installed (``apt-get install valgrind``)."""
    return shutil.which("valgrind") is not None


def count(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
    """Instructions executed by ``argv`` (its own process and threads; children not traced).

    Raises :class:`RuntimeError` when the command fails.
    """
    environment = {**(env if env is not None else os.environ), "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory(prefix="polyarch-cg-") as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--dump-line=no",
            "--compress-strings=no",
            *argv,
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, env=environment, check=False
        )
        found = _COLLECTED.search(result.stderr)
        if result.returncode != 0 or found is None:
            raise RuntimeError(f"{argv[0]} under callgrind: {result.stderr[-1500:]}")
        return int(found[1])


def count_python(python: str, code: str, *, env: Mapping[str, str] | None = None) -> int:
    """Instructions of ``python -c CODE`` (interpreter start included)."""
    return count([python, "-c", code], env=env)


def best_seconds(argv: Sequence[str], runs: int = 15) -> float:
    """The shortest wall time of ``runs`` runs of ``argv``: the least disturbed one."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return best


def calibrate(python: str, code: str, runs: int = 15) -> float:
    """Nanoseconds per instruction of ``python -c CODE`` on this machine (best wall time).

    Measured as (best time of CODE - best time of ``pass``) / (its instructions - those of
    ``pass``): the Python work itself, without process creation and exec.
    """
    base = best_seconds([python, "-c", "pass"], runs)
    full = best_seconds([python, "-c", code], runs)
    ir_base = count_python(python, "pass")
    ir_full = count_python(python, code)
    return (full - base) / (ir_full - ir_base) * 1e9
