"""RegistryAuth: Basic and Bearer flows driven through httpx.MockTransport (no sockets)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx
import pytest

from polyarch.errors import AuthError, Denied, PolyarchError, Unauthorized
from polyarch.transport.auth.credentials import Credential, CredentialResolver
from polyarch.transport.auth.flow import REGISTRY_EXTENSION, RegistryAuth
from polyarch.transport.auth.scopes import SCOPES_EXTENSION, scopes_for
from polyarch.transport.client import RegistryClient
from polyarch.transport.settings import TransportSettings

CANARY = "canary-s3cret-PASSWORD-7f3a"
REGISTRY = "registry.example"
REALM = "https://auth.example/token"
SERVICE = "registry.example"


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FixedResolver(CredentialResolver):
    """A resolver returning one credential for every registry, counting lookups."""

    def __init__(self, credential: Credential | None) -> None:
        super().__init__(TransportSettings())
        self.credential = credential
        self.lookups = 0

    def resolve(self, registry: str) -> Credential | None:
        self.lookups += 1
        return self.credential


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def covers(granted: set[str], needed: set[str]) -> bool:
    """Whether ``granted`` scopes include every action of ``needed`` ones."""
    have: dict[str, set[str]] = {}
    for scope in granted:
        resource, _, actions = scope.rpartition(":")
        have.setdefault(resource, set()).update(actions.split(","))
    for scope in needed:
        resource, _, actions = scope.rpartition(":")
        if not set(actions.split(",")) <= have.get(resource, set()):
            return False
    return True


@dataclass
class Registry:
    """A mock registry with a Bearer token service (or Basic auth)."""

    scheme: str = "bearer"
    realm: str = REALM
    users: dict[str, str] = field(default_factory=lambda: {"alice": CANARY})
    identity_tokens: set[str] = field(default_factory=set)
    anonymous: bool = False
    get_status: int | None = None  # force the token GET to answer this (e.g. 405)
    token_field: str = "token"
    expires_in: int | None = 300
    token_status: int | None = None  # force token errors
    token_body: bytes | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    valid: dict[str, set[str]] = field(default_factory=dict)  # token -> scopes
    issued: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # The flow re-sends the same Request object with new headers: keep a snapshot.
        request.read()
        self.requests.append(
            httpx.Request(
                request.method, request.url, headers=request.headers.copy(), content=request.content
            )
        )
        if request.url.host == "auth.example" or request.url.path == "/token":
            return self.token(request)
        return self.registry(request)

    # token service
    def token(self, request: httpx.Request) -> httpx.Response:
        if self.token_status is not None:
            body = self.token_body or json.dumps({"details": "nope"}).encode()
            return httpx.Response(self.token_status, content=body)
        if request.method == "GET":
            if self.get_status is not None:
                return httpx.Response(self.get_status)
            query = parse_qs(request.url.query.decode())
            scopes = query.get("scope", [])
            auth = request.headers.get("authorization")
            if auth is None:
                if not self.anonymous:
                    return httpx.Response(401, json={"details": "anonymous access denied"})
            elif not any(auth == basic(u, p) for u, p in self.users.items()):
                return httpx.Response(401, json={"details": "incorrect username or password"})
        else:
            form = parse_qs(request.content.decode())
            scopes = form.get("scope", [""])[0].split()
            assert form["client_id"] == ["polyarch"]
            grant = form["grant_type"][0]
            if grant == "password":
                user, password = form["username"][0], form["password"][0]
                if self.users.get(user) != password:
                    return httpx.Response(401, json={"error": "invalid_grant"})
            elif grant == "refresh_token":
                if form["refresh_token"][0] not in self.identity_tokens:
                    return httpx.Response(401, json={"error": "invalid_grant"})
            else:
                return httpx.Response(400)
        self.issued += 1
        value = f"tok-{self.issued}"
        self.valid[value] = set(scopes)
        body: dict[str, object] = {self.token_field: value, "issued_at": "2024-01-01T00:00:00Z"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return httpx.Response(200, json=body)

    # registry
    def needed(self, request: httpx.Request) -> set[str]:
        return set(scopes_for(request.method, request.url.path, request.url.query))

    def registry(self, request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        if self.scheme == "basic":
            if any(auth == basic(u, p) for u, p in self.users.items()):
                return httpx.Response(200, json={"ok": True})
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="Registry"'})
        if auth.startswith("Bearer "):
            granted = self.valid.get(auth[7:])
            if granted is not None and covers(granted, self.needed(request)):
                return httpx.Response(200, json={"ok": True})
        challenge = f'Bearer realm="{self.realm}",service="{SERVICE}"'
        needed = self.needed(request)
        if needed:
            challenge += f',scope="{" ".join(sorted(needed))}"'
        return httpx.Response(
            401,
            headers={"WWW-Authenticate": challenge},
            json={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
        )

    # helpers
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/token"]

    def registry_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != "/token"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


ALICE = Credential("alice", CANARY)


def make_client(
    registry: Registry,
    credential: Credential | None = ALICE,
    clock: Callable[[], float] | None = None,
    settings: TransportSettings | None = None,
) -> RegistryClient:
    return RegistryClient(
        settings or TransportSettings(),
        credentials=FixedResolver(credential),
        transport=httpx.MockTransport(registry),
        sleep=lambda _: None,
        clock=clock or Clock(),
    )


@pytest.fixture
def client_factory() -> Iterator[Callable[..., RegistryClient]]:
    made: list[RegistryClient] = []

    def factory(*args: object, **kwargs: object) -> RegistryClient:
        client = make_client(*args, **kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    texts = [str(exc), repr(exc)]
    if isinstance(exc, PolyarchError):
        texts += [exc.one_line(), exc.hint or ""]
    for secret in secrets:
        for text in texts:
            assert secret not in text, text


# -- scopes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/v2/", "", []),
        ("GET", "/v2/_catalog", "", []),
        ("GET", "/v2/app/manifests/v1", "", ["repository:app:pull"]),
        ("HEAD", "/v2/team/app/blobs/sha256:abc", "", ["repository:team/app:pull"]),
        ("GET", "/v2/a/b/c/tags/list", "n=10", ["repository:a/b/c:pull"]),
        ("PUT", "/v2/app/manifests/v1", "", ["repository:app:pull,push"]),
        ("DELETE", "/v2/app/manifests/sha256:abc", "", ["repository:app:pull,push"]),
        ("POST", "/v2/app/blobs/uploads/", "", ["repository:app:pull,push"]),
        (
            "POST",
            "/v2/app/blobs/uploads/",
            "mount=sha256:abc&from=other/repo",
            ["repository:app:pull,push", "repository:other/repo:pull"],
        ),
        ("PATCH", "/v2/app/blobs/uploads/uuid-1", "_state=x", ["repository:app:pull,push"]),
        ("GET", "/v2/app/referrers/sha256:abc", "", ["repository:app:pull"]),
    ],
)
def test_scopes_from_path(method: str, path: str, query: str, expected: list[str]) -> None:
    assert scopes_for(method, path, query) == expected


# -- Basic ----------------------------------------------------------------------------


def test_basic_challenge_is_answered_then_sent_preemptively(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry(scheme="basic")
    client = client_factory(registry)
    assert client.request("GET", REGISTRY, "/v2/app/manifests/v1").json() == {"ok": True}
    assert [r.headers.get("authorization") for r in registry.requests] == [
        None,
        basic("alice", CANARY),
    ]
    client.request("GET", REGISTRY, "/v2/app/manifests/v2")
    assert len(registry.requests) == 3
    assert registry.requests[2].headers["authorization"] == basic("alice", CANARY)


def test_basic_without_credentials_is_unauthorized(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry(scheme="basic")
    client = client_factory(registry, credential=None)
    with pytest.raises(Unauthorized) as info:
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert REGISTRY in str(info.value)
    assert len(registry.requests) == 1


def test_basic_rejected_password_is_unauthorized_without_the_password(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry(scheme="basic")
    client = client_factory(registry, credential=Credential("alice", CANARY + "-wrong"))
    with pytest.raises(Unauthorized) as info:
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert_no_secret(info.value, CANARY)
    assert len(registry.requests) == 2  # no loop


# -- Bearer ---------------------------------------------------------------------------


def test_bearer_token_get_with_scope_and_basic_credentials(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry()
    client = client_factory(registry)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    first, token, retry = registry.requests
    assert "authorization" not in first.headers
    assert token.method == "GET"
    assert str(token.url).startswith(REALM + "?")
    query = parse_qs(token.url.query.decode())
    assert query["service"] == [SERVICE]
    assert query["scope"] == ["repository:app:pull"]
    assert query["account"] == ["alice"]
    assert token.headers["authorization"] == basic("alice", CANARY)
    assert token.headers["user-agent"].startswith("polyarch/")
    assert retry.headers["authorization"] == "Bearer tok-1"


def test_bearer_token_is_cached_for_the_same_scopes(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry()
    client = client_factory(registry)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    before = len(registry.requests)
    client.request("GET", REGISTRY, "/v2/app/blobs/sha256:abc")
    after = registry.requests[before:]
    assert len(after) == 1  # no token call, no 401 round trip
    assert after[0].headers["authorization"] == "Bearer tok-1"
    assert len(registry.token_requests()) == 1
    assert client.stats.token_requests == 1


def test_known_bearer_host_fetches_a_new_scope_proactively(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry()
    client = client_factory(registry)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    before = len(registry.requests)
    client.request("PUT", REGISTRY, "/v2/app/manifests/v1", content=b"{}", expect=(200, 201))
    token, put = registry.requests[before:]
    assert token.url.path == "/token"
    assert parse_qs(token.url.query.decode())["scope"] == ["repository:app:pull,push"]
    assert put.headers["authorization"] == "Bearer tok-2"
    # The exact pull token is still cached and preferred.
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert registry.requests[-1].headers["authorization"] == "Bearer tok-1"
    assert len(registry.token_requests()) == 2


def test_a_push_token_also_serves_pulls(client_factory: Callable[..., RegistryClient]) -> None:
    registry = Registry()
    client = client_factory(registry)
    client.request("PUT", REGISTRY, "/v2/app/manifests/v1", content=b"{}")
    client.request("GET", REGISTRY, "/v2/app/blobs/sha256:abc")
    assert registry.requests[-1].headers["authorization"] == "Bearer tok-1"
    assert len(registry.token_requests()) == 1
    # ...but not pulls from another repository.
    client.request("GET", REGISTRY, "/v2/other/blobs/sha256:abc")
    assert registry.requests[-1].headers["authorization"] == "Bearer tok-2"


def test_several_scopes_for_a_cross_repo_mount(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry()
    client = client_factory(registry)
    scopes = ["repository:app:pull,push", "repository:base:pull"]
    client.request(
        "POST",
        REGISTRY,
        "/v2/app/blobs/uploads/",
        params={"mount": "sha256:abc", "from": "base"},
        scopes=scopes,
        expect=(200, 201, 202),
    )
    [token] = registry.token_requests()
    assert sorted(parse_qs(token.url.query.decode())["scope"]) == scopes


def test_expired_token_is_replaced_before_sending(
    clock: Clock, client_factory: Callable[..., RegistryClient]
) -> None:
    registry = Registry(expires_in=60)
    client = client_factory(registry, clock=clock)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    clock.now += 50  # within the lifetime minus the safety margin
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert len(registry.token_requests()) == 1
    clock.now += 6  # 56 s: inside the 5 s early-expiry margin
    before = len(registry.requests)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    token, get = registry.requests[before:]
    assert token.url.path == "/token"
    assert get.headers["authorization"] == "Bearer tok-2"


def test_missing_expires_in_defaults_to_60_seconds(
    clock: Clock, client_factory: Callable[..., RegistryClient]
) -> None:
    registry = Registry(expires_in=None)
    client = client_factory(registry, clock=clock)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    clock.now += 54
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert len(registry.token_requests()) == 1
    clock.now += 2
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert len(registry.token_requests()) == 2


def test_revoked_cached_token_is_refetched_once(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry()
    client = client_factory(registry)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    registry.valid.clear()  # revoked mid-operation
    before = len(registry.requests)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    rejected, token, retry = registry.requests[before:]
    assert rejected.headers["authorization"] == "Bearer tok-1"
    assert token.url.path == "/token"
    assert retry.headers["authorization"] == "Bearer tok-2"


def test_a_token_that_keeps_failing_never_loops(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry()
    client = client_factory(registry)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")

    def reject_all(request: httpx.Request) -> None:
        registry.valid.clear()

    registry_call = registry.registry

    def registry_rejecting(request: httpx.Request) -> httpx.Response:
        reject_all(request)
        return registry_call(request)

    registry.registry = registry_rejecting  # type: ignore[method-assign]
    before = len(registry.requests)
    with pytest.raises(Unauthorized):
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    # cached token refused, one fresh token, one resend: then give up.
    assert len(registry.requests) - before == 3


def test_fresh_token_refused_is_not_retried(client_factory: Callable[..., RegistryClient]) -> None:
    registry = Registry()
    registry_call = registry.registry

    def never_accept(request: httpx.Request) -> httpx.Response:
        registry.valid.clear()
        return registry_call(request)

    registry.registry = never_accept  # type: ignore[method-assign]
    client = client_factory(registry)
    with pytest.raises(Unauthorized):
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert len(registry.requests) == 3  # 401, token, 401
    before = len(registry.requests)
    with pytest.raises(Unauthorized):
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert len(registry.requests) - before == 2  # proactive token, 401: no second token


def test_anonymous_token_without_credentials(client_factory: Callable[..., RegistryClient]) -> None:
    registry = Registry(anonymous=True)
    client = client_factory(registry, credential=None)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    [token] = registry.token_requests()
    assert "authorization" not in token.headers
    assert "account" not in parse_qs(token.url.query.decode())


def test_identity_token_uses_the_refresh_token_post(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry(identity_tokens={"refresh-" + CANARY})
    client = client_factory(registry, credential=Credential(None, None, "refresh-" + CANARY))
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    [token] = registry.token_requests()
    assert token.method == "POST"
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(token.content.decode())
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["refresh-" + CANARY],
        "client_id": ["polyarch"],
        "service": [SERVICE],
        "scope": ["repository:app:pull"],
    }


def test_get_405_falls_back_to_password_post(client_factory: Callable[..., RegistryClient]) -> None:
    registry = Registry(get_status=405)
    client = client_factory(registry)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    get, post = registry.token_requests()
    assert get.method == "GET"
    assert post.method == "POST"
    form = parse_qs(post.content.decode())
    assert form["grant_type"] == ["password"]
    assert form["username"] == ["alice"]
    assert form["password"] == [CANARY]
    assert form["scope"] == ["repository:app:pull"]
    assert form["service"] == [SERVICE]
    assert registry.registry_requests()[-1].headers["authorization"] == "Bearer tok-1"


def test_get_404_without_password_does_not_post(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry(get_status=404, anonymous=True)
    client = client_factory(registry, credential=None)
    with pytest.raises(PolyarchError):
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert [r.method for r in registry.token_requests()] == ["GET"]


def test_access_token_field_is_accepted(client_factory: Callable[..., RegistryClient]) -> None:
    registry = Registry(token_field="access_token")
    client = client_factory(registry)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert registry.registry_requests()[-1].headers["authorization"] == "Bearer tok-1"


def test_token_service_401_names_registry_and_realm_never_the_password(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry(
        token_status=401, token_body=json.dumps({"details": f"bad password {CANARY}"}).encode()
    )
    client = client_factory(registry)
    with pytest.raises(Unauthorized) as info:
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    message = str(info.value)
    assert REGISTRY in message
    assert "auth.example" in message
    assert_no_secret(info.value, CANARY)


def test_token_service_403_is_denied(client_factory: Callable[..., RegistryClient]) -> None:
    registry = Registry(token_status=403)
    client = client_factory(registry)
    with pytest.raises(Denied) as info:
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert "auth.example" in str(info.value)
    assert_no_secret(info.value, CANARY)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"expires_in": 60}'])
def test_token_service_without_a_token(
    client_factory: Callable[..., RegistryClient], body: bytes
) -> None:
    registry = Registry()
    registry.token = lambda request: httpx.Response(200, content=body)  # type: ignore[method-assign]
    client = client_factory(registry)
    with pytest.raises(AuthError):
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")


def test_plain_http_realm_is_refused_for_a_remote_host(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry(realm="http://auth.example/token")
    client = client_factory(registry)
    with pytest.raises(AuthError) as info:
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert "http://auth.example" in str(info.value)
    assert "HTTPS" in str(info.value)
    assert registry.token_requests() == []
    assert_no_secret(info.value, CANARY)


@pytest.mark.parametrize(
    ("realm", "insecure"),
    [
        ("http://127.0.0.1:5001/token", frozenset[str]()),
        ("http://localhost/token", frozenset[str]()),
        ("http://[::1]:5001/token", frozenset[str]()),
        ("http://auth.example/token", frozenset({"auth.example"})),
        ("http://auth.example:8080/token", frozenset({"auth.example:8080"})),
    ],
)
def test_plain_http_realm_allowed_for_loopback_or_insecure(
    client_factory: Callable[..., RegistryClient], realm: str, insecure: frozenset[str]
) -> None:
    registry = Registry(realm=realm)
    client = client_factory(registry, settings=TransportSettings(insecure=insecure))
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert len(registry.token_requests()) == 1


def test_challenge_scope_is_added_for_unknown_paths(
    client_factory: Callable[..., RegistryClient],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            scopes = parse_qs(request.url.query.decode()).get("scope")
            return httpx.Response(
                200, json={"token": "catalog" if scopes == ["registry:catalog:*"] else "x"}
            )
        if request.headers.get("authorization") == "Bearer catalog":
            return httpx.Response(200, json={"repositories": []})
        return httpx.Response(
            401,
            headers={
                "WWW-Authenticate": f'Bearer realm="{REALM}",service="s",scope="registry:catalog:*"'
            },
        )

    with RegistryClient(
        credentials=FixedResolver(None), transport=httpx.MockTransport(handler)
    ) as client:
        assert client.request("GET", REGISTRY, "/v2/_catalog").json() == {"repositories": []}


def test_unknown_challenge_scheme_is_reported_as_unauthorized(
    client_factory: Callable[..., RegistryClient],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"WWW-Authenticate": "Negotiate"})

    with (
        RegistryClient(
            credentials=FixedResolver(None), transport=httpx.MockTransport(handler)
        ) as client,
        pytest.raises(Unauthorized),
    ):
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")


# -- streamed bodies ------------------------------------------------------------------


class NetworkLikeTransport(httpx.BaseTransport):
    """Like MockTransport, but consumes a streamed body the way a real transport does.

    ``MockTransport`` calls ``request.read()``, which buffers a streamed body and makes it
    replayable; a real transport iterates the stream once and it is gone.
    """

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        body = b"".join(request.stream)
        snapshot = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        return self.handler(snapshot)


def chunks() -> Iterator[bytes]:
    yield b"layer-"
    yield b"bytes"


def test_streamed_body_after_401_is_a_clear_unauthorized() -> None:
    registry = Registry()
    transport = NetworkLikeTransport(registry)
    with (
        RegistryClient(
            credentials=FixedResolver(Credential("alice", CANARY)), transport=transport
        ) as client,
        pytest.raises(Unauthorized) as info,
    ):
        client.request("PUT", REGISTRY, "/v2/app/blobs/uploads/u1", content=chunks(), expect=(201,))
    assert "streamed" in str(info.value)
    assert "ensure_auth" in (info.value.hint or "")
    assert registry.token_requests() == []
    assert len(registry.requests) == 1


def test_streamed_body_with_a_revoked_token_is_a_clear_unauthorized() -> None:
    registry = Registry()
    transport = NetworkLikeTransport(registry)
    with RegistryClient(
        credentials=FixedResolver(Credential("alice", CANARY)), transport=transport
    ) as client:
        client.ensure_auth(REGISTRY, ["repository:app:pull,push"])
        registry.valid.clear()
        with pytest.raises(Unauthorized) as info:
            client.request(
                "PUT", REGISTRY, "/v2/app/blobs/uploads/u1", content=chunks(), expect=(201,)
            )
    assert "streamed" in str(info.value)


def test_buffered_streams_can_be_replayed_after_401(
    client_factory: Callable[..., RegistryClient],
) -> None:
    # MockTransport buffers the body (request.read()), so the flow may resend it.
    registry = Registry()
    client = client_factory(registry)
    client.request("PUT", REGISTRY, "/v2/app/blobs/uploads/u1", content=chunks())
    assert registry.registry_requests()[-1].content == b"layer-bytes"


def test_ensure_auth_then_streamed_upload_goes_through_once(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry()
    client = client_factory(registry)
    client.ensure_auth(REGISTRY, ["repository:app:pull,push"])
    ping, token, ping_again = registry.requests
    assert ping.url.path == "/v2/" and "authorization" not in ping.headers
    assert parse_qs(token.url.query.decode())["scope"] == ["repository:app:pull,push"]
    assert ping_again.headers["authorization"] == "Bearer tok-1"
    before = len(registry.requests)
    client.ensure_auth(REGISTRY, ["repository:app:pull,push"])  # cached: no I/O
    assert len(registry.requests) == before
    response = client.request("PUT", REGISTRY, "/v2/app/blobs/uploads/u1", content=chunks())
    assert response.status_code == 200
    [put] = registry.requests[before:]
    assert put.headers["authorization"] == "Bearer tok-1"
    assert put.content == b"layer-bytes"


def test_ensure_auth_on_an_open_registry_is_one_ping() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200)

    with RegistryClient(
        credentials=FixedResolver(None), transport=httpx.MockTransport(handler)
    ) as client:
        client.ensure_auth(REGISTRY, ["repository:app:pull,push"])
        client.ensure_auth(REGISTRY, ["repository:app:pull,push"])
    assert calls == ["/v2/"]


def test_ensure_auth_reports_rejected_credentials(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry()
    client = client_factory(registry, credential=Credential("alice", CANARY + "-wrong"))
    with pytest.raises(Unauthorized) as info:
        client.ensure_auth(REGISTRY, ["repository:app:pull,push"])
    assert_no_secret(info.value, CANARY)


# -- the flow on its own --------------------------------------------------------------


def test_redirect_target_401_is_left_alone() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "registry.example":
            return httpx.Response(307, headers={"Location": "https://storage.example/blob"})
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="s3"'})

    auth = RegistryAuth(FixedResolver(Credential("alice", CANARY)))
    with httpx.Client(
        auth=auth, transport=httpx.MockTransport(handler), follow_redirects=True
    ) as http:
        response = http.get("https://registry.example/v2/app/blobs/sha256:abc")
    assert response.status_code == 401
    assert len(response.history) == 1  # no auth retry
    assert not auth.knows("storage.example")


def test_async_clients_share_the_same_flow() -> None:
    registry = Registry()

    async def main() -> int:
        auth = RegistryAuth(FixedResolver(Credential("alice", CANARY)))
        async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(registry)) as http:
            request = http.build_request(
                "GET",
                "https://registry.example/v2/app/manifests/v1",
                extensions={
                    REGISTRY_EXTENSION: REGISTRY,
                    SCOPES_EXTENSION: ["repository:app:pull"],
                },
            )
            response = await http.send(request)
            return response.status_code

    assert asyncio.run(main()) == 200
    assert len(registry.token_requests()) == 1


def test_insufficient_scope_with_credentials_is_denied(
    client_factory: Callable[..., RegistryClient],
) -> None:
    registry = Registry()
    original = registry.token

    def pull_only(request: httpx.Request) -> httpx.Response:
        answer = original(request)
        for value in registry.valid:
            registry.valid[value] = {s.replace("pull,push", "pull") for s in registry.valid[value]}
        return answer

    registry.token = pull_only  # type: ignore[method-assign]
    registry_call = registry.registry

    def with_error(request: httpx.Request) -> httpx.Response:
        answer = registry_call(request)
        if answer.status_code == 401 and request.headers.get("authorization"):
            challenge = answer.headers["www-authenticate"] + ',error="insufficient_scope"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return answer

    registry.registry = with_error  # type: ignore[method-assign]
    client = client_factory(registry)
    with pytest.raises(Denied) as info:
        client.request("POST", REGISTRY, "/v2/app/blobs/uploads/", expect=(202,))
    assert "repository:app:pull,push" in str(info.value)
    assert "alice" in str(info.value)
    assert_no_secret(info.value, CANARY)
    assert len(registry.token_requests()) == 1  # no loop


def test_insufficient_scope_without_credentials_is_unauthorized(
    client_factory: Callable[..., RegistryClient],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"token": "anonymous"})
        challenge = f'Bearer realm="{REALM}",service="s",scope="repository:app:pull,push"'
        if request.headers.get("authorization"):
            challenge += ',error="insufficient_scope"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    with (
        RegistryClient(
            credentials=FixedResolver(None), transport=httpx.MockTransport(handler)
        ) as client,
        pytest.raises(Unauthorized),
    ):
        client.request("POST", REGISTRY, "/v2/app/blobs/uploads/", expect=(202,))
