"""action.yml, run the way the GitHub runner runs a composite action, against a real registry.

Each ``run`` step of action.yml is executed with ``bash --noprofile --norc -eo pipefail``
(the runner's ``shell: bash``), with the step's ``env`` (its ``${{ inputs.X }}`` and
``${{ github.action_path }}`` expressions evaluated), its own ``$GITHUB_OUTPUT`` file, a
shared ``$GITHUB_PATH`` (lines prepended to later steps' PATH) and ``$GITHUB_STEP_SUMMARY``,
and ``$RUNNER_TEMP``; the action's outputs are then evaluated from the steps' outputs
(docs.github.com: "Metadata syntax for GitHub Actions", "Workflow commands"). The install
step really installs this checkout into a fresh venv (pip, as on a runner), then ``publish``
assembles two images pushed to the real registry and the outputs are checked.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from polyarch import Context, Index, Reference
from support.github_action import run_action
from support.images import push_image
from support.registry import RegistryServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action's install step, run once: a work directory whose venv has polyarch."""
    work = tmp_path_factory.mktemp("action")
    result = run_action({"command": "--version"}, work)
    # The install step succeeded; the run step refused "--version" (not a command).
    assert result.codes == [0, 2], result.logs
    assert "polyarch, version" in result.logs[0]
    assert "command must be one polyarch command" in result.logs[1]
    return work


def _publishable(work: Path, registry: RegistryServer, ctx: Context) -> tuple[str, str]:
    """A spec and two records of images pushed to the registry: (spec path, repository)."""
    repository = f"{registry.host}/action-{uuid.uuid4().hex[:8]}/metrics-api"
    records = work / "records"
    records.mkdir(parents=True)
    for arch in ("amd64", "arm64"):
        (work / f"app-{arch}").mkdir()
        (work / f"app-{arch}" / "Dockerfile").write_text("FROM scratch\n")
        pushed = push_image(ctx.repository(Reference.parse(repository)), f"linux/{arch}")
        (records / f"linux-{arch}.json").write_text(
            json.dumps(
                {
                    "schema": "polyarch.record/v1",
                    "platform": f"linux/{arch}",
                    "repository": repository,
                    "digest": str(pushed.digest),
                }
            )
        )
    spec = work / "polyarch.yaml"
    spec.write_text(
        f"image: {repository}\ntags: [v2.0.0, latest]\nvariants:\n"
        "  - {platform: linux/amd64, context: app-amd64}\n"
        "  - {platform: linux/arm64, context: app-arm64}\n"
    )
    return str(spec), repository


def test_publish_through_the_action_sets_digest_and_tags(
    installed: Path, registry: RegistryServer, ctx: Context
) -> None:
    work = installed
    spec, repository = _publishable(work / "publish", registry, ctx)
    result = run_action(
        {
            "command": "publish",
            # Quoted words stay one argument; nothing is expanded ($HOME stays as written).
            "args": f"--spec '{spec}' --records \"{work / 'publish' / 'records'}\" --no-run",
        },
        work,
        first_step=1,
    )
    assert result.codes == [0], result.logs
    index = ctx.repository(Reference.parse(repository)).get_manifest("v2.0.0")
    assert isinstance(index, Index)
    assert result.outputs == {
        "digest": str(index.digest),
        "tags": f"{repository}:v2.0.0,{repository}:latest",
        "version": "v2.0.0",
        "matrix": "",
    }
    assert result.summary.startswith(f"### polyarch publish: `{repository}:v2.0.0`")
    assert "| linux/arm64 |" in result.summary


def test_arguments_are_split_like_a_shell_but_never_evaluated(installed: Path) -> None:
    marker = installed / "pwned"
    result = run_action(
        {"command": "inspect", "args": f"'not a ref; $(touch {marker})'"}, installed, first_step=1
    )
    assert result.codes == [2], result.logs
    assert not marker.exists()
    assert f'invalid reference "not a ref; $(touch {marker})"' in result.logs[0]
    assert result.outputs == {"digest": "", "tags": "", "version": "", "matrix": ""}


def test_a_command_that_is_not_one_is_refused(installed: Path) -> None:
    result = run_action({"command": "publish; touch pwned"}, installed, first_step=1)
    assert result.codes == [2]
    assert "::error::polyarch action: command must be one polyarch command" in result.logs[0]
    assert not (installed / "pwned").exists()
