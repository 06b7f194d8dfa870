"""The newest readers of what we publish: crane, oras, skopeo 1.22 and podman 5.8 (Debian sid).

``scripts/setup.sh`` unpacks them with ``scripts/debian.sh sid install crane oras`` and
``scripts/debian.sh sid glibc skopeo podman`` (sid's skopeo and podman link a newer glibc than
Debian 12's: their copies in the prefix's ``glibc-bin`` use sid's loader). Each runs against a
loopback registry over plain HTTP, with its own state under a temporary directory; podman has
its own storage (``--root``/``--runroot``, vfs), registries.conf, policy and containers.conf.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = ROOT / "scripts" / "debian.sh"
HINT = (
    "as root: bash scripts/debian.sh sid install crane oras"
    " && bash scripts/debian.sh sid glibc skopeo podman"
)


def _sid(what: str) -> Path:
    out = subprocess.run(
        ["bash", str(DEBIAN), "sid", what], capture_output=True, text=True, check=True, timeout=30
    )
    return Path(out.stdout.strip())


def _run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 180) -> bytes:
    proc = subprocess.run(argv, capture_output=True, env=env, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stderr.decode(errors='replace')[-2000:]}"
    return proc.stdout


@dataclass(frozen=True)
class Readers:
    """Paths of the sid readers and a private home for their state."""

    crane: Path
    oras: Path
    skopeo: Path
    podman: Path
    netavark_dir: Path
    home: Path

    @classmethod
    def find(cls, home: Path) -> tuple[Readers | None, str]:
        """The readers, or ``(None, reason)`` when one of them does not run here."""
        try:
            bin_dir, glibc_bin, prefix = _sid("bin"), _sid("glibc-bin"), _sid("prefix")
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"scripts/debian.sh sid: {exc}: {HINT}"
        readers = cls(
            bin_dir / "crane",
            bin_dir / "oras",
            glibc_bin / "skopeo",
            glibc_bin / "podman",
            prefix / "root" / "usr" / "lib" / "podman",
            home,
        )
        for tool, args in (
            (readers.crane, ["version"]),
            (readers.oras, ["version"]),
            (readers.skopeo, ["--version"]),
            (readers.podman, ["--version"]),
        ):
            try:
                subprocess.run([tool, *args], capture_output=True, check=True, timeout=30)
            except (OSError, subprocess.SubprocessError) as exc:
                return None, f"{tool} does not run: {exc}: {HINT}"
        home.mkdir(parents=True, exist_ok=True)
        return readers, ""

    def version(self, tool: str) -> str:
        """The version line of ``tool`` (``crane``, ``oras``, ``skopeo``, ``podman``)."""
        args = ["--version"] if tool in ("skopeo", "podman") else ["version"]
        out = _run([str(getattr(self, tool)), *args]).decode()
        return out.strip().splitlines()[0]

    def crane_manifest(self, ref: str) -> bytes:
        return _run([str(self.crane), "manifest", "--insecure", ref], self._env())

    def oras_manifest(self, ref: str) -> bytes:
        return _run([str(self.oras), "manifest", "fetch", "--plain-http", ref], self._env())

    def skopeo_raw(self, ref: str) -> bytes:
        return _run(
            [str(self.skopeo), "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
            self._env(),
        )

    def podman_pull(self, ref: str, platform: str) -> dict[str, object]:
        """``podman pull --platform PLATFORM REF`` into its own store; ``podman image inspect``."""
        host = ref.split("/", 1)[0]
        (self.home / "registries.conf").write_text(
            f'[[registry]]\nlocation = "{host}"\ninsecure = true\n'
        )
        (self.home / "containers.conf").write_text(
            f'[engine]\nhelper_binaries_dir = ["{self.netavark_dir}"]\n'
        )
        policy = self.home / "policy.json"
        policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
        store = ["--root", str(self.home / "root"), "--runroot", str(self.home / "run")]
        podman = [str(self.podman), *store, "--storage-driver", "vfs"]
        env = {
            **self._env(),
            "CONTAINERS_CONF": str(self.home / "containers.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(self.home / "registries.conf"),
            "PODMAN_IGNORE_CGROUPSV1_WARNING": "1",
        }
        _run([*podman, "pull", "--quiet", "--signature-policy", str(policy),
              "--platform", platform, ref], env)  # fmt: skip
        (image,) = json.loads(_run([*podman, "image", "inspect", ref], env))
        _run([*podman, "rmi", "--force", ref], env)
        return image  # type: ignore[no-any-return]

    def _env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_DATA_HOME": str(self.home / "data"),
            "DOCKER_CONFIG": str(self.home / "docker"),
        }
