"""A credential helper whose child keeps its output open (issue 13 §7).

``docker-credential-*`` helpers sometimes start a process that inherits their stdout (an
agent, a daemon: gpg-agent for ``pass``, a keyring daemon) and exit with their answer.
Waiting for the end of the output waited for that process: 30 s, then "did not answer".
The answer is used as soon as the helper itself has exited. Real subprocesses, no mocks.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from polyarch.errors import CredentialError
from polyarch.transport.auth.credentials import CredentialResolver
from polyarch.transport.settings import TransportSettings

REGISTRY = "registry.example:5000"


def _helper(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / f"docker-credential-{name}"
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _resolver(tmp_path: Path, helper: str) -> CredentialResolver:
    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"credHelpers": {REGISTRY: helper}}))
    environ = {"DOCKER_CONFIG": str(docker), "PATH": f"{tmp_path}{os.pathsep}/usr/bin:/bin"}
    return CredentialResolver(TransportSettings(), environ=environ, home=tmp_path)


HOLDS_OPEN = """
import json, subprocess, sys
sys.stdin.read()
# A child that inherits stdout and stderr and outlives the helper (an agent, a daemon).
subprocess.Popen(["sleep", "20"], start_new_session=True)
print(json.dumps({"ServerURL": "registry.example:5000", "Username": "u", "Secret": "s3cr3t"}))
sys.stdout.flush()
"""


def test_a_helper_whose_child_keeps_its_output_open_is_answered(tmp_path: Path) -> None:
    _helper(tmp_path, "holdsopen", HOLDS_OPEN)
    started = time.monotonic()
    credential = _resolver(tmp_path, "holdsopen").resolve(REGISTRY)
    assert credential is not None
    assert (credential.username, credential.password) == ("u", "s3cr3t")
    assert time.monotonic() - started < 15  # not the 30 s helper timeout


def test_a_helper_that_runs_too_long_says_it_was_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyarch.transport.auth import credentials

    monkeypatch.setattr(credentials, "_HELPER_TIMEOUT", 1.0)
    _helper(tmp_path, "slow", "import time\ntime.sleep(20)\n")
    with pytest.raises(CredentialError, match="still running after 1 s and was stopped"):
        _resolver(tmp_path, "slow").resolve(REGISTRY)
