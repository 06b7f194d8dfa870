"""The peers polyarch is measured against: how each is found, run and described."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

NOBODY = 65534


#: Where scripts/trixie.sh unpacks Debian 13 tools (docker-buildx 0.13, skopeo 1.18, ...).
TRIXIE_PREFIX = Path(os.environ.get("POLYARCH_TRIXIE_PREFIX", "/opt/polyarch-trixie"))
TRIXIE_BIN = TRIXIE_PREFIX / "bin"
#: Debian 13's skopeo 1.18 and podman 5, runnable on Debian 12 too
#: (``scripts/trixie.sh glibc skopeo podman``: started by Debian 13 glibc's loader).
TRIXIE_GLIBC_BIN = TRIXIE_PREFIX / "glibc-bin"

#: The peers, strongest first: name -> (executable, arguments that print its version).
PEERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "buildx imagetools": ("docker-buildx", ("version",)),
    "crane": ("crane", ("version",)),
    "regctl": ("regctl", ("version",)),
    "skopeo": ("skopeo", ("--version",)),
    "docker manifest": ("docker", ("--version",)),
    "podman": ("podman", ("--version",)),
}


def polyarch_env(blob_cache: Path | None = None) -> dict[str, str]:
    """The environment for polyarch subprocesses: ours, minus polyarch's own settings.

    ``blob_cache``: the blob-info cache file for this run (None: the cache is off), so
    that every run starts from the state the scenario says, as skopeo's runs do.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARCH_")}
    env["POLYARCH_BLOB_CACHE"] = str(blob_cache) if blob_cache is not None else "off"
    return env


def find_tool(name: str) -> tuple[str | None, str]:
    """The path of peer ``name`` that runs here, and its version line or why it is missing.

    Looks first among the Debian 13 builds made runnable by ``scripts/trixie.sh glibc``
    (skopeo 1.18 and podman 5: the newest, so the strongest), then on PATH, then in
    scripts/trixie.sh's prefix. A binary that is found but does not run (e.g. Debian 13's
    skopeo unwrapped needs glibc 2.38, which Debian 12 lacks) is missing, with its own
    error as the reason: a peer is never silently dropped from the report.
    """
    executable, version_args = PEERS[name]
    reasons = []
    candidates = (
        str(TRIXIE_GLIBC_BIN / executable),
        shutil.which(executable),
        str(TRIXIE_BIN / executable),
    )
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
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
            return candidate, text[0] if text else "unknown version"
        reasons.append(f"{candidate}: {text[-1] if text else f'exit {result.returncode}'}")
    return None, "missing: " + ("; ".join(reasons) or f"{executable} not installed")


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
    Debian 13's podman checks at start for its network helper (netavark, which
    ``scripts/trixie.sh glibc podman`` unpacks) and for conmon (Debian's ``conmon``).
    """
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "containers.conf"
    helpers = TRIXIE_PREFIX / "root" / "usr" / "lib" / "podman"
    conf.write_text(f'[engine]\nhelper_binaries_dir = ["{helpers}"]\n')
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
    podman = find_tool("podman")[0] or "podman"
    return [podman, "--root", str(home / "root"), "--runroot", str(home / "run")], env
