"""The real Docker engine for the e2e tests: is one there, busybox images, build and push.

No Docker Hub here: images are ``FROM scratch`` with the ``busybox-static`` binary from
Debian's packages (``apt-get download busybox-static:ARCH``, extracted with
``dpkg-deb -x``), kept in a persistent cache (``$POLYARCH_TEST_CACHE``, else
``$XDG_CACHE_HOME/polyarch-tests``, else ``~/.cache/polyarch-tests``) so that later runs
need neither apt nor the network. A foreign architecture is added to dpkg
(``dpkg --add-architecture``) and the package lists updated only when its package is
not downloadable yet (that needs root, as in CI).

Images are built by the engine (BuildKit on the engine of ``scripts/engine.sh``) without any
``RUN`` step, so building a foreign platform's image needs no emulator; running it does
(QEMU via binfmt_misc).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from polyarch.domain.platform import Platform
from polyarch.engine.runner import DockerRunner
from support.cli import run_cli

#: How to get an engine, for skip and failure messages.
ENGINE_HINT = (
    "as root: `./scripts/engine.sh install && ./scripts/engine.sh start` starts a Docker 26"
    " engine with BuildKit and buildx (see .ci/run)"
)

#: Debian architecture of each platform the tests can build a busybox image for.
DEB_ARCH = {
    "linux/amd64": "amd64",
    "linux/arm64": "arm64",
    "linux/arm/v7": "armhf",
    "linux/arm/v5": "armel",
    "linux/386": "i386",
    "linux/ppc64le": "ppc64el",
    "linux/s390x": "s390x",
}

PACKAGE = "busybox-static"
_PUSH_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_APT_LOCK = ("-o", "DPkg::Lock::Timeout=300")


class EngineSetupError(RuntimeError):
    """Something the e2e tests need (engine, apt, a package) is not available."""


class CommandFailed(RuntimeError):
    """A command the helpers ran exited non-zero."""


def _run(argv: Sequence[str | Path], *, cwd: Path | None = None, timeout: float = 600) -> str:
    """Run ``argv``; its stdout, or :class:`CommandFailed` naming it with its stderr."""
    try:
        proc = subprocess.run(
            [str(a) for a in argv],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise CommandFailed(f"{argv[0]} not found") from exc
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise CommandFailed(f"`{' '.join(map(str, argv))}` exited {proc.returncode}: {detail}")
    return proc.stdout


# --- the engine ------------------------------------------------------------------------


def engine_dir() -> Path:
    """Where ``scripts/engine.sh`` keeps its engine (``$POLYARCH_ENGINE_DIR``)."""
    return Path(os.environ.get("POLYARCH_ENGINE_DIR") or "/tmp/polyarch-engine")


def use_script_engine() -> bool:
    """Point ``docker`` at the engine of ``scripts/engine.sh`` when DOCKER_HOST names none.

    Sets ``DOCKER_HOST`` (its socket) and ``DOCKER_CONFIG`` (its buildx plugin and state) in
    this process's environment, as ``eval "$(scripts/engine.sh env)"`` does in a shell, so
    that the tests, the CLI they run in-process and every ``docker`` they start use it. An
    explicit ``DOCKER_HOST`` wins. True when the script's engine is the one now used.
    """
    if os.environ.get("DOCKER_HOST"):
        return False
    home = engine_dir()
    if not (home / "docker.sock").is_socket():
        return False
    os.environ["DOCKER_HOST"] = f"unix://{home / 'docker.sock'}"
    if (home / "docker-config").is_dir() and not os.environ.get("DOCKER_CONFIG"):
        os.environ["DOCKER_CONFIG"] = str(home / "docker-config")
    return True


def require_engine(docker: str = "docker") -> str:
    """The server version of the local Docker engine, or :class:`EngineSetupError`.

    The engine of ``scripts/engine.sh`` is used when DOCKER_HOST names none
    (:func:`use_script_engine`).
    """
    use_script_engine()
    reason = DockerRunner(docker).engine_available()
    if reason is not None:
        raise EngineSetupError(f"{reason}: {ENGINE_HINT}")
    return _run([docker, "version", "--format", "{{.Server.Version}}"], timeout=30).strip()


# --- busybox from Debian ---------------------------------------------------------------


def cache_dir() -> Path:
    """The persistent cache directory of the e2e tests (created on demand)."""
    explicit = os.environ.get("POLYARCH_TEST_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "polyarch-tests"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path``, for parallel test runs sharing the cache."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _apt_download(spec: str, dest: Path) -> Path | None:
    """``apt-get download SPEC`` into ``dest``: the .deb, or ``None`` if apt cannot."""
    try:
        _run(["apt-get", *_APT_LOCK, "download", spec], cwd=dest)
    except CommandFailed:
        return None
    debs = sorted(dest.glob("*.deb"))
    return debs[0] if debs else None


def _make_downloadable(arch: str) -> None:
    """Add ``arch`` to dpkg's architectures if it is foreign and new, then ``apt-get update``."""
    try:
        native = _run(["dpkg", "--print-architecture"]).strip()
        foreign = _run(["dpkg", "--print-foreign-architectures"]).split()
        if arch != native and arch not in foreign:
            _run(["dpkg", "--add-architecture", arch])
        _run(["apt-get", *_APT_LOCK, "update", "-qq"])
    except CommandFailed as exc:
        raise EngineSetupError(
            f"cannot make {PACKAGE}:{arch} downloadable (as root: dpkg --add-architecture"
            f" {arch} && apt-get update): {exc}"
        ) from exc


def busybox_rootfs(platform: str, cache: Path | None = None) -> Path:
    """The files of Debian's ``busybox-static`` for ``platform``: ``bin/busybox`` inside.

    Downloaded and extracted once into the cache; later calls only check that the
    binary is there. Raises :class:`EngineSetupError` when apt cannot provide it.
    """
    key = str(Platform.parse(platform).normalized())
    if key not in DEB_ARCH:
        raise EngineSetupError(f"no Debian architecture known for {platform}")
    arch = DEB_ARCH[key]
    home = (cache or cache_dir()) / PACKAGE / arch
    rootfs = home / "rootfs"
    if (rootfs / "bin" / "busybox").is_file():
        return rootfs
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home / ".lock"):
        if (rootfs / "bin" / "busybox").is_file():
            return rootfs
        with tempfile.TemporaryDirectory(dir=home, prefix="download-") as tmp:
            work = Path(tmp)
            deb = _apt_download(f"{PACKAGE}:{arch}", work)
            if deb is None:
                _make_downloadable(arch)
                deb = _apt_download(f"{PACKAGE}:{arch}", work)
            if deb is None:
                raise EngineSetupError(f"apt-get download {PACKAGE}:{arch} failed")
            try:
                _run(["dpkg-deb", "-x", deb, work / "rootfs"])
            except CommandFailed as exc:
                raise EngineSetupError(str(exc)) from exc
            if not (work / "rootfs" / "bin" / "busybox").is_file():
                raise EngineSetupError(f"{deb.name} has no bin/busybox")
            shutil.rmtree(rootfs, ignore_errors=True)
            (work / "rootfs").rename(rootfs)
    return rootfs


# --- build and push --------------------------------------------------------------------


def dockerfile(*, fail_entrypoint: bool = False) -> str:
    """The test image: busybox only, no ``RUN`` (no emulation at build time), no symlinks."""
    cmd = '["false"]' if fail_entrypoint else '["sh", "-c", "echo hello from $(uname -m)"]'
    return f'FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\nCMD {cmd}\n'


def build_and_push(
    registry_host: str,
    repo: str,
    tag: str,
    platform: str,
    *,
    fail_entrypoint: bool = False,
    docker: str = "docker",
    rootfs: Path | None = None,
    keep_local: bool = False,
) -> str:
    """Build the busybox image for ``platform``, push it as ``HOST/REPO:TAG``, return its digest.

    The digest is the platform image manifest's, as ``polyarch resolve`` answers it: a
    BuildKit engine (``scripts/engine.sh``) pushes a wrapper (image + provenance attestation)
    whose digest ``docker push`` prints, the classic builder a plain Docker schema2 manifest;
    both are checked against what ``docker push`` printed. ``rootfs`` defaults to
    :func:`busybox_rootfs` for the platform. The local image is removed afterwards
    unless ``keep_local``, so that running it pulls from the registry.
    """
    source = rootfs if rootfs is not None else busybox_rootfs(platform)
    ref = f"{registry_host}/{repo}:{tag}"
    with tempfile.TemporaryDirectory(prefix="polyarch-build-") as tmp:
        ctx = Path(tmp)
        shutil.copy2(source / "bin" / "busybox", ctx / "busybox")
        (ctx / "Dockerfile").write_text(dockerfile(fail_entrypoint=fail_entrypoint))
        _run(
            [
                docker,
                "build",
                "--quiet",
                "--network",
                "none",
                "--platform",
                platform,
                "-t",
                ref,
                ctx,
            ]
        )
    try:
        pushed = _run([docker, "push", ref])
    finally:
        if not keep_local:
            subprocess.run(
                [docker, "rmi", "--force", ref], capture_output=True, check=False, timeout=120
            )
    found = _PUSH_DIGEST.findall(pushed)
    if not found:
        raise CommandFailed(f"`docker push {ref}` printed no digest: {pushed!r}")
    push_digest = found[-1]
    resolved = _resolve(ref)
    if resolved != push_digest and _resolve(f"{registry_host}/{repo}@{push_digest}") != resolved:
        raise CommandFailed(
            f"{ref}: docker push printed {push_digest} but polyarch resolves {resolved}"
        )
    return resolved


def _resolve(ref: str) -> str:
    """``polyarch resolve REF`` in a subprocess: the platform image manifest's digest."""
    result = run_cli("resolve", ref)
    if result.code != 0:
        raise CommandFailed(f"polyarch resolve {ref} exited {result.code}: {result.err.strip()}")
    return result.out.strip()
