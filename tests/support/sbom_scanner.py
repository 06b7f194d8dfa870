"""A small SBOM generator image of our own, and an engine where BuildKit can run it.

buildx's default SBOM scanner (``docker/buildkit-syft-scanner``) is an image on Docker Hub,
out of reach here; BuildKit runs any image that follows its SBOM scanning protocol
(moby/buildkit ``docs/attestations/sbom-protocol.md``): it starts the image's entrypoint
with ``BUILDKIT_SCAN_SOURCE`` (the built root filesystem, read-only) and
``BUILDKIT_SCAN_DESTINATION`` (a directory), and reads every file written there as an
in-toto statement (``predicateType`` ``https://spdx.dev/Document``; BuildKit fills in the
subject). :data:`SCANNER` is such a generator in busybox ``sh``: one SPDX 2.3 package per
regular file of the scanned root, with its SHA-256, made by ``polyarch-test-scanner-1.0``.

BuildKit runs the generator on the engine's default network. An engine started with
``--bridge=none`` has none ("network bridge not found", measured with Docker 26 and 28.5),
so :func:`netns_engine` starts one of scripts/engine.sh's engines in a network namespace of
its own (``POLYARCH_ENGINE_NETNS=1``), where it keeps Docker's bridge; the test registry is
reached from there through :class:`~support.netns.LoopbackBridge`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE_SCRIPT = ROOT / "scripts" / "engine.sh"
TOOL = "polyarch-test-scanner-1.0"

SCANNER = r"""#!/bin/busybox sh
# BuildKit SBOM scanning protocol: scan $BUILDKIT_SCAN_SOURCE, write in-toto statements
# into $BUILDKIT_SCAN_DESTINATION. One SPDX 2.3 package per regular file.
set -eu
bb=/bin/busybox
src="$BUILDKIT_SCAN_SOURCE"
out="$BUILDKIT_SCAN_DESTINATION"
name=$($bb basename "$src")
packages=""
n=0
for f in $($bb find "$src" -type f | $bb sort); do
  n=$((n + 1))
  sum=$($bb sha256sum "$f" | $bb cut -d' ' -f1)
  [ -n "$packages" ] && packages="$packages,"
  package="{\"SPDXID\":\"SPDXRef-Package-$n\",\"name\":\"${f#"$src"}\","
  package="$package\"versionInfo\":\"\",\"downloadLocation\":\"NOASSERTION\","
  package="$package\"checksums\":[{\"algorithm\":\"SHA256\",\"checksumValue\":\"$sum\"}]}"
  packages="$packages$package"
done
doc="{\"spdxVersion\":\"SPDX-2.3\",\"dataLicense\":\"CC0-1.0\",\"SPDXID\":\"SPDXRef-DOCUMENT\","
doc="$doc\"name\":\"$name\",\"documentNamespace\":\"https://polyarch.invalid/spdx/$name\","
doc="$doc\"creationInfo\":{\"created\":\"2026-01-01T00:00:00Z\",\"creators\":[\"Tool: TOOL\"]},"
doc="$doc\"packages\":[$packages]}"
statement="{\"_type\":\"https://in-toto.io/Statement/v0.1\","
statement="$statement\"predicateType\":\"https://spdx.dev/Document\",\"subject\":[],"
echo "$statement\"predicate\":$doc}" >"$out/$name.spdx.json"
""".replace("TOOL", TOOL)

DOCKERFILE = (
    "FROM scratch\n"
    "COPY busybox /bin/busybox\n"
    "COPY scan.sh /bin/scan\n"
    'ENTRYPOINT ["/bin/busybox", "sh", "/bin/scan"]\n'
)


def scanner_context(directory: Path, busybox: Path) -> Path:
    """Write the generator's build context (busybox, the script, its Dockerfile) into
    ``directory``; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, directory / "busybox")
    (directory / "scan.sh").write_text(SCANNER)
    (directory / "Dockerfile").write_text(DOCKERFILE)
    return directory


@dataclass(frozen=True)
class NetnsEngine:
    """An engine of scripts/engine.sh in its own network namespace."""

    name: str
    #: DOCKER_HOST, DOCKER_CONFIG and PATH (what ``engine.sh env NAME`` prints), for ``docker``.
    env: dict[str, str]
    #: ``/run/netns/NAME``: where :class:`~support.netns.LoopbackBridge` listens.
    netns: Path


def _script(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        ["bash", str(ENGINE_SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"POLYARCH_ENGINE_NETNS=1 scripts/engine.sh {' '.join(args)} exited "
            f"{proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}"
        )
    return proc.stdout


@contextmanager
def netns_engine(name: str) -> Iterator[NetnsEngine]:
    """Start engine ``name`` (``docker26``, ``docker28``) in a network namespace of its own,
    beside the tests' engines; stop it (and delete the namespace) afterwards.

    Its state lives under ``$POLYARCH_ENGINE_DIR-netns`` (own sockets, data, namespace).
    Raises :class:`RuntimeError` with the script's output when it cannot start (not root, the
    engine not installed: ``scripts/engine.sh install``).
    """
    base = os.environ.get("POLYARCH_ENGINE_DIR") or "/tmp/polyarch-engine"
    env = {"POLYARCH_ENGINE_DIR": f"{base}-netns", "POLYARCH_ENGINE_NETNS": "1"}
    _script(env, "start", name)
    try:
        exported: dict[str, str] = {}
        for line in _script(env, "env", name).splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            exported[key] = value.replace("$PATH", os.environ.get("PATH", "/usr/bin:/bin"))
        netns = Path(exported.pop("POLYARCH_ENGINE_NETNS_PATH"))
        yield NetnsEngine(name, exported, netns)
    finally:
        _script(env, "stop", name)
