"""Quick start: a local registry, sample images pushed through the library, the CLI on them.

Run by ``scripts/quickstart.sh`` (which sets up the venv first). Starts a real
``docker-registry`` on ``127.0.0.1:5000`` (``--port`` to choose another), pushes:

* ``metrics-api:v2.0.0-amd64``: a plain Docker schema2 image (linux/amd64);
* ``metrics-api:v2.0.0-arm64``: what Docker 29 / BuildKit push: a wrapper index with the
  linux/arm64 image and its provenance attestation;
* ``base:latest``: a 4-platform index;

then runs the real ``polyarch`` CLI on them: :data:`COMMANDS`, the commands the README's
quick start shows (tests/integration/test_readme.py checks that the README shows what
they print). The images are reproducible, so the digests are the README's. The registry
is stopped at the end, or, with ``--keep``, left running until Ctrl-C so that you can
try the commands yourself.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from polyarch import Context, Reference  # noqa: E402
from support.images import push_image, push_index, push_wrapper  # noqa: E402
from support.registry import RegistryServer  # noqa: E402

#: The registry address the README shows; the commands below use it.
README_HOST = "127.0.0.1:5000"

#: What the quick start runs, in order, as the README shows it: (comment, arguments).
COMMANDS: list[tuple[str, list[str]]] = [
    (
        "what docker push of a BuildKit build leaves: a wrapper, image plus attestation",
        ["inspect", f"{README_HOST}/metrics-api:v2.0.0-arm64"],
    ),
    (
        "docker push printed the wrapper's digest; this is the arm64 image's",
        ["resolve", f"{README_HOST}/metrics-api:v2.0.0-arm64"],
    ),
    (
        "the entry a linux/arm/v7 host would pull from a multi-platform index",
        ["resolve", "--platform", "linux/arm/v7", f"{README_HOST}/base:latest"],
    ),
    (
        "one tag for both variants; each platform digest is the one its build pushed",
        [
            "create",
            "-t",
            f"{README_HOST}/metrics-api:v2.0.0",
            f"{README_HOST}/metrics-api:v2.0.0-amd64",
            f"{README_HOST}/metrics-api:v2.0.0-arm64",
        ],
    ),
    (
        "the release gate: both platforms, nothing else, every digest and blob checked",
        [
            "verify",
            "--platform",
            "linux/amd64",
            "--platform",
            "linux/arm64",
            "--exact",
            f"{README_HOST}/metrics-api:v2.0.0",
        ],
    ),
]


def seed(host: str) -> None:
    """Push the sample images to the registry at ``host``."""
    with Context() as ctx:
        api = ctx.repository(Reference.parse(f"{host}/metrics-api"))
        push_image(api, "linux/amd64", tag="v2.0.0-amd64", docker=True)
        push_wrapper(api, "linux/arm64", tag="v2.0.0-arm64")
        base = ctx.repository(Reference.parse(f"{host}/base"))
        push_index(
            base, ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le"], tag="latest"
        )


def commands(host: str) -> list[tuple[str, list[str]]]:
    """:data:`COMMANDS` against the registry at ``host``."""
    return [(note, [a.replace(README_HOST, host) for a in args]) for note, args in COMMANDS]


def run(args: list[str]) -> None:
    """Show and run one polyarch command (off a terminal: the README's layout)."""
    print(f"\n$ polyarch {shlex.join(args)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "polyarch", *args], check=False)
    if proc.returncode != 0:
        sys.exit(f"quickstart: polyarch {args[0]} failed with exit code {proc.returncode}")


def main() -> None:
    """Start, seed, show, stop (or keep running with --keep)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000, help="registry port (default 5000)")
    parser.add_argument(
        "--keep", action="store_true", help="leave the registry running until Ctrl-C"
    )
    options = parser.parse_args()
    server = RegistryServer(port=options.port)
    try:
        server.start()
    except Exception as exc:
        sys.exit(
            f"quickstart: cannot start a registry on 127.0.0.1:{options.port} ({exc}); "
            "is the port taken? choose another with --port"
        )
    try:
        host = server.host
        print(f"quickstart: registry running at {server.url}")
        seed(host)
        print(
            "quickstart: pushed metrics-api:v2.0.0-amd64 (Docker schema2), "
            "metrics-api:v2.0.0-arm64 (BuildKit wrapper), base:latest (4 platforms)"
        )
        for note, args in commands(host):
            print(f"\n# {note}")
            run(args)
        if options.keep:
            print(
                f"\nquickstart: the registry stays at {host} (images: metrics-api, base);"
                " try `polyarch inspect " + f"{host}/base:latest`. Ctrl-C stops it.",
                flush=True,
            )
            signal.signal(signal.SIGTERM, _interrupt)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("\nquickstart: done, registry stopped")


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops a kept registry like Ctrl-C does (no orphaned registry process)."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
