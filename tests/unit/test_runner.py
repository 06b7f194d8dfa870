"""DockerRunner without an engine: the docker CLI is a fake, binfmt_misc a directory."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from polyarch.domain.platform import Platform
from polyarch.engine.runner import OUTPUT_LIMIT, DockerRunner, RunResult, binfmt_name

AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
IMAGE = "127.0.0.1:5000/app@sha256:" + "ab" * 32
DOWN = (
    b"Cannot connect to the Docker daemon at unix:///var/run/docker.sock."
    b" Is the docker daemon running?\n"
)


@dataclass
class Reply:
    """What the fake ``docker`` answers to one subcommand."""

    code: int = 0
    out: bytes = b""
    err: bytes = b""


@dataclass
class FakeDocker:
    """Stands for :func:`subprocess.run`: answers by subcommand and records every call."""

    replies: dict[str, Reply | BaseException] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)
    kwargs: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        self.calls.append(list(argv))
        self.kwargs.append(kwargs)
        default = Reply(out=b"20.10.24\n") if argv[1] == "version" else Reply()
        reply = self.replies.get(argv[1], default)
        if isinstance(reply, BaseException):
            raise reply
        return subprocess.CompletedProcess(argv, reply.code, reply.out, reply.err)

    def subcommands(self) -> list[str]:
        return [argv[1] for argv in self.calls]


def binfmt(tmp_path: Path, handlers: dict[str, str] | None = None) -> Path:
    """A fake binfmt_misc directory with ``status`` and the given handler files."""
    root = tmp_path / "binfmt_misc"
    root.mkdir(parents=True)
    (root / "status").write_text("enabled\n")
    for name, text in (handlers or {}).items():
        (root / name).write_text(text)
    return root


def qemu(flags: str = "PF", state: str = "enabled") -> str:
    return (
        f"{state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: {flags}\n"
        "offset 0\nmagic 7f454c46\nmask ffffffff\n"
    )


def make(
    fake: FakeDocker,
    tmp_path: Path,
    handlers: dict[str, str] | None = None,
    host: str = "linux/amd64",
    **kwargs: Any,
) -> DockerRunner:
    return DockerRunner(
        run=fake,
        host=Platform.parse(host),
        binfmt_dir=binfmt(tmp_path, handlers),
        **kwargs,
    )


# --- engine_available -------------------------------------------------------------------


def test_engine_available_asks_for_the_server_version(tmp_path: Path) -> None:
    fake = FakeDocker()
    assert make(fake, tmp_path).engine_available() is None
    assert fake.calls == [["docker", "version", "--format", "{{.Server.Version}}"]]
    assert fake.kwargs[0]["capture_output"] is True
    assert fake.kwargs[0]["check"] is False


def test_engine_down_is_one_line(tmp_path: Path) -> None:
    fake = FakeDocker({"version": Reply(1, b"\n", DOWN)})
    reason = make(fake, tmp_path).engine_available()
    assert reason == (
        "no Docker engine: cannot connect to the Docker daemon at"
        " unix:///var/run/docker.sock. Is the docker daemon running?"
    )


def test_engine_without_server_version(tmp_path: Path) -> None:
    fake = FakeDocker({"version": Reply(0, b"\n", b"")})
    assert make(fake, tmp_path).engine_available() == (
        "no Docker engine: `docker version` exited 0"
    )


def test_docker_cli_not_found(tmp_path: Path) -> None:
    fake = FakeDocker({"version": FileNotFoundError(2, "No such file or directory")})
    runner = DockerRunner("/opt/none/docker", run=fake, binfmt_dir=tmp_path)
    assert (
        runner.engine_available() == "docker CLI not found ('/opt/none/docker'): install docker.io"
    )
    assert fake.calls[0][0] == "/opt/none/docker"


def test_engine_that_hangs(tmp_path: Path) -> None:
    fake = FakeDocker({"version": subprocess.TimeoutExpired(["docker"], 30)})
    reason = make(fake, tmp_path, timeout=5).engine_available()
    assert reason == "no Docker engine: `docker version` did not answer in time"
    assert fake.kwargs[0]["timeout"] == 5


# --- emulator_available -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "platform"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/amd64", "linux/386"),
        ("linux/arm64", "linux/arm64"),
        ("linux/arm64", "linux/arm/v7"),
    ],
)
def test_native_platforms_need_no_emulator(host: str, platform: str) -> None:
    runner = DockerRunner(run=FakeDocker(), host=Platform.parse(host), binfmt_dir=Path("/none"))
    assert runner.emulator_available(Platform.parse(platform)) is None
    assert runner.is_native(Platform.parse(platform))


def test_enabled_handler_with_fix_binary_flag(tmp_path: Path) -> None:
    runner = make(FakeDocker(), tmp_path, {"qemu-aarch64": qemu()})
    assert runner.emulator_available(ARM64) is None
    assert runner.emulator_available(Platform.parse("linux/arm64/v8")) is None
    assert not runner.is_native(ARM64)


def test_missing_handler(tmp_path: Path) -> None:
    runner = make(FakeDocker(), tmp_path, {"qemu-aarch64": qemu()})
    assert runner.emulator_available(Platform.parse("linux/s390x")) == (
        "no emulator for linux/s390x: install qemu-user-static and binfmt-support"
    )


def test_disabled_handler(tmp_path: Path) -> None:
    runner = make(FakeDocker(), tmp_path, {"qemu-aarch64": qemu(state="disabled")})
    assert runner.emulator_available(ARM64) == (
        "no emulator for linux/arm64: qemu-aarch64 is disabled"
        " (update-binfmts --enable qemu-aarch64)"
    )


def test_handler_without_fix_binary_flag(tmp_path: Path) -> None:
    runner = make(FakeDocker(), tmp_path, {"qemu-aarch64": qemu(flags="P")})
    reason = runner.emulator_available(ARM64)
    assert reason is not None
    assert reason.startswith("no emulator for linux/arm64: qemu-aarch64 lacks the F")


def test_binfmt_misc_not_mounted(tmp_path: Path) -> None:
    runner = DockerRunner(run=FakeDocker(), host=AMD64, binfmt_dir=tmp_path / "absent")
    assert runner.emulator_available(ARM64) == (
        f"no emulator for linux/arm64: binfmt_misc is not mounted at {tmp_path / 'absent'}"
        f" (mount binfmt_misc -t binfmt_misc {tmp_path / 'absent'})"
    )


def test_arm_variants_share_one_handler(tmp_path: Path) -> None:
    runner = make(FakeDocker(), tmp_path, {"qemu-arm": qemu()})
    for spec in ("linux/arm/v7", "linux/arm/v6", "linux/arm"):
        assert runner.emulator_available(Platform.parse(spec)) is None, spec


def test_amd64_on_an_arm64_host(tmp_path: Path) -> None:
    runner = make(FakeDocker(), tmp_path, {"qemu-x86_64": qemu()}, host="linux/arm64")
    assert runner.emulator_available(AMD64) is None
    assert runner.emulator_available(Platform.parse("linux/386")) == (
        "no emulator for linux/386: install qemu-user-static and binfmt-support"
    )


def test_unknown_architecture_and_other_os(tmp_path: Path) -> None:
    runner = make(FakeDocker(), tmp_path)
    assert runner.emulator_available(Platform.parse("linux/mips64le")) == (
        "no emulator for linux/mips64le: polyarch knows no QEMU handler for it"
    )
    assert runner.emulator_available(Platform.parse("windows/amd64")) == (
        "cannot run windows/amd64 images: the engine's host is linux/amd64"
    )


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("linux/arm64", "qemu-aarch64"),
        ("linux/amd64", "qemu-x86_64"),
        ("linux/arm/v7", "qemu-arm"),
        ("linux/386", "qemu-i386"),
        ("linux/ppc64le", "qemu-ppc64le"),
        ("linux/s390x", "qemu-s390x"),
        ("linux/riscv64", "qemu-riscv64"),
        ("linux/mips64le", None),
    ],
)
def test_binfmt_names(spec: str, name: str | None) -> None:
    assert binfmt_name(Platform.parse(spec)) == name


# --- run ----------------------------------------------------------------------------------


def test_run_pulls_then_runs_without_network(tmp_path: Path) -> None:
    fake = FakeDocker({"run": Reply(0, b"aarch64\n", b"")})
    runner = make(fake, tmp_path, {"qemu-aarch64": qemu()}, timeout=60)
    result = runner.run(IMAGE, ARM64, ["uname", "-m"])
    assert fake.subcommands() == ["version", "pull", "run"]
    assert fake.calls[1] == ["docker", "pull", "--quiet", "--platform", "linux/arm64", IMAGE]
    run = fake.calls[2]
    assert run[:3] == ["docker", "run", "--rm"]
    assert run[3] == "--name"
    assert run[4].startswith("polyarch-run-")
    assert run[5:] == ["--network", "none", "--platform", "linux/arm64", IMAGE, "uname", "-m"]
    assert fake.kwargs[2]["timeout"] == 60
    assert fake.kwargs[2]["stdin"] is subprocess.DEVNULL
    assert result == RunResult(ARM64, IMAGE, 0, "aarch64\n", "aarch64", False, None)
    assert result.ok


def test_run_natively_with_the_image_command(tmp_path: Path) -> None:
    fake = FakeDocker({"run": Reply(0, b"hello from x86_64\n", b"")})
    result = make(fake, tmp_path).run(IMAGE, AMD64, None)
    assert fake.calls[2][-1] == IMAGE
    assert result == RunResult(AMD64, IMAGE, 0, "hello from x86_64\n", None, True, None)


def test_machine_only_for_exactly_uname_m(tmp_path: Path) -> None:
    fake = FakeDocker({"run": Reply(0, b"Linux x 6.1 x86_64 GNU/Linux\n", b"")})
    runner = make(fake, tmp_path)
    assert runner.run(IMAGE, AMD64, ["uname", "-a"]).machine is None
    assert runner.run(IMAGE, AMD64, ("uname", "-m")).machine == "Linux x 6.1 x86_64 GNU/Linux"


def test_failing_container_is_a_result(tmp_path: Path) -> None:
    fake = FakeDocker({"run": Reply(3, b"out\n", b"boom\n")})
    result = make(fake, tmp_path).run(IMAGE, AMD64, ["uname", "-m"])
    assert result == RunResult(AMD64, IMAGE, 3, "out\nboom\n", None, True, None)
    assert not result.ok


def test_daemon_error_is_an_error(tmp_path: Path) -> None:
    err = (
        b"docker: Error response from daemon: failed to create shim task: OCI runtime"
        b" create failed: exec format error: unknown.\n"
    )
    fake = FakeDocker({"run": Reply(125, b"", err)})
    result = make(fake, tmp_path).run(IMAGE, AMD64, None)
    assert result.exit_code is None
    assert result.error == (
        f"cannot run {IMAGE} for linux/amd64: Error response from daemon: failed to create"
        " shim task: OCI runtime create failed: exec format error: unknown."
    )
    assert "exec format error" in result.output


def test_container_exiting_125_by_itself(tmp_path: Path) -> None:
    fake = FakeDocker({"run": Reply(125, b"", b"my own 125\n")})
    result = make(fake, tmp_path).run(IMAGE, AMD64, None)
    assert (result.exit_code, result.error) == (125, None)


def test_no_engine_stops_before_pulling(tmp_path: Path) -> None:
    fake = FakeDocker({"version": Reply(1, b"", DOWN)})
    result = make(fake, tmp_path).run(IMAGE, AMD64, ["uname", "-m"])
    assert fake.subcommands() == ["version"]
    assert result.exit_code is None
    assert result.error is not None
    assert result.error.startswith("no Docker engine: cannot connect")
    assert result.native


def test_no_emulator_stops_before_pulling(tmp_path: Path) -> None:
    fake = FakeDocker()
    result = make(fake, tmp_path).run(IMAGE, ARM64, ["uname", "-m"])
    assert fake.subcommands() == ["version"]
    assert result == RunResult(
        ARM64,
        IMAGE,
        None,
        "",
        None,
        False,
        "no emulator for linux/arm64: install qemu-user-static and binfmt-support",
    )


def test_pull_failure(tmp_path: Path) -> None:
    err = b"Error response from daemon: manifest for 127.0.0.1:5000/app not found\n"
    fake = FakeDocker({"pull": Reply(1, b"", err)})
    result = make(fake, tmp_path).run(IMAGE, AMD64, None)
    assert fake.subcommands() == ["version", "pull"]
    assert result.exit_code is None
    assert result.error == (
        f"cannot pull {IMAGE} for linux/amd64: Error response from daemon:"
        " manifest for 127.0.0.1:5000/app not found"
    )


def test_pull_timeout(tmp_path: Path) -> None:
    fake = FakeDocker({"pull": subprocess.TimeoutExpired(["docker"], 7)})
    result = make(fake, tmp_path, timeout=7).run(IMAGE, AMD64, None)
    assert result.error == f"pull of {IMAGE} for linux/amd64 timed out after 7 s"


def test_run_timeout_removes_the_container(tmp_path: Path) -> None:
    fake = FakeDocker({"run": subprocess.TimeoutExpired(["docker"], 2.5, b"partial\n", None)})
    result = make(fake, tmp_path, timeout=2.5).run(IMAGE, AMD64, ["sleep", "60"])
    assert fake.subcommands() == ["version", "pull", "run", "rm"]
    name = fake.calls[2][4]
    assert fake.calls[3] == ["docker", "rm", "--force", name]
    assert result.exit_code is None
    assert result.error == f"{IMAGE} for linux/amd64 did not finish in 2.5 s"
    assert result.output == "partial\n"


def test_output_is_capped_and_decoded_with_replacement(tmp_path: Path) -> None:
    out = b"H" * 1024 + b"\xff" + b"m" * 10_000 + b"T" * 3072
    fake = FakeDocker({"run": Reply(0, out, b"")})
    result = make(fake, tmp_path).run(IMAGE, AMD64, None)
    head, marker, tail = result.output.split("\n")
    assert head == "H" * 1024
    assert marker == f"[... {len(out) - OUTPUT_LIMIT} bytes omitted ...]"
    assert tail == "T" * 3072
    small = FakeDocker({"run": Reply(0, b"ok \xff\n", b"")})
    assert make(small, tmp_path / "x").run(IMAGE, AMD64, None).output == "ok \ufffd\n"


# docker 25+ (runc): the CLI prints the daemon's error, a containerd line, then its usage
# hint, and exits 127 (command not found) or 126 (cannot be invoked).
NOT_FOUND = (
    b"docker: Error response from daemon: failed to create task for container: failed to"
    b" create shim task: OCI runtime create failed: runc create failed: unable to start"
    b' container process: exec: "uname": executable file not found in $PATH: unknown.\n'
    b'time="2026-01-01T00:00:00Z" level=error msg="error waiting for container: context'
    b' canceled"\n'
    b"Run 'docker run --help' for more information\n"
)
# docker 17-19: the cause quoted, its own quotes escaped.
OLD_NOT_FOUND = (
    b"docker: Error response from daemon: OCI runtime create failed: container_linux.go:349:"
    b' starting container process caused "exec: \\"uname\\": executable file not found in'
    b' $PATH": unknown.\n'
)
PERMISSION = (
    b"docker: Error response from daemon: failed to create task for container: failed to"
    b" create shim task: OCI runtime create failed: runc create failed: unable to start"
    b' container process: exec: "/app": permission denied: unknown.\n'
    b"Run 'docker run --help' for more information\n"
)


@pytest.mark.parametrize(
    ("code", "err", "cause"),
    [
        (127, NOT_FOUND, 'exec: "uname": executable file not found in $PATH'),
        (127, OLD_NOT_FOUND, 'exec: "uname": executable file not found in $PATH'),
        (126, PERMISSION, 'exec: "/app": permission denied'),
        (125, NOT_FOUND, 'exec: "uname": executable file not found in $PATH'),
    ],
)
def test_container_that_cannot_start_reports_the_cause(
    tmp_path: Path, code: int, err: bytes, cause: str
) -> None:
    fake = FakeDocker({"run": Reply(code, b"", err)})
    result = make(fake, tmp_path).run(IMAGE, AMD64, ["uname", "-m"])
    assert (result.exit_code, result.ok) == (None, False)
    assert result.error == f"cannot start {IMAGE} for linux/amd64: {cause}"
    assert result.output == err.decode()


def test_container_exiting_127_by_itself(tmp_path: Path) -> None:
    fake = FakeDocker({"run": Reply(127, b"", b"sh: frobnicate: not found\n")})
    result = make(fake, tmp_path).run(IMAGE, AMD64, ["sh", "-c", "frobnicate"])
    assert (result.exit_code, result.error) == (127, None)
