"""Scenario 7: start-up in instructions, and what each way of cutting it would save.

The start-up goal (imports on the ``create`` path <= 70 ms, ``--version`` < 40 ms) is measured
on a machine that others share, where a 130 ms figure moves by 50% from one minute to the
next. Instruction counts (:mod:`bench.instructions`) do not move, so every figure here is one:
millions of instructions (M Ir) executed by a fresh interpreter of the measured polyarch's
venv, converted to milliseconds at the machine's rate measured in the same run (the best
of several wall times, i.e. the least disturbed). Each snippet ends with ``os._exit(0)``,
as the CLI does (:func:`polyarch.cli._exit`): the interpreter's teardown is not counted.

What is measured:

* **the create path**: the CLI ``create`` of N=2 as a whole; importing exactly the modules
  that run imported (from its ``-X importtime`` list), split into the standard library that
  polyarch needs whatever its dependencies (``BASE``), what click and the httpx stack add on
  top of it, and polyarch's own modules; polyarch's own split again by measuring them with
  the ``dataclasses`` code generation and ``re.compile`` stubbed out;
* **the alternatives**: what each CLI framework and HTTP stack adds over ``BASE``;
* **per request**: the instructions of one manifest ``GET`` on a kept-alive connection for
  each HTTP stack and for polyarch's own client (auth flow, hooks, deadline, retries), the
  slope of 200 requests;
* **the classes**: what a frozen dataclass costs to create at import against a plain class
  with ``__slots__``, a ``NamedTuple`` and (when installed) a ``msgspec.Struct``.

Run alone against a running registry that has ``create/app:p0`` and ``p1``::

    .venv/bin/python -m bench.startup --polyarch /tmp/venv/bin/polyarch --registry 127.0.0.1:5000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.imports import importtime, parse, walk
from bench.instructions import best_seconds, count, count_python

__all__ = ["BASE", "StartupStudy", "study"]

#: The standard library polyarch imports whatever its CLI framework and HTTP stack: sockets
#: and TLS, hashing, JSON, threads and the thread pool, logging, dataclasses, typing, paths,
#: URLs and addresses.
BASE = [
    *("socket", "ssl", "hashlib", "json", "threading", "base64", "re", "enum", "logging"),
    *("typing", "dataclasses", "concurrent.futures", "concurrent.futures.thread", "pathlib"),
    *("urllib.parse", "ipaddress", "datetime", "contextlib", "functools", "queue", "os"),
    *("time", "struct", "abc", "collections"),
]

#: Modules the interpreter has imported before any code runs (not part of a command's cost).
_AT_START = {
    "_io", "marshal", "posix", "_frozen_importlib_external", "time", "zipimport", "codecs",
    "_codecs", "encodings", "encodings.aliases", "encodings.utf_8", "_signal", "abc", "_abc",
    "io", "site", "stat", "_stat", "_collections_abc", "posixpath", "genericpath", "os",
    "_sitebuiltins", "_distutils_hack", "sitecustomize",
}  # fmt: skip

#: CLI frameworks and HTTP stacks: what each is measured by importing.
ALTERNATIVES: dict[str, str] = {
    "click 8": "import click",
    "argparse (stdlib)": "import argparse",
    "httpx + httpcore + h11 (polyarch today)": "import httpx, httpcore, h11",
    "httpcore + h11 (httpx's transport alone)": "import httpcore, h11",
    "h11 alone": "import h11",
    "urllib3 2": "import urllib3",
    "http.client (stdlib)": "import http.client",
    "rich.console (progress, tables)": "import rich.console",
    "yaml (spec files)": "import yaml",
}

#: Per HTTP stack: setup (a client for plain HTTP) and one GET of URL with headers H.
REQUESTS: dict[str, tuple[str, str]] = {
    "polyarch RegistryClient (httpx, auth flow, hooks, deadline, retries)": (
        "from polyarch.transport.client import RegistryClient\n"
        "from polyarch.transport.settings import TransportSettings\n"
        "c = RegistryClient(TransportSettings())\n"
        "REG, PATH = URL.split('/', 3)[2], '/' + URL.split('/', 3)[3]\n"
        "get = lambda: c.request('GET', REG, PATH, headers=H).content",
        "get()",
    ),
    "httpx 0.28+ Client": (
        "import httpx\nc = httpx.Client(verify=False)\nget = lambda: c.get(URL, headers=H).content",
        "get()",
    ),
    "httpcore ConnectionPool": (
        "import httpcore\nc = httpcore.ConnectionPool()\n"
        "get = lambda: c.request('GET', URL, headers=H).content",
        "get()",
    ),
    "urllib3 2 PoolManager": (
        "import urllib3\nc = urllib3.PoolManager()\n"
        "get = lambda: c.request('GET', URL, headers=H).data",
        "get()",
    ),
    "http.client HTTPConnection": (
        "import http.client, urllib.parse\nu = urllib.parse.urlsplit(URL)\n"
        "c = http.client.HTTPConnection(u.netloc)\n"
        "def get():\n    c.request('GET', u.path, headers=H)\n    return c.getresponse().read()",
        "get()",
    ),
}

_ACCEPT = (
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json"
)


def _imports(modules: Sequence[str]) -> str:
    """Code importing ``modules`` in order, ignoring the ones that do not exist here."""
    return (
        "import importlib\n"
        f"for m in {list(modules)!r}:\n"
        "    try:\n        importlib.import_module(m)\n"
        "    except ImportError:\n        pass\n"
    )


_HEAD = "import sys\nsys.modules['httpx._main'] = None\n"  # as polyarch's CLI does
_END = "\nimport os\nos._exit(0)\n"


@dataclass
class StartupStudy:
    """Every figure in M instructions; ``ns_per_ir`` converts them for reading."""

    ns_per_ir: float
    rows: list[tuple[str, float, str]]  # (what, M Ir, note)
    alternatives: list[tuple[str, float]]  # (stack or framework, M Ir over BASE)
    per_request: list[tuple[str, float]]  # (stack, M Ir per GET)
    classes: list[tuple[str, float]]  # (kind, M Ir per class)

    def ms(self, mir: float) -> float:
        """Milliseconds of ``mir`` million instructions at this machine's rate."""
        return mir * self.ns_per_ir

    def markdown(self) -> str:
        """The study's tables."""
        rate = f"{self.ns_per_ir:.3f} ns per instruction"
        out = [
            f"| start-up, in instructions ({rate}) | M Ir | ms | note |",
            "| --- | --- | --- | --- |",
        ]
        out += [f"| {w} | {m:.1f} | {self.ms(m):.1f} | {n} |" for w, m, n in self.rows]
        out += [
            "",
            "| added over BASE (stdlib polyarch needs anyway) | M Ir | ms |",
            "| --- | --- | --- |",
        ]
        out += [f"| {w} | {m:.1f} | {self.ms(m):.1f} |" for w, m in self.alternatives]
        out += ["", "| one GET of a manifest, kept-alive connection | M Ir per request | ms |"]
        out += ["| --- | --- | --- |"]
        out += [f"| {w} | {m:.3f} | {self.ms(m):.3f} |" for w, m in self.per_request]
        out += [
            "",
            "| creating one class of 4 fields at import | M Ir per class | ms |",
            "| --- | --- | --- |",
        ]
        out += [f"| {w} | {m:.2f} | {self.ms(m):.2f} |" for w, m in self.classes]
        return "\n".join(out)


def _classes(python: str, tmp: Path) -> list[tuple[str, float]]:
    """Instructions to create one class of each kind at import (36 of them, per class)."""
    n = 36
    body = "    a: int\n    b: str\n    c: list[int] | None = None\n    d: int = 0\n\n"
    plain = (
        "class C{i}:\n    __slots__ = ('a', 'b', 'c', 'd')\n"
        "    def __init__(self, a: int, b: str, c: list[int] | None = None, d: int = 0)"
        " -> None:\n        self.a, self.b, self.c, self.d = a, b, c, d\n"
        "    def __eq__(self, other: object) -> bool:\n"
        "        return type(other) is type(self) and (self.a, self.b) == (other.a, other.b)\n\n"
    )
    kinds: dict[str, tuple[str, str]] = {
        "frozen dataclass (what polyarch uses)": (
            "import dataclasses\n",
            "@dataclasses.dataclass(frozen=True)\nclass C{i}:\n" + body,
        ),
        "frozen dataclass, slots": (
            "import dataclasses\n",
            "@dataclasses.dataclass(frozen=True, slots=True)\nclass C{i}:\n" + body,
        ),
        "dataclass": ("import dataclasses\n", "@dataclasses.dataclass\nclass C{i}:\n" + body),
        "typing.NamedTuple": ("import typing\n", "class C{i}(typing.NamedTuple):\n" + body),
        "plain class with __slots__, __init__, __eq__": ("", plain),
        "msgspec.Struct, frozen (if installed)": (
            "import msgspec\n",
            "class C{i}(msgspec.Struct, frozen=True):\n" + body,
        ),
    }
    out = []
    for k, (kind, (prelude, template)) in enumerate(kinds.items()):
        if prelude and not _runs(python, prelude):
            continue
        module = tmp / f"classes{k}.py"
        header = "from __future__ import annotations\n" + prelude
        module.write_text(header + "".join(template.format(i=i) for i in range(n)))
        subprocess.run([python, "-m", "compileall", "-q", str(module)], check=True)
        load = f"import sys\nsys.path.insert(0, {str(tmp)!r})\n{prelude}"
        ir = count_python(python, load + f"import {module.stem}" + _END)
        ir -= count_python(python, load + _END)
        out.append((kind, ir / n / 1e6))
    return out


def _runs(python: str, code: str) -> bool:
    """Whether ``python -c CODE`` succeeds (an optional package is installed)."""
    return subprocess.run([python, "-c", code], capture_output=True, check=False).returncode == 0


def study(
    polyarch: str, registry: str, repository: str = "create/app", requests: int = 200
) -> StartupStudy:
    """Measure everything for the CLI ``polyarch`` (its venv's python) against ``registry``.

    ``repository`` of ``registry`` holds the single-platform images ``p0`` and ``p1``.
    """
    python = str(Path(polyarch).parent / "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARCH_")}
    env["POLYARCH_BLOB_CACHE"] = "off"
    sources = [f"{registry}/{repository}:p0", f"{registry}/{repository}:p1"]
    argv = [polyarch, "create", "-q", "-t", f"{registry}/{repository}:startup", *sources]
    modules = [n.name for n in walk(parse(importtime(argv)))]
    path = [m for m in modules if m not in _AT_START]
    deps = [m for m in path if not m.startswith("polyarch")]
    no_dataclasses = (
        "import dataclasses\n"
        "def _dataclass(cls=None, **kw):\n    return (lambda c: c) if cls is None else cls\n"
        "def _field(*, default=None, **kw):\n    return default\n"
        "dataclasses.dataclass, dataclasses.field = _dataclass, _field\n"
    )
    no_re = "import re\nre.compile = lambda pattern, flags=0: None\n"

    def mir(code: str) -> float:
        return count_python(python, _HEAD + code + _END) / 1e6

    empty = mir("pass")
    run = count(argv, env=env) / 1e6
    version = count([polyarch, "--version"], env=env) / 1e6
    everything = mir(_imports(path))
    base = mir("import " + ", ".join(BASE))
    deps_only = mir(_imports(deps))
    own = everything - deps_only
    own_modules = [m for m in path if m.startswith("polyarch")]
    own_no_dc = mir(_imports(deps) + no_dataclasses + _imports(own_modules)) - deps_only
    own_no_re = mir(_imports(deps) + no_re + _imports(own_modules)) - deps_only
    click = mir("import " + ", ".join(BASE) + "\nimport click") - base
    httpx = mir("import " + ", ".join(BASE) + "\nimport httpx, httpcore, h11") - base
    own_classes = sum(1 for m in path if m.startswith("polyarch"))
    rows = [
        ("interpreter start (`python -c pass`)", empty, "not part of the imports"),
        ("`polyarch --version`, whole process", version, "re (console script), typing"),
        ("`polyarch create` N=2, whole process", run, "start + imports + 7 requests"),
        (
            f"imports of the create path ({len(path)} modules)",
            everything - empty,
            "the goal's measure",
        ),
        ("- BASE: stdlib polyarch needs anyway", base - empty, ", ".join(BASE[:6]) + "..."),
        ("- click, over BASE", click, "inspect, uuid, click itself"),
        ("- httpx + httpcore + h11, over BASE", httpx, "urllib.request, http.cookiejar, email..."),
        (f"- polyarch's own modules ({own_classes})", own, ""),
        ("  - of which dataclasses' code generation", own - own_no_dc, "exec() per method"),
        ("  - of which re.compile at import", own - own_no_re, ""),
        (
            "- the rest (other stdlib: overlaps, difflib, locale...)",
            everything - empty - (base - empty) - click - httpx - own,
            "",
        ),
    ]
    alternatives = [
        (name, mir("import " + ", ".join(BASE) + "\n" + code) - base)
        for name, code in ALTERNATIVES.items()
        if _runs(python, code)
    ]
    url = f"http://{registry}/v2/{repository}/manifests/p0"
    per_request = []
    for name, (setup, get) in REQUESTS.items():
        if not _runs(python, setup.split("\n")[0]):
            continue
        prelude = f"URL = {url!r}\nH = {{'Accept': {_ACCEPT!r}}}\n" + setup + "\n" + get + "\n"
        one = mir(prelude)
        many = mir(prelude + f"for _ in range({requests}):\n    {get}\n")
        per_request.append((name, (many - one) / requests))
    with tempfile.TemporaryDirectory(prefix="polyarch-classes-") as tmp:
        classes = _classes(python, Path(tmp))
    # The machine's rate: the create path's imports, best wall time against instructions.
    code = _HEAD + _imports(path) + _END
    spent = best_seconds([python, "-c", code]) - best_seconds([python, "-c", "pass"])
    ns_per_ir = spent / ((everything - empty) * 1e6) * 1e9
    return StartupStudy(ns_per_ir, rows, alternatives, per_request, classes)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the study for ``--polyarch`` against ``--registry``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--polyarch", required=True, help="the installed polyarch CLI")
    parser.add_argument("--registry", required=True, help="host:port with create/app:p0, p1")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    result = study(args.polyarch, args.registry, requests=args.requests)
    print(result.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
