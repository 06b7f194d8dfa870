"""A GitHub Actions workflow run on this machine, job after job, step after step (tests' helper).

What the runner does, to the extent a workflow of ours needs: jobs in the order of their
``needs``, a job's ``strategy.matrix`` expanded (``include`` entries, possibly from
``fromJson(...)``), ``${{ ... }}`` expressions evaluated (``matrix.*``, ``needs.*.outputs.*``,
``steps.*.outputs.*``, ``github.*``, ``secrets.*``, ``vars.*``, ``strategy.job-index``,
``fromJson``), each job's ``outputs`` from its steps' outputs. Steps:

* ``uses: YOUR-ORG/polyarch@...``: this repository's action.yml, run as the runner runs a
  composite action (:func:`support.github_action.run_action`);
* ``run:``: ``bash --noprofile --norc -eo pipefail`` with ``$GITHUB_OUTPUT`` and the step's
  ``env``;
* other actions by what they do here: ``actions/checkout`` (a clone of the repository at
  the commit), ``actions/upload-artifact`` / ``download-artifact`` (directories of a shared
  store); ``docker/setup-buildx-action``, ``docker/setup-qemu-action`` and
  ``docker/login-action`` are stood in for by the machine (the engine's builder and QEMU
  handlers; registries without auth), and recorded as such in :attr:`WorkflowRun.stood_in`.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.github_action import ActionRun, read_outputs, run_action

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
OUR_ACTION = re.compile(r"[\w.-]+/polyarch@[\w.-]+")
STOOD_IN = ("docker/setup-buildx-action", "docker/setup-qemu-action", "docker/login-action")


@dataclass
class JobRun:
    """One job (one matrix combination): its runner label, outputs, each step's outcome."""

    name: str
    runs_on: str
    matrix: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    steps: list[tuple[str, int, str]] = field(default_factory=list)
    actions: list[ActionRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(code == 0 for _, code, _ in self.steps)


@dataclass
class WorkflowRun:
    """Every job run, in order, and what the machine stood in for."""

    jobs: list[JobRun] = field(default_factory=list)
    stood_in: list[str] = field(default_factory=list)

    def job(self, name: str) -> list[JobRun]:
        return [j for j in self.jobs if j.name == name]


def _order(jobs: Mapping[str, Any]) -> list[str]:
    done: list[str] = []
    while len(done) < len(jobs):
        ready = [
            name
            for name, job in jobs.items()
            if name not in done and all(n in done for n in _needs(job))
        ]
        assert ready, f"jobs whose needs cannot be met: {set(jobs) - set(done)}"
        done += ready
    return done


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


class Runner:
    """Runs a workflow's jobs against a checked-out repository (see the module docstring)."""

    def __init__(
        self,
        repository: Path,
        work: Path,
        action_work: Path,
        github_env: Mapping[str, str],
        *,
        secrets: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        self.repository = repository
        self.work = work
        self.action_work = action_work
        self.github_env = dict(github_env)
        self.secrets = dict(secrets or {})
        self.variables = dict(variables or {})
        self.artifacts = work / "artifact-store"
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.needs: dict[str, dict[str, str]] = {}

    # --- expressions ---------------------------------------------------------------

    def value(self, expr: str, scope: Mapping[str, Any]) -> Any:
        expr = expr.strip()
        call = re.fullmatch(r"fromJson\((.*)\)", expr)
        if call:
            return json.loads(str(self.value(call.group(1), scope)))
        found = re.fullmatch(r"[\w.-]+", expr)
        assert found, f"an expression this runner cannot evaluate: {expr}"
        parts = expr.split(".")
        head, rest = parts[0], parts[1:]
        roots: dict[str, Any] = {
            "matrix": scope.get("matrix", {}),
            "steps": scope.get("steps", {}),
            "needs": {k: {"outputs": v} for k, v in self.needs.items()},
            "secrets": self.secrets,
            "vars": self.variables,
            "strategy": {"job-index": scope.get("job_index", 0)},
            "github": {
                "actor": "seeds-bot",
                "ref": self.github_env.get("GITHUB_REF", ""),
                "ref_name": self.github_env.get("GITHUB_REF", "").rsplit("/", 1)[-1],
                "sha": self.github_env.get("GITHUB_SHA", ""),
            },
        }
        assert head in roots, f"an expression this runner cannot evaluate: {expr}"
        node: Any = roots[head]
        for part in rest:
            node = node.get(part, "") if isinstance(node, dict) else ""
        return node

    def text(self, template: Any, scope: Mapping[str, Any]) -> Any:
        """Evaluate ``${{ }}`` in a string (a whole-string expression keeps its type)."""
        if not isinstance(template, str):
            return template
        whole = _EXPRESSION.fullmatch(template.strip())
        if whole:
            return self.value(whole.group(1), scope)
        return _EXPRESSION.sub(lambda m: str(self.value(m.group(1), scope)), template)

    # --- steps ------------------------------------------------------------------------

    def run_workflow(
        self, workflow: Mapping[str, Any], *, on_job: Callable[[JobRun], None] | None = None
    ) -> WorkflowRun:
        result = WorkflowRun()
        jobs = workflow["jobs"]
        for name in _order(jobs):
            job = jobs[name]
            combos: list[dict[str, Any]] = [{}]
            strategy = job.get("strategy", {})
            if "matrix" in strategy:
                matrix = self.text(strategy["matrix"], {})
                combos = list(matrix.get("include", []))
            outputs: dict[str, str] = {}
            for index, combo in enumerate(combos):
                run = self.run_job(name, job, combo, index, result)
                result.jobs.append(run)
                if on_job is not None:
                    on_job(run)
                if not run.ok:
                    return result
                outputs.update(run.outputs)
            self.needs[name] = outputs
        return result

    def run_job(
        self,
        name: str,
        job: Mapping[str, Any],
        combo: dict[str, Any],
        index: int,
        result: WorkflowRun,
    ) -> JobRun:
        scope: dict[str, Any] = {"matrix": combo, "steps": {}, "job_index": index}
        run = JobRun(name, str(self.text(job["runs-on"], scope)), combo)
        workspace = self.work / f"{name}-{index}-{uuid.uuid4().hex[:6]}"
        env = {
            **self.github_env,
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_JOB": name,
        }
        for number, step in enumerate(job["steps"]):
            label = step.get("uses") or step.get("name") or f"run {number}"
            code, log, outputs = self.run_step(step, scope, workspace, env, run, result)
            run.steps.append((label, code, log))
            if "id" in step:
                scope["steps"][step["id"]] = {"outputs": outputs}
            if code != 0:
                return run
        run.outputs = {k: str(self.text(v, scope)) for k, v in job.get("outputs", {}).items()}
        return run

    def run_step(
        self,
        step: Mapping[str, Any],
        scope: Mapping[str, Any],
        workspace: Path,
        env: Mapping[str, str],
        job: JobRun,
        result: WorkflowRun,
    ) -> tuple[int, str, dict[str, str]]:
        inputs = {k: str(self.text(v, scope)) for k, v in step.get("with", {}).items()}
        step_env = {**env, **{k: str(self.text(v, scope)) for k, v in step.get("env", {}).items()}}
        uses = step.get("uses")
        if uses is None:
            return self.shell(step["run"], scope, workspace, step_env)
        action = uses.split("@", 1)[0]
        if OUR_ACTION.fullmatch(uses):
            ran = run_action(inputs, self.action_work, first_step=1, env=step_env, cwd=workspace)
            job.actions.append(ran)
            code = ran.codes[-1] if ran.codes else 1
            return code, "\n".join(ran.logs), ran.outputs
        if action == "actions/checkout":
            subprocess.run(
                ["git", "clone", "-q", str(self.repository), str(workspace)],
                check=True,
                capture_output=True,
            )
            sha = env.get("GITHUB_SHA", "")
            if sha:
                subprocess.run(
                    ["git", "-C", str(workspace), "checkout", "-q", sha],
                    check=True,
                    capture_output=True,
                )
            return 0, f"cloned at {sha}", {}
        if action == "actions/upload-artifact":
            source = workspace / inputs["path"]
            files = [p for p in source.rglob("*") if p.is_file()] if source.exists() else []
            if not files and inputs.get("if-no-files-found") == "error":
                return 1, f"no files found at {inputs['path']}", {}
            target = self.artifacts / inputs["name"]
            assert not target.exists(), f"artifact {inputs['name']} uploaded twice"
            shutil.copytree(source, target)
            return 0, f"uploaded {len(files)} file(s) as {inputs['name']}", {}
        if action == "actions/download-artifact":
            dest = workspace / inputs.get("path", ".")
            dest.mkdir(parents=True, exist_ok=True)
            names = sorted(
                p.name
                for p in self.artifacts.iterdir()
                if fnmatch.fnmatch(p.name, inputs.get("pattern", "*"))
            )
            for name in names:
                shutil.copytree(self.artifacts / name, dest / name)
            return 0, f"downloaded {', '.join(names)}", {}
        if action in STOOD_IN:
            result.stood_in.append(action)
            return 0, f"{action}: stood in for by this machine", {}
        raise AssertionError(f"a step this runner does not know: {uses}")

    def shell(
        self, script: str, scope: Mapping[str, Any], workspace: Path, env: Mapping[str, str]
    ) -> tuple[int, str, dict[str, str]]:
        workspace.mkdir(parents=True, exist_ok=True)
        output = workspace.parent / f"output-{uuid.uuid4().hex[:8]}"
        output.touch()
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", self.text(script, scope)],
            cwd=workspace,
            env={**os.environ, **env, "GITHUB_OUTPUT": str(output)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return proc.returncode, proc.stdout + proc.stderr, read_outputs(output)
