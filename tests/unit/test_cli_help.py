"""Every command's --help ends with examples, and every option says what it does."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from polyarch.cli.main import cli

COMMANDS = cli.list_commands(click.Context(cli))


@pytest.mark.parametrize("name", ["", *COMMANDS])
def test_help_ends_with_two_or_three_examples(name: str) -> None:
    args = [name, "--help"] if name else ["--help"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = result.output.rstrip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.strip() == "Examples:")
    examples = [line.strip() for line in lines[start + 1 :]]
    assert 2 <= len(examples) <= 3, result.output
    assert all(line.startswith("polyarch ") for line in examples), examples
    if name:
        assert all(f" {name}" in line for line in examples), examples


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_a_help_text(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    missing = [
        param.opts[0]
        for param in command.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert not missing, (name, missing)
