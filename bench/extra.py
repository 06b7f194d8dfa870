"""Scenarios 6 to 8: where start-up and per-byte CPU go (studies, not peer comparisons).

Each returns a markdown table for the report: ``-X importtime`` by origin
(:mod:`bench.imports`), instruction counts of start-up and per request
(:mod:`bench.startup`), CPU per GiB of one blob by path (:mod:`bench.copy_paths`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench import copy_paths, imports, instructions, startup
from bench.measure import MIB, Bench, progress
from polyarch.content.context import Context
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.reference import Reference
from support.images import push_image
from support.random_blobs import random_chunks

__all__ = ["scenario_copy_paths", "scenario_imports", "scenario_instructions"]

_REPOSITORY = "startup/app"


def _two_images(bench: Bench) -> list[str]:
    """Push ``startup/app:p0`` and ``p1`` to A (once); their references."""
    with Context() as ctx:
        repo = ctx.repository(Reference.parse(f"{bench.a.host}/{_REPOSITORY}:p0"))
        for k, plat in enumerate(("linux/amd64", "linux/arm64")):
            if repo.head_manifest(f"p{k}") is None:
                push_image(repo, plat, tag=f"p{k}", docker=True)
    return [f"{bench.a.host}/{_REPOSITORY}:p{k}" for k in range(2)]


def scenario_imports(bench: Bench, runs: int) -> str:
    """``-X importtime`` of ``create`` N=2 and of ``--version``, by origin."""
    sources = _two_images(bench)
    create = [bench.polyarch, "create", "-q", "-t", f"{bench.a.host}/{_REPOSITORY}:it", *sources]
    progress(f"-X importtime of create N=2 and --version, {runs + 2} runs each")
    tables = [
        imports.markdown("create N=2", imports.measure(create, runs + 2)),
        imports.markdown("--version", imports.measure([bench.polyarch, "--version"], runs + 2), 8),
    ]
    return "\n\n".join(tables)


def scenario_instructions(bench: Bench) -> str:
    """Start-up, the alternatives and per-request costs in instructions (valgrind)."""
    if not instructions.available():
        return "- scenario 7 instructions: missing: valgrind not installed"
    _two_images(bench)
    progress("instruction counts of start-up, alternatives, requests (valgrind: minutes)")
    return startup.study(bench.polyarch, bench.a.host, _REPOSITORY).markdown()


def scenario_copy_paths(bench: Bench, sizes_mib: list[int], runs: int) -> str:
    """CPU per GiB of one blob copied A→B by each path, at each size; the per-byte slope."""
    python = str(Path(bench.polyarch).parent / "python")
    tables = []
    medians: dict[str, dict[int, float]] = {}
    for mib in sizes_mib:
        size = mib * MIB
        blob_file = bench.tempdir("paths") / "blob"
        hasher = hashlib.sha256()
        with blob_file.open("wb") as out:
            for chunk in random_chunks(f"paths{mib}", size):
                hasher.update(chunk)
                out.write(chunk)
        digest = "sha256:" + hasher.hexdigest()
        source = f"{bench.a.host}/paths{mib}/blob"
        with Context() as ctx:
            repo = ctx.repository(Reference.parse(source + ":x"))
            descriptor = Descriptor(mediatype.OCI_LAYER, Digest(digest), size)
            repo.put_blob(descriptor, random_chunks(f"paths{mib}", size))
        progress(f"copy paths: one {mib} MiB blob A→B, {runs} runs per path")
        results = copy_paths.measure_paths(
            python, source, digest, size, bench.b.host, str(blob_file), runs
        )
        tables.append(f"{mib} MiB blob:\n\n" + copy_paths.markdown(results, size))
        for r in results:
            medians.setdefault(r.name, {})[size] = r.median("cpu")
        blob_file.unlink()
    if len(sizes_mib) >= 2:
        small, large = min(sizes_mib) * MIB, max(sizes_mib) * MIB
        rows = ["| per byte: (CPU at the large - at the small) / bytes | CPU per GiB |"]
        rows.append("| --- | --- |")
        for name, by_size in medians.items():
            slope = (by_size[large] - by_size[small]) / ((large - small) / 2**30)
            rows.append(f"| {name} | {slope:.2f} s |")
        tables.append("\n".join(rows))
    return "\n\n".join(tables)
