"""Scenario 6: where a command's imports go, from ``python -X importtime``.

The start-up goal of the performance issue is about imports: what a command loads before its
first request. ``-X importtime`` prints one line per module, the first time it is imported,
with the microseconds spent in the module itself ("self") and with what it imported in turn
("cumulative"), nested by indentation, children before their parent. This module parses
that tree and answers two questions for the report:

* **by origin**: the self time of every module, summed by where the module comes from:
  polyarch's own, each third-party distribution (click, httpx, httpcore, h11, idna...), and
  the standard library attributed to the nearest non-standard module that imported it
  ("stdlib via httpx": ``urllib.request``, ``http.cookiejar``, ``email``...), or to the
  interpreter's own start (``site``, ``encodings``);
* **the largest subtrees**: each module's cumulative time where a module of another origin
  imported it (``httpx._models`` importing ``http.cookiejar``; ``polyarch.cli.main``
  importing ``click``): the candidates to avoid, with the chain that pulled them in.

The times are medians over several runs in fresh interpreters (``-X importtime`` adds a
little overhead of its own, the same for every module). They are noisy on a shared machine:
compare orders, and read absolute figures beside the load average printed with them.

Run alone (any command of the measured polyarch, e.g. against a running registry)::

    .venv/bin/python bench/imports.py --runs 5 -- \\
        /tmp/venv/bin/polyarch create -q -t R/a:t R/a:p0 R/a:p1
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: One line of ``-X importtime`` output (CPython's Python/import.c).
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)\s*$")

#: Third-party top-level modules -> the distribution they ship in (the "origin").
DISTRIBUTIONS = {
    "polyarch": "polyarch",
    "click": "click",
    "httpx": "httpx",
    "httpcore": "httpcore",
    "h11": "h11",
    "anyio": "anyio",
    "sniffio": "sniffio",
    "idna": "idna",
    "certifi": "certifi",
    "rich": "rich",
    "pygments": "pygments",
    "markdown_it": "markdown-it-py",
    "mdurl": "mdurl",
    "yaml": "PyYAML",
    "_yaml": "PyYAML",
    "typing_extensions": "typing_extensions",
    "urllib3": "urllib3",
    "_distutils_hack": "setuptools (site hook)",
    "sitecustomize": "interpreter start",
}

#: Standard-library modules imported by the interpreter before any code runs.
_START = {"site", "encodings", "zipimport", "_frozen_importlib_external", "io", "_signal"}


@dataclass
class Node:
    """One module of the tree: its own and cumulative microseconds, what it imported."""

    name: str
    self_us: int
    cumulative_us: int
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None


def parse(text: str) -> list[Node]:
    """The top-level nodes of ``-X importtime`` output (children listed before parents)."""
    pending: dict[int, list[Node]] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        level = len(match[3]) // 2
        node = Node(match[4], int(match[1]), int(match[2]))
        node.children = pending.pop(level + 1, [])
        for child in node.children:
            child.parent = node
        pending.setdefault(level, []).append(node)
    return pending.get(0, [])


def walk(nodes: Sequence[Node]) -> list[Node]:
    """Every node of the forest, parents before children."""
    out: list[Node] = []
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(node.children))
    return out


def is_stdlib(name: str) -> bool:
    """Whether module ``name`` is part of the standard library (or built in)."""
    top = name.split(".", maxsplit=1)[0]
    return top in sys.stdlib_module_names or top in sys.builtin_module_names


def distribution(name: str) -> str:
    """The origin of a module that is not the standard library's."""
    top = name.split(".", maxsplit=1)[0]
    return DISTRIBUTIONS.get(top, top)


def origin(node: Node) -> str:
    """Where a module's time is charged: its distribution, or "stdlib via X"."""
    if not is_stdlib(node.name):
        return distribution(node.name)
    up = node.parent
    while up is not None and is_stdlib(up.name):
        if up.parent is None and up.name in _START:
            return "interpreter start"
        up = up.parent
    if up is None:
        top = node
        while top.parent is not None:
            top = top.parent
        return "interpreter start" if top.name in _START else "stdlib via __main__"
    return f"stdlib via {distribution(up.name)}"


def by_origin(text: str) -> dict[str, int]:
    """Self microseconds summed by origin for one run."""
    sums: dict[str, int] = {}
    for node in walk(parse(text)):
        key = origin(node)
        sums[key] = sums.get(key, 0) + node.self_us
    return sums


def chain(node: Node) -> str:
    """``a > b > c``: who imported ``node``, from the top."""
    names = []
    up: Node | None = node
    while up is not None:
        names.append(up.name)
        up = up.parent
    return " > ".join(reversed(names))


def crossings(text: str) -> dict[str, tuple[int, str]]:
    """Subtrees where one origin imported another: module -> (cumulative us, chain)."""
    out: dict[str, tuple[int, str]] = {}
    for node in walk(parse(text)):
        if node.parent is None:
            continue
        mine = "stdlib" if is_stdlib(node.name) else distribution(node.name)
        theirs = "stdlib" if is_stdlib(node.parent.name) else distribution(node.parent.name)
        if mine != theirs:
            out[node.name] = (node.cumulative_us, chain(node))
    return out


def total_us(text: str) -> int:
    """The cumulative microseconds of all top-level imports (everything imported)."""
    return sum(node.cumulative_us for node in parse(text))


def importtime(argv: Sequence[str], python: str | None = None) -> str:
    """Run ``argv`` under ``-X importtime`` (a console script is run by its interpreter)."""
    command = list(argv)
    script = Path(command[0])
    if python is None and script.exists():
        first = script.read_bytes()[:200].split(b"\n", 1)[0]
        if first.startswith(b"#!") and b"python" in first:
            python = first[2:].decode().strip()
    if python is not None:
        command = [python, "-X", "importtime", *command]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:5])}… exited {result.returncode}: {result.stderr}")
    return result.stderr


@dataclass
class ImportReport:
    """Medians over runs: total, by origin, and the largest cross-origin subtrees."""

    runs: list[str]

    def total_ms(self) -> float:
        """Median of all imports, in milliseconds."""
        return statistics.median(total_us(t) for t in self.runs) / 1000

    def origins_ms(self) -> dict[str, float]:
        """Median milliseconds per origin, largest first."""
        per_run = [by_origin(t) for t in self.runs]
        keys = {k for run in per_run for k in run}
        medians = {k: statistics.median(run.get(k, 0) for run in per_run) / 1000 for k in keys}
        return dict(sorted(medians.items(), key=lambda item: -item[1]))

    def subtrees_ms(self, limit: int = 25) -> list[tuple[str, float, str]]:
        """The ``limit`` largest cross-origin subtrees: (module, median ms, chain)."""
        per_run = [crossings(t) for t in self.runs]
        keys = {k for run in per_run for k in run}
        rows = []
        for key in keys:
            values = [run[key][0] for run in per_run if key in run]
            where = next(run[key][1] for run in per_run if key in run)
            rows.append((key, statistics.median(values) / 1000, where))
        rows.sort(key=lambda row: -row[1])
        return rows[:limit]

    def modules(self) -> list[str]:
        """Every module imported in the first run, in import order."""
        return [n.name for n in walk(parse(self.runs[0]))]


def measure(argv: Sequence[str], runs: int, python: str | None = None) -> ImportReport:
    """``runs`` fresh runs of ``argv`` under ``-X importtime``."""
    return ImportReport([importtime(argv, python) for _ in range(runs)])


def markdown(title: str, report: ImportReport, limit: int = 20) -> str:
    """Two tables: by origin, and the largest cross-origin subtrees."""
    lines = [
        f"| {title}: imports by origin (self time, median of {len(report.runs)}) | ms |",
        "| --- | --- |",
    ]
    origins = report.origins_ms()
    lines += [f"| {name} | {ms:.1f} |" for name, ms in origins.items() if ms >= 0.05]
    lines.append(f"| **all imports** ({len(report.modules())} modules) | {report.total_ms():.1f} |")
    lines += [
        "",
        f"| {title}: largest subtrees one origin pulls from another | cumulative ms | chain |",
        "| --- | --- | --- |",
    ]
    for name, ms, where in report.subtrees_ms(limit):
        lines.append(f"| {name} | {ms:.1f} | {where} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``imports.py [--runs N] [--python P] -- COMMAND...``: print the two tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", help="interpreter to run COMMAND with (default: its #!)")
    parser.add_argument("--title", default="command")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    report = measure(args.command, args.runs, args.python)
    print(markdown(args.title, report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
