"""The command-line interface: parses arguments, calls operations, renders results.

:func:`run` is the console script. ``polyarch --version`` alone is answered here, before
click and the rest of the CLI are imported (they cost most of a bare start-up); the output
is exactly click's ``version_option`` line, which :mod:`polyarch.cli.main` prints for
``--version`` in any other position.

When the command is done, the process ends without the interpreter's teardown
(:func:`_exit`): freeing every module a command imported costs more than the work of a
small ``create``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn

__all__ = ["run"]


def run() -> None:
    """Console-script entry point: ``polyarch ARGS``; exits with the command's code."""
    if sys.argv[1:] == ["--version"]:
        from polyarch._version import __version__

        sys.stdout.write(f"polyarch, version {__version__}\n")
        sys.exit(0)
    from polyarch.cli.main import main

    _exit(main())


def _exit(code: int) -> NoReturn:
    """End the process with ``code`` now: flush what is buffered, skip the teardown.

    The interpreter's teardown frees every module one by one: ~60 ms after a command that
    imported httpx and click (measured: ``python -c "import polyarch.cli.commands.create"``
    takes 210 ms, 145 ms ending with ``os._exit``), a fifth of a small ``create``. Nothing
    is left for it to do: every file, connection, cache database and worker thread of a
    command is closed by its own ``with`` block before :func:`~polyarch.cli.main.main`
    returns, so only buffered output and logging handlers remain, flushed here.
    """
    if "logging" in sys.modules:
        import logging

        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (``polyarch ... | head``): nothing more can be said.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
