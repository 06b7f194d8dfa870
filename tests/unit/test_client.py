"""RegistryClient: URLs, error mapping, retries, redirects, TLS fallback, stats, logging.

Everything runs on httpx.MockTransport or a fake transport; nothing opens a socket and
nothing sleeps (``sleep`` is injected and records the delays).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import polyarch.transport as transport_pkg
from polyarch.errors import (
    BlobUnknown,
    Denied,
    ManifestUnknown,
    NameUnknown,
    NotFound,
    RegistryError,
    TooManyRequests,
    TransportError,
    Unauthorized,
    Unsupported,
)
from polyarch.transport.auth.credentials import Credential
from polyarch.transport.client import RegistryClient
from polyarch.transport.errors import error_from_response
from polyarch.transport.retry import RetryPolicy
from polyarch.transport.settings import TransportSettings
from support.fake_client import Handler, Timeline

CANARY = "canary-s3cret-PASSWORD-7f3a"
REGISTRY = "registry.example"


def errors_body(*errors: dict[str, Any]) -> dict[str, Any]:
    return {"errors": list(errors)}


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    texts = [str(exc), repr(exc), getattr(exc, "hint", None) or ""]
    for secret in secrets:
        for text in texts:
            assert secret not in text, text


# -- package --------------------------------------------------------------------------


def test_the_root_exports_the_transport_names() -> None:
    import polyarch

    for name in ("RegistryClient", "TransportSettings", "CredentialResolver"):
        assert getattr(polyarch, name).__module__.startswith("polyarch.transport.")


def test_transport_layer_imports_only_errors_and_digest() -> None:
    import ast
    from pathlib import Path

    root = Path(transport_pkg.__file__).parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            for module in modules:
                if module.startswith("polyarch"):
                    assert module.startswith(
                        (
                            "polyarch.transport",
                            "polyarch.errors",
                            "polyarch.domain.digest",
                            "polyarch._version",
                            "polyarch.files",  # the one safe reader of the user's files
                            "polyarch.pipes",  # the one bounded reader of a program's output
                            "polyarch.domain.document",  # strict JSON, ASCII numbers
                        )
                    ), f"{path.name} imports {module}"


# -- URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry", "url"),
    [
        ("docker.io", "https://registry-1.docker.io"),
        ("index.docker.io", "https://registry-1.docker.io"),
        ("registry-1.docker.io", "https://registry-1.docker.io"),
        ("ghcr.io", "https://ghcr.io"),
        ("localhost:5000", "https://localhost:5000"),
        ("127.0.0.1:5000", "https://127.0.0.1:5000"),
        ("[::1]:5000", "https://[::1]:5000"),
    ],
)
def test_base_url(make: Callable[..., RegistryClient], registry: str, url: str) -> None:
    client = make(lambda request: httpx.Response(200))
    assert client.base_url(registry) == url


def test_docker_hub_requests_go_to_registry_1(make: Callable[..., RegistryClient]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    make(handler).request("GET", "docker.io", "/v2/library/alpine/manifests/3")
    assert seen == ["https://registry-1.docker.io/v2/library/alpine/manifests/3"]


# -- error mapping --------------------------------------------------------------------

CODE_TABLE: list[tuple[str, int, type[RegistryError]]] = [
    ("MANIFEST_UNKNOWN", 404, ManifestUnknown),
    ("BLOB_UNKNOWN", 404, BlobUnknown),
    ("BLOB_UPLOAD_UNKNOWN", 404, BlobUnknown),
    ("NAME_UNKNOWN", 404, NameUnknown),
    ("UNAUTHORIZED", 401, Unauthorized),
    ("DENIED", 403, Denied),
    ("TOOMANYREQUESTS", 429, TooManyRequests),
    ("UNSUPPORTED", 405, Unsupported),
    ("MANIFEST_INVALID", 400, RegistryError),
    ("DIGEST_INVALID", 400, RegistryError),
    ("SOMETHING_NEW", 400, RegistryError),
    (
        "NOT_FOUND",
        404,
        NotFound,
    ),  # an unmapped code falls back on the status (Harbor says NOT_FOUND)
    ("manifest_unknown", 404, ManifestUnknown),
]


def response(
    status: int, body: Any = None, method: str = "GET", url: str = "https://r/v2/a/manifests/v1"
) -> httpx.Response:
    request = httpx.Request(method, url)
    if body is None:
        return httpx.Response(status, request=request)
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, request=request)
    return httpx.Response(status, json=body, request=request)


@pytest.mark.parametrize(("code", "status", "cls"), CODE_TABLE)
def test_error_codes_pick_the_class(code: str, status: int, cls: type[RegistryError]) -> None:
    error = error_from_response(
        response(status, errors_body({"code": code, "message": "msg", "detail": {}})), "op"
    )
    assert type(error) is cls
    assert error.code == code.upper()
    assert error.status == status
    assert str(error) == f"op: {code.upper()} msg (HTTP {status})"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, Unauthorized),
        (403, Denied),
        (404, NotFound),
        (429, TooManyRequests),
        (500, RegistryError),
        (418, RegistryError),
    ],
)
def test_status_fallback_without_a_body(status: int, cls: type[RegistryError]) -> None:
    error = error_from_response(response(status), "HEAD blob r/a@sha256:x")
    assert type(error) is cls
    assert error.code is None
    assert str(error).startswith("HEAD blob r/a@sha256:x: ")
    assert str(error).endswith(f"(HTTP {status})")


@pytest.mark.parametrize(
    "body", [b"<html>oops</html>", b"[1,2]", b'{"errors": "nope"}', b'{"errors": [1]}']
)
def test_unparseable_bodies_fall_back_on_status(body: bytes) -> None:
    error = error_from_response(response(404, body), "op")
    assert type(error) is NotFound
    assert "html" not in str(error)


def test_several_errors_use_the_first_and_count_the_rest() -> None:
    body = errors_body(
        {"code": "DENIED", "message": "no"}, {"code": "NAME_UNKNOWN", "message": "x"}
    )
    error = error_from_response(response(403, body), "op")
    assert isinstance(error, Denied)
    assert str(error) == "op: DENIED no (and 1 more) (HTTP 403)"


def test_message_is_one_capped_line() -> None:
    body = errors_body({"code": "MANIFEST_INVALID", "message": "bad\nmanifest " + "x" * 5000})
    error = error_from_response(response(400, body), "PUT manifest r/a:v1")
    assert "\n" not in str(error)
    assert len(str(error)) <= 400


def test_default_what_has_no_query_string() -> None:
    error = error_from_response(
        response(
            404,
            method="PUT",
            url=f"https://r:5000/v2/a/blobs/uploads/u?_state={CANARY}&digest=sha256:x",
        )
    )
    assert str(error) == "PUT r:5000/v2/a/blobs/uploads/u: Not Found (HTTP 404)"


def test_rate_limit_hint_uses_retry_after() -> None:
    request = httpx.Request("GET", "https://r/v2/")
    error = error_from_response(
        httpx.Response(429, headers={"Retry-After": "30"}, request=request), "op"
    )
    assert isinstance(error, TooManyRequests)
    assert "30 s" in (error.hint or "")


def test_client_raises_mapped_errors(make: Callable[..., RegistryClient]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404, json=errors_body({"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"})
        )

    client = make(handler)
    with pytest.raises(ManifestUnknown) as info:
        client.request("GET", REGISTRY, "/v2/app/manifests/v1", params={"token": CANARY})
    assert (
        str(info.value)
        == "GET registry.example/v2/app/manifests/v1: MANIFEST_UNKNOWN manifest unknown (HTTP 404)"
    )
    with pytest.raises(ManifestUnknown) as info:
        client.request(
            "GET", REGISTRY, "/v2/app/manifests/v1", what="GET manifest registry.example/app:v1"
        )
    assert str(info.value).startswith("GET manifest registry.example/app:v1: MANIFEST_UNKNOWN")
    assert_no_secret(info.value, CANARY)


def test_expected_statuses_are_returned(make: Callable[..., RegistryClient]) -> None:
    client = make(lambda request: httpx.Response(404))
    assert (
        client.request("HEAD", REGISTRY, "/v2/app/blobs/sha256:x", expect=(200, 404)).status_code
        == 404
    )
    with pytest.raises(NotFound):
        client.request("HEAD", REGISTRY, "/v2/app/blobs/sha256:x")


def test_large_error_bodies_are_read_only_partly(make: Callable[..., RegistryClient]) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(1000):
            yield b"x" * 1024

    client = make(lambda request: httpx.Response(500, content=body()))
    with pytest.raises(RegistryError) as info:
        client.request("GET", REGISTRY, "/v2/app/blobs/sha256:x")
    assert info.value.status == 500


# -- bodies and streaming -------------------------------------------------------------


def test_stream_true_returns_an_open_response(make: Callable[..., RegistryClient]) -> None:
    client = make(lambda request: httpx.Response(200, content=iter([b"a", b"b", b"c"])))
    result = client.request("GET", REGISTRY, "/v2/app/blobs/sha256:x", stream=True)
    assert not result.is_stream_consumed
    assert b"".join(result.iter_bytes()) == b"abc"
    result.close()
    read = client.request("GET", REGISTRY, "/v2/app/blobs/sha256:x")
    assert read.content == b"abc"


def test_headers_params_and_content_are_sent(make: Callable[..., RegistryClient]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(201)

    client = make(handler)
    client.request(
        "PUT",
        REGISTRY,
        "/v2/app/manifests/v1",
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        params=[("tag", "a"), ("tag", "b")],
        content=b"{}",
        expect=(201,),
    )
    [request] = seen
    assert request.headers["content-type"] == "application/vnd.oci.image.manifest.v1+json"
    assert request.url.query == b"tag=a&tag=b"
    assert request.content == b"{}"
    assert request.headers["user-agent"].startswith("polyarch/")


# -- request_url ----------------------------------------------------------------------


def test_request_url_keeps_the_upload_state_and_appends_params(
    make: Callable[..., RegistryClient],
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(201)

    client = make(handler)
    client.base_url(REGISTRY)
    client.request_url(
        "PUT",
        "https://registry.example/v2/app/blobs/uploads/u1?_state=abc%3D%3D",
        params={"digest": "sha256:x"},
        content=b"data",
        expect=(201,),
    )
    client.request_url("PUT", "/v2/app/blobs/uploads/u2?_state=s", registry=REGISTRY, expect=(201,))
    assert seen == [
        "https://registry.example/v2/app/blobs/uploads/u1?_state=abc%3D%3D&digest=sha256%3Ax",
        "https://registry.example/v2/app/blobs/uploads/u2?_state=s",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/v2/app/blobs/uploads/u1",
        "https://registry.example:444/v2/app/blobs/uploads/u1",
        "http://registry.example/v2/app/blobs/uploads/u1",
    ],
)
def test_request_url_refuses_urls_outside_the_registry(
    make: Callable[..., RegistryClient], url: str
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = make(handler)
    with pytest.raises(TransportError):
        client.request_url("PATCH", url, registry=REGISTRY, content=b"x", expect=(202,))
    assert seen == []


def test_request_url_without_registry_needs_a_known_host(
    make: Callable[..., RegistryClient],
) -> None:
    client = make(lambda request: httpx.Response(200))
    with pytest.raises(TransportError):
        client.request_url("GET", "https://unknown.example/v2/app/tags/list?n=1&last=a")
    client.request("GET", REGISTRY, "/v2/app/tags/list")
    assert (
        client.request_url(
            "GET", "https://registry.example/v2/app/tags/list?n=1&last=a"
        ).status_code
        == 200
    )
    with pytest.raises(TransportError):
        client.request_url("GET", "/v2/app/tags/list")  # relative needs the registry


# -- retries --------------------------------------------------------------------------


def sequence(
    *statuses: int, headers: dict[str, str] | None = None
) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = queue.pop(0) if queue else 200
        return httpx.Response(status, headers=headers if status != 200 else None)

    return handler, seen


def test_get_is_retried_on_503_with_backoff(
    make: Callable[..., RegistryClient], timeline: Timeline
) -> None:
    handler, seen = sequence(503, 502, 504)
    client = make(handler)
    assert client.request("GET", REGISTRY, "/v2/app/manifests/v1").status_code == 200
    assert len(seen) == 4
    assert timeline.sleeps == [0.5, 1.0, 2.0]
    assert client.stats.retries == 3


@pytest.mark.parametrize(
    ("method", "idempotent", "retried"),
    [("GET", None, True), ("HEAD", None, True), ("PUT", None, True), ("PUT", False, False)],
)
def test_500_is_retried_for_idempotent_requests_only(
    make: Callable[..., RegistryClient],
    timeline: Timeline,
    method: str,
    idempotent: bool | None,
    retried: bool,
) -> None:
    handler, seen = sequence(500)
    client = make(handler)
    content = b"{}" if method == "PUT" else None
    path = "/v2/app/manifests/v1"
    if retried:
        client.request(method, REGISTRY, path, content=content, idempotent=idempotent)
    else:
        with pytest.raises(RegistryError):
            client.request(method, REGISTRY, path, content=content, idempotent=idempotent)
    assert len(seen) == (2 if retried else 1)


def test_retry_after_is_honoured(make: Callable[..., RegistryClient], timeline: Timeline) -> None:
    handler, seen = sequence(429, headers={"Retry-After": "7"})
    make(handler).request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert timeline.sleeps == [7.0]
    assert len(seen) == 2


def test_retry_after_beyond_the_budget_gives_up(
    make: Callable[..., RegistryClient], timeline: Timeline
) -> None:
    handler, seen = sequence(429, headers={"Retry-After": "3600"})
    with pytest.raises(TooManyRequests) as info:
        make(handler).request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert timeline.sleeps == []
    assert len(seen) == 1
    assert "3600" in (info.value.hint or "")


def test_retries_are_bounded_in_attempts(
    make: Callable[..., RegistryClient], timeline: Timeline
) -> None:
    handler, seen = sequence(*[503] * 20)
    with pytest.raises(RegistryError) as info:
        make(handler).request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert info.value.status == 503
    assert len(seen) == 5
    assert len(timeline.sleeps) == 4


def test_retries_are_bounded_in_total_time(
    make: Callable[..., RegistryClient], timeline: Timeline
) -> None:
    handler, _ = sequence(*[503] * 100)
    policy = RetryPolicy(
        max_attempts=100, base_delay=1.0, max_delay=4.0, max_total=10.0, jitter=False
    )
    with pytest.raises(RegistryError):
        make(handler, TransportSettings(retry=policy)).request(
            "GET", REGISTRY, "/v2/app/manifests/v1"
        )
    assert sum(timeline.sleeps) <= 10.0
    assert timeline.sleeps == [1.0, 2.0, 4.0, 3.0]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/v2/app/blobs/uploads/", {}),
        ("PATCH", "/v2/app/blobs/uploads/u1", {"content": b"chunk"}),
        ("PUT", "/v2/app/blobs/uploads/u1", {"content": b"chunk"}),
        ("GET", "/v2/app/manifests/v1", {"idempotent": False}),
        ("PUT", "/v2/app/manifests/v1", {"content": iter([b"{}"])}),
    ],
)
def test_non_idempotent_or_one_shot_requests_are_not_retried(
    make: Callable[..., RegistryClient],
    timeline: Timeline,
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    handler, seen = sequence(503)
    with pytest.raises(RegistryError):
        make(handler).request(method, REGISTRY, path, **kwargs)
    assert len(seen) == 1
    assert timeline.sleeps == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v2/app/manifests/v1"),
        ("DELETE", "/v2/app/manifests/sha256:x"),
        ("HEAD", "/v2/app/blobs/sha256:x"),
    ],
)
def test_idempotent_requests_are_retried(
    make: Callable[..., RegistryClient], method: str, path: str
) -> None:
    handler, seen = sequence(503)
    make(handler).request(method, REGISTRY, path, content=b"{}" if method == "PUT" else None)
    assert len(seen) == 2


def test_connection_errors_are_retried_for_idempotent_requests(
    make: Callable[..., RegistryClient], timeline: Timeline
) -> None:
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if len(attempts) == 2:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200)

    make(handler).request("GET", REGISTRY, "/v2/")
    assert len(attempts) == 3
    assert timeline.sleeps == [0.5, 1.0]


def test_connection_errors_are_not_retried_for_posts(make: Callable[..., RegistryClient]) -> None:
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    with pytest.raises(TransportError):
        make(handler).request("POST", REGISTRY, "/v2/app/blobs/uploads/")
    assert attempts == [1]


# -- transport errors -----------------------------------------------------------------


def failing(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def test_connect_error_hint(make: Callable[..., RegistryClient]) -> None:
    client = make(failing(httpx.ConnectError("[Errno 111] Connection refused")))
    with pytest.raises(TransportError) as info:
        client.request("GET", REGISTRY, "/v2/", idempotent=False)
    assert REGISTRY in str(info.value)
    assert "is the registry running at that address?" in (info.value.hint or "")


def test_certificate_error_hint(make: Callable[..., RegistryClient]) -> None:
    client = make(failing(httpx.ConnectError(CERT_FAILED)))
    with pytest.raises(TransportError) as info:
        client.request("GET", REGISTRY, "/v2/")
    assert "certificate" in str(info.value)
    assert info.value.hint == "pass --ca-file FILE to trust its CA, or --insecure HOST"


def test_timeout_error(make: Callable[..., RegistryClient]) -> None:
    client = make(failing(httpx.ReadTimeout("timed out")))
    with pytest.raises(TransportError) as info:
        client.request("GET", REGISTRY, "/v2/", idempotent=False)
    assert "did not answer in time" in str(info.value)


def test_redirect_loop_is_a_transport_error(make: Callable[..., RegistryClient]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": str(request.url)})

    with pytest.raises(TransportError) as info:
        make(handler).request("GET", REGISTRY, "/v2/app/blobs/sha256:x")
    assert "redirect" in str(info.value)
    assert len(seen) == 11  # the request and 10 redirects, then httpx stops


# -- redirects and Authorization -------------------------------------------------------


def redirecting(target: str, statuses: dict[str, int]) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        # The auth flow re-sends the same Request object: keep a snapshot of each send.
        seen.append(httpx.Request(request.method, request.url, headers=request.headers.copy()))
        if request.url.host == REGISTRY and request.url.path.startswith("/v2/app/blobs/"):
            if "authorization" not in request.headers:
                return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
            return httpx.Response(307, headers={"Location": target})
        return httpx.Response(statuses.get(request.url.host, 200), content=b"blob")

    return handler, seen


def test_cross_origin_redirect_drops_authorization(make: Callable[..., RegistryClient]) -> None:
    handler, seen = redirecting("https://storage.example/blob?X-Amz-Signature=s", {})
    client = make(handler, credential=Credential("alice", CANARY))
    assert client.request("GET", REGISTRY, "/v2/app/blobs/sha256:x").content == b"blob"
    unauth, authed, storage = seen
    assert "authorization" not in unauth.headers
    expected = "Basic " + base64.b64encode(f"alice:{CANARY}".encode()).decode()
    assert authed.headers["authorization"] == expected
    assert storage.url.host == "storage.example"
    assert "authorization" not in storage.headers


def test_same_origin_redirect_keeps_authorization(make: Callable[..., RegistryClient]) -> None:
    handler, seen = redirecting("https://registry.example/storage/blob", {})
    client = make(handler, credential=Credential("alice", CANARY))
    client.request("GET", REGISTRY, "/v2/app/blobs/sha256:x")
    assert seen[-1].url.path == "/storage/blob"
    assert "authorization" in seen[-1].headers


def test_redirect_to_another_port_drops_authorization(make: Callable[..., RegistryClient]) -> None:
    handler, seen = redirecting("https://registry.example:8443/blob", {})
    client = make(handler, credential=Credential("alice", CANARY))
    client.request("GET", REGISTRY, "/v2/app/blobs/sha256:x")
    assert seen[-1].url.port == 8443
    assert "authorization" not in seen[-1].headers


# -- https -> http fallback ------------------------------------------------------------

WRONG_VERSION = "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"
RECORD_LAYER = "[SSL] record layer failure (_ssl.c:1000)"
CERT_FAILED = (
    "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
    "self-signed certificate (_ssl.c:1006)"
)
EOF_ERROR = (
    "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:1006)"
)


class PlainHttpServer(httpx.BaseTransport):
    """Fails every https:// request at the TLS handshake like a plain-HTTP server does."""

    def __init__(self, tls_error: str = WRONG_VERSION) -> None:
        self.tls_error = tls_error
        self.https_attempts = 0
        self.http_requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            self.https_attempts += 1
            raise httpx.ConnectError(self.tls_error, request=request)
        self.http_requests.append(f"{request.method} {request.url}")
        return httpx.Response(200, json={"ok": True})


@pytest.mark.parametrize(
    "registry", ["127.0.0.1:5000", "localhost:5000", "[::1]:5000", "127.1.2.3", "localhost"]
)
@pytest.mark.parametrize("tls_error", [WRONG_VERSION, RECORD_LAYER])
def test_loopback_registry_without_tls_falls_back_to_http(
    make: Callable[..., RegistryClient], registry: str, tls_error: str
) -> None:
    server = PlainHttpServer(tls_error)
    client = make(server)
    assert client.request("GET", registry, "/v2/app/manifests/v1").json() == {"ok": True}
    # The failed handshake sent nothing: the same request went to http, once.
    assert server.https_attempts == 1
    assert server.http_requests == [f"GET http://{registry}/v2/app/manifests/v1"]
    assert client.base_url(registry) == f"http://{registry}"
    client.request("GET", registry, "/v2/app/manifests/v2")
    assert server.https_attempts == 1  # the decision is cached
    assert len(server.http_requests) == 2
    assert client.stats.requests == 2


def test_loopback_certificate_error_is_not_downgraded(make: Callable[..., RegistryClient]) -> None:
    server = PlainHttpServer(CERT_FAILED)
    client = make(server)
    with pytest.raises(TransportError) as info:
        client.request("GET", "127.0.0.1:5000", "/v2/")
    assert info.value.hint == "pass --ca-file FILE to trust its CA, or --insecure HOST"
    assert server.http_requests == []
    assert server.https_attempts == 1  # TLS failures are not retried


def test_loopback_eof_is_not_downgraded(make: Callable[..., RegistryClient]) -> None:
    server = PlainHttpServer(EOF_ERROR)
    with pytest.raises(TransportError):
        make(server).request("GET", "127.0.0.1:5000", "/v2/")
    assert server.http_requests == []


def test_remote_registry_is_https_only(make: Callable[..., RegistryClient]) -> None:
    server = PlainHttpServer(WRONG_VERSION)
    with pytest.raises(TransportError) as info:
        make(server).request("GET", "registry.example:5000", "/v2/")
    assert "TLS" in str(info.value)
    assert server.http_requests == []


@pytest.mark.parametrize("tls_error", [WRONG_VERSION, EOF_ERROR])
@pytest.mark.parametrize("insecure", ["registry.example:5000", "registry.example"])
def test_insecure_registry_falls_back_to_http(
    make: Callable[..., RegistryClient], tls_error: str, insecure: str
) -> None:
    server = PlainHttpServer(tls_error)
    settings = TransportSettings(insecure=frozenset({insecure}))
    client = make(server, settings)
    client.request("GET", "registry.example:5000", "/v2/")
    assert server.http_requests == ["GET http://registry.example:5000/v2/"]


def test_tls_registry_keeps_https(make: Callable[..., RegistryClient]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.scheme)
        return httpx.Response(200)

    client = make(handler)
    client.request("GET", "127.0.0.1:5000", "/v2/")
    assert client.base_url("127.0.0.1:5000") == "https://127.0.0.1:5000"
    assert seen == ["https"]


# -- stats and logging ----------------------------------------------------------------


def test_stats_count_every_exchange(make: Callable[..., RegistryClient]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"token": "t"})
        if request.headers.get("authorization") != "Bearer t":
            return httpx.Response(
                401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/token"'}
            )
        return httpx.Response(200)

    client = make(handler)
    client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    client.request("HEAD", REGISTRY, "/v2/app/blobs/sha256:x")
    assert client.stats.requests == 4  # 401, token, GET, HEAD
    assert client.stats.by_method == {"GET": 3, "HEAD": 1}
    assert client.stats.token_requests == 1


def test_debug_log_has_no_query_string_or_headers(
    make: Callable[..., RegistryClient], caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"token": "tok-" + CANARY})
        if not request.headers.get("authorization"):
            return httpx.Response(
                401,
                headers={
                    "WWW-Authenticate": 'Bearer realm="https://auth.example/token",service="s"'
                },
            )
        return httpx.Response(200)

    client = make(handler, credential=Credential("alice", CANARY))
    with caplog.at_level(logging.DEBUG, logger="polyarch.transport"):
        client.request("GET", REGISTRY, "/v2/app/tags/list", params={"n": "10", "last": CANARY})
    messages = [
        record.getMessage() for record in caplog.records if record.name == "polyarch.transport"
    ]
    assert "GET https://registry.example/v2/app/tags/list -> 401" in messages
    assert "GET https://auth.example/token -> 200" in messages
    assert "GET https://registry.example/v2/app/tags/list -> 200" in messages
    for message in messages:
        assert CANARY not in message
        assert "?" not in message
        assert "Basic" not in message and "Bearer" not in message


def test_secrets_never_appear_in_errors(make: Callable[..., RegistryClient]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401,
            headers={"WWW-Authenticate": 'Basic realm="r"'},
            content=json.dumps(
                errors_body({"code": "UNAUTHORIZED", "message": "authentication required"})
            ).encode(),
        )

    client = make(handler, credential=Credential("alice", CANARY))
    with pytest.raises(Unauthorized) as info:
        client.request("GET", REGISTRY, "/v2/app/manifests/v1")
    assert_no_secret(info.value, CANARY, base64.b64encode(f"alice:{CANARY}".encode()).decode())
    assert info.value.code == "UNAUTHORIZED"


def test_unreadable_ca_file_is_a_transport_error(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    for path in (bogus, tmp_path / "missing.pem"):
        with pytest.raises(TransportError) as info:
            RegistryClient(TransportSettings(ca_file=str(path)))
        assert str(path) in str(info.value)


def test_insecure_hosts_get_their_own_unverified_transport() -> None:
    settings = TransportSettings(insecure=frozenset({"registry.example:5000"}))
    with RegistryClient(settings) as client:
        assert client.base_url("registry.example:5000") == "https://registry.example:5000"
