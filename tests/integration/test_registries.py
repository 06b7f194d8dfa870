"""Prove the real-registry fixtures work, using raw httpx (no polyarch code)."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

import support.registry as registry_module
from support.registry import (
    BasicAuthRegistry,
    RegistryServer,
    RegistryStartError,
    TokenRegistry,
)
from support.token_issuer import (
    REGISTRY_TOKEN_LEEWAY,
    HeaderMode,
    SigningKey,
    TokenIssuer,
    TokenRequest,
)

pytestmark = pytest.mark.integration

REPO = "test/app"
PUSH_SCOPE = f"repository:{REPO}:pull,push"


def push_blob(client: httpx.Client, base_url: str, repo: str, data: bytes) -> str:
    """Upload ``data`` as a blob (POST, then monolithic PUT); return its digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = client.post(f"{base_url}/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = urljoin(base_url + "/", started.headers["Location"])
    separator = "&" if "?" in location else "?"
    finished = client.put(
        f"{location}{separator}digest={digest}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert finished.status_code == 201, finished.text
    assert finished.headers["Docker-Content-Digest"] == digest
    return digest


def pull_blob(client: httpx.Client, base_url: str, repo: str, digest: str) -> bytes:
    """GET a blob and return its bytes (asserting 200)."""
    response = client.get(f"{base_url}/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200, response.text
    return response.content


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split ``Bearer realm="...",service="..."`` into scheme and parameters."""
    scheme, _, rest = header.partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme, params


def bearer(token: str) -> dict[str, str]:
    """An Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def issuer(token_registry: TokenRegistry) -> Iterator[TokenIssuer]:
    """The session issuer, restored to its initial configuration after the test."""
    token_registry.issuer.reset()
    try:
        yield token_registry.issuer
    finally:
        token_registry.issuer.reset()


# -- plain -------------------------------------------------------------------------


def test_plain_registry_blob_roundtrip(registry: RegistryServer) -> None:
    """A blob pushed with POST+PUT comes back byte for byte; deletes are enabled."""
    assert registry.host == f"127.0.0.1:{registry.port}"
    assert registry.url == f"http://{registry.host}"
    data = os.urandom(1024)
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{registry.url}/v2/").status_code == 200
        digest = push_blob(client, registry.url, REPO, data)
        assert pull_blob(client, registry.url, REPO, digest) == data
        head = client.head(f"{registry.url}/v2/{REPO}/blobs/{digest}")
        assert head.status_code == 200
        assert int(head.headers["Content-Length"]) == len(data)
        assert client.delete(f"{registry.url}/v2/{REPO}/blobs/{digest}").status_code == 202
        assert client.head(f"{registry.url}/v2/{REPO}/blobs/{digest}").status_code == 404
    assert (registry.storage_dir / "docker" / "registry" / "v2").is_dir()
    assert "listening on" in registry.log_path.read_text()
    assert registry.startup_seconds is not None


def test_two_plain_registries_are_separate(
    registry: RegistryServer, registry2: RegistryServer
) -> None:
    """``registry2`` is another process with its own storage."""
    assert registry.host != registry2.host
    assert registry.storage_dir != registry2.storage_dir
    data = os.urandom(64)
    with httpx.Client(timeout=10) as client:
        digest = push_blob(client, registry.url, "cross/one", data)
        assert client.head(f"{registry2.url}/v2/cross/one/blobs/{digest}").status_code == 404
        push_blob(client, registry2.url, "cross/one", data)
        assert pull_blob(client, registry2.url, "cross/one", digest) == data


# -- basic auth --------------------------------------------------------------------


def test_basic_registry_requires_credentials(basic_registry: BasicAuthRegistry) -> None:
    """401 with a Basic challenge without (or with wrong) credentials, 200 with them."""
    url = f"{basic_registry.url}/v2/"
    with httpx.Client(timeout=10) as client:
        anonymous = client.get(url)
        assert anonymous.status_code == 401
        scheme, params = parse_challenge(anonymous.headers["WWW-Authenticate"])
        assert scheme == "Basic"
        assert params["realm"]
        assert client.get(url, auth=(basic_registry.username, "wrong")).status_code == 401
        assert client.get(url, auth=basic_registry.auth).status_code == 200

    data = os.urandom(256)
    with httpx.Client(timeout=10, auth=basic_registry.auth) as client:
        digest = push_blob(client, basic_registry.url, REPO, data)
        assert pull_blob(client, basic_registry.url, REPO, digest) == data


# -- token auth --------------------------------------------------------------------


def test_token_registry_challenge(token_registry: TokenRegistry) -> None:
    """Without a token the registry answers 401 with a Bearer challenge naming the scope."""
    with httpx.Client(timeout=10) as client:
        response = client.post(f"{token_registry.url}/v2/{REPO}/blobs/uploads/")
    assert response.status_code == 401
    scheme, params = parse_challenge(response.headers["WWW-Authenticate"])
    assert scheme == "Bearer"
    assert params["realm"] == token_registry.realm
    assert params["service"] == token_registry.service
    # distribution builds the action list from a Go map: the order varies.
    scope_type, name, actions = params["scope"].split(":")
    assert (scope_type, name) == ("repository", REPO)
    assert sorted(actions.split(",")) == ["pull", "push"]


def test_token_get_flow_push_and_pull(token_registry: TokenRegistry, issuer: TokenIssuer) -> None:
    """GET a token with Basic auth, then /v2/ and a blob push+pull succeed with it."""
    with httpx.Client(timeout=10) as client:
        response = client.get(
            token_registry.realm,
            params={
                "service": token_registry.service,
                "scope": PUSH_SCOPE,
                "account": token_registry.username,
            },
            auth=(token_registry.username, token_registry.password),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token"] == body["access_token"]
        assert body["expires_in"] == 300
        assert body["issued_at"].endswith("Z")
        claims = TokenIssuer.decode(body["token"])
        assert claims["sub"] == token_registry.username
        assert claims["aud"] == token_registry.service
        assert claims["access"] == [
            {"type": "repository", "name": REPO, "actions": ["pull", "push"]}
        ]

        headers = bearer(body["token"])
        assert client.get(f"{token_registry.url}/v2/", headers=headers).status_code == 200
        client.headers.update(headers)
        data = os.urandom(512)
        digest = push_blob(client, token_registry.url, REPO, data)
        assert pull_blob(client, token_registry.url, REPO, digest) == data
    assert issuer.requests == [
        TokenRequest(
            "GET",
            "/token",
            {
                "service": [token_registry.service],
                "scope": [PUSH_SCOPE],
                "account": [token_registry.username],
            },
        )
    ]


def test_token_post_flow_and_refresh(token_registry: TokenRegistry, issuer: TokenIssuer) -> None:
    """POST password and refresh_token grants work; ``revoke_all`` kills refresh tokens."""
    form = {
        "grant_type": "password",
        "username": token_registry.username,
        "password": token_registry.password,
        "service": token_registry.service,
        "scope": PUSH_SCOPE,
        "client_id": "polyarch-tests",
        "access_type": "offline",
    }
    with httpx.Client(timeout=10) as client:
        response = client.post(token_registry.realm, data=form)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["refresh_token"] == "alice-refresh-token"
        client.headers.update(bearer(body["access_token"]))
        data = os.urandom(128)
        digest = push_blob(client, token_registry.url, REPO, data)

        refresh_form = {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "service": token_registry.service,
            "scope": f"repository:{REPO}:pull",
            "client_id": "polyarch-tests",
        }
        refreshed = client.post(token_registry.realm, data=refresh_form)
        assert refreshed.status_code == 200, refreshed.text
        client.headers.update(bearer(refreshed.json()["token"]))
        assert pull_blob(client, token_registry.url, REPO, digest) == data

        issuer.revoke_all()
        assert client.post(token_registry.realm, data=refresh_form).status_code == 401
        form["password"] = "wrong"
        assert client.post(token_registry.realm, data=form).status_code == 401
    assert [r.method for r in issuer.requests] == ["POST"] * 4
    assert issuer.requests[0].query["grant_type"] == ["password"]
    assert [t.grant_type for t in issuer.issued] == ["password", "refresh_token"]


def test_pull_only_user_is_denied_push(token_registry: TokenRegistry, issuer: TokenIssuer) -> None:
    """A pull-only user gets a pull-only token: push is refused, pull works."""
    data = os.urandom(100)
    alice = issuer.mint(
        token_registry.username, [{"type": "repository", "name": REPO, "actions": ["pull", "push"]}]
    )
    with httpx.Client(timeout=10, headers=bearer(alice)) as client:
        digest = push_blob(client, token_registry.url, REPO, data)

    with httpx.Client(timeout=10) as client:
        response = client.get(
            token_registry.realm,
            params={"service": token_registry.service, "scope": PUSH_SCOPE},
            auth=(token_registry.readonly_username, token_registry.readonly_password),
        )
        assert response.status_code == 200, response.text
        token = response.json()["token"]
        assert TokenIssuer.decode(token)["access"] == [
            {"type": "repository", "name": REPO, "actions": ["pull"]}
        ]
        client.headers.update(bearer(token))
        denied = client.post(f"{token_registry.url}/v2/{REPO}/blobs/uploads/")
        assert denied.status_code == 401
        _, params = parse_challenge(denied.headers["WWW-Authenticate"])
        assert params["error"] == "insufficient_scope"
        assert pull_blob(client, token_registry.url, REPO, digest) == data


def test_issuer_rejects_bad_credentials_and_anonymous(
    token_registry: TokenRegistry, issuer: TokenIssuer
) -> None:
    """Wrong passwords and (by default) anonymous requests get 401; anonymous is configurable."""
    params = {"service": token_registry.service, "scope": f"repository:{REPO}:pull"}
    with httpx.Client(timeout=10) as client:
        assert client.get(issuer.realm, params=params, auth=("alice", "nope")).status_code == 401
        assert client.get(issuer.realm, params=params, auth=("mallory", "x")).status_code == 401
        assert client.get(issuer.realm, params=params).status_code == 401
        issuer.set_anonymous({"public/*": ["pull"]})
        anonymous = client.get(issuer.realm, params=params)
        assert anonymous.status_code == 200
        assert TokenIssuer.decode(anonymous.json()["token"])["access"] == []
        public = client.get(
            issuer.realm, params={**params, "scope": "repository:public/x:pull,push"}
        )
        assert TokenIssuer.decode(public.json()["token"])["access"] == [
            {"type": "repository", "name": "public/x", "actions": ["pull"]}
        ]
    assert len(issuer.requests) == 5
    assert [t.grant_type for t in issuer.issued] == ["anonymous", "anonymous"]


@pytest.mark.parametrize("mode", ["x5c", "kid", "jwk"])
def test_registry_accepts_every_key_header(token_registry: TokenRegistry, mode: HeaderMode) -> None:
    """distribution 2.8 finds the signing key through x5c, kid or jwk alike."""
    token = token_registry.issuer.mint("alice", [], header_mode=mode)
    response = httpx.get(f"{token_registry.url}/v2/", headers=bearer(token), timeout=10)
    assert response.status_code == 200, token_registry.server.log_tail()


def test_registry_token_validation(token_registry: TokenRegistry) -> None:
    """exp is checked with a 60 s leeway; foreign keys and audiences are refused."""
    issuer = token_registry.issuer
    url = f"{token_registry.url}/v2/"

    def status(token: str) -> int:
        return httpx.get(url, headers=bearer(token), timeout=10).status_code

    assert REGISTRY_TOKEN_LEEWAY == 60
    assert status(issuer.mint("alice", [], exp_offset=-(REGISTRY_TOKEN_LEEWAY // 2))) == 200
    assert status(issuer.mint("alice", [], exp_offset=-(REGISTRY_TOKEN_LEEWAY + 30))) == 401
    assert status(issuer.mint("alice", [], signing_key=SigningKey.generate())) == 401
    assert status(issuer.mint("alice", [], audience="another-service")) == 401
    assert status(issuer.mint("alice", [], issuer_name="another-issuer")) == 401


def test_expire_next_makes_registry_reject_cached_token(
    token_registry: TokenRegistry, issuer: TokenIssuer
) -> None:
    """``expire_next`` hands out a token the registry refuses as expired, then good ones."""
    issuer.expire_next(1)
    params = {"service": token_registry.service, "scope": f"repository:{REPO}:pull"}
    auth = (token_registry.username, token_registry.password)
    with httpx.Client(timeout=10) as client:
        stale = client.get(issuer.realm, params=params, auth=auth).json()
        assert stale["expires_in"] == 300
        rejected = client.get(f"{token_registry.url}/v2/", headers=bearer(stale["token"]))
        assert rejected.status_code == 401
        assert parse_challenge(rejected.headers["WWW-Authenticate"])[1]["error"] == "invalid_token"
        fresh = client.get(issuer.realm, params=params, auth=auth).json()
        assert client.get(f"{token_registry.url}/v2/", headers=bearer(fresh["token"])).is_success
        issuer.set_expiry(1)
        short = client.get(issuer.realm, params=params, auth=auth).json()
        assert short["expires_in"] == 1
        claims = TokenIssuer.decode(short["token"])
        assert claims["exp"] - claims["iat"] == 1


# -- TLS ---------------------------------------------------------------------------


def test_tls_registry(tls_registry: RegistryServer) -> None:
    """HTTPS works when trusting ``ca_file`` and fails with the default trust store."""
    assert tls_registry.url == f"https://{tls_registry.host}"
    assert tls_registry.ca_file is not None
    assert tls_registry.ca_file.is_file()
    with httpx.Client(verify=tls_registry.ssl_context(), timeout=10) as client:
        assert client.get(f"{tls_registry.url}/v2/").status_code == 200
    with httpx.Client(timeout=10) as client, pytest.raises(httpx.ConnectError):
        client.get(f"{tls_registry.url}/v2/")


# -- RegistryServer behaviour ------------------------------------------------------


def test_startup_failure_includes_log_tail(registry_binary: str, tmp_path: Path) -> None:
    """A registry that cannot start raises with its log; no process is left behind."""
    server = RegistryServer(
        binary=registry_binary,
        workdir=tmp_path,
        extra_config={"storage": {"no-such-driver": {}}},
    )
    with pytest.raises(RegistryStartError) as excinfo:
        server.start()
    assert "tail of" in str(excinfo.value)
    assert "must provide exactly one storage type" in str(excinfo.value)
    assert not server.running


def test_start_retries_when_port_is_taken(
    registry_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the picked port is taken before the registry binds it, another one is tried."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real = registry_module.find_free_port
        monkeypatch.setattr(registry_module, "find_free_port", lambda: next(ports, None) or real())
        with RegistryServer(binary=registry_binary, workdir=tmp_path) as server:
            assert server.port != taken
            assert httpx.get(f"{server.url}/v2/", timeout=10).status_code == 200
        assert not server.running
    assert "address already in use" in server.log_path.read_text()
