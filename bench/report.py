"""Reporting: the markdown tables and the environment they were measured in."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform as host_platform
import statistics
from collections.abc import Sequence
from pathlib import Path

import httpx

import polyarch
from bench.measure import MIB, Case, fmt_seconds
from bench.peers import PEERS, find_tool, version_of

# Reporting -----------------------------------------------------------------------------


def fmt_bytes(n: float) -> str:
    """Binary units, short."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def fmt_range(values: Sequence[int]) -> str:
    """``14`` when constant, ``14-15`` when not."""
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def table(cases: Sequence[Case]) -> str:
    """The results as one markdown table."""
    head = [
        "scenario",
        "case",
        "tool",
        "median",
        "min-max",
        "polyarch/peer",
        "requests",
        "MB/s",
        "CPU",
        "CPU/GiB",
        "registries' CPU",
        "peak RSS",
        "blob bytes read",
    ]
    rows = [head, ["---"] * len(head)]
    for c in cases:
        seconds = [s.seconds for s in c.samples]
        ratio = ""
        if c.polyarch:
            # Against every peer of the same case, strongest (fastest) first.
            peers = sorted(
                (
                    p
                    for p in cases
                    if (p.scenario, p.case) == (c.scenario, c.case) and not p.polyarch
                ),
                key=Case.median,
            )
            ratio = ", ".join(f"{c.median() / p.median():.2f}x {p.tool}" for p in peers)
        requests = fmt_range([s.requests for s in c.samples]) if c.scenario[0] != "0" else ""
        read = statistics.median(s.bytes_read for s in c.samples)
        moved = c.payload or read
        rate = f"{moved / c.median() / 1e6:.0f}" if c.transfer and moved >= MIB else ""
        rss = [s.rss_kib for s in c.samples if s.rss_kib]
        cpu = c.median_cpu()
        per_gib = c.cpu_per_gib()
        registries = c.median_registry_cpu()
        rows.append(
            [
                c.scenario,
                c.case,
                c.tool,
                fmt_seconds(c.median()),
                f"{fmt_seconds(min(seconds))} - {fmt_seconds(max(seconds))}",
                ratio,
                requests,
                rate,
                "" if cpu is None else fmt_seconds(cpu),
                "" if per_gib is None else fmt_seconds(per_gib),
                "" if registries is None else fmt_seconds(registries),
                fmt_bytes(statistics.median(rss) * 1024) if rss else "",
                fmt_bytes(read) if c.transfer else "",
            ]
        )
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    notes = list(dict.fromkeys(f"- {c.scenario}, {c.tool}: {c.note}" for c in cases if c.note))
    return "\n".join(lines + (["", *notes] if notes else []))


def environment(registry_binary: str) -> dict[str, str]:
    """Versions and machine facts for the report."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "kernel": host_platform.release(),
        "python": host_platform.python_version(),
        "polyarch": polyarch.__version__,
        "httpx": httpx.__version__,
        "docker-registry": version_of([registry_binary, "--version"]),
        "docker": version_of(["docker", "--version"]),
        **{f"peer {name}": find_tool(name)[1] for name in PEERS},
    }


def growth(cases: Sequence[Case], scenario: str) -> str:
    """How each tool's median grows across the cases of one scenario (N, or bytes).

    Empty when the scenario has a single case. The last column is last / first.
    """
    mine = [c for c in cases if c.scenario == scenario]
    labels = list(dict.fromkeys(c.case for c in mine))
    if len(labels) < 2:
        return ""
    head = ["growth: " + scenario, *labels, f"{labels[-1]} / {labels[0]}"]
    rows = [head, ["---"] * len(head)]
    for tool in dict.fromkeys(c.tool for c in mine):
        by_label = {c.case: c.median() for c in mine if c.tool == tool}
        cells = [fmt_seconds(by_label[label]) if label in by_label else "" for label in labels]
        first, last = by_label.get(labels[0]), by_label.get(labels[-1])
        rows.append([tool, *cells, f"{last / first:.1f}x" if first and last else ""])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)
