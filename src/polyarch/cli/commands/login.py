"""``polyarch login`` and ``polyarch logout``."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import click

from polyarch.cli.options import examples, make_context, pop_global
from polyarch.cli.render.output import err_console, print_json
from polyarch.content.context import Context
from polyarch.errors import InvalidInput
from polyarch.operations.login import LoginResult, login, logout


@click.command(
    "login",
    epilog=examples(
        "polyarch login registry.example.com -u ci --password-stdin < token.txt",
        "polyarch login 127.0.0.1:5000 -u alice --password-stdin < password.txt",
    ),
)
@click.argument("registry", metavar="REGISTRY")
@click.option("-u", "--username", metavar="USER", help="The user name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--insecure",
    multiple=True,
    metavar="REGISTRY",
    help="Allow plain HTTP or an unverified certificate for this registry.",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Trust this CA bundle (PEM) for TLS to the registry.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv: HTTP).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def login_command(registry: str, as_json: bool, **kwargs: Any) -> None:
    """Check credentials against REGISTRY and store them in Docker's config.json.

    The secret goes to the credential helper config.json names (credHelpers, else
    credsStore), else into config.json itself (base64, file mode 0600), as
    `docker login` does; docker, buildx, crane and polyarch then find it.

    \b
    Examples:
      echo "$TOKEN" | polyarch login ghcr.io -u ci-bot --password-stdin
      polyarch login 127.0.0.1:5000 -u admin          # prompts on a terminal
      DOCKER_CONFIG=/tmp/ci polyarch login --json registry.example.com -u ci --password-stdin
    """
    options = pop_global(kwargs)
    if not options.username:
        raise InvalidInput("login needs a user name: pass -u USER")
    with make_context(options) as probe:  # reads --password-stdin, else POLYARCH_PASSWORD
        settings = probe.settings
    if settings.password is None and not options.password_stdin:
        if not sys.stdin.isatty():
            raise InvalidInput(
                "login needs a password: pass --password-stdin and give it on standard input"
            )
        settings = replace(settings, password=click.prompt("Password", hide_input=True, err=True))
    if not settings.password:
        raise InvalidInput("login: the password is empty (standard input held no line?)")
    with Context(settings) as ctx:
        result = login(registry, ctx)
    _report(result, as_json, options.quiet)


@click.command(
    "logout",
    epilog=examples(
        "polyarch logout registry.example.com",
        "polyarch logout --json 127.0.0.1:5000",
    ),
)
@click.argument("registry", metavar="REGISTRY")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object (docs/json.md).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
def logout_command(registry: str, as_json: bool, quiet: bool) -> None:
    """Remove the credentials for REGISTRY from Docker's config.json and its helper.

    \b
    Examples:
      polyarch logout ghcr.io
      polyarch logout --json 127.0.0.1:5000
    """
    _report(logout(registry), as_json, quiet)


def _report(result: LoginResult, as_json: bool, quiet: bool) -> None:
    if as_json:
        print_json(result.to_json())
        return
    if quiet:
        return
    if result.action == "login":
        text = f"logged in to {result.registry} as {result.username}"
        text += f"; credentials stored in {result.stored_in}"
    elif result.changed:
        text = f"logged out of {result.registry}; credentials removed from {result.stored_in}"
    else:
        text = f"not logged in to {result.registry}: nothing to remove from {result.stored_in}"
    err_console().print(text, markup=False, highlight=False)
