"""Real cosign and oras (Debian 13 packages, unpacked by ``scripts/debian.sh trixie``) for tests.

:func:`find_tools` installs them with ``scripts/debian.sh trixie install cosign oras`` when
they are missing (CI machines are fresh); when that fails the caller gets ``None`` and
reports it through :func:`support.require.missing` (a failure under CI, a loud skip
elsewhere). :class:`SigTools` runs them against loopback registries over plain HTTP,
with a private HOME and a generated cosign key pair, never touching the network.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = ROOT / "scripts" / "debian.sh"
TOOLS = ("cosign", "oras")
#: The key pair's passphrase (a test secret: the key signs nothing but test images).
PASSWORD = "polyarch-test-key"


def _bin_dir() -> Path:
    out = subprocess.run(
        ["bash", str(DEBIAN), "trixie", "bin"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return Path(out.stdout.strip())


def find_tools() -> tuple[Path | None, str]:
    """The directory holding cosign and oras, installing them when missing.

    Returns ``(directory, "")``, or ``(None, reason)`` when they cannot be had.
    """
    try:
        bin_dir = _bin_dir()
        if not all(os.access(bin_dir / t, os.X_OK) for t in TOOLS):
            subprocess.run(
                ["bash", str(DEBIAN), "trixie", "install", *TOOLS],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
    except (OSError, subprocess.SubprocessError) as exc:
        return (
            None,
            f"cosign/oras not available (bash scripts/debian.sh trixie install cosign oras): {exc}",
        )
    if not all(os.access(bin_dir / t, os.X_OK) for t in TOOLS):
        return None, f"cosign/oras not found in {bin_dir} after scripts/debian.sh trixie install"
    return bin_dir, ""


@dataclass
class SigTools:
    """cosign and oras with a private HOME and one key pair (``cosign.key``/``.pub``)."""

    bin_dir: Path
    home: Path

    def env(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "PATH": f"{self.bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "COSIGN_PASSWORD": PASSWORD,
            "DOCKER_CONFIG": str(self.home / ".docker"),
            "TUF_ROOT": str(self.home / ".sigstore"),
        }

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``tool ARGS`` in ``home``; raises with its output when ``check`` and it fails."""
        proc = subprocess.run(
            [str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            cwd=self.home,
            env=self.env(),
            timeout=180,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{tool} {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    @property
    def key(self) -> Path:
        return self.home / "cosign.key"

    @property
    def pub(self) -> Path:
        return self.home / "cosign.pub"

    def generate_key_pair(self) -> None:
        if not self.key.exists():
            self.run("cosign", "generate-key-pair")

    def sign(self, ref: str, *, recursive: bool = True) -> None:
        """``cosign sign --key`` (no transparency log), the index and, recursively, its images."""
        args = ["sign", "--key", str(self.key), "--tlog-upload=false"]
        args += ["--allow-insecure-registry", "--yes"]
        if recursive:
            args.append("--recursive")
        self.run("cosign", *args, ref)

    def verify(self, ref: str) -> subprocess.CompletedProcess[str]:
        """``cosign verify --key`` without the transparency log; not checked."""
        return self.run(
            "cosign",
            "verify",
            "--key",
            str(self.pub),
            "--insecure-ignore-tlog",
            "--allow-insecure-registry",
            ref,
            check=False,
        )

    def attach_sbom(self, ref: str, artifact_type: str = "application/spdx+json") -> str:
        """``oras attach`` an SPDX document to ``ref``; returns the referrer's digest."""
        doc = self.home / "sbom.spdx.json"
        doc.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": ref}))
        proc = self.run(
            "oras",
            "attach",
            "--plain-http",
            "--artifact-type",
            artifact_type,
            "--format",
            "json",
            ref,
            f"{doc.name}:{artifact_type}",
        )
        out: dict[str, Any] = json.loads(proc.stdout)
        return str(out["digest"])

    def discover(self, ref: str) -> list[dict[str, Any]]:
        """``oras discover`` (direct referrers, JSON): the listed descriptors."""
        proc = self.run("oras", "discover", "--plain-http", "--format", "json", ref)
        out: dict[str, Any] = json.loads(proc.stdout)
        return list(out.get("referrers") or out.get("manifests") or [])
