"""``polyarch matrix`` through the CLI (issue 21 §1): the build matrix from the spec."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import assert_one_line_error, run_cli

SPEC = """\
image: ghcr.io/seeds/metrics-api
variants:
  - {platform: linux/amd64, context: app-amd64}
  - platform: linux/arm64
    context: app-arm64
  - platform: linux/arm/v7
    context: app-armv7
    runner: [self-hosted, armhf]
"""


def _spec(tmp_path: Path, text: str = SPEC) -> Path:
    for name in ("app-amd64", "app-arm64", "app-armv7"):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "polyarch.yaml").write_text(text)
    return tmp_path / "polyarch.yaml"


def test_matrix_prints_one_entry_per_variant(tmp_path: Path) -> None:
    result = run_cli("matrix", "--spec", str(_spec(tmp_path)), env={"GITHUB_OUTPUT": ""})
    assert result.code == 0, result.err
    assert result.json() == {
        "include": [
            {"platform": "linux/amd64", "runner": "ubuntu-24.04",
             "artifact": "records-linux-amd64"},
            {"platform": "linux/arm64", "runner": "ubuntu-24.04-arm",
             "artifact": "records-linux-arm64"},
            {"platform": "linux/arm/v7", "runner": ["self-hosted", "armhf"],
             "artifact": "records-linux-arm-v7"},
        ]
    }  # fmt: skip


def test_matrix_github_output_and_runner_override(tmp_path: Path) -> None:
    output = tmp_path / "github_output"
    output.write_text("earlier=1\n")
    result = run_cli(
        "matrix", "--spec", str(_spec(tmp_path)), "--github-output",
        "--runner", "linux/amd64=ubuntu-22.04",
        env={"GITHUB_OUTPUT": str(output)},
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = output.read_text().splitlines()
    assert lines[0] == "earlier=1"
    name, _, value = lines[1].partition("=")
    assert name == "matrix"
    assert json.loads(value)["include"][0]["runner"] == "ubuntu-22.04"


def test_matrix_says_when_no_native_runner(tmp_path: Path) -> None:
    text = SPEC.replace("    runner: [self-hosted, armhf]\n", "")
    result = run_cli("matrix", "--spec", str(_spec(tmp_path, text)))
    assert_one_line_error(result, 2, "linux/arm/v7 has no native GitHub-hosted runner", "--runner")
