"""scripts/engine.sh: engines beside the running ones, and stop puts binfmt_misc back.

The demo and scripts/test.sh start engines with ``scripts/engine.sh start`` and stop them
with ``stop``; ``start`` enables every QEMU handler binfmt-support knows (29 on Debian 12),
``stop`` must leave them as they were before (issue: the demo left all 29 enabled where 1
was). Here another engine of the same kind as the tests' one runs in its own directory beside
it (its own sockets, data and exec roots), with two handlers set aside first: one disabled,
one absent; after ``stop`` they are disabled and absent again, the others untouched, and
nothing of that engine is left mounted or running. With both engines in one directory, the
state is recorded once (first start) and put back once (when the last one stops). Needs root
(as in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.engine import Engine
from support.require import missing

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "engine.sh"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
#: Two handlers no test runs: set aside (disabled, removed) for the test, restored after.
DISABLED, ABSENT = "qemu-xtensaeb", "qemu-sh4eb"


def engine_sh(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POLYARCH_ENGINE_DIR": str(home), **(env or {})}
    env.pop("DOCKER_HOST", None)
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def state(name: str) -> str:
    entry = BINFMT / name
    if not entry.exists():
        return "absent"
    return "enabled" if entry.read_text().startswith("enabled") else "disabled"


def states() -> dict[str, str]:
    names = sorted(p.name for p in Path("/usr/share/binfmts").glob("qemu-*"))
    return {name: state(name) for name in names}


@pytest.fixture
def handlers_set_aside() -> Iterator[dict[str, str]]:
    """binfmt_misc with DISABLED disabled and ABSENT removed; as found afterwards."""
    if os.geteuid() != 0:
        missing("scripts/engine.sh needs root")
    versions = engine_sh(Path("/nonexistent"), "versions").stdout
    if "not installed" in versions:
        missing(f"engines not installed ({versions.strip()}): bash scripts/engine.sh install")
    if not (BINFMT / "status").exists() or not Path("/usr/share/binfmts", ABSENT).exists():
        missing("binfmt_misc or qemu-user-static missing: scripts/engine.sh install, start")
    found = states()
    (BINFMT / DISABLED).write_text("0")
    (BINFMT / ABSENT).write_text("-1")
    try:
        yield states()
    finally:
        for name, was in found.items():
            if state(name) == was:
                continue
            if was == "absent":
                (BINFMT / name).write_text("-1")
            elif state(name) == "absent":
                subprocess.run(["update-binfmts", "--enable", name], check=False)
            if was != "absent":
                (BINFMT / name).write_text("1" if was == "enabled" else "0")


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: containerd's sockets must fit 104 bytes."""
    path = Path(tempfile.mkdtemp(prefix="pa-engine-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_too_long_directory_is_refused_with_the_reason(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        missing("scripts/engine.sh needs root")
    home = tmp_path / ("x" * 80)
    started = engine_sh(home, "start")
    assert started.returncode == 1
    assert started.stderr.strip() == (
        f"engine: {home} is too long a path for the engine's unix sockets: set a shorter"
        " POLYARCH_ENGINE_DIR"
    )


def binfmt_d_line(name: str) -> str:
    """Debian 12's binfmt-support format of ``name`` as a systemd binfmt.d line (Debian 13's
    qemu-user-binfmt ships those): ``:NAME:M:OFFSET:MAGIC:MASK:INTERPRETER:FLAGS``."""
    fields = dict(
        line.split(" ", 1) for line in Path("/usr/share/binfmts", name).read_text().splitlines()
    )
    flags = "".join(
        flag
        for flag, key in (("P", "preserve"), ("C", "credentials"), ("F", "fix_binary"))
        if fields.get(key) == "yes"
    )
    return (
        f":{name}:M:{fields.get('offset', '0')}:{fields['magic']}:{fields['mask']}"
        f":{fields['interpreter']}:{flags}\n"
    )


@pytest.mark.parametrize("source", ["binfmt-support", "binfmt.d"])
def test_a_second_engine_starts_beside_and_stop_restores_binfmt(
    docker_engine: Engine, handlers_set_aside: dict[str, str], short_dir: Path, source: str
) -> None:
    name = docker_engine.name
    before = handlers_set_aside
    assert (before[DISABLED], before[ABSENT]) == ("disabled", "absent")
    home = short_dir / "engine"
    env: dict[str, str] = {}
    if source == "binfmt.d":
        # As on Debian 13: no binfmt-support formats, one binfmt.d file per handler. Only
        # ABSENT is described: DISABLED is unknown to the script and stays as it is.
        (short_dir / "binfmts").mkdir()
        (short_dir / "binfmt.d").mkdir()
        (short_dir / "binfmt.d" / f"{ABSENT}.conf").write_text(
            f"# {ABSENT}, as systemd-binfmt reads it\n{binfmt_d_line(ABSENT)}"
        )
        env = {
            "POLYARCH_BINFMTS_DIR": str(short_dir / "binfmts"),
            "POLYARCH_BINFMT_D_DIR": str(short_dir / "binfmt.d"),
        }
    try:
        started = engine_sh(home, "start", name, env=env)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "is up" in started.stdout, started.stdout
        assert "default builder's driver: docker" in started.stdout
        expected = "enabled" if source == "binfmt-support" else "disabled"
        assert (state(DISABLED), state(ABSENT)) == (expected, "enabled")
        if source == "binfmt.d":
            assert f"QEMU handlers enabled: {ABSENT.removeprefix('qemu-')}\n" in started.stdout
            assert "flags: PF" in (BINFMT / ABSENT).read_text()
        assert engine_sh(home, "running", name).returncode == 0
        exported = engine_sh(home, "env", name).stdout
        state_dir = home / name
        assert exported == (
            f"export DOCKER_HOST=unix://{state_dir}/docker.sock\n"
            f"export DOCKER_CONFIG={state_dir}/docker-config\n"
            f"export PATH={state_dir}/bin:$PATH\n"
        )
        info = subprocess.run(
            ["docker", "info", "--format", "{{.DockerRootDir}} {{.Driver}} {{.ServerVersion}}"],
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_HOST": f"unix://{state_dir}/docker.sock"},
            check=True,
        )
        # Its own data root; the containerd image store (snapshotter overlayfs); the same
        # dockerd as the tests' engine of that name.
        assert info.stdout.split() == [str(state_dir / "data"), "overlayfs", docker_engine.version]
    finally:
        stopped = engine_sh(home, "stop", name, env=env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert states() == before
    assert engine_sh(home, "running", name).returncode != 0
    mounts = Path("/proc/self/mounts").read_text()
    assert str(home) not in mounts
    assert not (state_dir / "dockerd.pid").exists()


def test_two_engines_record_binfmt_once_and_the_last_stop_restores_it(
    handlers_set_aside: dict[str, str], short_dir: Path
) -> None:
    # The state before the first start is the one put back, and only when no engine of that
    # directory runs any more: stopping one engine must not take QEMU away from the other.
    before = handlers_set_aside
    home = short_dir / "engines"
    try:
        started = engine_sh(home, "start", "docker26", "docker28")
        assert started.returncode == 0, started.stdout + started.stderr
        assert started.stdout.count(" is up ") == 2, started.stdout
        recorded = (home / "binfmt.before").read_text()
        assert f"{ABSENT} absent\n" in recorded and f"{DISABLED} disabled\n" in recorded
        assert (state(DISABLED), state(ABSENT)) == ("enabled", "enabled")
        again = engine_sh(home, "start", "docker28")  # reused: records nothing new
        assert "answers already" in again.stdout, again.stdout
        assert (home / "binfmt.before").read_text() == recorded
        first = engine_sh(home, "stop", "docker26")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "an engine of ours still runs: the QEMU handlers stay as they are" in first.stdout
        assert (state(DISABLED), state(ABSENT)) == ("enabled", "enabled")
        assert engine_sh(home, "running", "docker28").returncode == 0
    finally:
        last = engine_sh(home, "stop")
    assert last.returncode == 0, last.stdout + last.stderr
    assert "QEMU handlers put back as before the first start" in last.stdout
    assert states() == before
    assert not (home / "binfmt.before").exists()
    assert str(home) not in Path("/proc/self/mounts").read_text()
