"""Entry point: the ``polyarch`` command group and its error handling.

Every failure a user can cause ends in one line on stderr and exit code 2 (bad usage
or input) or 1 (an operation failed), never a traceback (``-v`` adds detail). With
``--json`` (given to the command or, globally, before it) the failure is also a JSON
error object on stdout (``polyarch.error/v1``, docs/json.md).

Ctrl-C (SIGINT) and SIGTERM (``docker stop``, a CI runner cancelling a job) stop the
command the same way: the work stops now (content/pool.py: nothing more starts, upload
sessions are cancelled, within about a second), nothing half-done is committed, and the
command ends with ``error: interrupted`` and exit code 130, or ``error: terminated`` and
143. A second signal ends that cleanup at once.

A command module registers itself with one ``cli.add_command`` line below. A command's
JSON switch is named ``as_json`` (``--json``), so that the global ``--json`` reaches it.
"""

from __future__ import annotations

import importlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

from polyarch._version import __version__
from polyarch.cli.options import GlobalOptions, common_options, examples
from polyarch.cli.render.streams import guarded_streams
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
    "build": "polyarch.cli.commands.build:build_command",
    "config": "polyarch.cli.commands.config:config_command",
    "copy": "polyarch.cli.commands.copy:copy_command",
    "create": "polyarch.cli.commands.create:create_command",
    "delete": "polyarch.cli.commands.delete:delete_command",
    "inspect": "polyarch.cli.commands.inspect:inspect_command",
    "login": "polyarch.cli.commands.login:login_command",
    "logout": "polyarch.cli.commands.login:logout_command",
    "prune": "polyarch.cli.commands.prune:prune_command",
    "matrix": "polyarch.cli.commands.matrix:matrix_command",
    "publish": "polyarch.cli.commands.publish:publish_command",
    "release": "polyarch.cli.commands.release:release_command",
    "resolve": "polyarch.cli.commands.resolve:resolve_command",
    "sign": "polyarch.cli.commands.sign:sign_command",
    "tags": "polyarch.cli.commands.tags:tags_command",
    "verify": "polyarch.cli.commands.verify:verify_command",
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


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=examples(
        "polyarch inspect 127.0.0.1:5000/app:1.0",
        "polyarch --json resolve --platform linux/arm64 127.0.0.1:5000/app:1.0",
        "polyarch release && polyarch verify 127.0.0.1:5000/app:1.0 --run",
    ),
)
@click.version_option(__version__, "--version", prog_name="polyarch")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="JSON output (and JSON errors) for the command that follows (docs/json.md).",
)
@common_options
@click.pass_context
def cli(ctx: click.Context, /, as_json: bool, **kwargs: Any) -> None:
    """Assemble, publish and verify multi-platform container images."""
    ctx.obj = GlobalOptions().merged(**kwargs)
    if as_json:
        # Every command's own --json flag is called as_json: default it to on.
        ctx.default_map = {name: {"as_json": True} for name in cli.list_commands(ctx)}


#: Version tag of the JSON error object; bumped only on incompatible changes.
ERROR_SCHEMA = "polyarch.error/v1"

#: The signals that stop a command, and what the error line says for each.
_STOPPING = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class _Stop(BaseException):
    """Raised in the main thread by SIGINT or SIGTERM.

    Not a :class:`KeyboardInterrupt`: click turns that into ``Abort`` (and prints an
    empty line); not an :class:`Exception`: nothing that handles failures handles this.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    del frame
    raise _Stop(signum)


@contextmanager
def _stopping_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`_Stop` in the block (signals reach the main thread
    only: elsewhere, as in a library caller's worker thread, nothing is changed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_stop) for signum in _STOPPING}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return (and, as a script, exit with) its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "-vv", "-vvv", "--verbose") for a in args)
    # Known before parsing: a usage error is a JSON error too when --json was asked for.
    as_json = "--json" in (args[: args.index("--")] if "--" in args else args)
    # Everything printed is masked and printable, whatever prints it (render/streams.py).
    with guarded_streams():
        try:
            with _stopping_on_signals():
                return _main(args, verbose, as_json)
        except _Stop as stop:  # a signal during the failure report itself
            return _stopped(stop, as_json)


def _stopped(stop: _Stop, as_json: bool) -> int:
    """Report a stop by a signal: exit code 128 + its number (130 for SIGINT, 143 for
    SIGTERM), as a shell reports a command a signal ended."""
    words = _STOPPING.get(signal.Signals(stop.signum), "interrupted")
    return _fail(words, None, 128 + stop.signum, "Interrupted", as_json)


def _main(args: list[str], verbose: bool, as_json: bool) -> int:
    try:
        code = cli.main(args=args, prog_name="polyarch", standalone_mode=False)
    except _Stop as stop:
        return _stopped(stop, as_json)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        return _fail("aborted", None, 130, "Aborted", as_json)
    except click.ClickException as exc:
        kind = "UsageError" if isinstance(exc, click.UsageError) else type(exc).__name__
        exit_code = 2 if isinstance(exc, click.UsageError) else exc.exit_code
        hint = None
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f"see '{exc.ctx.command_path} --help'"
        return _fail(_line(exc.format_message()), hint, exit_code, kind, as_json)
    except PolyarchError as exc:
        if verbose:
            logging.getLogger("polyarch").debug("details", exc_info=True)
        message = " ".join(str(exc).split())
        hint = exc.hint
        flag = _option_for(args, exc.parameter)
        if flag is not None:
            # The library speaks of its own arguments; name the option that sets this one.
            if exc.value is not None:
                flag = f"{flag} {exc.value}"
            hint = f"{hint}; see {flag}" if hint else f"see {flag}"
        line = message + (f" ({' '.join(hint.split())})" if hint else "")
        return _fail(message, hint, exc.exit_code, type(exc).__name__, as_json, line)
    except OSError as exc:  # a layout directory or file the user named: unreadable, full disk
        message = _line(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return _fail(message, None, 1, type(exc).__name__, as_json)
    except KeyboardInterrupt:
        return _fail("interrupted", None, 130, "Interrupted", as_json)
    except Exception as exc:  # a bug of ours: still one line, details only with -v
        message = f"internal error: {type(exc).__name__}: {_line(str(exc))}"
        if verbose:
            click.echo(f"error: {message}", err=True)
            raise
        return _fail(message, None, 1, "InternalError", as_json)
    # Without standalone mode click returns the code of a command's Exit (e.g. verify's 1).
    return code if isinstance(code, int) else 0


#: Library argument names whose CLI option has another name.
_OPTION_NAMES = {
    "explicit": "spec_path",
    "format": "index_format",
    "keep_newer_than": "keep_untagged_newer_than",
    "key": "key_file",
}


def _option_for(args: list[str], parameter: str | None) -> str | None:
    """The option of the command in ``args`` that sets library argument ``parameter``.

    ``platform`` is ``--platform``; ``run`` may be ``--run`` or, where running is the
    default, ``--no-run``. ``None`` when the command has no such option.
    """
    if parameter is None:
        return None
    names = set(COMMANDS)
    name = next((a for a in args if a in names), None)
    command = cli.get_command(click.Context(cli), name) if name else None
    if command is None:
        return None
    names = {_OPTION_NAMES.get(parameter, parameter)}
    names |= {f"no_{name}" for name in names}
    for param in command.params:
        if isinstance(param, click.Option) and param.name in names:
            return max(param.opts, key=len)
    return None


def _fail(
    message: str,
    hint: str | None,
    exit_code: int,
    kind: str,
    as_json: bool,
    line: str | None = None,
) -> int:
    """Report a failure: the one line on stderr, and with ``--json`` the error object.

    ``kind`` is the class of the error in polyarch's hierarchy (``ManifestUnknown``,
    ``InvalidReference``...; ``UsageError`` for bad command-line usage).
    """
    click.echo(f"error: {line or message}", err=True)
    from polyarch.cli.render.output import json_written

    if as_json and not json_written():
        error = {
            "schema": ERROR_SCHEMA,
            "kind": kind,
            "message": message,
            "hint": None if hint is None else " ".join(hint.split()),
            "exitCode": exit_code,
        }
        sys.stdout.write(json.dumps(error, indent=2) + "\n")
        sys.stdout.flush()
    return exit_code


def _line(text: str) -> str:
    """``text`` on one line: an argument quoted in a message may hold a line break."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
