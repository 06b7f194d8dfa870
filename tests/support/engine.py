"""The real Docker engine for the e2e tests: is one there, busybox images, build and push.

No Docker Hub here: images are ``FROM scratch`` with the ``busybox-static`` binary from
Debian's packages (``apt-get download busybox-static:ARCH``, extracted with
``dpkg-deb -x``), kept in a persistent cache (``$POLYARCH_TEST_CACHE``, else
``$XDG_CACHE_HOME/polyarch-tests``, else ``~/.cache/polyarch-tests``) so that later runs
need neither apt nor the network. A foreign architecture is added to dpkg
(``dpkg --add-architecture``) and the package lists updated only when its package is
not downloadable yet (that needs root, as in CI).

Images are built by an engine (BuildKit on an engine of ``scripts/engine.sh``) without any
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
from dataclasses import dataclass
from pathlib import Path

from polyarch.domain.platform import Platform
from polyarch.engine.runner import DockerRunner
from support.cli import run_cli

#: How to get the engines, for skip and failure messages.
ENGINE_HINT = (
    "as root, ./scripts/test.sh starts them (or `bash scripts/engine.sh install && bash"
    " scripts/engine.sh start`: Docker 26 and Docker 28.5 with BuildKit and buildx)"
)

ROOT = Path(__file__).resolve().parents[2]
ENGINE_SH = ROOT / "scripts" / "engine.sh"
#: The engines of scripts/engine.sh (``engine.sh names``): Debian 13's Docker 26 with buildx
#: 0.13 and containerd 1.7, Debian unstable's Docker 28.5 with buildx 0.29 and containerd 2.1.
ENGINES = ("docker26", "docker28")

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


# --- the engines ------------------------------------------------------------------------


def e2e_engines() -> tuple[str, ...]:
    """The engines the e2e tier runs on: all, or those ``$POLYARCH_E2E_ENGINES`` names.

    ``POLYARCH_E2E_ENGINES=docker28`` (comma-separated) runs the tier on a subset locally.
    """
    chosen = os.environ.get("POLYARCH_E2E_ENGINES", "").replace(",", " ").split()
    unknown = sorted(set(chosen) - set(ENGINES))
    if unknown:
        raise ValueError(f"POLYARCH_E2E_ENGINES names unknown engines {unknown}: {ENGINES}")
    return tuple(e for e in ENGINES if e in chosen) if chosen else ENGINES


@dataclass(frozen=True)
class Engine:
    """One engine of ``scripts/engine.sh``, active in this process's environment."""

    name: str
    #: ``docker version``'s server version, e.g. ``28.5.2+dfsg4``.
    version: str
    #: What ``engine.sh env NAME`` exports: DOCKER_HOST, DOCKER_CONFIG, PATH (its docker CLI).
    env: dict[str, str]

    @property
    def major(self) -> int:
        """The Docker major version (26, 28)."""
        return int(self.version.split(".", 1)[0])


def engine_env(name: str) -> dict[str, str]:
    """The environment ``eval "$(scripts/engine.sh env NAME)"`` would set, from this one."""
    out = _run(["bash", ENGINE_SH, "env", name], timeout=30)
    env: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.replace("$PATH", os.environ.get("PATH", "/usr/bin:/bin"))
    return env


@contextmanager
def activated(name: str) -> Iterator[Engine]:
    """Point ``docker`` (and polyarch, in-process and in subprocesses) at engine ``name``.

    Sets DOCKER_HOST, DOCKER_CONFIG (its own buildx plugin and state) and PATH (its own docker
    CLI first) in ``os.environ`` while the context lasts, as ``eval "$(scripts/engine.sh env
    NAME)"`` does in a shell; puts them back afterwards. Raises :class:`EngineSetupError` when
    the engine does not answer.
    """
    try:
        env = engine_env(name)
    except CommandFailed as exc:
        raise EngineSetupError(f"engine {name}: {exc}: {ENGINE_HINT}") from exc
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        reason = DockerRunner("docker").engine_available()
        if reason is not None:
            raise EngineSetupError(f"engine {name}: {reason}: {ENGINE_HINT}")
        version = _run(["docker", "version", "--format", "{{.Server.Version}}"], timeout=30)
        yield Engine(name, version.strip(), env)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def docker(*args: str | Path, timeout: float = 300) -> str:
    """Run the docker CLI of the active engine; its stdout, or fail the test with its stderr."""
    proc = subprocess.run(
        ["docker", *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"docker {' '.join(map(str, args))}: {proc.stderr[-3000:]}"
    return proc.stdout


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
