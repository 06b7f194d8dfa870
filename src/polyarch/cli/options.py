"""Options every command accepts, and the Context they build.

Global options may be given before the command (``polyarch --insecure H inspect R``)
or after it (``polyarch inspect --insecure H R``); both are merged.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import click

from polyarch.errors import InvalidInput

if TYPE_CHECKING:
    from polyarch.content.context import Context

__all__ = ["GlobalOptions", "common_options", "examples", "make_context"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOptions:
    """What the global flags said; merged from the group and the command."""

    insecure: list[str] = field(default_factory=list)
    ca_file: str | None = None
    username: str | None = None
    password_stdin: bool = False
    verbose: int = 0
    quiet: bool = False
    no_blob_cache: bool = False
    timeout: str | None = None

    def merged(self, **kwargs: Any) -> GlobalOptions:
        """A copy updated with a command's own values of the same flags."""
        return replace(
            self,
            insecure=[*self.insecure, *kwargs.get("insecure", ())],
            ca_file=kwargs.get("ca_file") or self.ca_file,
            username=kwargs.get("username") or self.username,
            password_stdin=bool(kwargs.get("password_stdin")) or self.password_stdin,
            verbose=self.verbose + int(kwargs.get("verbose") or 0),
            quiet=bool(kwargs.get("quiet")) or self.quiet,
            no_blob_cache=bool(kwargs.get("no_blob_cache")) or self.no_blob_cache,
            timeout=kwargs.get("timeout") or self.timeout,
        )


_OPTION_NAMES = (
    "insecure",
    "ca_file",
    "username",
    "password_stdin",
    "verbose",
    "quiet",
    "no_blob_cache",
    "timeout",
)


def common_options(func: F) -> F:
    """Add the global flags to a command (or the group)."""
    decorators = [
        click.option(
            "--insecure",
            multiple=True,
            metavar="REGISTRY",
            help="Allow plain HTTP or an unverified certificate for this registry (repeatable).",
        ),
        click.option(
            "--ca-file",
            type=click.Path(exists=True, dir_okay=False),
            help="Trust this CA bundle (PEM) for TLS to registries.",
        ),
        click.option(
            "--username",
            metavar="NAME",
            help="Registry user name (else POLYARCH_USERNAME, docker config, podman auth).",
        ),
        click.option(
            "--password-stdin",
            is_flag=True,
            help="Read the registry password from standard input (else POLYARCH_PASSWORD).",
        ),
        click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv: HTTP)."),
        click.option("-q", "--quiet", is_flag=True, help="Print only the essential result."),
        click.option(
            "--no-blob-cache",
            is_flag=True,
            help="Do not use or update the blob-info cache (POLYARCH_BLOB_CACHE=off does too).",
        ),
        click.option(
            "--timeout",
            metavar="SECONDS",
            help="Network timeout: connect, each read, body progress window "
            "(else POLYARCH_TIMEOUT, default 30).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def pop_global(kwargs: dict[str, Any]) -> GlobalOptions:
    """Take the global flags out of a command's kwargs and merge them with the group's."""
    ctx = click.get_current_context()
    base = ctx.find_object(GlobalOptions) or GlobalOptions()
    own = {name: kwargs.pop(name) for name in _OPTION_NAMES if name in kwargs}
    options = base.merged(**own)
    configure_logging(options.verbose)
    return options


def configure_logging(verbose: int) -> None:
    """-v: operations at INFO; -vv: every HTTP request at DEBUG. Always to stderr."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger("polyarch")
    root.setLevel(level)
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        # Imported here: it needs the HTTP stack, which --version and --help never load.
        from polyarch.transport.masking import MaskingFilter

        handler.addFilter(MaskingFilter())  # secrets never printed, whichever logger
        root.addHandler(handler)


def make_context(options: GlobalOptions) -> Context:
    """Build the library Context from the flags and the environment."""
    # Imported here: the HTTP stack is only loaded by commands that talk to a registry.
    from polyarch.content.blobinfo import BlobInfoCache, default_cache_path
    from polyarch.content.context import Context
    from polyarch.transport.settings import TransportSettings, parse_timeout

    settings = TransportSettings.from_env(os.environ)
    password = settings.password
    username = options.username or settings.username
    if options.password_stdin:
        if not username:
            raise InvalidInput("--password-stdin needs --username (or POLYARCH_USERNAME)")
        password = sys.stdin.readline().rstrip("\r\n")
    settings = replace(
        settings,
        insecure=settings.insecure | frozenset(options.insecure),
        ca_file=options.ca_file or settings.ca_file,
        username=username,
        password=password,
    )
    if options.timeout is not None:
        settings = replace(settings, timeout=parse_timeout(options.timeout))
    cache_path = None if options.no_blob_cache else default_cache_path(os.environ)
    return Context(settings, blob_cache=BlobInfoCache(cache_path) if cache_path else None)


def examples(*lines: str) -> str:
    """A command's help epilog: ``Examples:`` and the command lines, kept as written."""
    # "\b" tells click not to rewrap the paragraph that follows.
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
