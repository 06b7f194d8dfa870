"""Library error messages speak of the library's arguments, never of CLI options.

The CLI names its own option (``see --platform``) from the error's ``parameter``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import polyarch
from polyarch import VerifyRequest
from polyarch.errors import InvalidInput

SRC = Path(polyarch.__file__).parent
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def _raised_texts(path: Path) -> list[tuple[int, str]]:
    """The string pieces of every ``raise X(...)`` in a module (f-strings included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for inner in ast.walk(node.exc):
                if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                    found.append((inner.lineno, inner.value))
    return found


def test_no_library_error_names_a_cli_option() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "cli" or rel.name == "__main__.py":
            continue
        for line, text in _raised_texts(path):
            if FLAG.search(text):
                offenders.append(f"{rel}:{line}: {text!r}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"expect": ["linux/arm64=sha256:abc"]}, "expect"),
        ({"expect": ["linux/arm64"]}, "expect"),
        ({"expect_output": ["linux/arm64=("]}, "expect_output"),
        ({"expect_output": ["linux/arm64=x"]}, "run"),
    ],
)
def test_verify_request_errors_name_their_parameter(kwargs: dict, parameter: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        VerifyRequest.build("127.0.0.1:5000/app:1", **kwargs)
    assert caught.value.parameter == parameter
    assert not FLAG.search(caught.value.one_line()), caught.value.one_line()
