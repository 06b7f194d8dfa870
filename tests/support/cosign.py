"""Real cosign 2.5 (Debian 13) and cosign 3.1 / oras 1.3 (Debian unstable) for signature tests.

cosign 2.5 and oras 1.2 come from :func:`support.sigtools.find_tools` (Debian 13,
``scripts/trixie.sh``). cosign 3.1 and oras 1.3 come from Debian sid, unpacked into a
private prefix by the repository's Debian script when it knows sid (``scripts/debian.sh sid``,
issue 19), else from ``$POLYARCH_SID_PREFIX`` (a prefix holding ``bin/`` or ``root/usr/bin/``
with them, made with an apt configuration of one's own, as GUIDE.md says). Measured on
Debian 12: both run as shipped (cosign 3.1.1-2 and oras 1.3.3-1 link only libc).

:class:`Cosign` knows the flags each version needs to sign with a key and no transparency
log, offline: cosign 3.1 refuses ``--tlog-upload=false`` unless ``--use-signing-config=false``
too ("--tlog-upload=false is not supported with --signing-config or --use-signing-config"),
and writes its bundle form unless ``--new-bundle-format=false``.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .sigtools import PASSWORD, find_tools

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = ROOT / "scripts" / "debian.sh"
SID_TOOLS = ("cosign", "oras")


def _sid_from_script() -> Path | None:
    if not DEBIAN.exists():
        return None
    out = subprocess.run(
        ["bash", str(DEBIAN), "sid", "bin"], capture_output=True, text=True, check=True, timeout=30
    )
    bin_dir = Path(out.stdout.strip())
    if not all(os.access(bin_dir / t, os.X_OK) for t in SID_TOOLS):
        subprocess.run(
            ["bash", str(DEBIAN), "sid", "install", *SID_TOOLS],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    return bin_dir


def find_sid_tools() -> tuple[Path | None, str]:
    """The directory holding cosign 3.1 and oras 1.3, or ``(None, reason)``."""
    try:
        bin_dir = _sid_from_script()
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cosign 3.1/oras 1.3 not available (scripts/debian.sh sid): {exc}"
    if bin_dir is None:
        prefix = os.environ.get("POLYARCH_SID_PREFIX")
        if not prefix:
            return None, (
                "cosign 3.1/oras 1.3 from Debian sid not found: scripts/debian.sh (issue 19) "
                "is not here and POLYARCH_SID_PREFIX is not set"
            )
        candidates = [Path(prefix) / "bin", Path(prefix) / "root" / "usr" / "bin"]
        bin_dir = next((c for c in candidates if (c / "cosign").exists()), candidates[0])
    if not all(os.access(bin_dir / t, os.X_OK) for t in SID_TOOLS):
        return None, f"cosign/oras not found in {bin_dir}"
    return bin_dir, ""


def find_cosign25() -> tuple[Path | None, str]:
    """The directory holding cosign 2.5 (Debian 13), or ``(None, reason)``."""
    return find_tools()


@dataclass
class Cosign:
    """One cosign binary with a private HOME; ``major`` is 2 or 3."""

    bin_dir: Path
    home: Path
    major: int

    def env(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "PATH": f"{self.bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "COSIGN_PASSWORD": PASSWORD,
            "DOCKER_CONFIG": str(self.home / ".docker"),
            "TUF_ROOT": str(self.home / ".sigstore"),
        }

    def run(
        self, *args: str, tool: str = "cosign", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``cosign ARGS`` (or ``tool``; ``env`` added to the environment); never raises
        on a non-zero exit."""
        self.home.mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            [str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            cwd=self.home,
            env={**self.env(), **(env or {})},
            timeout=180,
            check=False,
        )

    def generate_key_pair(self, name: str) -> tuple[Path, Path]:
        """``cosign generate-key-pair --output-key-prefix NAME``: (``NAME.key``, ``NAME.pub``)."""
        key, pub = self.home / f"{name}.key", self.home / f"{name}.pub"
        if not key.exists():
            proc = self.run("generate-key-pair", "--output-key-prefix", name)
            assert proc.returncode == 0, proc.stderr
        return key, pub

    def sign(
        self, ref: str, key: Path, *, recursive: bool = True, legacy: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Sign with ``key``, no transparency log; ``legacy`` asks cosign 3 for the tag form."""
        args = ["sign", "--key", str(key), "--tlog-upload=false", "--allow-insecure-registry"]
        args.append("--yes")
        if self.major >= 3:
            args.append("--use-signing-config=false")
            if legacy:
                args.append("--new-bundle-format=false")
        if recursive:
            args.append("--recursive")
        return self.run(*args, ref)

    def verify(self, ref: str, pub: Path) -> subprocess.CompletedProcess[str]:
        """``cosign verify --key PUB --insecure-ignore-tlog`` (offline); not checked."""
        return self.run(
            "verify", "--key", str(pub), "--insecure-ignore-tlog", "--allow-insecure-registry", ref
        )

    def discover(self, ref: str) -> list[dict[str, Any]]:
        """``oras discover`` (of this suite) at ``ref``: the listed descriptors."""
        proc = self.run("discover", "--plain-http", "--format", "json", ref, tool="oras")
        assert proc.returncode == 0, proc.stderr
        out: dict[str, Any] = json.loads(proc.stdout)
        return list(out.get("referrers") or out.get("manifests") or [])
