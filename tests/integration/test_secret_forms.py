"""Issue 13 §5: secrets never printed, in any encoding, on any path.

The two instances from the issue, against the real registry and token service behind
:class:`support.gateproxy.GateProxy`:

* a token service that hands out a token containing a line break (h11 refuses such a
  header and quotes it: ``Illegal header value b'Bearer ...'``);
* a registry whose blob redirect goes to a storage URL whose *path* holds the password,
  logged under ``-vv``.

Each runs on every path: success or failure, quiet, ``-vv`` and ``--json``; the output is
searched for every form of the secret (raw, base64, percent-encoded, JSON-escaped,
bytes repr). The kind (every form through :func:`polyarch.transport.masking.mask`) is
covered in ``tests/unit/test_reliability.py``; ``test_secrets.py`` covers every command
with echoing servers.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from polyarch import Context, Reference, TransportSettings
from support.cli import Result, run_cli
from support.gateproxy import GateProxy, Refuse, Seen, ToStorage
from support.images import push_index
from support.registry import TokenRegistry

pytestmark = pytest.mark.integration

#: A password with characters that change under percent-encoding and JSON escaping.
PASSWORD = "Canary/Pa55 w0rd+\\q7"
TOKEN_SECRET = "CanaryT0ken-ZZ81"


def forms(secret: str, username: str = "user") -> list[str]:
    """Every form the secret could be printed in."""
    return [
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        repr(secret.encode())[2:-1],
        base64.b64encode(f"{username}:{secret}".encode()).decode(),
        base64.b64encode(secret.encode()).decode(),
    ]


def assert_clean(result: Result, secret: str) -> None:
    for text in (result.out, result.err):
        for form in forms(secret):
            assert form not in text, (form, text)


def cli(home: Path, *args: str, **env: str) -> Result:
    full = {name: "" for name in os.environ if name.startswith("POLYARCH_")}
    full.update(HOME=str(home), DOCKER_CONFIG=str(home / ".docker"))
    full.update(REGISTRY_AUTH_FILE=str(home / "auth.json"), XDG_RUNTIME_DIR=str(home))
    full.update(env)
    return run_cli(*args, env=full, timeout=100)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / ".docker").mkdir()
    return tmp_path


PATHS = [(), ("-vv",), ("--json",), ("-vv", "--json")]


@pytest.mark.parametrize("flags", PATHS, ids=["quiet", "-vv", "json", "-vv-json"])
def test_a_token_with_a_line_break_is_never_printed(
    token_registry: TokenRegistry, home: Path, flags: tuple[str, ...]
) -> None:
    token = f"tok-\n{TOKEN_SECRET}"
    body = json.dumps({"token": token, "expires_in": 300}).encode()
    issuer_host = token_registry.realm.split("/")[2]

    def answer(seen: Seen) -> Refuse:
        return Refuse(200, {"Content-Type": "application/json"}, body)

    with GateProxy(issuer_host, answer) as issuer_proxy:
        realm = token_registry.realm.replace(issuer_host, issuer_proxy.host)
        with GateProxy(token_registry.host, rewrite={token_registry.realm: realm}) as proxy:
            result = cli(
                home,
                "inspect",
                *flags,
                f"{proxy.host}/any/app:v1",
                POLYARCH_USERNAME=token_registry.username,
                POLYARCH_PASSWORD=token_registry.password,
            )
    assert result.code == 1, result.err
    assert "cannot be sent in an HTTP header" in result.err
    assert_clean(result, TOKEN_SECRET)
    assert_clean(result, token_registry.password)


@pytest.fixture(scope="module")
def image(registry: Any) -> str:
    repo = f"forms{uuid.uuid4().hex[:8]}/app"
    with Context(TransportSettings()) as ctx:
        push_index(
            ctx.repository(Reference.parse(f"{registry.host}/{repo}")),
            ["linux/amd64", "linux/arm64"],
            tag="v1",
        )
    return f"{repo}:v1"


@pytest.mark.parametrize("flags", PATHS, ids=["quiet", "-vv", "json", "-vv-json"])
@pytest.mark.parametrize("storage_refuses", [False, True], ids=["success", "failure"])
def test_a_redirect_whose_path_holds_the_password_is_masked(
    registry: Any,
    registry2: Any,
    image: str,
    home: Path,
    flags: tuple[str, ...],
    storage_refuses: bool,
) -> None:
    def rule(seen: Seen) -> ToStorage | None:
        if "/blobs/sha256:" in seen.path and seen.method == "GET":
            return ToStorage(prefix="/" + quote(PASSWORD, safe=""), query="sig=" + quote(PASSWORD))
        return None

    def storage(seen: Seen) -> Refuse | None:
        return Refuse(403, {}, b"denied") if storage_refuses else None

    target = f"{registry2.host}/forms{uuid.uuid4().hex[:8]}/app:v1"
    with GateProxy(registry.host, rule, storage_rule=storage) as proxy:
        result = cli(
            home,
            "copy",
            *flags,
            f"{proxy.host}/{image}",
            target,
            POLYARCH_USERNAME="user",
            POLYARCH_PASSWORD=PASSWORD,
        )
        redirected = len(proxy.storage_seen)
    assert redirected, "no blob was read through the storage"
    assert result.code == (1 if storage_refuses else 0), result.err
    if "-vv" in flags:
        assert "localhost:" in result.err  # the redirect is logged, masked
    assert_clean(result, PASSWORD)


@pytest.mark.parametrize("flags", PATHS, ids=["quiet", "-vv", "json", "-vv-json"])
def test_a_token_service_echoing_the_form_it_received_is_masked(
    token_registry: TokenRegistry, home: Path, flags: tuple[str, ...]
) -> None:
    """The OAuth2 password grant carries the password percent-encoded in its form body;
    a token service that quotes the body (and the Basic header) back gets both masked."""
    issuer_host = token_registry.realm.split("/")[2]

    def echo(seen: Seen) -> Refuse:
        if seen.method == "GET":
            return Refuse(405, {"Allow": "POST"})  # -> the OAuth2 POST with the password
        said = f"cannot parse {seen.body.decode()} with {seen.headers.get('authorization')}"
        body = json.dumps({"error": "invalid_request", "error_description": said}).encode()
        return Refuse(400, {"Content-Type": "application/json"}, body)

    with GateProxy(issuer_host, echo) as issuer_proxy:
        realm = token_registry.realm.replace(issuer_host, issuer_proxy.host)
        with GateProxy(token_registry.host, rewrite={token_registry.realm: realm}) as proxy:
            result = cli(
                home,
                "inspect",
                *flags,
                f"{proxy.host}/any/app:v1",
                POLYARCH_USERNAME="user",
                POLYARCH_PASSWORD=PASSWORD,
            )
        posts = [s for s in issuer_proxy.seen if s.method == "POST"]
    assert posts and quote_plus(PASSWORD).encode() in posts[0].body, "no password grant"
    assert result.code == 1, result.err
    assert "cannot parse" in result.err  # the service's message is shown, masked
    assert_clean(result, PASSWORD)
