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
   (N = 2, 8, 32): ``docker manifest create`` + ``push`` vs ``polyarch create`` (CLI
   subprocess, Python start-up included; and the library call in-process).
2. ``copy``: copy a 2-platform image of 4 random layers (256 MiB each; 32 MiB with
   ``--quick``) from registry A to a new repository in registry B:
   ``skopeo copy --all`` vs ``polyarch copy`` (default ``--jobs`` and ``--jobs 1``),
   with a ``curl -T`` upload of the same layers as the registry's ingest floor.
3. ``promote``: the same image to another repository of registry A: polyarch mounts;
   skopeo with a fresh blob-info cache moves every byte, with a warm one it mounts.

Nothing here is a test: it prints a markdown table (and ``--output`` writes JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform as host_platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import polyarch  # noqa: E402
from polyarch import mediatype  # noqa: E402
from polyarch.descriptor import Descriptor  # noqa: E402
from polyarch.digest import Digest  # noqa: E402
from polyarch.manifest import ImageManifest, Index, build_index, parse_manifest  # noqa: E402
from polyarch.operations.context import Context  # noqa: E402
from polyarch.operations.create import CreateRequest, create_index  # noqa: E402
from polyarch.operations.transfer import DEFAULT_JOBS  # noqa: E402
from polyarch.platform import Platform  # noqa: E402
from polyarch.reference import Reference  # noqa: E402
from polyarch.storage.base import CHUNK_SIZE, Repository  # noqa: E402
from support.images import push_image  # noqa: E402
from support.registry import RegistryServer  # noqa: E402

MIB = 1024 * 1024
#: Query parameter of the marker request that delimits one tool's requests in a log.
SENTINEL = "polyarch-bench-sentinel"
#: One line of distribution's combined access log.
ACCESS_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[\d.]+" (?P<status>\d{3}) (?P<size>\d+|-)'
)
#: 32 distinct platforms for the ``create`` scenario (docker manifest accepts them all).
PLATFORMS = [
    *(
        f"linux/{a}"
        for a in (
            "amd64", "arm64", "arm/v5", "arm/v6", "arm/v7", "386", "ppc64le", "ppc64",
            "s390x", "riscv64", "mips", "mipsle", "mips64", "mips64le", "loong64",
        )
    ),
    *(f"freebsd/{a}" for a in ("amd64", "arm64", "386", "arm/v6", "arm/v7", "riscv64", "ppc64le")),
    *(f"netbsd/{a}" for a in ("amd64", "arm64", "386")),
    *(f"openbsd/{a}" for a in ("amd64", "arm64", "386")),
    "illumos/amd64", "solaris/amd64", "aix/ppc64", "dragonfly/amd64",
]  # fmt: skip
#: The unprivileged user skopeo runs as when the bench runs as root (see :func:`skopeo_cmd`).
NOBODY = 65534
#: GNU time, for the peak RSS of a subprocess (see :func:`run_process`).
GNU_TIME = "/usr/bin/time"


# Measuring -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request as a registry's access log recorded it."""

    method: str
    uri: str
    status: int
    size: int

    @property
    def is_blob_read(self) -> bool:
        """A successful blob GET: ``size`` bytes of blob content served."""
        return self.method == "GET" and "/blobs/sha256:" in self.uri and self.status == 200


class AccessLog:
    """Reads the requests a registry logged between two points in time.

    The end of a window is marked by a request of our own (``GET /v2/?SENTINEL=token``):
    once its line is in the log, every request answered before it is too.
    """

    def __init__(self, server: RegistryServer, client: httpx.Client) -> None:
        self.server = server
        self._client = client
        self._offset = 0

    def mark(self) -> None:
        """Start a new window now (whatever was logged so far is skipped)."""
        self.take()

    def take(self) -> list[HttpRequest]:
        """The requests logged since the last mark, without the sentinels."""
        token = uuid.uuid4().hex
        self._client.get(f"{self.server.url}/v2/", params={SENTINEL: token})
        needle = token.encode()
        deadline = time.monotonic() + 10
        while True:
            with self.server.log_path.open("rb") as log:
                log.seek(self._offset)
                data = log.read()
            at = data.find(needle)
            end = data.find(b"\n", at) if at >= 0 else -1
            if end >= 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"sentinel never reached {self.server.log_path}")
            time.sleep(0.005)
        self._offset += end + 1
        requests = []
        for match in ACCESS_LINE.finditer(data[: end + 1].decode(errors="replace")):
            if SENTINEL in match["uri"]:
                continue
            size = match["size"]
            requests.append(
                HttpRequest(
                    match["method"],
                    match["uri"],
                    int(match["status"]),
                    int(size) if size.isdigit() else 0,
                )
            )
        return requests


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """A finished subprocess: wall time, exit code, output, peak RSS."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    maxrss_kib: int
    #: User plus system CPU time of the process (and anything it waited for).
    cpu_seconds: float


def run_process(argv: Sequence[str], *, env: dict[str, str] | None = None) -> ProcessResult:
    """Run ``argv`` to completion, measuring wall time and peak RSS.

    The RSS comes from GNU time (``%M``), not from ``os.wait4`` on our own child: a
    child forked from this (large) Python process inherits its RSS high-water mark,
    and Linux keeps it across ``exec``, so every tool would show at least our RSS.
    GNU time's own child is forked from a small process. Without GNU time, wait4's
    figure is used (an upper bound).
    """
    with (
        tempfile.NamedTemporaryFile("w+") as rss,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        command = [*argv]
        if os.access(GNU_TIME, os.X_OK):
            command = [GNU_TIME, "-f", "%M", "-o", rss.name, *argv]
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        rss.seek(0)
        reported = rss.read().strip().splitlines()
        maxrss = int(reported[-1]) if reported and reported[-1].isdigit() else usage.ru_maxrss
        return ProcessResult(
            seconds,
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            maxrss,
            usage.ru_utime + usage.ru_stime,
        )


def checked(result: ProcessResult, argv: Sequence[str]) -> ProcessResult:
    """``result``, or an error naming the command and its stderr."""
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:4])}… exited {result.returncode}: {result.stderr.strip()[-2000:]}"
        )
    return result


@dataclass
class Sample:
    """One run of one tool."""

    seconds: float
    requests: int
    by_method: dict[str, int]
    #: Blob bytes the registries served (GET /v2/…/blobs/…): what really moved.
    bytes_read: int
    rss_kib: int | None = None
    #: CPU time (user + system) of the tool's process, or of the in-process call.
    cpu_seconds: float | None = None
    #: polyarch's own count (``RegistryClient.stats.requests``), in-process runs only.
    client_requests: int | None = None


def of_process(result: ProcessResult, requests: Sequence[HttpRequest]) -> Sample:
    """A :class:`Sample` of one subprocess run."""
    return sample(
        result.seconds, requests, rss_kib=result.maxrss_kib, cpu_seconds=result.cpu_seconds
    )


def sample(seconds: float, requests: Sequence[HttpRequest], **extra: Any) -> Sample:
    """A :class:`Sample` from a wall time and the requests the registries logged."""
    by_method: dict[str, int] = {}
    for r in requests:
        by_method[r.method] = by_method.get(r.method, 0) + 1
    read = sum(r.size for r in requests if r.is_blob_read)
    return Sample(seconds, len(requests), dict(sorted(by_method.items())), read, **extra)


@dataclass
class Case:
    """One tool in one scenario case, and its samples."""

    scenario: str
    case: str
    tool: str
    polyarch: bool = False
    #: The peer the polyarch rows of this case are compared with.
    baseline: bool = False
    #: Bytes of content every run moves (for MB/s); else MB/s is blob bytes read / time.
    payload: int | None = None
    #: A transfer case: show blob bytes read and MB/s.
    transfer: bool = False
    note: str = ""
    samples: list[Sample] = field(default_factory=list)

    def median(self) -> float:
        """Median wall time in seconds."""
        return statistics.median(s.seconds for s in self.samples)

    def median_cpu(self) -> float | None:
        """Median CPU time in seconds, when measured."""
        cpu = [s.cpu_seconds for s in self.samples if s.cpu_seconds is not None]
        return round(statistics.median(cpu), 4) if cpu else None

    def to_json(self) -> dict[str, Any]:
        """Everything measured, for ``--output``."""
        seconds = [s.seconds for s in self.samples]
        return {
            "scenario": self.scenario,
            "case": self.case,
            "tool": self.tool,
            "polyarch": self.polyarch,
            "baseline": self.baseline,
            "payloadBytes": self.payload,
            "medianCpuSeconds": self.median_cpu(),
            "note": self.note,
            "medianSeconds": round(self.median(), 4),
            "minSeconds": round(min(seconds), 4),
            "maxSeconds": round(max(seconds), 4),
            "samples": [
                {
                    "seconds": round(s.seconds, 4),
                    "requests": s.requests,
                    "byMethod": s.by_method,
                    "blobBytesRead": s.bytes_read,
                    "maxRssKiB": s.rss_kib,
                    "cpuSeconds": None if s.cpu_seconds is None else round(s.cpu_seconds, 3),
                    "clientRequests": s.client_requests,
                }
                for s in self.samples
            ],
        }


Runner = Callable[[int], Sample]


def alternate(runs: int, tools: Sequence[tuple[Case, Runner]], label: str) -> None:
    """Run every tool ``runs`` times, in ABBA order so that no tool is always first."""
    for i in range(runs):
        order = list(tools) if i % 2 == 0 else list(reversed(tools))
        for case, runner in order:
            s = runner(i)
            case.samples.append(s)
            progress(f"{label} run {i + 1}/{runs} {case.tool}: {fmt_seconds(s.seconds)}")


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only the results)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# The bench environment ---------------------------------------------------------------


@dataclass
class Bench:
    """Registries, temp space and tools shared by every scenario."""

    root: Path
    a: RegistryServer
    b: RegistryServer
    http: httpx.Client
    polyarch: str
    runs: int
    layer_size: int
    logs: dict[str, AccessLog] = field(default_factory=dict)

    def log(self, server: RegistryServer) -> AccessLog:
        """The access-log reader of ``server``."""
        if server.host not in self.logs:
            self.logs[server.host] = AccessLog(server, self.http)
        return self.logs[server.host]

    def mark(self, *servers: RegistryServer) -> None:
        """Start a measurement window on ``servers``."""
        for server in servers:
            self.log(server).mark()

    def take(self, *servers: RegistryServer) -> list[HttpRequest]:
        """The requests ``servers`` answered in the window."""
        return [r for server in servers for r in self.log(server).take()]

    def tempdir(self, name: str) -> Path:
        """A fresh directory under the bench's temp root."""
        path = self.root / f"{name}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path


def polyarch_env() -> dict[str, str]:
    """The environment for polyarch subprocesses: ours, minus polyarch's own settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("POLYARCH_")}


def skopeo_cmd(cache: Path, args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """``skopeo ARGS`` with its blob-info cache in ``cache``.

    skopeo remembers where it saw each blob (``blob-info-cache-v1.boltdb``) and mounts
    from there later. For root that cache is the system-wide /var/lib/containers/cache,
    so as root skopeo runs as ``nobody`` (``setpriv``), whose cache follows
    ``XDG_DATA_HOME``: every run controls its cache and nothing outside the temp dir
    is touched. (As root without ``setpriv``, skopeo shares the system cache: its
    "fresh cache" rows may then mount after the first run.)
    """
    cache.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cache),
        "XDG_DATA_HOME": str(cache),
        "XDG_CONFIG_HOME": str(cache / "config"),
    }
    argv = ["skopeo", *args]
    if os.geteuid() == 0 and shutil.which("setpriv"):
        os.chown(cache, NOBODY, NOBODY)
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    return argv, env


SKOPEO_TLS = ("--src-tls-verify=false", "--dest-tls-verify=false")


# Scenario 0: start-up ------------------------------------------------------------------


def scenario_startup(bench: Bench) -> list[Case]:
    """How long each CLI takes to do nothing (``--version``): polyarch pays Python's start."""
    tools: list[tuple[Case, Runner]] = []
    commands = [
        ("polyarch --version", [bench.polyarch, "--version"], True, False),
        ("docker --version", ["docker", "--version"], False, True),
        ("skopeo --version", ["skopeo", "--version"], False, False),
    ]
    for name, argv, is_polyarch, is_baseline in commands:
        case = Case("0 start-up", "--version", name, polyarch=is_polyarch, baseline=is_baseline)

        def runner(i: int, argv: list[str] = argv) -> Sample:
            r = checked(run_process(argv, env=polyarch_env()), argv)
            return Sample(r.seconds, 0, {}, 0, r.maxrss_kib, r.cpu_seconds)

        tools.append((case, runner))
    alternate(bench.runs + 2, tools, "start-up")
    return [case for case, _ in tools]


# Scenario 1: create --------------------------------------------------------------------


def verify_index(reference: str, platforms: int) -> None:
    """Check that ``reference`` is an index with ``platforms`` images (not timed)."""
    ref = Reference.parse(reference)
    assert ref.tag is not None
    with Context() as ctx:
        manifest = ctx.repository(ref).get_manifest(ref.tag)
    if not isinstance(manifest, Index) or len(manifest.images) != platforms:
        raise RuntimeError(f"{reference}: expected an index of {platforms} images")


def scenario_create(bench: Bench, sizes: Sequence[int]) -> list[Case]:
    """Assemble an index from N tags of one repository and push it."""
    reg = bench.a
    repo_name = "create/app"
    progress(f"pushing {max(sizes)} single-platform images to {reg.host}/{repo_name}")
    with Context() as ctx:
        repo = ctx.repository(Reference.parse(f"{reg.host}/{repo_name}:p0"))
        for i, plat in enumerate(PLATFORMS[: max(sizes)]):
            push_image(repo, plat, tag=f"p{i}", docker=True)
    docker_config = bench.tempdir("docker-config")
    cases: list[Case] = []
    for n in sizes:
        sources = [f"{reg.host}/{repo_name}:p{i}" for i in range(n)]
        label = f"N={n}"
        docker_case = Case("1 create index", label, "docker manifest create+push", baseline=True)
        cli_case = Case("1 create index", label, "polyarch create (CLI)", polyarch=True)
        lib_case = Case("1 create index", label, "polyarch create (library)", polyarch=True)
        lib_case.note = "in-process: no interpreter start-up"

        def run_docker(i: int, n: int = n, sources: list[str] = sources) -> Sample:
            target = f"{reg.host}/{repo_name}:docker-{n}-{i}"
            env = {**os.environ, "DOCKER_CONFIG": str(docker_config)}
            create = ["docker", "manifest", "create", "--insecure", target, *sources]
            push = ["docker", "manifest", "push", "--insecure", "--purge", target]
            bench.mark(reg)
            first = checked(run_process(create, env=env), create)
            second = checked(run_process(push, env=env), push)
            requests = bench.take(reg)
            verify_index(target, n)
            return sample(
                first.seconds + second.seconds,
                requests,
                rss_kib=max(first.maxrss_kib, second.maxrss_kib),
                cpu_seconds=first.cpu_seconds + second.cpu_seconds,
            )

        def run_cli(i: int, n: int = n, sources: list[str] = sources) -> Sample:
            target = f"{reg.host}/{repo_name}:cli-{n}-{i}"
            argv = [bench.polyarch, "create", "-q", "-t", target, *sources]
            bench.mark(reg)
            r = checked(run_process(argv, env=polyarch_env()), argv)
            requests = bench.take(reg)
            verify_index(target, n)
            return of_process(r, requests)

        def run_library(i: int, n: int = n, sources: list[str] = sources) -> Sample:
            target = f"{reg.host}/{repo_name}:lib-{n}-{i}"
            bench.mark(reg)
            cpu = time.process_time()
            started = time.perf_counter()
            with Context() as ctx:
                create_index(CreateRequest.build([target], sources), ctx)
                client_requests = ctx.client.stats.requests
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            requests = bench.take(reg)
            verify_index(target, n)
            return sample(seconds, requests, client_requests=client_requests, cpu_seconds=cpu)

        tools = [(docker_case, run_docker), (cli_case, run_cli), (lib_case, run_library)]
        alternate(bench.runs, tools, f"create {label}")
        cases += [docker_case, cli_case, lib_case]
    return cases


# The big image -------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerFile:
    """A generated layer on disk and its descriptor."""

    path: Path
    descriptor: Descriptor
    diff_id: str


def make_layer(path: Path, size: int, seed: int) -> LayerFile:
    """Write a gzip layer of ``size`` random bytes (stored, level 0: valid and fast).

    Random data does not compress, so level 0 gives the same bytes on the wire as any
    level would, at no CPU cost. Memory stays at one chunk.
    """
    rng = random.Random(seed)
    compressor = zlib.compressobj(0, zlib.DEFLATED, 31)
    compressed, uncompressed = hashlib.sha256(), hashlib.sha256()
    written = 0
    with path.open("wb") as out:
        remaining = size
        while remaining:
            chunk = rng.randbytes(min(CHUNK_SIZE, remaining))
            remaining -= len(chunk)
            uncompressed.update(chunk)
            for data in (compressor.compress(chunk), b"" if remaining else compressor.flush()):
                compressed.update(data)
                out.write(data)
                written += len(data)
    descriptor = Descriptor(
        mediatype.OCI_LAYER_GZIP, Digest("sha256:" + compressed.hexdigest()), written
    )
    return LayerFile(path, descriptor, "sha256:" + uncompressed.hexdigest())


def file_chunks(path: Path) -> Iterator[bytes]:
    """The file in ``CHUNK_SIZE`` pieces (a streamed upload body)."""
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            yield chunk


def push_big_image(bench: Bench, reference: str) -> tuple[Index, list[LayerFile], float]:
    """Generate 4 layers and push a 2-platform index of 2 layers per image.

    Returns the index, the layer files and the seconds the library took to upload them.
    """
    ref = Reference.parse(reference)
    directory = bench.tempdir("layers")
    progress(f"generating 4 layers of {bench.layer_size // MIB} MiB in {directory}")
    layers = [make_layer(directory / f"layer{i}.gz", bench.layer_size, i) for i in range(4)]
    uploaded = 0.0
    with Context() as ctx:
        repo = ctx.repository(ref)
        progress(f"pushing them to {reference} with polyarch's library (streamed from files)")
        entries = []
        images = (("linux/amd64", layers[:2]), ("linux/arm64", layers[2:]))
        for p, (plat, pair) in enumerate(images):
            started = time.perf_counter()
            for layer in pair:
                repo.put_blob(layer.descriptor, file_chunks(layer.path))
            uploaded += time.perf_counter() - started
            entries.append(image_manifest(repo, Platform.parse(plat), pair, p))
        index = build_index(entries)
        assert ref.tag is not None
        repo.put_manifest(index, ref.tag)
    return index, layers, uploaded


def image_manifest(
    repo: Repository, plat: Platform, layers: Sequence[LayerFile], seed: int
) -> Descriptor:
    """Push a config and manifest over ``layers``; the descriptor for the index."""
    config = {
        **plat.to_oci(),
        "created": "2026-01-01T00:00:00Z",
        "config": {"Entrypoint": ["/bin/true"], "Labels": {"bench.seed": str(seed)}},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
    }
    raw = json.dumps(config).encode()
    config_desc = Descriptor(mediatype.OCI_CONFIG, Digest.of(raw), len(raw))
    repo.put_blob_bytes(config_desc, raw)
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "config": config_desc.to_json(),
        "layers": [layer.descriptor.to_json() for layer in layers],
    }
    manifest = parse_manifest(json.dumps(doc).encode(), mediatype.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest)
    return manifest.descriptor(plat)


def check_copy(reference: str, digest: Digest) -> None:
    """Check that ``reference`` now holds the index ``digest`` (not timed)."""
    ref = Reference.parse(reference)
    assert ref.tag is not None
    with Context() as ctx:
        found = ctx.repository(ref).head_manifest(ref.tag)
    if found is None or found.digest != digest:
        raise RuntimeError(f"{reference}: expected {digest}, found {found and found.digest}")


# Scenario 2: copy across registries ----------------------------------------------------


def curl_floor(bench: Bench, layers: Sequence[LayerFile], repo: str, parallel: int) -> None:
    """Upload the layer files to ``repo`` of B with ``curl -T``, ``parallel`` at a time."""
    todo = list(layers)
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                layer = todo.pop(0)
            start = bench.http.post(f"{bench.b.url}/v2/{repo}/blobs/uploads/")
            location = httpx.URL(bench.b.url).join(start.headers["Location"])
            url = location.copy_merge_params({"digest": str(layer.descriptor.digest)})
            argv = ["curl", "-sS", "-f", "-o", "/dev/null", "-X", "PUT", "-T", str(layer.path)]
            argv += ["-H", "Content-Type: application/octet-stream", str(url)]
            result = run_process(argv)
            if result.returncode != 0:
                with lock:
                    errors.append(result.stderr)

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"curl upload failed: {errors[0]}")


def scenario_copy(bench: Bench, index: Index, layers: Sequence[LayerFile]) -> list[Case]:
    """Copy the big image from registry A to a new repository of registry B, every run."""
    a, b = bench.a, bench.b
    source = f"{a.host}/big/app:v1"
    payload = sum(layer.descriptor.size for layer in layers)
    label = f"{payload / 2**30:.2f} GiB" if payload >= 2**30 else f"{payload // MIB} MiB"
    scenario = "2 copy A→B"
    skopeo_case = Case(scenario, label, "skopeo copy --all", baseline=True)
    skopeo_case.note = "fresh blob-info cache every run"
    default_case = Case(scenario, label, f"polyarch copy (--jobs {DEFAULT_JOBS})", polyarch=True)
    jobs1_case = Case(scenario, label, "polyarch copy --jobs 1", polyarch=True)
    floor_case = Case(scenario, label, "floor: curl -T, 2 parallel")
    floor_case.note = (
        "the registry's ingest rate: upload only, from local files (no download, no manifests)"
    )
    for case in (skopeo_case, default_case, jobs1_case, floor_case):
        case.payload = payload
        case.transfer = True

    def run_skopeo(i: int) -> Sample:
        target = f"{b.host}/skopeo-{i}/app:v1"
        args = ["copy", "--all", "-q", *SKOPEO_TLS, f"docker://{source}", f"docker://{target}"]
        argv, env = skopeo_cmd(bench.tempdir("skopeo-cache"), args)
        bench.mark(a, b)
        r = checked(run_process(argv, env=env), argv)
        requests = bench.take(a, b)
        check_copy(target, index.digest)
        return of_process(r, requests)

    def polyarch_runner(prefix: str, extra: list[str]) -> Runner:
        def run(i: int) -> Sample:
            target = f"{b.host}/{prefix}-{i}/app:v1"
            argv = [bench.polyarch, "copy", *extra, source, target]
            bench.mark(a, b)
            r = checked(run_process(argv, env=polyarch_env()), argv)
            requests = bench.take(a, b)
            check_copy(target, index.digest)
            return of_process(r, requests)

        return run

    def run_floor(i: int) -> Sample:
        repo = f"floor-{i}/app"
        bench.mark(b)
        started = time.perf_counter()
        curl_floor(bench, layers, repo, parallel=2)
        seconds = time.perf_counter() - started
        return sample(seconds, bench.take(b))

    tools = [
        (skopeo_case, run_skopeo),
        (default_case, polyarch_runner("polyarch", [])),
        (jobs1_case, polyarch_runner("polyarch-j1", ["--jobs", "1"])),
        (floor_case, run_floor),
    ]
    alternate(bench.runs, tools, "copy A→B")
    return [case for case, _ in tools]


# Scenario 3: promotion within a registry -----------------------------------------------


def scenario_promote(bench: Bench, index: Index, layers: Sequence[LayerFile]) -> list[Case]:
    """Copy the big image to another repository of the same registry, every run."""
    a = bench.a
    source = f"{a.host}/big/app:v1"
    payload = sum(layer.descriptor.size for layer in layers)
    label = f"{payload / 2**30:.2f} GiB" if payload >= 2**30 else f"{payload // MIB} MiB"
    scenario = "3 promote A→A"
    cold = Case(scenario, label, "skopeo copy --all (fresh cache)", baseline=True, transfer=True)
    cold.note = "a fresh blob-info cache, as on a new CI runner: no mount, every byte moves"
    warm = Case(scenario, label, "skopeo copy --all (warm cache)", transfer=True)
    warm.note = "blob-info cache kept from earlier copies: skopeo mounts the layers it has seen"
    ours = Case(scenario, label, "polyarch copy", polyarch=True, transfer=True)
    warm_cache = bench.tempdir("skopeo-warm")
    warmup = ["copy", "--all", "-q", *SKOPEO_TLS, f"docker://{source}"]
    argv, env = skopeo_cmd(warm_cache, [*warmup, f"docker://{a.host}/warmup/app:v1"])
    progress("warming skopeo's blob-info cache with one untimed copy")
    checked(run_process(argv, env=env), argv)

    def skopeo_runner(prefix: str, cache: Callable[[], Path]) -> Runner:
        def run(i: int) -> Sample:
            target = f"{a.host}/{prefix}-{i}/app:v1"
            args = ["copy", "--all", "-q", *SKOPEO_TLS, f"docker://{source}", f"docker://{target}"]
            argv, env = skopeo_cmd(cache(), args)
            bench.mark(a)
            r = checked(run_process(argv, env=env), argv)
            requests = bench.take(a)
            check_copy(target, index.digest)
            return of_process(r, requests)

        return run

    def run_polyarch(i: int) -> Sample:
        target = f"{a.host}/promoted-{i}/app:v1"
        argv = [bench.polyarch, "copy", source, target]
        bench.mark(a)
        r = checked(run_process(argv, env=polyarch_env()), argv)
        requests = bench.take(a)
        check_copy(target, index.digest)
        return of_process(r, requests)

    tools = [
        (cold, skopeo_runner("skopeo-cold", lambda: bench.tempdir("skopeo-cache"))),
        (ours, run_polyarch),
        (warm, skopeo_runner("skopeo-warm", lambda: warm_cache)),
    ]
    alternate(bench.runs, tools, "promote A→A")
    return [case for case, _ in tools]


# Reporting -----------------------------------------------------------------------------


def fmt_seconds(seconds: float) -> str:
    """``88 ms`` below a second, ``6.20 s`` above."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


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
    baselines = {(c.scenario, c.case): c for c in cases if c.baseline}
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
        "peak RSS",
        "blob bytes read",
    ]
    rows = [head, ["---"] * len(head)]
    for c in cases:
        seconds = [s.seconds for s in c.samples]
        base = baselines.get((c.scenario, c.case))
        ratio = ""
        if c.polyarch and base is not None:
            ratio = f"{c.median() / base.median():.2f}x {base.tool.split()[0]}"
        requests = fmt_range([s.requests for s in c.samples]) if c.scenario[0] != "0" else ""
        read = statistics.median(s.bytes_read for s in c.samples)
        moved = c.payload or read
        rate = f"{moved / c.median() / 1e6:.0f}" if c.transfer and moved >= MIB else ""
        rss = [s.rss_kib for s in c.samples if s.rss_kib]
        cpu = c.median_cpu()
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
                fmt_bytes(statistics.median(rss) * 1024) if rss else "",
                fmt_bytes(read) if c.transfer else "",
            ]
        )
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    notes = list(dict.fromkeys(f"- {c.scenario}, {c.tool}: {c.note}" for c in cases if c.note))
    return "\n".join(lines + (["", *notes] if notes else []))


def version_of(argv: Sequence[str]) -> str:
    """The first line a ``--version`` command prints, or ``not installed``."""
    if shutil.which(argv[0]) is None and not os.access(argv[0], os.X_OK):
        return "not installed"
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except OSError as exc:
        return f"unavailable ({exc})"
    text = (result.stdout or result.stderr).strip().splitlines()
    return text[0] if text else "unknown"


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
        "skopeo": version_of(["skopeo", "--version"]),
        "podman": version_of(["podman", "--version"]),
        "buildah": version_of(["buildah", "--version"]),
    }


# Main ----------------------------------------------------------------------------------


def pick_tmpdir(layer_mib: int) -> str:
    """/dev/shm when it can hold what the bench writes (memory: no disk noise), else TMPDIR.

    Registry A keeps the image, B one copy (later copies are deduplicated) plus the
    upload in flight, and the layer files are generated once: about 4 times the image.
    """
    need = 4 * (4 * layer_mib * MIB) + 512 * MIB
    with contextlib.suppress(OSError):
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize >= need:
            return "/dev/shm"
    return tempfile.gettempdir()


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
        choices=["startup", "create", "copy", "promote"],
        help="run only these scenarios (repeatable)",
    )
    parser.add_argument("--output", type=Path, help="also write all samples as JSON here")
    parser.add_argument(
        "--tmpdir",
        type=Path,
        help="where the registries store blobs and the layers are generated "
        "(default: /dev/shm when it has room, so that the disk adds no noise; else $TMPDIR)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (debugging)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenarios and print the table."""
    args = parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    layer_mib = args.layer_mib or (32 if args.quick else 256)
    only = set(args.only or ["startup", "create", "copy", "promote"])
    cli = Path(sys.executable).parent / "polyarch"
    missing = [t for t in ("docker", "skopeo", "curl") if shutil.which(t) is None]
    if not cli.exists() or missing:
        print(f"missing: {', '.join(missing) or cli}", file=sys.stderr)
        return 2
    root = Path(
        tempfile.mkdtemp(prefix="polyarch-bench-", dir=args.tmpdir or pick_tmpdir(layer_mib))
    )
    root.chmod(0o755)  # skopeo may run as nobody and must reach its cache dir below
    a = RegistryServer(workdir=root / "registry-a")
    b = RegistryServer(workdir=root / "registry-b")
    started = time.monotonic()
    cases: list[Case] = []
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
                cases += scenario_create(bench, (2, 8, 32))
            if only & {"copy", "promote"}:
                index, layers, upload = push_big_image(bench, f"{a.host}/big/app:v1")
                total = sum(layer.descriptor.size for layer in layers)
                info["initial push (library, streamed from files)"] = (
                    f"{fmt_bytes(total)} in {upload:.2f} s, {total / upload / 1e6:.0f} MB/s"
                )
                if "copy" in only:
                    cases += scenario_copy(bench, index, layers)
                if "promote" in only:
                    cases += scenario_promote(bench, index, layers)
    finally:
        a.stop()
        b.stop()
        if args.keep:
            progress(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    info["load average at end"] = load()
    info["runs"] = str(runs)
    info["layer size"] = f"{layer_mib} MiB"
    info["bench wall time"] = f"{time.monotonic() - started:.0f} s"
    print("\n".join(f"- {key}: {value}" for key, value in info.items()))
    print()
    print(table(cases))
    if args.output:
        document = {"environment": info, "cases": [c.to_json() for c in cases]}
        args.output.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
