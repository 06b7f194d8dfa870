"""Entry point: the ``polyarch`` command group and its error handling.

Every failure a user can cause ends in one line on stderr and exit code 2 (bad usage
or input) or 1 (an operation failed), never a traceback (``-v`` adds detail).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from polyarch._version import __version__
from polyarch.cli.build_cmd import build_command
from polyarch.cli.config_cmd import config_command
from polyarch.cli.copy_cmd import copy_command
from polyarch.cli.create_cmd import create_command
from polyarch.cli.delete_cmd import delete_command
from polyarch.cli.inspect_cmd import inspect_command
from polyarch.cli.login_cmd import login_command, logout_command
from polyarch.cli.options import GlobalOptions, common_options
from polyarch.cli.publish_cmd import publish_command
from polyarch.cli.release_cmd import release_command
from polyarch.cli.resolve_cmd import resolve_command
from polyarch.cli.tags_cmd import tags_command
from polyarch.cli.verify_cmd import verify_command
from polyarch.errors import PolyarchError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="polyarch")
@common_options
@click.pass_context
def cli(ctx: click.Context, /, **kwargs: Any) -> None:
    """Assemble, publish and verify multi-platform container images."""
    ctx.obj = GlobalOptions().merged(**kwargs)


cli.add_command(build_command)
cli.add_command(copy_command)
cli.add_command(create_command)
cli.add_command(inspect_command)
cli.add_command(publish_command)
cli.add_command(release_command)
cli.add_command(resolve_command)
cli.add_command(verify_command)
cli.add_command(tags_command)
cli.add_command(config_command)
cli.add_command(delete_command)
cli.add_command(login_command)
cli.add_command(logout_command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return (and, as a script, exit with) its exit code."""
    verbose = any(a in ("-v", "-vv", "-vvv", "--verbose") for a in (argv or sys.argv[1:]))
    try:
        code = cli.main(args=argv, prog_name="polyarch", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"error: {_line(exc.format_message())}", err=True)
        return 2 if isinstance(exc, click.UsageError) else exc.exit_code
    except PolyarchError as exc:
        click.echo(f"error: {exc.one_line()}", err=True)
        if verbose:
            logging.getLogger("polyarch").debug("details", exc_info=True)
        return exc.exit_code
    except OSError as exc:  # a layout directory or file the user named: unreadable, full disk
        click.echo(
            _line(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")), err=True
        )
        return 1
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except Exception as exc:  # a bug of ours: still one line, details only with -v
        click.echo(f"error: internal error: {type(exc).__name__}: {_line(str(exc))}", err=True)
        if verbose:
            raise
        return 1
    # Without standalone mode click returns the code of a command's Exit (e.g. verify's 1).
    return code if isinstance(code, int) else 0


def _line(text: str) -> str:
    """``text`` on one line: an argument quoted in a message may hold a line break."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
