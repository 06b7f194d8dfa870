"""How ``login``/``logout`` edit Docker's config.json, without a registry (``check=False``).

The check against a real registry, Basic and token auth, and a credential helper are in
tests/integration/test_verbs.py; here: what the file looks like afterwards, and failures.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, CredentialError, InvalidInput, TransportSettings
from polyarch.operations.login import login, logout

CANARY = "canary-s3cret-PASSWORD-7f3a"


def _ctx(user: str = "ci", password: str = CANARY) -> Context:
    return Context(TransportSettings(username=user, password=password))


def _environ(tmp_path: Path) -> dict[str, str]:
    return {"DOCKER_CONFIG": str(tmp_path / "docker")}


def _config(tmp_path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((tmp_path / "docker" / "config.json").read_text())
    return doc


def _write(tmp_path: Path, doc: dict[str, Any]) -> None:
    (tmp_path / "docker").mkdir(exist_ok=True)
    (tmp_path / "docker" / "config.json").write_text(json.dumps(doc))


def test_keeps_the_rest_and_one_entry_per_registry(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "auths": {"https://r.example:5000/v1/": {"auth": "b2xkOm9sZA=="}, "o.example": {}},
            "psFormat": "table",
        },
    )
    with _ctx() as ctx:
        login("r.example:5000", ctx, environ=_environ(tmp_path), check=False)
    doc = _config(tmp_path)
    token = base64.b64encode(f"ci:{CANARY}".encode()).decode()
    assert doc == {
        "auths": {"o.example": {}, "r.example:5000": {"auth": token}},
        "psFormat": "table",
    }
    assert (tmp_path / "docker" / "config.json").stat().st_mode & 0o777 == 0o600
    result = logout("https://r.example:5000", environ=_environ(tmp_path))
    assert result.changed
    assert _config(tmp_path)["auths"] == {"o.example": {}}
    assert not logout("r.example:5000", environ=_environ(tmp_path)).changed


def test_docker_hub_uses_dockers_key(tmp_path: Path) -> None:
    with _ctx() as ctx:
        result = login("docker.io", ctx, environ=_environ(tmp_path), check=False)
    assert result.server_url == "https://index.docker.io/v1/"
    assert list(_config(tmp_path)["auths"]) == ["https://index.docker.io/v1/"]


def test_failing_helper_changes_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    _write(tmp_path, {"credHelpers": {"r.example": "broken"}})
    before = (tmp_path / "docker" / "config.json").read_bytes()

    def run(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        assert args[0] == ["docker-credential-broken", "store"]
        assert json.loads(kwargs["input"]) == {
            "ServerURL": "r.example",
            "Username": "ci",
            "Secret": CANARY,
        }
        return subprocess.CompletedProcess(args[0], 1, f"cannot store {CANARY}".encode(), b"")

    with _ctx() as ctx, pytest.raises(CredentialError) as info:
        login("r.example", ctx, environ=_environ(tmp_path), run=run, check=False)
    assert "docker-credential-broken" in info.value.one_line()
    assert CANARY not in info.value.one_line()
    assert (tmp_path / "docker" / "config.json").read_bytes() == before


def test_refuses_what_docker_could_not_store(tmp_path: Path) -> None:
    with _ctx(user="a:b") as ctx, pytest.raises(InvalidInput, match="cannot contain ':'"):
        login("r.example", ctx, environ=_environ(tmp_path), check=False)
    with _ctx() as ctx, pytest.raises(InvalidInput, match="invalid registry"):
        login("bad host", ctx, environ=_environ(tmp_path), check=False)
    assert not (tmp_path / "docker").exists()
