"""The README's quick start shows what the commands print today.

The README's ``console`` block under "## Quick start" is a transcript of
scripts/quickstart.py: each ``$ polyarch ...`` line, then what it printed (stdout, then
stderr). This test seeds a fresh registry exactly as the quick start does, runs the
same commands (scripts/quickstart.py's ``COMMANDS``, which must be the README's), and
compares every line: the images are reproducible, so the digests, sizes and tables are
the README's to the character. Only the registry address differs (the quick start uses
127.0.0.1:5000, the test a free port).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from support.cli import run_cli
from support.registry import RegistryServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _quickstart() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quickstart", ROOT / "scripts/quickstart.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_transcript() -> list[tuple[list[str], list[str]]]:
    """``(arguments, output lines)`` for each command of the README's quick start block."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Quick start\n", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block, "README: no console block under '## Quick start'"
    transcript: list[tuple[list[str], list[str]]] = []
    lines = block.group(1).splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.startswith("$ polyarch "):
            if transcript:
                transcript[-1][1].append(line)
            continue
        command = line.removeprefix("$ ")
        while command.endswith("\\"):
            command = command[:-1] + lines[index].strip()
            index += 1
        transcript.append((shlex.split(command)[1:], []))
    for _, output in transcript:
        while output and not output[-1].strip():
            output.pop()
    return transcript


@pytest.fixture(scope="module")
def seeded(registry_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = RegistryServer(binary=registry_binary, workdir=tmp_path_factory.mktemp("readme"))
    with server:
        _quickstart().seed(server.host)
        yield server


def test_the_readme_shows_the_quickstart_commands() -> None:
    quickstart = _quickstart()
    shown = [args for args, _ in readme_transcript()]
    assert shown == [args for _, args in quickstart.COMMANDS]


def test_the_readme_quickstart_output_is_what_the_commands_print(seeded: Any) -> None:
    quickstart = _quickstart()
    host = seeded.host
    for args, expected in readme_transcript():
        real_args = [a.replace(quickstart.README_HOST, host) for a in args]
        result = run_cli(*real_args, env={"COLUMNS": ""})
        assert result.code == 0, (args, result.err)
        printed = (result.out + result.err).replace(host, quickstart.README_HOST)
        lines = printed.rstrip("\n").splitlines()
        # Column padding follows the address's length (the test's port has 5 digits).
        assert [_spaced(line) for line in lines] == [_spaced(line) for line in expected], "\n".join(
            ["README differs for: polyarch " + shlex.join(args), *lines]
        )


def _spaced(line: str) -> str:
    """``line`` with every run of spaces made one (indentation kept)."""
    indent = len(line) - len(line.lstrip(" "))
    return " " * indent + " ".join(line.split())
