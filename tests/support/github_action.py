"""action.yml run the way the GitHub runner runs a composite action (tests' helper).

Each ``run`` step of action.yml is executed with ``bash --noprofile --norc -eo pipefail``
(the runner's ``shell: bash``), with the step's ``env`` (its ``${{ inputs.X }}`` and
``${{ github.action_path }}`` expressions evaluated), its own ``$GITHUB_OUTPUT`` file, a
shared ``$GITHUB_PATH`` (lines prepended to later steps' PATH) and ``$GITHUB_STEP_SUMMARY``,
and ``$RUNNER_TEMP``; the action's outputs are then evaluated from the steps' outputs
(docs.github.com: "Metadata syntax for GitHub Actions", "Workflow commands").
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class ActionRun:
    """What one run of the action left: outputs, step summary, each step's exit code."""

    outputs: dict[str, str]
    summary: str
    codes: list[int]
    logs: list[str] = field(default_factory=list)


def read_outputs(path: Path) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` lines: ``name=value`` and ``name<<DELIM ... DELIM``."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        name, _, value = line.partition("=")
        outputs[name] = value
        i += 1
    return outputs


def run_action(
    inputs: dict[str, str],
    work: Path,
    *,
    first_step: int = 0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> ActionRun:
    """Run action.yml's steps with ``inputs``, in ``work``, as the runner would.

    ``first_step`` skips the steps before it (the install, done once per module): their
    ``$GITHUB_PATH`` lines, kept in ``work``, still apply. ``cwd`` is where the steps run
    (the job's workspace; default ``work``); ``env`` is added to their environment.
    """
    action: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    declared = action["inputs"]
    unknown = set(inputs) - set(declared)
    assert not unknown, f"not inputs of action.yml: {unknown}"
    for name, spec in declared.items():
        if spec.get("required") and name not in inputs:
            raise AssertionError(f"input {name} is required")
    values = {
        name: inputs.get(name, str(spec.get("default", ""))) for name, spec in declared.items()
    }
    steps: dict[str, dict[str, str]] = {}

    def evaluate(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr == "github.action_path":
                return str(ROOT)
            if expr.startswith("inputs."):
                return values[expr.removeprefix("inputs.")]
            found = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
            if found:
                return steps.get(found.group(1), {}).get(found.group(2), "")
            raise AssertionError(f"action.yml uses an expression this test cannot evaluate: {expr}")

        return _EXPRESSION.sub(one, text)

    runner_temp = work / "runner-temp"
    runner_temp.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]  # each run its own output and summary files, as on a runner
    github_path, summary = work / "github_path", work / f"step_summary-{run_id}"
    github_path.touch()
    codes: list[int] = []
    logs: list[str] = []
    for number, step in enumerate(action["runs"]["steps"]):
        if number < first_step:
            continue
        assert step.get("shell") == "bash", f"step {number}: a composite step needs shell: bash"
        assert _EXPRESSION.search(step["run"]) is None, (
            f"step {number}: inputs reach the script through env, never spliced into it"
        )
        output = work / f"output-{run_id}-{number}"
        extra_path = [p for p in github_path.read_text().splitlines() if p]
        step_env = {
            **os.environ,
            **(env or {}),
            **{k: evaluate(str(v)) for k, v in step.get("env", {}).items()},
            "GITHUB_OUTPUT": str(output),
            "GITHUB_PATH": str(github_path),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(runner_temp),
            "PATH": os.pathsep.join([*reversed(extra_path), os.environ["PATH"]]),
        }
        script = work / f"step-{number}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd or work,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        codes.append(proc.returncode)
        logs.append(proc.stdout + proc.stderr)
        if "id" in step:
            steps[step["id"]] = read_outputs(output)
        if proc.returncode != 0:
            break
    outputs = {name: evaluate(spec["value"]) for name, spec in action["outputs"].items()}
    text = summary.read_text() if summary.exists() else ""
    return ActionRun(outputs, text, codes, logs)
