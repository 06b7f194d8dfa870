"""Scenario 5: the HTTP stack itself, measured for the choice issue 12 asked to make on numbers.

polyarch's transport is built on httpx. The performance issue asked whether a lighter
well-kept stack (urllib3 2, or httpcore alone) would start faster, keeping streaming, TLS
verification and the auth/retry behaviour. Three costs decide it, each measured in fresh
interpreters of the bench's polyarch venv (compiled bytecode), the stacks alternating:

* **import**: what importing the stack adds on top of what polyarch imports anyway (click,
  json, hashlib, logging, dataclasses, concurrent.futures...), timed inside the
  process around the ``import`` statement (httpx with its command-line module blocked, as
  the polyarch CLI does);
* **client**: building a client ready for a plain-HTTP loopback registry (httpx's default
  client loads the CA bundle at construction; polyarch's :class:`DeferredTLSTransport` does
  not; its row includes importing polyarch's transport module that defines it);
* **request**: one ``GET`` of a small manifest on a kept-alive connection to registry A,
  the median of 200 (what each further request of a ``create`` costs).

``http.client`` (the standard library) is the floor every stack is compared with; it is not
a candidate (no pooling across threads, no streaming uploads of unknown length, no
redirects), only the measure of what the others add.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench.measure import Case, Runner, Sample, alternate, progress
from polyarch.content.context import Context
from polyarch.domain.reference import Reference
from support.images import push_image
from support.registry import RegistryServer

#: What polyarch imports whichever HTTP stack it uses (the base of the "import" case).
_BASE = (
    "import click, json, hashlib, logging, dataclasses, concurrent.futures, threading, "
    "typing, enum, re, pathlib, base64, socket"
)

#: Per stack: the import statement, a client for plain HTTP, and one GET returning bytes.
_STACKS: dict[str, tuple[str, str, str]] = {
    "httpx (polyarch)": (
        "import sys; sys.modules['httpx._main'] = None; import httpx",
        "from polyarch.transport.tls import DeferredTLSTransport; "
        "c = httpx.Client(transport=DeferredTLSTransport())",
        "c.get(URL, headers=H).content",
    ),
    "httpx, default client": (
        "import sys; sys.modules['httpx._main'] = None; import httpx",
        "c = httpx.Client()",
        "c.get(URL, headers=H).content",
    ),
    "httpcore 1 alone": (
        "import httpcore",
        "c = httpcore.ConnectionPool()",
        "c.request('GET', URL, headers=H).content",
    ),
    "urllib3 2": (
        "import urllib3",
        "c = urllib3.PoolManager()",
        "c.request('GET', URL, headers=H).data",
    ),
    "http.client (stdlib floor)": (
        "import http.client, urllib.parse",
        "u = urllib.parse.urlsplit(URL); c = http.client.HTTPConnection(u.netloc)",
        "(c.request('GET', u.path, headers=H), c.getresponse().read())",
    ),
}

_PROBE = """
import json, sys, time
URL, H = sys.argv[1], {{"Accept": "application/vnd.oci.image.manifest.v1+json, "
                        "application/vnd.docker.distribution.manifest.v2+json"}}
{base}
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
{client}
t2 = time.perf_counter()
{get}
times = []
for _ in range(200):
    t = time.perf_counter()
    {get}
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({{"import": t1 - t0, "client": t2 - t1, "request": times[len(times) // 2]}}))
"""


def stacks_manifest(server: RegistryServer) -> str:
    """Push a small image to ``server``; the URL of its manifest (what each stack GETs)."""
    with Context() as ctx:
        repo = ctx.repository(Reference.parse(f"{server.host}/stacks/app:v1"))
        push_image(repo, "linux/amd64", tag="v1")
    return f"{server.url}/v2/stacks/app/manifests/v1"


def _ensure_urllib3(python: Path) -> str | None:
    """Install urllib3 into the bench venv if needed; None, or why it is missing."""
    check = subprocess.run([str(python), "-c", "import urllib3"], check=False, capture_output=True)
    if check.returncode == 0:
        return None
    progress("installing urllib3 into the bench venv (for the HTTP stack comparison)")
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "urllib3>=2"],
        check=False,
        capture_output=True,
        text=True,
    )
    return None if done.returncode == 0 else f"pip install urllib3 failed: {done.stderr[-200:]}"


def scenario_stacks(python: Path, url: str, runs: int) -> tuple[list[Case], dict[str, str]]:
    """Import, client and per-request cost of each stack; ``url`` is a manifest on registry A.

    ``python`` is the interpreter of the venv holding the measured polyarch. Returns the
    cases (three per stack) and environment lines (a stack that could not be installed is
    reported there as missing).
    """
    info: dict[str, str] = {}
    why = _ensure_urllib3(python)
    stacks = dict(_STACKS)
    if why:
        info["stack urllib3 2"] = f"missing: {why}"
        del stacks["urllib3 2"]
    measures = ("import", "client", "request")
    cases = {
        (name, m): Case(
            "5 HTTP stack",
            {
                "import": "import, over polyarch's other imports",
                "client": "client for plain HTTP",
                "request": "GET manifest (median of 200)",
            }[m],
            name,
            polyarch=name.endswith("(polyarch)"),
        )
        for name in stacks
        for m in measures
    }
    results: dict[str, dict[str, float]] = {}

    def runner_for(name: str, measure: str) -> Runner:
        def run(i: int) -> Sample:
            if measure == "import":  # one process per run gives all three numbers
                imports, client, get = stacks[name]
                code = _PROBE.format(base=_BASE, imports=imports, client=client, get=get)
                out = subprocess.run(
                    [str(python), "-c", code, url], capture_output=True, text=True, check=True
                ).stdout
                results[name] = json.loads(out.splitlines()[-1])
            return Sample(results[name][measure], 0, {}, 0)

        return run

    # One process per stack and run: its import, client and request samples come together.
    tools = [(cases[(name, m)], runner_for(name, m)) for name in stacks for m in measures]
    ordered: list[tuple[Case, Runner]] = []
    for name in stacks:
        ordered += [t for t in tools if t[0].tool == name]
    _alternate_grouped(runs, ordered, len(measures))
    return [cases[(name, m)] for m in measures for name in stacks], info


def _alternate_grouped(runs: int, tools: list[tuple[Case, Runner]], size: int) -> None:
    """ABBA order over groups of ``size`` (a stack's three measures stay in order)."""
    groups = [tools[i : i + size] for i in range(0, len(tools), size)]
    for i in range(runs):
        for group in groups if i % 2 == 0 else list(reversed(groups)):
            alternate(1, group, f"HTTP stack run {i + 1}/{runs}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.01 else f"{seconds * 1000:.0f} ms"


def table(cases: list[Case]) -> str:
    """One row per stack: median import, client and request cost, and each against httpx."""
    by_stack: dict[str, dict[str, Case]] = {}
    for case in cases:
        by_stack.setdefault(case.tool, {})[case.case] = case
    measures = list(dict.fromkeys(case.case for case in cases))
    ours = next((c for c in cases if c.polyarch), None)
    head = ["HTTP stack", *measures, "import + client, against polyarch's"]
    rows = [head, ["---"] * len(head)]
    for stack, found in by_stack.items():
        cells = [stack]
        for m in measures:
            c = found[m]
            spread = f" ({_ms(min(s.seconds for s in c.samples))} - "
            spread += f"{_ms(max(s.seconds for s in c.samples))})"
            cells.append(_ms(c.median()) + spread)
        start = found[measures[0]].median() + found[measures[1]].median()
        if ours is not None:
            mine = by_stack[ours.tool]
            base = mine[measures[0]].median() + mine[measures[1]].median()
            cells.append(f"{(start - base) * 1000:+.0f} ms")
        rows.append(cells)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)
