"""The real CLI as a child process, measured: its peak RSS, its signals, the files it opens.

* :func:`run_measured` runs ``python -m polyarch ARGS`` and reports the child's own peak
  resident set (``wait4(2)``'s ``ru_maxrss``, so no other process counts), with an
  address-space limit as a safety net: a child that would read a body without bound
  fails inside the limit instead of filling the machine. Linux carries a process's peak
  over ``exec`` from the memory it was forked from (``exec_mmap`` keeps the old mm's high
  water mark), so a child forked from the test process would start at the test process's
  RSS (over 300 MiB late in a full run): the CLI is spawned by a small launcher
  (:data:`_LAUNCH`, about 10 MiB) that reports the CLI's own peak;
* :func:`start_cli` starts it in its own session (a process group, as a shell's job), so
  that :func:`signal_group` delivers a signal the way a terminal's Ctrl-C does;
* :func:`run_counting_opens` runs it with a ``sys.addaudithook`` hook that writes one line
  per ``open`` of a file of the given names (``open()`` and ``os.open`` both raise the
  ``open`` audit event, relative ``dir_fd`` opens included): the work a command does,
  counted without timing it. The hook writes at once, so the CLI's ``os._exit`` loses
  nothing.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from support.cli import Result

__all__ = [
    "MIB",
    "Measured",
    "exited_within",
    "finish",
    "peak_rss_of_python",
    "run_counting_opens",
    "run_measured",
    "signal_group",
    "start_cli",
]

MIB = 1024 * 1024
#: Address space a measured child may map: far above any bounded run (threads and malloc
#: arenas reserve more than they touch), far below what a machine shared by several
#: engineers can give one test.
ADDRESS_SPACE_LIMIT = 3 * 1024 * MIB


@dataclass(frozen=True)
class Measured(Result):
    """A CLI run's result and its peak resident set size in bytes."""

    max_rss: int = 0


def _env(env: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, "POLYARCH_BLOB_CACHE": "off", **(env or {})}


#: ``python -c`` bootstrap: argv[1] resource limits ``NAME=VALUE,...`` (``AS``, ``FSIZE``,
#: ``NOFILE``: ``resource.RLIMIT_<NAME>``; empty: none), argv[2] the
#: file names whose opens are counted (comma-separated, may be empty), argv[3] where the
#: count goes, argv[4] how many counted opens end the process (exit 97; 0: no end), then
#: the CLI's arguments. A bootstrap, not ``preexec_fn``: the test process
#: runs proxy threads, and forking with threads must not run Python code in the child.
_BOOT = """
import os, resource, sys
limits, names, log = sys.argv[1], set(filter(None, sys.argv[2].split(","))), sys.argv[3]
stop, seen = int(sys.argv[4]), [0]
for item in filter(None, limits.split(",")):
    name, _, value = item.partition("=")
    resource.setrlimit(getattr(resource, "RLIMIT_" + name), (int(value), int(value)))
if names:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes)):
            name = os.path.basename(os.fsdecode(args[0]))
            if name in names:
                os.write(fd, name.encode() + b"\\n")
                seen[0] += 1
                if stop and seen[0] >= stop:
                    os.write(2, b"stopped by the test: too many opens\\n")
                    os._exit(97)

    sys.addaudithook(hook)
sys.argv = ["polyarch", *sys.argv[5:]]
from polyarch.cli import run
run()
"""


#: ``python -c`` launcher: argv[1] the file the CLI's peak RSS (KiB) goes to, then the
#: CLI's interpreter arguments. It spawns them (``posix_spawn``: the child starts from this
#: small process's memory), takes no SIGINT or SIGTERM itself (they reach the CLI, in the
#: same process group, reset to their defaults), and exits as the CLI did.
_LAUNCH = """
import os, signal, sys
stopping = (signal.SIGINT, signal.SIGTERM)
for signum in stopping:
    signal.signal(signum, signal.SIG_IGN)
pid = os.posix_spawn(sys.executable, [sys.executable, *sys.argv[2:]], os.environ,
                     setsigdef=stopping)
while True:
    try:
        _, status, usage = os.wait4(pid, 0)
        break
    except InterruptedError:
        pass
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def _command(
    args: Sequence[str],
    *,
    limits: Mapping[str, int] | None = None,
    names: Sequence[str] = (),
    log: str = "",
    stop: int = 0,
    rss_file: str | None = None,
) -> list[str]:
    shown = ",".join(f"{name}={value}" for name, value in (limits or {}).items())
    boot = [shown, ",".join(names), log or os.devnull, str(stop)]
    launch = [sys.executable, "-c", _LAUNCH, rss_file] if rss_file else [sys.executable]
    return [*launch, "-c", _BOOT, *boot, *args]


@dataclass
class Started:
    """A CLI child started by :func:`start_cli`; its output goes to files until it ends."""

    proc: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path
    #: Where the launcher writes the CLI's peak RSS (KiB).
    rss_path: Path


def start_cli(
    *args: str,
    env: dict[str, str] | None = None,
    limit_memory: bool = False,
    stdin: bytes = b"",
    limits: Mapping[str, int] | None = None,
) -> Started:
    """Start ``python -m polyarch ARGS`` in a new session (its own process group).

    ``stdin`` is what it reads on standard input (a password for ``--password-stdin``);
    ``limits`` are resource limits by ``resource.RLIMIT_*`` name (``{"FSIZE": 4096}``);
    ``limit_memory`` adds the address-space safety net.
    """
    limits = dict(limits or {})
    if limit_memory:
        limits["AS"] = ADDRESS_SPACE_LIMIT
    directory = Path(tempfile.mkdtemp(prefix="polyarch-cli-"))
    out_path, err_path, in_path = directory / "stdout", directory / "stderr", directory / "stdin"
    rss_path = directory / "rss"
    in_path.write_bytes(stdin)
    with out_path.open("wb") as out, err_path.open("wb") as err, in_path.open("rb") as given:
        proc = subprocess.Popen(
            _command(args, limits=limits, rss_file=str(rss_path)),
            stdin=given,
            stdout=out,
            stderr=err,
            env=_env(env),
            start_new_session=True,
        )
    return Started(proc, out_path, err_path, rss_path)


def signal_group(started: Started, signum: int) -> None:
    """Send ``signum`` to the child's process group, as a terminal's Ctrl-C does."""
    os.killpg(started.proc.pid, signum)


def finish(started: Started, timeout: float) -> Measured:
    """Wait for the child (SIGKILLed after ``timeout`` seconds, a hang guard); its result
    and peak RSS."""
    proc = started.proc
    status, usage = _wait4(proc.pid, timeout)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = started.out_path.read_text(errors="replace")
    err = started.err_path.read_text(errors="replace")
    try:  # the CLI's own peak, reported by the launcher
        peak = int(started.rss_path.read_text())
    except (OSError, ValueError):  # the launcher was killed (the hang guard): its figure
        peak = usage.ru_maxrss
    shutil.rmtree(started.out_path.parent, ignore_errors=True)
    return Measured(proc.returncode, out, err, peak * 1024)


def exited_within(started: Started, seconds: float) -> bool:
    """Whether the child has ended within ``seconds`` (it is not reaped: :func:`finish` does)."""
    deadline = time.monotonic() + seconds
    tick = threading.Event()
    while time.monotonic() < deadline:
        if _ended(started.proc.pid):
            return True
        tick.wait(0.01)
    return _ended(started.proc.pid)


def _ended(pid: int) -> bool:
    """Whether ``pid`` (our child) is a zombie or gone, without reaping it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _wait4(pid: int, timeout: float) -> tuple[int, resource.struct_rusage]:
    """``wait4`` with a deadline: polls with WNOHANG (a hang guard, never an assertion)."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got == pid:
            return status, usage
        if time.monotonic() >= deadline:
            os.killpg(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            return status, usage
        tick.wait(0.02)


def run_measured(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    stdin: bytes = b"",
    limits: Mapping[str, int] | None = None,
) -> Measured:
    """Run ``python -m polyarch ARGS`` to its end; its result and peak RSS."""
    started = start_cli(*args, env=env, limit_memory=True, stdin=stdin, limits=limits)
    return finish(started, timeout)


def peak_rss_of_python(code: str, timeout: float = 300) -> tuple[int, int]:
    """Run ``python -c CODE`` through the launcher: its exit code and peak RSS in bytes."""
    with tempfile.TemporaryDirectory(prefix="polyarch-rss-") as directory:
        rss = Path(directory) / "rss"
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCH, str(rss), "-c", code], timeout=timeout, check=False
        )
        return done.returncode, int(rss.read_text()) * 1024


def run_counting_opens(
    names: Sequence[str],
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    stop_at: int = 0,
) -> tuple[Result, dict[str, int]]:
    """Run the CLI counting the opens of files named ``names`` (base names): result, counts.

    ``stop_at``: the process ends (exit 97) at that many counted opens, so that a command
    doing far too much work fails its test fast instead of doing all of it.
    """
    with tempfile.TemporaryDirectory(prefix="polyarch-opens-") as directory:
        log = Path(directory) / "opens"
        proc = subprocess.run(
            _command(args, names=names, log=str(log), stop=stop_at),
            capture_output=True,
            text=True,
            env=_env(env),
            timeout=timeout,
            check=False,
        )
        lines = log.read_text().splitlines() if log.exists() else []
    counts = {name: lines.count(name) for name in names}
    return Result(proc.returncode, proc.stdout, proc.stderr), counts
