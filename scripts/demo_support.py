"""Helpers of scripts/demo.sh: a local registry, and the example prepared against it.

    demo_support.py serve WORKDIR READY_FILE   run a docker-registry on a free 127.0.0.1
                                               port until SIGTERM; its host:port goes
                                               into READY_FILE once it answers
    demo_support.py prepare DEST IMAGE         copy examples/metrics-api to DEST, add the
                                               busybox-static binaries, set the image

Both reuse the test support code (tests/support), as scripts/quickstart.py does.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.example import prepare_example  # noqa: E402
from support.registry import RegistryServer  # noqa: E402


def serve(workdir: Path, ready_file: Path) -> None:
    """Start the registry, announce its host, wait for SIGTERM or SIGINT, stop it."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with RegistryServer(workdir=workdir) as server:
        tmp = ready_file.with_name(ready_file.name + ".tmp")
        tmp.write_text(server.host + "\n")
        tmp.replace(ready_file)
        stop.wait()


def main(argv: list[str]) -> None:
    """Dispatch the subcommand."""
    if len(argv) == 3 and argv[0] == "serve":
        serve(Path(argv[1]).resolve(), Path(argv[2]).resolve())
    elif len(argv) == 3 and argv[0] == "prepare":
        print(prepare_example(Path(argv[1]).resolve(), argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
