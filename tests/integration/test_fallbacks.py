"""Issue 10, kind 3: an optimization or a probe never stops the real work.

Against the real registry (distribution) behind :class:`support.gateproxy.GateProxy`,
which refuses what a real registry, its token service or its storage refuses in the
field: a ``HEAD`` on a storage URL signed for ``GET`` (S3 answers 403), a ``HEAD`` not
allowed (405), a cross-repository mount answered 401, a token for several scopes
refused. polyarch falls back to the plain path (GET, upload, single-scope tokens), says
so at ``-v``, and when the plain path is refused too, the error's hint is true for that
case (no "log in" when the login is not the problem).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Reference, TransportSettings
from support.cli import Result, run_cli
from support.gateproxy import GateProxy, Refuse, Seen, ToStorage
from support.images import push_index
from support.registry import TokenRegistry

pytestmark = pytest.mark.integration

S3_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code>'
    b"<Message>The request signature we calculated does not match the signature you "
    b"provided.</Message></Error>"
)


def cli(home: Path, *args: str, **env: str) -> Result:
    """The CLI with an empty docker/podman configuration and no POLYARCH_* variables."""
    full = {name: "" for name in os.environ if name.startswith("POLYARCH_")}
    full.update(
        HOME=str(home),
        DOCKER_CONFIG=str(home / ".docker"),
        REGISTRY_AUTH_FILE=str(home / "auth.json"),
        XDG_RUNTIME_DIR=str(home / "run"),
    )
    full.update(env)
    return run_cli(*args, env=full, timeout=110)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / ".docker").mkdir()
    (tmp_path / "run").mkdir()
    return tmp_path


@pytest.fixture(scope="module")
def image(registry: Any) -> str:
    """``REPO:v1``: a two-platform index on the plain registry."""
    repo = f"fallback{uuid.uuid4().hex[:8]}/app"
    with Context(TransportSettings()) as ctx:
        push_index(ctx.repository(Reference.parse(f"{registry.host}/{repo}")), _PLATFORMS, tag="v1")
    return f"{repo}:v1"


_PLATFORMS = ["linux/amd64", "linux/arm64"]


def _blob(seen: Seen) -> bool:
    return "/blobs/sha256:" in seen.path


@pytest.fixture
def storage_proxy(registry: Any) -> Iterator[GateProxy]:
    """Blob reads redirected to a storage that serves GET and refuses HEAD (403)."""

    def rule(seen: Seen) -> ToStorage | None:
        return ToStorage() if _blob(seen) and seen.method in ("GET", "HEAD") else None

    def storage(seen: Seen) -> Refuse | None:
        return (
            Refuse(403, {"Content-Type": "application/xml"}, S3_DENIED)
            if seen.method == "HEAD"
            else None
        )

    with GateProxy(registry.host, rule, storage_rule=storage) as proxy:
        yield proxy


def test_verify_when_the_storage_refuses_head(
    storage_proxy: GateProxy, image: str, home: Path
) -> None:
    result = cli(home, "verify", "-v", f"{storage_proxy.host}/{image}")
    assert result.code == 0, result.err
    assert "asking with GET instead" in result.err
    assert any(s.method == "HEAD" for s in storage_proxy.storage_seen)
    assert any(s.method == "GET" for s in storage_proxy.storage_seen)


def test_copy_from_a_registry_whose_storage_refuses_head(
    storage_proxy: GateProxy, image: str, registry2: Any, home: Path
) -> None:
    result = cli(home, "copy", f"{storage_proxy.host}/{image}", f"{registry2.host}/{image}")
    assert result.code == 0, result.err


def test_storage_refusing_get_too_is_an_error_that_does_not_blame_the_login(
    registry: Any, image: str, registry2: Any, home: Path
) -> None:
    def rule(seen: Seen) -> ToStorage | None:
        return ToStorage() if _blob(seen) else None

    def storage(seen: Seen) -> Refuse:
        return Refuse(403, {"Content-Type": "application/xml"}, S3_DENIED)

    with GateProxy(registry.host, rule, storage_rule=storage) as proxy:
        result = cli(
            home,
            "copy",
            f"{proxy.host}/{image}",
            f"{registry2.host}/denied{uuid.uuid4().hex[:8]}/app:v1",
        )
    assert result.code == 1, result.err
    line = result.err.strip()
    assert len(line.splitlines()) == 1, result.err
    assert "localhost:" in line and "storage" in line
    assert "docker login" not in line and "lack permission" not in line


def test_head_not_allowed_falls_back_to_get(registry: Any, image: str, home: Path) -> None:
    def rule(seen: Seen) -> Refuse | None:
        return Refuse(405, {"Allow": "GET"}) if seen.method == "HEAD" else None

    target = image.replace(":v1", "-copy:v1")
    with GateProxy(registry.host, rule) as proxy:
        copied = cli(home, "copy", "-v", f"{registry.host}/{image}", f"{proxy.host}/{target}")
        verified = cli(home, "verify", f"{proxy.host}/{target}")
        assert any(s.method == "HEAD" for s in proxy.seen)
    assert copied.code == 0, copied.err
    assert "asking with GET instead" in copied.err
    assert verified.code == 0, verified.err


# -- mounts and multi-scope tokens on a token registry ----------------------------------


@pytest.fixture(scope="module")
def token_image(token_registry: TokenRegistry) -> str:
    repo = f"fallback{uuid.uuid4().hex[:8]}/src"
    settings = TransportSettings(username=token_registry.username, password=token_registry.password)
    with Context(settings) as ctx:
        push_index(
            ctx.repository(Reference.parse(f"{token_registry.host}/{repo}")), _PLATFORMS, tag="v1"
        )
    return f"{repo}:v1"


def _alice(token_registry: TokenRegistry) -> dict[str, str]:
    return {
        "POLYARCH_USERNAME": token_registry.username,
        "POLYARCH_PASSWORD": token_registry.password,
    }


@pytest.mark.parametrize("command", ["copy", "create"])
def test_mount_refused_with_401_falls_back_to_upload(
    token_registry: TokenRegistry, token_image: str, home: Path, command: str
) -> None:
    challenge = (
        f'Bearer realm="{token_registry.realm}",service="{token_registry.service}",'
        'error="insufficient_scope"'
    )

    def rule(seen: Seen) -> Refuse | None:
        if seen.method == "POST" and seen.params("mount"):
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "no"}]})
            return Refuse(401, {"WWW-Authenticate": challenge}, body.encode())
        return None

    with GateProxy(token_registry.host, rule) as proxy:
        source = f"{proxy.host}/{token_image}"
        target = f"{proxy.host}/{token_image.replace('/src:', f'/mounted-{command}:')}"
        args = [source, target] if command == "copy" else ["-t", target, source]
        result = cli(home, command, "-v", *args, **_alice(token_registry))
        mounts = [s for s in proxy.seen if s.params("mount")]
    assert result.code == 0, result.err
    assert mounts, "no mount was attempted"
    assert "uploading it instead" in result.err


def test_multi_scope_token_refused_falls_back_to_single_scope(
    token_registry: TokenRegistry, token_image: str, home: Path
) -> None:
    def token_rule(seen: Seen) -> Refuse | None:
        if len(seen.params("scope")) > 1:
            body = json.dumps({"errors": [{"code": "DENIED", "message": "one scope at a time"}]})
            return Refuse(403, {"Content-Type": "application/json"}, body.encode())
        return None

    issuer_host = token_registry.realm.split("/")[2]
    with GateProxy(issuer_host, token_rule) as issuer_proxy:
        realm = token_registry.realm.replace(issuer_host, issuer_proxy.host)
        with GateProxy(token_registry.host, rewrite={token_registry.realm: realm}) as proxy:
            source = f"{proxy.host}/{token_image}"
            target = f"{proxy.host}/{token_image.replace('/src:', '/scoped:')}"
            result = cli(home, "copy", "-v", source, target, **_alice(token_registry))
        multi = [s for s in issuer_proxy.seen if len(s.params("scope")) > 1]
    assert result.code == 0, result.err
    assert multi, "no multi-scope token was asked for"
    assert "uploading it instead" in result.err
