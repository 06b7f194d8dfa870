"""``polyarch sign``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from polyarch.cli.options import common_options, examples, make_context, pop_global
from polyarch.cli.render.output import console, format_digest, no_trunc_option, print_json
from polyarch.cli.render.table import Column, print_table
from polyarch.operations.sign import (
    SIGNATURE_FORMATS,
    SignRequest,
    SignResult,
    password_from_environment,
    sign,
)

__all__ = ["sign_command", "signature_format_option"]

F = TypeVar("F", bound=Callable[..., Any])


def signature_format_option(default: str = "bundle") -> Callable[[F], F]:
    """``--signature-format bundle|legacy|both`` (shared with publish and release)."""
    return click.option(
        "--signature-format",
        type=click.Choice(SIGNATURE_FORMATS),
        default=default,
        show_default=True,
        help="bundle: cosign 3's OCI 1.1 referrer (read by cosign 3); legacy: cosign 2's "
        "sha256-<hex>.sig tag (read by cosign 2 and 3); both: each manifest gets both "
        "(docs/signatures.md).",
    )


@click.command(
    "sign",
    epilog=examples(
        "polyarch sign --key cosign.key 127.0.0.1:5000/app:1.0",
        "polyarch sign --key cosign.key --signature-format legacy registry.example.com/app:1.0",
        "polyarch sign --key cosign.key --no-recursive --json oci:./layout:1.0",
    ),
)
@click.argument("ref", metavar="REF")
@click.option(
    "--key",
    "key_file",
    required=True,
    metavar="FILE",
    help="The .key file of a cosign key pair (cosign generate-key-pair); its password is "
    "read from COSIGN_PASSWORD.",
)
@signature_format_option()
@click.option(
    "--recursive/--no-recursive",
    default=True,
    show_default=True,
    help="Sign every manifest an index lists too (cosign's --recursive), children first.",
)
@click.option(
    "-a",
    "--annotation",
    "annotations",
    multiple=True,
    metavar="KEY=VALUE",
    help="Signed annotation (cosign's -a): in each signature's payload. Repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a polyarch.sign/v1 object.")
@no_trunc_option
@common_options
def sign_command(
    ref: str,
    key_file: str,
    signature_format: str,
    recursive: bool,
    annotations: tuple[str, ...],
    as_json: bool,
    no_trunc: bool,
    **kwargs: Any,
) -> None:
    """Sign REF (an index: it and every image in it) with a cosign key, as cosign does.

    What polyarch signs, `cosign verify --key cosign.pub` accepts (offline:
    --insecure-ignore-tlog; no transparency log entry is made). Signing again with the
    same key writes nothing new. A failure part way is exit code 1, naming what was not
    signed. See docs/signatures.md.
    """
    options = pop_global(kwargs)
    notes: dict[str, str] = {}
    for item in annotations:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--annotation")
        notes[name] = value
    request = SignRequest.build(
        ref,
        key_file,
        password=password_from_environment(),
        signature_format=signature_format,
        recursive=recursive,
        annotations=notes,
    )
    with make_context(options) as ctx:
        result = sign(request, ctx)
    if as_json:
        print_json(result.to_json())
    elif options.quiet:
        click.echo(result.digest)
    else:
        render(result, no_trunc=no_trunc)


def render(result: SignResult, *, no_trunc: bool = False) -> None:
    """One row per signature written (or found there already), the named manifest last."""
    out = console()
    rows = [
        [
            s.platform or s.kind,
            format_digest(s.digest, no_trunc=no_trunc),
            s.stored.form,
            s.stored.tag or s.stored.listed_by,
            s.stored.status,
        ]
        for s in result.signed
    ]
    columns = [Column(c) for c in ("MANIFEST", "DIGEST", "FORM", "LISTED BY", "STATUS")]
    print_table(out, columns, rows)
    written = sum(s.stored.status == "pushed" for s in result.signed)
    out.print(
        f"signed {result.target} ({result.digest}): {len(result.signed)} signature(s), "
        f"{written} written"
    )
