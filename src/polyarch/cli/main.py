"""Entry point: the ``polyarch`` command group and its error handling.

Every failure a user can cause ends in one line on stderr and exit code 2 (bad usage
or input) or 1 (an operation failed), never a traceback (``-v`` adds detail).
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from polyarch._version import __version__
from polyarch.cli.options import GlobalOptions, common_options
from polyarch.errors import PolyarchError

__all__ = ["cli", "main"]

# httpx/__init__ imports httpx._main, its own command-line client, whenever click, rich and
# pygments are installed (they are, with polyarch): ~50 ms of imports this process never
# uses. A None entry in sys.modules makes that one import fail, and httpx then falls back to
# the stub it defines for installs without its "cli" extra. Only the CLI process does this;
# the library leaves a host program's httpx alone.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


#: Command name -> "module:attribute" of its click command. A command's module (and the
#: operations, HTTP stack and rendering it needs) is imported only when that command runs,
#: so ``polyarch --version`` and each command start fast.
COMMANDS: dict[str, str] = {
    "build": "polyarch.cli.build_cmd:build_command",
    "copy": "polyarch.cli.copy_cmd:copy_command",
    "create": "polyarch.cli.create_cmd:create_command",
    "inspect": "polyarch.cli.inspect_cmd:inspect_command",
    "publish": "polyarch.cli.publish_cmd:publish_command",
    "release": "polyarch.cli.release_cmd:release_command",
    "resolve": "polyarch.cli.resolve_cmd:resolve_command",
    "verify": "polyarch.cli.verify_cmd:verify_command",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module when that command is looked up.

    The pattern is click's own "lazily loading subcommands" recipe (click docs,
    "Advanced Patterns").
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="polyarch")
@common_options
@click.pass_context
def cli(ctx: click.Context, /, **kwargs: Any) -> None:
    """Assemble, publish and verify multi-platform container images."""
    ctx.obj = GlobalOptions().merged(**kwargs)


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
