"""Real cosign and oras for tests: Debian 13's (cosign 2.5, oras 1.2) and Debian unstable's
(cosign 3.1, oras 1.3), each unpacked into its private prefix by ``scripts/debian.sh``.

:func:`find_tools` (trixie) and :func:`find_sid_tools` (sid) install them with
``scripts/debian.sh SUITE install cosign oras`` when they are missing (CI machines are fresh);
when that fails the caller gets ``None`` and reports it through
:func:`support.require.missing` (a failure under CI, a loud skip elsewhere). Measured on
Debian 12: both suites' cosign and oras run as shipped (they link only libc).

:class:`SigTools` runs them against loopback registries over plain HTTP, with a private HOME
and a generated cosign key pair, never touching the network. :class:`Cosign` is one cosign
binary with the flags each version needs to sign with a key and no transparency log,
offline: cosign 3.1 refuses ``--tlog-upload=false`` unless ``--use-signing-config=false``
too ("--tlog-upload=false is not supported with --signing-config or
--use-signing-config"), and writes its bundle form unless ``--new-bundle-format=false``.
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


def _bin_dir(suite: str) -> Path:
    out = subprocess.run(
        ["bash", str(DEBIAN), suite, "bin"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return Path(out.stdout.strip())


def _find(suite: str) -> tuple[Path | None, str]:
    how = f"bash scripts/debian.sh {suite} install {' '.join(TOOLS)}"
    try:
        bin_dir = _bin_dir(suite)
        if not all(os.access(bin_dir / t, os.X_OK) for t in TOOLS):
            subprocess.run(
                ["bash", str(DEBIAN), suite, "install", *TOOLS],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cosign/oras of Debian {suite} not available ({how}): {exc}"
    if not all(os.access(bin_dir / t, os.X_OK) for t in TOOLS):
        return None, f"cosign/oras not found in {bin_dir} after {how}"
    return bin_dir, ""


def find_tools() -> tuple[Path | None, str]:
    """The directory holding Debian 13's cosign 2.5 and oras 1.2, installing them when missing.

    Returns ``(directory, "")``, or ``(None, reason)`` when they cannot be had.
    """
    return _find("trixie")


def find_sid_tools() -> tuple[Path | None, str]:
    """The directory holding Debian unstable's cosign 3.1 and oras 1.3 (as :func:`find_tools`)."""
    return _find("sid")


def tool_env(bin_dir: Path, home: Path) -> dict[str, str]:
    """The environment cosign and oras run in: ``bin_dir`` first on PATH, everything they
    keep (docker config, TUF cache) under the private ``home``, the key pair's password."""
    return {
        "HOME": str(home),
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "COSIGN_PASSWORD": PASSWORD,
        "DOCKER_CONFIG": str(home / ".docker"),
        "TUF_ROOT": str(home / ".sigstore"),
    }


@dataclass
class SigTools:
    """cosign and oras with a private HOME and one key pair (``cosign.key``/``.pub``)."""

    bin_dir: Path
    home: Path

    def env(self) -> dict[str, str]:
        return tool_env(self.bin_dir, self.home)

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


@dataclass
class Cosign:
    """One cosign binary (and the oras beside it) with a private HOME; ``major`` is 2 or 3."""

    bin_dir: Path
    home: Path
    major: int

    def env(self) -> dict[str, str]:
        return tool_env(self.bin_dir, self.home)

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
