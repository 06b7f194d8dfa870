"""Start-up promises: a command imports only what it uses (issue: performance).

These tests check *what* is imported, never how long it takes: timings live in bench/.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import polyarch

SRC = Path(polyarch.__file__).parent


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_version_imports_neither_http_nor_rendering_nor_operations() -> None:
    loaded = _modules_after(
        "from polyarch.cli.main import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['--version'])"
    )
    for heavy in (
        "httpx",
        "rich",
        "yaml",
        "ssl",
        "polyarch.operations.create",
        "polyarch.pipeline.builds.variants",
        "polyarch.storage.registry.repository",
    ):
        assert heavy not in loaded, heavy


def test_a_command_imports_only_its_own_module() -> None:
    loaded = _modules_after(
        "from polyarch.cli.main import cli\n"
        "import click\n"
        "cli.get_command(click.Context(cli), 'resolve')"
    )
    assert "polyarch.cli.commands.resolve" in loaded
    for other in (
        "polyarch.cli.commands.build",
        "polyarch.pipeline.builds.variants",
        "polyarch.cli.commands.copy",
    ):
        assert other not in loaded, other


def test_cli_process_skips_httpx_command_line_extras() -> None:
    loaded = _modules_after("import polyarch.cli.main\nimport httpx")
    assert "httpx" in loaded
    assert "pygments" not in loaded


def test_import_polyarch_is_lazy() -> None:
    loaded = _modules_after("import polyarch")
    assert "httpx" not in loaded
    assert "polyarch.operations.create" not in loaded


def test_lazy_exports_match_type_checking_imports() -> None:
    tree = ast.parse((SRC / "__init__.py").read_text())
    static: dict[str, set[str]] = {}
    lazy: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                static.setdefault(imp.module, set()).update(a.name for a in imp.names)
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_EXPORTS":
            mapping = node.value
            assert isinstance(mapping, ast.Dict)
            for key, value in zip(mapping.keys, mapping.values, strict=True):
                assert isinstance(key, ast.Constant) and isinstance(value, ast.Tuple)
                lazy[key.value] = {e.value for e in value.elts if isinstance(e, ast.Constant)}
    assert static and static == lazy


def test_every_lazy_name_resolves() -> None:
    for name in polyarch.__all__:
        assert getattr(polyarch, name) is not None, f"polyarch.{name}"
    with pytest.raises(AttributeError):
        polyarch.no_such_name  # noqa: B018


def test_only_the_root_package_face_is_lazy() -> None:
    # Sub-package faces are plain: importing one never runs a __getattr__ table.
    for init in SRC.rglob("__init__.py"):
        if init.parent == SRC:
            continue
        tree = ast.parse(init.read_text())
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert "__getattr__" not in defined, init


def test_a_function_named_like_its_package_stays_the_function() -> None:
    # operations/verify/ is a package whose verify() is the public function: importing
    # its sub-modules must not replace polyarch.verify.
    code = (
        "import polyarch.operations.verify.checks, polyarch.operations.inspect\n"
        "import polyarch\n"
        "assert callable(polyarch.verify) and callable(polyarch.inspect)\n"
        "assert callable(polyarch.delete) and callable(polyarch.resolve)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version_alone_is_answered_before_click_and_says_what_click_says() -> None:
    fast = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv = ['polyarch', '--version']\nfrom polyarch.cli import run\nrun()",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    slow = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom polyarch.cli.main import main\nsys.exit(main(['-q', '--version']))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fast.returncode == slow.returncode == 0, (fast.stderr, slow.stderr)
    assert fast.stdout == slow.stdout == f"polyarch, version {polyarch.__version__}\n"
    loaded = _modules_after(
        "import sys, io, contextlib\nsys.argv = ['polyarch', '--version']\n"
        "from polyarch.cli import run\n"
        "try:\n    run()\nexcept SystemExit:\n    pass"
    )
    assert "click" not in loaded


def test_no_command_module_imports_rich_until_it_renders() -> None:
    # -q and --json runs print no table: rich (~40 ms) is loaded by the functions that
    # render, never by importing a command (a real -q/--json run against a registry is in
    # tests/integration/test_startup_paths.py).
    loaded = _modules_after(
        "from polyarch.cli.main import cli\n"
        "import click\n"
        "ctx = click.Context(cli)\n"
        "for name in cli.list_commands(ctx):\n"
        "    cli.get_command(ctx, name)\n"
        "import polyarch.cli.render.output, polyarch.cli.render.table\n"
        "import polyarch.cli.render.progress"
    )
    assert {"polyarch.cli.commands.create", "polyarch.cli.render.table"} <= loaded
    assert sorted(m for m in loaded if m.split(".")[0] == "rich") == []


def test_the_console_script_skips_the_teardown_but_flushes_everything() -> None:
    # run() ends with os._exit once the command is done (~60 ms of module teardown saved):
    # an atexit handler never runs, yet everything printed, on both streams, arrives.
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('TEARDOWN'))\n"
        "sys.argv = ['polyarch', *sys.argv[1:]]\n"
        "from polyarch.cli import run\n"
        "run()"
    )
    ok = subprocess.run(
        [sys.executable, "-c", code, "create", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "Usage: polyarch create" in ok.stdout and "TEARDOWN" not in ok.stdout
    # The same help through main(), ending the ordinary way: not a byte missing.
    whole = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom polyarch.cli.main import main\nsys.exit(main(['create', '--help']))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ok.stdout == whole.stdout
    bad = subprocess.run(
        [sys.executable, "-c", code, "resolve", "--no-such-flag"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ") and "TEARDOWN" not in bad.stdout
