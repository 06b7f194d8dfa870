"""Measuring: registries' access logs, subprocess time/CPU/RSS, samples and cases."""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support.registry import RegistryServer

MIB = 1024 * 1024
#: Query parameter of the marker request that delimits one tool's requests in a log.
SENTINEL = "polyarch-bench-sentinel"
#: One line of distribution's combined access log.
ACCESS_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[\d.]+" (?P<status>\d{3}) (?P<size>\d+|-)'
)
#: 32 distinct platforms for the ``create`` scenario (docker manifest accepts them all).
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
    #: CPU time both registries spent during the run (serving A, ingesting into B): on a
    #: machine whose cores the tool shares with them, the bound on its wall time.
    registry_cpu_seconds: float | None = None


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

    def cpu_per_gib(self) -> float | None:
        """Median CPU seconds per GiB of blob bytes that moved, when both were measured.

        The bytes are those the registries served for blob GETs (what really moved, so a
        run that mounts every blob has none), not the payload: CPU per byte copied.
        """
        cpu = self.median_cpu()
        moved = statistics.median(s.bytes_read for s in self.samples) if self.samples else 0
        if cpu is None or moved < MIB:
            return None
        return round(cpu / (moved / 2**30), 4)

    def median_registry_cpu(self) -> float | None:
        """Median CPU seconds the registries spent per run, when measured."""
        cpu = [s.registry_cpu_seconds for s in self.samples if s.registry_cpu_seconds is not None]
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
            "medianCpuSecondsPerGiB": self.cpu_per_gib(),
            "medianRegistryCpuSeconds": self.median_registry_cpu(),
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
                    "registryCpuSeconds": (
                        None if s.registry_cpu_seconds is None else round(s.registry_cpu_seconds, 3)
                    ),
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


def fmt_seconds(seconds: float) -> str:
    """``88 ms`` below a second, ``6.20 s`` above."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only the results)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far (``/proc/PID/stat``, proc(5))."""
    # Fields after the command name (which may hold spaces): state is field 3 of proc(5),
    # utime and stime are fields 14 and 15, in clock ticks.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid(server: RegistryServer) -> int | None:
    """The pid of ``server``'s ``docker-registry serve CONFIG`` process, by its command line."""
    want = [b"serve", str(server.config_path).encode()]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "cmdline").read_bytes().split(b"\0")[1:3] == want:
                    return int(entry.name)
    return None


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
    pids: dict[str, int] = field(default_factory=dict)

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

    def registry_cpu(self, *servers: RegistryServer) -> float | None:
        """User + system CPU seconds ``servers`` have used so far (None when unknown)."""
        total = 0.0
        for server in servers:
            pid = self.pids.get(server.host) or server_pid(server)
            if pid is None:
                return None
            self.pids[server.host] = pid
            try:
                total += process_cpu_seconds(pid)
            except (OSError, ValueError, IndexError):
                return None
        return total

    def tempdir(self, name: str) -> Path:
        """A fresh directory under the bench's temp root."""
        path = self.root / f"{name}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path
