#!/usr/bin/env python3
"""Benchmark polyarch side by side with its peers, on local registries, in one run.

Run it from the repository root with the project's virtualenv::

    .venv/bin/python bench/run.py [--quick] [--runs N] [--output results.json]

Everything is local: two CNCF ``docker-registry`` processes on free 127.0.0.1 ports
(``tests/support/registry.py``), test images generated and pushed through polyarch's
library. Each scenario runs every tool ``--runs`` times, alternating tools (ABBA order),
and reports the median, min-max, polyarch/peer ratio, the HTTP requests the registries
saw (parsed from their access logs, the same way for every tool), CPU time and peak RSS
of the tool's process (``os.wait4``, GNU time) and the blob bytes the registries served.

Scenarios:

0. ``startup``: ``--version`` of each CLI (Python's start-up, paid by every command).
1. ``create``: assemble an index from N per-platform tags of one repository and push it
   (N = 2, 8, 32, 128): ``docker manifest create`` + ``push`` vs ``polyarch create`` (CLI
   subprocess, Python start-up included; and the library call in-process).
2. ``copy``: copy a 2-platform image of 4 random layers (256 MiB each; 32 MiB with
   ``--quick``) from registry A to a new repository in registry B:
   ``skopeo copy --all`` vs ``polyarch copy`` (default ``--jobs`` and ``--jobs 1``),
   with a ``curl -T`` upload of the same layers as the registry's ingest floor.
3. ``promote``: the same image to another repository of registry A: polyarch mounts;
   skopeo with a fresh blob-info cache moves every byte, with a warm one it mounts.
4. ``promote-many``: the same image into 10 repositories of registry B, as one sample
   (polyarch's blob-info cache, and without it; skopeo with one cache kept throughout).
5. ``stacks``: the HTTP stack alone (``bench/stacks.py``): import, client and per-request
   cost of httpx as polyarch uses it, httpx's default client, httpcore, urllib3 and
   ``http.client``.
6. ``imports``: ``-X importtime`` of ``create`` N=2 and ``--version``, by origin
   (``bench/imports.py``).
7. ``instructions``: start-up, the alternatives and per-request costs in instruction counts
   (``bench/startup.py``; needs valgrind): noise-free on a shared machine.
8. ``copy-paths``: CPU per GiB of one blob copied A→B by today's path, the lean prototypes
   (``bench/lean_stream.py``) and the hashing floors (``bench/copy_paths.py``).
9. ``verify``: verify an index of N platforms x 10 layers (``bench/release.py``).
10. ``promote-release``: one release (index + 4 tags) into 3 registries.
11. ``tags``: list the tags of repositories of 1,000 and 10,000 tags, and plan a prune
    over them.

Nothing here is a test: it prints a markdown table (and ``--output`` writes JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Run as a script (bench/run.py): the repository root (for the bench package) and tests/
# (for the registry fixture) on the path.
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.extra import (  # noqa: E402
    scenario_copy_paths,
    scenario_imports,
    scenario_instructions,
)
from bench.images import installed_polyarch, push_big_image  # noqa: E402
from bench.measure import MIB, Bench, Case, progress  # noqa: E402
from bench.release import (  # noqa: E402
    scenario_promote_release,
    scenario_tags,
    scenario_verify,
)
from bench.report import environment, fmt_bytes, growth, table  # noqa: E402
from bench.scenarios import (  # noqa: E402
    scenario_copy,
    scenario_create,
    scenario_promote,
    scenario_promote_many,
    scenario_startup,
)
from bench.stacks import scenario_stacks, stacks_manifest  # noqa: E402
from bench.stacks import table as stacks_table  # noqa: E402
from support.registry import RegistryServer  # noqa: E402

# Main ----------------------------------------------------------------------------------

#: Every scenario, in the order they run; the last six are off unless named with --only.
SCENARIOS = [
    "startup",
    "create",
    "copy",
    "promote",
    "promote-many",
    "stacks",
    "verify",
    "promote-release",
    "tags",
    "imports",
    "instructions",
    "copy-paths",
]
DEFAULT_SCENARIOS = SCENARIOS[:9]


def pick_tmpdir(layer_mib: int) -> str:
    """/dev/shm when it can hold what the bench writes (memory: no disk noise), else TMPDIR.

    Registry A keeps the image, B one copy (later copies are deduplicated) plus the
    upload in flight, and the layer files are generated once: about 4 times the image.
    /dev/shm is memory: it is used only when that also fits in half of the memory
    available now (a tmpfs may be sized larger than the memory behind it, and other work
    on the machine needs the rest), so a 4 GiB image (16.5 GiB) goes to disk on a
    24 GiB machine. Exits with a message when neither has room.
    """
    need = 4 * (4 * layer_mib * MIB) + 512 * MIB
    with contextlib.suppress(OSError):
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize >= need and need <= available_memory() // 2:
            return "/dev/shm"
    fallback = tempfile.gettempdir()
    st = os.statvfs(fallback)
    if st.f_bavail * st.f_frsize < need:
        raise SystemExit(
            f"bench: {need / 2**30:.1f} GiB of space needed for {4 * layer_mib} MiB images; "
            f"neither /dev/shm nor {fallback} has it (see --tmpdir)"
        )
    return fallback


def available_memory() -> int:
    """``MemAvailable`` from /proc/meminfo in bytes (0 when unknown: then no tmpfs)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def load() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 runs, 32 MiB layers (< 2 min)")
    parser.add_argument("--runs", type=int, help="runs per tool (default 5; 2 with --quick)")
    parser.add_argument("--layer-mib", type=int, help="size of each of the 4 layers (MiB)")
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS,
        help="run only these scenarios (repeatable)",
    )
    parser.add_argument("--output", type=Path, help="also write all samples as JSON here")
    parser.add_argument(
        "--tmpdir",
        type=Path,
        help="where the registries store blobs and the layers are generated "
        "(default: /dev/shm when it has room, so that the disk adds no noise; else $TMPDIR)",
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        help="create: the numbers of platforms N (default 2,8,32,128; 2,8 with --quick)",
    )
    parser.add_argument(
        "--copy-mib",
        type=lambda text: [int(n) for n in text.split(",")],
        help="copy: total image sizes in MiB, 4 layers each (default: 4 x --layer-mib); "
        "several give a growth table, e.g. 256,1024,4096",
    )
    parser.add_argument(
        "--polyarch",
        type=Path,
        help="the polyarch CLI to measure (default: a fresh `pip install .` of this checkout "
        "with compiled bytecode in the temp dir, as users get it)",
    )
    parser.add_argument(
        "--verify-sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        help="verify: index widths N, 10 layers each (default 8,32; 8 with --quick)",
    )
    parser.add_argument(
        "--tag-counts",
        type=lambda text: [int(n) for n in text.split(",")],
        help="tags: repository sizes (default 1000,10000; 1000 with --quick)",
    )
    parser.add_argument(
        "--release-mib",
        type=int,
        help="promote-release: each of the release's 6 layers, MiB (default 16; 2 with --quick)",
    )
    parser.add_argument(
        "--paths-mib",
        type=lambda text: [int(n) for n in text.split(",")],
        help="copy-paths: blob sizes in MiB (default 64,256: the difference is per byte)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (debugging)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenarios and print the table."""
    args = parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    layer_mib = args.layer_mib or (32 if args.quick else 256)
    only = set(args.only or DEFAULT_SCENARIOS)
    sizes = args.sizes or ([2, 8] if args.quick else [2, 8, 32, 128])
    copy_mib = args.copy_mib or [4 * layer_mib]
    missing = [t for t in ("docker", "skopeo", "curl") if shutil.which(t) is None]
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 2
    root = Path(
        tempfile.mkdtemp(
            prefix="polyarch-bench-", dir=args.tmpdir or pick_tmpdir(max(copy_mib) // 4)
        )
    )
    root.chmod(0o755)  # skopeo may run as nobody and must reach its cache dir below
    cli = args.polyarch or installed_polyarch(root / "venv")
    a = RegistryServer(workdir=root / "registry-a")
    b = RegistryServer(workdir=root / "registry-b")
    started = time.monotonic()
    cases: list[Case] = []
    stack_cases: list[Case] = []
    extra_tables: list[str] = []
    info: dict[str, Any] = {}
    try:
        a.start()
        b.start()
        info = environment(a.binary)
        info["storage"] = f"{root} ({'tmpfs' if str(root).startswith('/dev/shm') else 'disk'})"
        info["load average at start"] = load()
        progress(f"registries: A {a.url}, B {b.url}; {runs} runs; temp {root}")
        with httpx.Client(timeout=30, trust_env=False) as http:
            bench = Bench(root, a, b, http, str(cli), runs, layer_mib * MIB)
            if "startup" in only:
                cases += scenario_startup(bench)
            if "create" in only:
                cases += scenario_create(bench, sizes)
            if "stacks" in only:
                stack_cases, stack_info = scenario_stacks(
                    Path(cli).parent / "python", stacks_manifest(a), runs
                )
                info.update(stack_info)
            if "verify" in only:
                cases += scenario_verify(
                    bench, args.verify_sizes or ([8] if args.quick else [8, 32])
                )
            if "promote-release" in only:
                cases += scenario_promote_release(
                    bench, args.release_mib or (2 if args.quick else 16)
                )
            if "tags" in only:
                tag_cases, tag_info = scenario_tags(
                    bench, args.tag_counts or ([1000] if args.quick else [1000, 10000])
                )
                cases += tag_cases
                info.update(tag_info)
            if "imports" in only:
                extra_tables.append(scenario_imports(bench, runs))
            if "instructions" in only:
                extra_tables.append(scenario_instructions(bench))
            if "copy-paths" in only:
                extra_tables.append(scenario_copy_paths(bench, args.paths_mib or [64, 256], runs))
            for n, total_mib in enumerate(copy_mib if only & {"copy", "promote"} else []):
                bench.layer_size = total_mib * MIB // 4
                source = f"{a.host}/big{n}/app:v1"
                index, layers, upload = push_big_image(bench, source)
                total = sum(layer.descriptor.size for layer in layers)
                info[f"initial push of {fmt_bytes(total)} (library, streamed from files)"] = (
                    f"{upload:.2f} s, {total / upload / 1e6:.0f} MB/s"
                )
                if "copy" in only:
                    cases += scenario_copy(bench, index, layers, source)
                if n == 0 and "promote" in only:
                    cases += scenario_promote(bench, index, layers, source)
                if n == 0 and "promote-many" in only:
                    cases += scenario_promote_many(bench, index, layers, source)
                for layer in layers:
                    layer.path.unlink()
    finally:
        a.stop()
        b.stop()
        if args.keep:
            progress(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    info["load average at end"] = load()
    info["runs"] = str(runs)
    info["copy image sizes"] = ", ".join(f"{m} MiB (4 layers)" for m in copy_mib)
    info["bench wall time"] = f"{time.monotonic() - started:.0f} s"
    print("\n".join(f"- {key}: {value}" for key, value in info.items()))
    print()
    print(table(cases))
    if stack_cases:
        print()
        print(stacks_table(stack_cases))
    for extra in extra_tables:
        print()
        print(extra)
    for scenario in dict.fromkeys(c.scenario for c in cases):
        grown = growth(cases, scenario)
        if grown:
            print()
            print(grown)
    if args.output:
        document = {"environment": info, "cases": [c.to_json() for c in cases + stack_cases]}
        args.output.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
