"""Start one platform's image with the local Docker engine (``polyarch verify --run``).

:class:`DockerRunner` drives the ``docker`` CLI: it checks that an engine answers
(:meth:`~DockerRunner.engine_available`), that the host can execute the platform's
binaries natively or through a QEMU ``binfmt_misc`` handler
(:meth:`~DockerRunner.emulator_available`), then pulls the image for that platform and
runs it once, without network, collecting the exit code and the output in a
:class:`RunResult`. A container that fails is a result, not an exception: only what
prevents the container from running at all (no engine, no emulator, a failed pull, a
daemon error, a timeout) is reported, in :attr:`RunResult.error`.

For example (with an engine and an arm64 emulator on an amd64 host)::

    runner = DockerRunner()
    result = runner.run("127.0.0.1:5000/app@sha256:5e2f...", Platform.parse("linux/arm64"),
                        ["uname", "-m"])
    result.exit_code, result.machine, result.native      # (0, 'aarch64', False)
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from polyarch.domain.platform import Platform, compatible
from polyarch.engine.process import run_captured

__all__ = ["OUTPUT_LIMIT", "DockerRunner", "RunResult", "binfmt_name"]

#: At most this many bytes of a container's output are kept (head and tail).
OUTPUT_LIMIT: Final = 4096
_HEAD: Final = 1024

#: Default location of the kernel's ``binfmt_misc`` file system.
BINFMT_DIR: Final = Path("/proc/sys/fs/binfmt_misc")

#: GOARCH name -> the machine name QEMU's ``binfmt_misc`` handlers use (``qemu-<name>``).
_BINFMT_NAMES: Final[dict[str, str]] = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "arm": "arm",
    "386": "i386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

#: ``docker run``'s own exit statuses (Docker's run reference, "Exit status"): 125 when the
#: daemon failed, 126 when the command cannot be invoked, 127 when it cannot be found. A
#: container's process may exit with these too: only with a daemon error line are they
#: docker's.
_DOCKER_RUN_FAILED: Final = frozenset({125, 126, 127})

#: Where runc's (and older engines') start failure says what went wrong: the cause is
#: after the last of these (``exec: "uname": executable file not found in $PATH``).
_START_FAILURE_MARKERS: Final = (
    "unable to start container process: ",
    "starting container process caused ",
)

#: How long ``docker version`` may take to answer.
_VERSION_TIMEOUT: Final = 30.0

_UNAME_M: Final = ("uname", "-m")

RunCallable = Callable[..., subprocess.CompletedProcess[bytes]]


def binfmt_name(platform: Platform) -> str | None:
    """The ``binfmt_misc`` handler QEMU registers for ``platform``, or ``None``.

    >>> binfmt_name(Platform.parse("linux/arm64")), binfmt_name(Platform.parse("linux/arm/v6"))
    ('qemu-aarch64', 'qemu-arm')
    """
    name = _BINFMT_NAMES.get(platform.normalized().architecture)
    return None if name is None else f"qemu-{name}"


@dataclass(frozen=True)
class RunResult:
    """What happened when one platform's image was started.

    ``exit_code`` is the container's exit status (``None`` when it could not run, see
    ``error``); ``output`` is its stdout followed by its stderr, at most
    :data:`OUTPUT_LIMIT` bytes (the head and the tail of longer output), decoded as
    UTF-8 with replacement characters; ``machine`` is what ``uname -m`` printed when the
    command was exactly ``["uname", "-m"]`` and it succeeded; ``native`` tells whether
    the host runs the platform without emulation.
    """

    platform: Platform
    #: The image that was run, as given (normally ``registry/repo@sha256:...``).
    image: str
    exit_code: int | None
    output: str
    machine: str | None
    native: bool
    #: Why the container could not run (no engine, no emulator, pull failed...), or ``None``.
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the container ran and exited with status 0."""
        return self.error is None and self.exit_code == 0


def _text(data: bytes | str | None) -> str:
    """Subprocess output as text (invalid UTF-8 replaced)."""
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")


def _cap(data: bytes) -> str:
    """``data`` decoded, cut to :data:`OUTPUT_LIMIT` bytes: its head and its tail."""
    if len(data) <= OUTPUT_LIMIT:
        return _text(data)
    omitted = len(data) - OUTPUT_LIMIT
    head = data[:_HEAD]
    tail = data[-(OUTPUT_LIMIT - _HEAD) :]
    return f"{_text(head)}\n[... {omitted} bytes omitted ...]\n{_text(tail)}"


def _first_line(text: str, default: str) -> str:
    """The first non-blank line of ``text``, stripped, or ``default``."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return default


def _start_cause(daemon: str) -> str | None:
    """What made a container fail to start, from docker's daemon error line, if it says.

    ``Error response from daemon: failed to create task for container: ... unable to start
    container process: exec: "uname": executable file not found in $PATH: unknown.`` gives
    ``exec: "uname": executable file not found in $PATH``.
    """
    ends = [daemon.rfind(m) + len(m) for m in _START_FAILURE_MARKERS if m in daemon]
    if not ends:
        return None
    cause = daemon[max(ends) :].strip().rstrip(".").removesuffix(": unknown").strip()
    # Older engines quote the cause, escaping its own quotes: "exec: \"x\": ...".
    if cause.startswith('"') and cause.endswith('"'):
        cause = cause[1:-1]
    return cause.replace('\\"', '"') or None


def _daemon_error(stderr: str) -> str | None:
    """The ``Error response from daemon`` line of a docker CLI's stderr, if any."""
    for line in stderr.splitlines():
        if "Error response from daemon" in line:
            return line.strip().removeprefix("docker: ").strip()
    return None


class DockerRunner:
    """Run images with the local Docker engine through the ``docker`` CLI.

    ``docker`` is the CLI to call (a name looked up in ``PATH`` or a path); ``run``
    stands for :func:`subprocess.run` (default:
    :func:`~polyarch.engine.process.run_captured`, which keeps a bounded head and tail
    of the output; tests inject a fake); ``host`` is the platform of the engine's machine
    (default :meth:`Platform.host`); ``timeout`` bounds each ``docker pull`` and ``docker
    run`` in seconds; ``binfmt_dir`` is where ``binfmt_misc`` is mounted.
    """

    def __init__(
        self,
        docker: str = "docker",
        *,
        run: RunCallable = run_captured,
        host: Platform | None = None,
        timeout: float = 300,
        binfmt_dir: Path = BINFMT_DIR,
    ) -> None:
        self.docker = docker
        self.host = host if host is not None else Platform.host()
        self.timeout = timeout
        self.binfmt_dir = binfmt_dir
        self._run = run

    def _call(self, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        """Run ``docker ARGS``, capturing its output as bytes; never raises on failure."""
        return self._run(
            [self.docker, *args],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def engine_available(self) -> str | None:
        """``None`` when a Docker engine answers, else a one-line reason why not."""
        args = ["version", "--format", "{{.Server.Version}}"]
        try:
            proc = self._call(args, min(self.timeout, _VERSION_TIMEOUT))
        except FileNotFoundError:
            return f"docker CLI not found ({self.docker!r}): install docker.io"
        except subprocess.TimeoutExpired:
            return "no Docker engine: `docker version` did not answer in time"
        except OSError as exc:
            return f"docker CLI cannot be started ({self.docker!r}): {exc.strerror or exc}"
        if proc.returncode == 0 and _text(proc.stdout).strip():
            return None
        reason = _first_line(_text(proc.stderr), f"`docker version` exited {proc.returncode}")
        reason = reason.removeprefix("docker: ").removeprefix("error: ").rstrip(".")
        return f"no Docker engine: {reason[:1].lower()}{reason[1:]}"

    def is_native(self, platform: Platform) -> bool:
        """Whether this host runs ``platform``'s binaries without emulation."""
        return compatible(self.host, platform)

    def emulator_available(self, platform: Platform) -> str | None:
        """``None`` when this host can run ``platform``, else a one-line reason why not.

        A platform the host runs natively (:func:`~polyarch.domain.platform.compatible`) needs
        nothing; another Linux platform needs an enabled QEMU handler in
        ``binfmt_misc`` (``qemu-aarch64`` for ``linux/arm64``...), registered with the
        ``F`` flag so that containers, which do not see the host's files, can use it.
        """
        if self.is_native(platform):
            return None
        shown = str(platform.normalized())
        if platform.normalized().os != "linux":
            return f"cannot run {shown} images: the engine's host is {self.host}"
        handler = binfmt_name(platform)
        if handler is None:
            return f"no emulator for {shown}: polyarch knows no QEMU handler for it"
        if not (self.binfmt_dir / "status").is_file():
            return (
                f"no emulator for {shown}: binfmt_misc is not mounted at {self.binfmt_dir}"
                f" (mount binfmt_misc -t binfmt_misc {self.binfmt_dir})"
            )
        try:
            lines = (self.binfmt_dir / handler).read_text().splitlines()
        except FileNotFoundError:
            return f"no emulator for {shown}: install qemu-user-static and binfmt-support"
        except OSError as exc:
            return f"no emulator for {shown}: cannot read {self.binfmt_dir / handler}: {exc}"
        if not lines or lines[0].strip() != "enabled":
            return (
                f"no emulator for {shown}: {handler} is disabled"
                f" (update-binfmts --enable {handler})"
            )
        flags = next((ln.split(":", 1)[1] for ln in lines if ln.startswith("flags:")), "")
        if "F" not in flags:
            return (
                f"no emulator for {shown}: {handler} lacks the F (fix-binary) flag, so"
                " containers cannot use it (install qemu-user-static, which sets it)"
            )
        return None

    def run(self, image: str, platform: Platform, command: Sequence[str] | None) -> RunResult:
        """Pull ``image`` for ``platform`` and run it once, without network.

        ``command`` replaces the image's ``CMD`` (the ``ENTRYPOINT`` stays); ``None`` or
        an empty sequence keeps it. The container is removed afterwards. Its exit code,
        whatever it is, is in the result; ``error`` is set (and ``exit_code`` is
        ``None``) only when it could not run: no engine, no emulator, the pull failed,
        the daemon refused to start it (``docker run`` exit status 125, 126 or 127 with a
        daemon error; the error then gives runc's cause, such as ``exec: "uname":
        executable file not found in $PATH``), or it did not finish within the timeout (it
        is then removed by force).
        """
        native = self.is_native(platform)
        spec = str(platform)
        args = list(command or ())

        def failed(error: str, output: str = "") -> RunResult:
            return RunResult(platform, image, None, output, None, native, error)

        reason = self.engine_available() or self.emulator_available(platform)
        if reason is not None:
            return failed(reason)

        try:
            pull = self._call(["pull", "--quiet", "--platform", spec, image], self.timeout)
        except subprocess.TimeoutExpired:
            return failed(f"pull of {image} for {spec} timed out after {self.timeout:g} s")
        if pull.returncode != 0:
            why = _first_line(_text(pull.stderr), f"`docker pull` exited {pull.returncode}")
            return failed(f"cannot pull {image} for {spec}: {why.removeprefix('docker: ')}")

        name = f"polyarch-run-{secrets.token_hex(6)}"
        run_args = ["run", "--rm", "--name", name, "--network", "none", "--platform", spec]
        try:
            proc = self._call([*run_args, image, *args], self.timeout)
        except subprocess.TimeoutExpired as exc:
            self._remove(name)
            partial = _as_bytes(exc.stdout) + _as_bytes(exc.stderr)
            return failed(f"{image} for {spec} did not finish in {self.timeout:g} s", _cap(partial))

        output = _cap(proc.stdout + proc.stderr)
        if proc.returncode in _DOCKER_RUN_FAILED:
            daemon = _daemon_error(_text(proc.stderr))
            if daemon is not None:
                cause = _start_cause(daemon)
                if cause is not None:
                    return failed(f"cannot start {image} for {spec}: {cause}", output)
                return failed(f"cannot run {image} for {spec}: {daemon}", output)
        machine = None
        if tuple(args) == _UNAME_M and proc.returncode == 0:
            machine = _first_line(_text(proc.stdout), "") or None
        return RunResult(platform, image, proc.returncode, output, machine, native)

    def _remove(self, name: str) -> None:
        """Remove container ``name`` by force, ignoring any failure."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self._call(["rm", "--force", name], _VERSION_TIMEOUT)


def _as_bytes(data: Any) -> bytes:
    """Partial output attached to :class:`subprocess.TimeoutExpired` as bytes."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    return b""
