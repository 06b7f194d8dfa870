"""With --json, stdout holds exactly one JSON document, whatever fails."""

from __future__ import annotations

import json

import pytest

from polyarch.cli import main as cli_main
from polyarch.cli.render import output


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "_json_written", False)


def test_an_error_before_any_result_is_a_json_error_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli_main.main(["--json", "resolve", "Bad Ref"])
    captured = capsys.readouterr()
    assert code == 2
    error = json.loads(captured.out)
    assert (error["schema"], error["kind"], error["exitCode"]) == (
        "polyarch.error/v1",
        "InvalidReference",
        2,
    )
    assert captured.err.startswith("error: invalid reference")


def test_a_failure_after_the_result_adds_no_second_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """publish and build print their result, then fail (exit 1): one document only."""
    output.print_json({"schema": "polyarch.publish/v1", "ok": False})
    code = cli_main._fail("verification failed", None, 1, "PublishFailed", True)
    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out) == {"schema": "polyarch.publish/v1", "ok": False}
    assert captured.err == "error: verification failed\n"
