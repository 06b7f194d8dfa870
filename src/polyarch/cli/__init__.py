"""The command-line interface: parses arguments, calls operations, renders results.

:func:`run` is the console script. ``polyarch --version`` alone is answered here, before
click and the rest of the CLI are imported (they cost most of a bare start-up); the output
is exactly click's ``version_option`` line, which :mod:`polyarch.cli.main` prints for
``--version`` in any other position.
"""

from __future__ import annotations

import sys

__all__ = ["run"]


def run() -> None:
    """Console-script entry point: ``polyarch ARGS``; exits with the command's code."""
    if sys.argv[1:] == ["--version"]:
        from polyarch._version import __version__

        sys.stdout.write(f"polyarch, version {__version__}\n")
        sys.exit(0)
    from polyarch.cli.main import main

    sys.exit(main())
