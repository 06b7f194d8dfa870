"""Quick start: a local registry, sample images pushed through the library, inspect and resolve.

Run by ``scripts/quickstart.sh`` (which sets up the venv first). Starts a real
``docker-registry`` on a free 127.0.0.1 port, pushes:

* ``metrics-api:v2.0.0-amd64``: a plain Docker schema2 image (linux/amd64);
* ``metrics-api:v2.0.0-arm64``: what Docker 29 / BuildKit push: a wrapper index with the
  linux/arm64 image and its provenance attestation;
* ``base:latest``: a 4-platform index;

then runs the real ``polyarch`` CLI on them (inspect, resolve, create) and stops the
registry.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from polyarch import Context, Reference  # noqa: E402
from support.images import push_image, push_index, push_wrapper  # noqa: E402
from support.registry import RegistryServer  # noqa: E402


def run(*args: str) -> None:
    """Show and run one polyarch command."""
    print(f"\n$ polyarch {shlex.join(args)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "polyarch", *args], check=False)
    if proc.returncode != 0:
        sys.exit(f"quickstart: polyarch {args[0]} failed with exit code {proc.returncode}")


def main() -> None:
    """Start, seed, show, stop."""
    with RegistryServer() as server:
        host = server.host
        print(f"quickstart: registry running at {server.url}")
        with Context() as ctx:
            api = ctx.repository(Reference.parse(f"{host}/metrics-api"))
            push_image(api, "linux/amd64", tag="v2.0.0-amd64", docker=True)
            push_wrapper(api, "linux/arm64", tag="v2.0.0-arm64")
            base = ctx.repository(Reference.parse(f"{host}/base"))
            push_index(
                base, ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le"], tag="latest"
            )
        print(
            "quickstart: pushed metrics-api:v2.0.0-amd64 (Docker schema2), "
            "metrics-api:v2.0.0-arm64 (BuildKit wrapper), base:latest (4 platforms)"
        )

        run("inspect", f"{host}/metrics-api:v2.0.0-amd64")
        run("inspect", f"{host}/metrics-api:v2.0.0-arm64")
        print("# docker push printed the wrapper's digest; this is the arm64 image's:")
        run("resolve", f"{host}/metrics-api:v2.0.0-arm64")
        print("# one tag for both variants; each platform digest is the one its build pushed:")
        run(
            "create",
            "-t",
            f"{host}/metrics-api:v2.0.0",
            f"{host}/metrics-api:v2.0.0-amd64",
            f"{host}/metrics-api:v2.0.0-arm64",
        )
        run("resolve", "--platform", "linux/arm64", f"{host}/metrics-api:v2.0.0")
        run("inspect", f"{host}/base:latest")
        run("resolve", "--platform", "linux/arm/v7", f"{host}/base:latest")
        run("resolve", "--json", "--platform", "linux/aarch64", f"{host}/base:latest")
    print("\nquickstart: done, registry stopped")


if __name__ == "__main__":
    main()
