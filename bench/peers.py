"""The peers polyarch is measured against: how each is found, run and described."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

NOBODY = 65534


def suite_prefix(suite: str) -> Path:
    """Where ``scripts/debian.sh SUITE`` unpacks a Debian suite's tools (trixie, sid)."""
    default = f"/opt/polyarch-{suite}"
    return Path(os.environ.get(f"POLYARCH_{suite.upper()}_PREFIX", default))


#: Where each peer is looked for, in order: ``SUITE:bin`` (``scripts/debian.sh SUITE install``),
#: ``SUITE:glibc-bin`` (``scripts/debian.sh SUITE glibc``: sid's skopeo 1.22 and podman 5.8,
#: trixie's skopeo 1.18 and podman 5.4, runnable on Debian 12 with their suite's glibc), or
#: ``PATH``. The two buildx peers are looked for in their own suite only: 0.29 (Debian sid, what
#: Docker 28/29 users run) and 0.13 (Debian 13).
PEERS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "buildx imagetools 0.29": ("docker-buildx", ("version",), ("sid:bin",)),
    "buildx imagetools 0.13": ("docker-buildx", ("version",), ("trixie:bin",)),
    "crane": ("crane", ("version",), ("sid:bin", "PATH")),
    "regctl": ("regctl", ("version",), ("PATH",)),
    "skopeo": ("skopeo", ("--version",), ("sid:glibc-bin", "trixie:glibc-bin", "PATH")),
    "docker manifest": ("docker", ("--version",), ("PATH",)),
    "podman": ("podman", ("--version",), ("sid:glibc-bin", "trixie:glibc-bin", "PATH")),
}


def polyarch_env(blob_cache: Path | None = None) -> dict[str, str]:
    """The environment for polyarch subprocesses: ours, minus polyarch's own settings.

    ``blob_cache``: the blob-info cache file for this run (None: the cache is off), so
    that every run starts from the state the scenario says, as skopeo's runs do.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARCH_")}
    env["POLYARCH_BLOB_CACHE"] = str(blob_cache) if blob_cache is not None else "off"
    return env


def _candidates(executable: str, places: Sequence[str]) -> list[tuple[str, str | None]]:
    """(path, suite or None) for each place a peer may be, in order."""
    found: list[tuple[str, str | None]] = []
    for place in places:
        if place == "PATH":
            path = shutil.which(executable)
            if path:
                found.append((path, None))
            continue
        suite, _, where = place.partition(":")
        found.append((str(suite_prefix(suite) / where / executable), suite))
    return found


def _package_version(suite: str, executable: str) -> str | None:
    """The Debian version of the package ``scripts/debian.sh`` unpacked ``executable`` from."""
    stamp = suite_prefix(suite) / "stamps" / executable
    try:
        return stamp.read_text().split("_")[1].replace("%3a", ":")
    except (OSError, IndexError):
        return None


def find_tool(name: str) -> tuple[str | None, str]:
    """The path of peer ``name`` that runs here, and its version line or why it is missing.

    Looks in the places :data:`PEERS` names, in order. A binary that is found but does not run
    (e.g. a suite's skopeo without its glibc) is missing, with its own error as the reason: a
    peer is never silently dropped from the report. A peer from a suite's prefix also names its
    Debian package version (Debian's crane prints no version of its own).
    """
    executable, version_args, places = PEERS[name]
    reasons = []
    for candidate, suite in _candidates(executable, places):
        if not os.access(candidate, os.X_OK):
            continue
        try:
            result = subprocess.run(
                [candidate, *version_args], capture_output=True, text=True, timeout=30, check=False
            )
        except OSError as exc:
            reasons.append(f"{candidate}: {exc}")
            continue
        text = (result.stdout or result.stderr).strip().splitlines()
        if result.returncode == 0:
            line = text[0] if text else "unknown version"
            package = _package_version(suite, executable) if suite else None
            return candidate, f"{line} (Debian {suite}: {package})" if package else line
        reasons.append(f"{candidate}: {text[-1] if text else f'exit {result.returncode}'}")
    if not reasons:
        where = ", ".join(places)
        reasons.append(
            f"{executable} not installed ({where})" if name != "regctl" else "not packaged"
        )
    return None, "missing: " + "; ".join(reasons)


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
    argv = [find_tool("skopeo")[0] or "skopeo", *args]
    if os.geteuid() == 0 and shutil.which("setpriv"):
        os.chown(cache, NOBODY, NOBODY)
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    return argv, env


SKOPEO_TLS = ("--src-tls-verify=false", "--dest-tls-verify=false")


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


def podman_cmd(home: Path, insecure: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The start of a ``podman`` command line with its own storage, config and registries.

    podman keeps images and manifest lists in a local store: here ``home`` (``--root``,
    ``--runroot``), so that nothing outside the temp dir is touched. ``insecure``: the
    registries (host:port) it may reach over plain HTTP (a registries.conf of its own).
    A suite's podman checks at start for its network helper (netavark, which
    ``scripts/debian.sh SUITE glibc podman`` unpacks beside it) and for conmon (Debian's
    ``conmon``).
    """
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "containers.conf"
    podman = find_tool("podman")[0] or "podman"
    helpers = [
        str(suite_prefix(suite) / "root" / "usr" / "lib" / "podman")
        for suite in ("sid", "trixie")
        if podman.startswith(str(suite_prefix(suite)) + "/")
    ]
    conf.write_text(f"[engine]\nhelper_binaries_dir = {helpers!r}\n".replace("'", '"'))
    registries = home / "registries.conf"
    registries.write_text(
        "".join(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n\n' for host in insecure)
    )
    env = {
        **os.environ,
        "CONTAINERS_CONF": str(conf),
        "CONTAINERS_REGISTRIES_CONF": str(registries),
        "PODMAN_IGNORE_CGROUPSV1_WARNING": "1",
    }
    return [podman, "--root", str(home / "root"), "--runroot", str(home / "run")], env
