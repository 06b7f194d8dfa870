"""Scenario 8: CPU per GiB of one blob copied between two registries, path by path.

The copy goal is skopeo's CPU per GiB (1.7 s). polyarch's copy moves each blob through
httpx -> httpcore -> h11 on both sides, in 64 KiB socket reads joined to 128 KiB chunks, and
three generator layers (deadline, coalescing, verifying). This scenario copies one blob from
registry A to a new repository of registry B, in a fresh process per run, by each of these
paths, and reports the process's CPU (user + system, what ``wait4`` gives) per GiB moved:

* ``polyarch (today)``: :class:`~polyarch.content.transfer.Transfer` between two registry
  repositories, exactly what ``polyarch copy`` runs per blob;
* ``lean http.client``: the prototype of :mod:`bench.lean_stream`: ``GET`` and a
  ``PATCH`` of known length on :mod:`http.client` connections, the body read with
  ``readinto`` into one reusable buffer, hashed from a ``memoryview`` and sent from it
  (one copy in, one copy out, one hash pass), verified before the closing ``PUT``;
* ``lean urllib3 2``: the same flow through urllib3's pool (``read(amt)`` gives a new bytes
  object per read: one more allocation per chunk, no extra copy);
* ``floor: sha256sum``: the same bytes hashed from a file on tmpfs by coreutils, the least
  a verified copy can cost (plus the kernel's copies);
* ``floor: hashlib``: hashing them in Python from one reusable buffer, the same way.

Each path runs in a fresh interpreter of the bench's venv so that imports and allocator
state do not carry over; the start-up of that interpreter (a few tens of ms) is included and
named. Figures are CPU time, not wall time: the registries run on the same two cores.
Instruction counts of a smaller copy (:mod:`bench.instructions`) give the noise-free ratio
between the paths' user-space work; the kernel's share is in ``sys``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PATHS", "CopyRun", "measure_paths"]

MIB = 1024 * 1024

#: The paths measured, in the order they alternate.
PATHS = (
    "polyarch (today)",
    "lean http.client",
    "lean urllib3 2",
    "floor: hashlib",
    "floor: openssl dgst",
    "floor: sha256sum",
)

#: The floors that are other programs, and their command lines (the blob file appended).
_FLOORS = {
    "floor: openssl dgst": ["openssl", "dgst", "-sha256"],
    "floor: sha256sum": ["sha256sum"],
}

#: GNU time, for the peak RSS and the user/system split of a child (see bench.measure).
_GNU_TIME = "/usr/bin/time"


@dataclass
class CopyRun:
    """One run of one path: CPU (user, system), wall time, peak RSS."""

    user: float
    system: float
    wall: float
    rss_kib: int

    @property
    def cpu(self) -> float:
        """User plus system seconds."""
        return self.user + self.system


@dataclass
class PathResult:
    """Every run of one path."""

    name: str
    runs: list[CopyRun] = field(default_factory=list)

    def median(self, attr: str) -> float:
        """Median of ``attr`` over the runs."""
        return float(statistics.median(float(getattr(r, attr)) for r in self.runs))


def _child(path: str, source: str, digest: str, size: int, dest: str, blob_file: str) -> None:
    """Copy (or hash) once in this process and print nothing: the parent measures us."""
    if path == "polyarch (today)":
        from polyarch.content.context import Context
        from polyarch.content.transfer import Transfer
        from polyarch.domain import mediatype
        from polyarch.domain.descriptor import Descriptor
        from polyarch.domain.digest import Digest
        from polyarch.domain.reference import Reference

        descriptor = Descriptor(mediatype.OCI_LAYER_GZIP, Digest(digest), size)
        with Context() as ctx:
            src = ctx.repository(Reference.parse(source + ":x"))
            dst = ctx.repository(Reference.parse(dest + ":x"))
            Transfer(jobs=1).blob(src, dst, descriptor)
        return
    if path.startswith("lean"):
        from bench.lean_stream import copy_blob_http_client, copy_blob_urllib3

        copy = copy_blob_http_client if "http.client" in path else copy_blob_urllib3
        copy(source, dest, digest, size)
        return
    if path == "floor: hashlib":
        import hashlib

        hasher = hashlib.sha256()
        buffer = bytearray(MIB)
        view = memoryview(buffer)
        with open(blob_file, "rb", buffering=0) as f:
            while n := f.readinto(buffer):
                hasher.update(view[:n])
        if "sha256:" + hasher.hexdigest() != digest:
            raise SystemExit("hashlib floor: wrong digest")
        return
    raise SystemExit(f"unknown path {path}")


def _run_once(python: str, path: str, args: Sequence[str]) -> CopyRun:
    """One fresh process of ``path``: user and system CPU, wall time and peak RSS.

    Through GNU time: a child forked from this (large) process would report our peak RSS as
    its own (bench.measure.run_process says why).
    """
    if path in _FLOORS:
        argv = [*_FLOORS[path], args[4]]
    else:
        argv = [python, "-m", "bench.copy_paths", "--child", path, *args]
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{root}", "POLYARCH_BLOB_CACHE": "off"}
    with tempfile.NamedTemporaryFile("w+") as report:
        command = [_GNU_TIME, "-f", "%M %U %S", "-o", report.name, *argv]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, cwd=root, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{path}: exited {done.returncode}")
        rss, user, system = report.read().split()[-3:]
    return CopyRun(float(user), float(system), wall, int(rss))


def measure_paths(
    python: str, source: str, digest: str, size: int, dest_host: str, blob_file: str, runs: int
) -> list[PathResult]:
    """``runs`` runs of every path, alternating (ABBA); each copy into a new repository of B."""
    results = {name: PathResult(name) for name in PATHS}
    for i in range(runs):
        order = PATHS if i % 2 == 0 else tuple(reversed(PATHS))
        for name in order:
            dest = f"{dest_host}/paths-{uuid.uuid4().hex[:8]}/blob"
            run = _run_once(python, name, [source, digest, str(size), dest, blob_file])
            results[name].runs.append(run)
            print(
                f"[bench] copy paths run {i + 1}/{runs} {name}: cpu {run.cpu:.2f} s "
                f"(user {run.user:.2f}, sys {run.system:.2f}), wall {run.wall:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    return list(results.values())


def startup_cpu(python: str, runs: int = 5) -> float:
    """Median CPU of a fresh interpreter that imports nothing: subtracted for per-GiB figures."""
    samples = []
    for _ in range(runs):
        proc = subprocess.Popen([python, "-c", "pass"])
        _, _, usage = os.wait4(proc.pid, 0)
        samples.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(samples)


def markdown(results: Sequence[PathResult], size: int) -> str:
    """One row per path: CPU per GiB (user, system), wall, peak RSS, against today's path."""
    gib = size / 2**30
    today = next((r for r in results if r.name == "polyarch (today)"), None)
    head = "| copy one blob A→B, per GiB | CPU/GiB | user | sys | wall/GiB | peak RSS | vs today |"
    rows = [head, "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        ratio = f"{r.median('cpu') / today.median('cpu'):.2f}x" if today else ""
        rows.append(
            f"| {r.name} | {r.median('cpu') / gib:.2f} s | {r.median('user') / gib:.2f} s "
            f"| {r.median('system') / gib:.2f} s | {r.median('wall') / gib:.2f} s "
            f"| {r.median('rss_kib') / 1024:.1f} MiB | {ratio} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """``--child PATH ARGS`` (one measured copy), else nothing: run.py drives the scenario."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--child", required=True)
    parser.add_argument("args", nargs=5, metavar="ARG")
    args = parser.parse_args(argv)
    source, digest, size, dest, blob_file = args.args
    _child(args.child, source, digest, int(size), dest, blob_file)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
