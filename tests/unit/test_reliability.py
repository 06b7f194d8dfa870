"""Transport reliability on a mock network: fallbacks for refused probes, bounded time,
token-service retries, secrets masked in every encoding, messages naming the cause.

Nothing here sleeps: the client's ``sleep`` and ``clock`` are a fake timeline (see
``test_client.py``); the integration twins of these tests (``test_fallbacks.py``,
``test_time_bounds.py``) run against the real registry behind a proxy.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from urllib.parse import quote

import httpx
import pytest

from polyarch.domain.descriptor import Descriptor
from polyarch.errors import Denied, InvalidManifest, RegistryError, TransportError
from polyarch.storage.registry.repository import RegistryRepository
from polyarch.storage.registry.tags import MAX_TAG_PAGES
from polyarch.transport import masking
from polyarch.transport.client import RegistryClient
from polyarch.transport.deadline import ProgressStream
from polyarch.transport.errors import RetriesExhausted
from polyarch.transport.retry import RetryPolicy
from polyarch.transport.settings import TransportSettings
from support.fake_client import Timeline

REGISTRY = "registry.example"
LOOPBACK = "127.0.0.1:5999"
CANARY = "canary-Rel1ab/le+S3cret"


# -- Kind 3: a refused probe falls back to the plain path --------------------------------


@pytest.mark.parametrize("status", [403, 405, 501])
def test_head_refused_is_asked_again_with_get(
    make: Callable[..., RegistryClient], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        if request.method == "HEAD":
            return httpx.Response(status)
        return httpx.Response(200, headers={"Content-Length": "7"}, content=b"abcdefg")

    repo = RegistryRepository(make(handler), REGISTRY, "app")
    with caplog.at_level(logging.INFO, logger="polyarch"):
        assert repo.blob_size(_digest()) == 7
    assert methods == ["HEAD", "GET"]
    assert "asking with GET instead" in caplog.text


def test_get_refused_after_head_is_the_error(make: Callable[..., RegistryClient]) -> None:
    repo = RegistryRepository(make(lambda r: httpx.Response(403)), REGISTRY, "app")
    with pytest.raises(Denied):
        repo.blob_size(_digest())


def test_refusal_by_a_redirect_target_does_not_blame_the_login(
    make: Callable[..., RegistryClient],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == REGISTRY:
            return httpx.Response(307, headers={"Location": "https://storage.example/b?sig=1"})
        return httpx.Response(403, content=b"<Error><Code>AccessDenied</Code></Error>")

    repo = RegistryRepository(make(handler), REGISTRY, "app")
    with pytest.raises(Denied) as info:
        repo.blob_size(_digest())
    text = info.value.one_line()
    assert "storage.example" in text
    assert "not of your login" in text
    assert "lack permission" not in text


def test_refused_mount_falls_back_to_an_upload(make: Callable[..., RegistryClient]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.query.decode()}")
        if request.method == "POST" and b"mount=" in request.url.query:
            return httpx.Response(401, json={"errors": [{"code": "UNAUTHORIZED"}]})
        if request.method == "POST":
            return httpx.Response(202, headers={"Location": "/v2/b/blobs/uploads/1"})
        return httpx.Response(201)

    client = make(handler)
    target = RegistryRepository(client, REGISTRY, "b")
    source = RegistryRepository(client, REGISTRY, "a")
    data = b"layer"
    descriptor = Descriptor("application/octet-stream", _digest(data), len(data))
    assert target.mount_blob(descriptor, source) is False
    target.put_blob(descriptor, [data])
    assert [s.split(" ")[0] for s in seen] == ["POST", "POST", "PUT"]


# -- bounded time ------------------------------------------------------------------------


def test_a_trickling_body_is_cut_off() -> None:
    clock = iter(float(t) for t in range(0, 1000, 10))  # each chunk arrives 10 s later
    stream = ProgressStream(
        httpx.ByteStream(b""),
        httpx.Request("GET", "https://r/v2/"),
        window=30,
        min_speed=1024,
        length=500,
        clock=lambda: next(clock),
    )
    stream._stream = _Chunks([b"x"] * 500)  # type: ignore[assignment]
    with pytest.raises(httpx.ReadTimeout, match="too little progress"):
        list(stream)


def test_a_complete_small_body_is_never_cut_off() -> None:
    clock = iter([0.0, 5.0, 40.0])
    stream = ProgressStream(
        _Chunks([b"a" * 10, b"b" * 10]),
        httpx.Request("GET", "https://r/v2/"),
        window=30,
        min_speed=1024,
        length=20,
        clock=lambda: next(clock),
    )
    assert b"".join(stream) == b"a" * 10 + b"b" * 10


def test_retry_budget_ends_retries_of_every_request(
    make: Callable[..., RegistryClient], timeline: Timeline
) -> None:
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        timeline.now += 30  # each attempt waits for its read timeout
        raise httpx.ReadTimeout("timed out", request=request)

    settings = TransportSettings(retry=RetryPolicy(jitter=False), retry_budget=20)
    client = make(handler, settings)
    with pytest.raises(RetriesExhausted, match="budget of 20 s"):
        client.request("GET", REGISTRY, "/v2/a/manifests/v1")
    assert len(attempts) == 2  # the budget allowed one retry
    with pytest.raises(RetriesExhausted):
        client.request("GET", REGISTRY, "/v2/b/manifests/v1")
    assert attempts.count("/v2/b/manifests/v1") == 1  # none left: the first failure is final


def test_a_tls_handshake_that_never_ends_falls_back_to_http_at_once(
    make: Callable[..., RegistryClient],
) -> None:
    seen: list[tuple[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.scheme, request.extensions["timeout"]["connect"]))
        if request.url.scheme == "https":
            raise httpx.ConnectTimeout("handshake timed out", request=request)
        return httpx.Response(200, json={})

    client = make(handler, TransportSettings(timeout=60))
    client.request("GET", LOOPBACK, "/v2/")
    assert seen == [("https", 3.0), ("http", 60)]


def test_a_remote_connect_timeout_is_not_a_reason_to_drop_tls(
    make: Callable[..., RegistryClient],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    settings = TransportSettings(retry=RetryPolicy(max_attempts=1), insecure=frozenset())
    with pytest.raises(TransportError):
        make(handler, settings).request("GET", REGISTRY, "/v2/")


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1e9"])
def test_bad_timeouts_are_refused(value: str) -> None:
    with pytest.raises(Exception, match="seconds above 0"):
        TransportSettings.from_env({"POLYARCH_TIMEOUT": value})


def test_timeout_from_the_environment() -> None:
    assert TransportSettings.from_env({"POLYARCH_TIMEOUT": "2.5"}).timeout == 2.5


# -- token service retries ---------------------------------------------------------------


@pytest.mark.parametrize(("status", "headers"), [(500, {}), (503, {}), (429, {"Retry-After": "1"})])
def test_token_service_failures_are_retried(
    make: Callable[..., RegistryClient], timeline: Timeline, status: int, headers: dict[str, str]
) -> None:
    calls = {"token": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            calls["token"] += 1
            if calls["token"] == 1:
                return httpx.Response(status, headers=headers)
            return httpx.Response(200, json={"token": "tok-123"})
        if request.headers.get("Authorization") != "Bearer tok-123":
            challenge = 'Bearer realm="https://auth.example/token",service="r"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return httpx.Response(201, headers={"Location": "/v2/a/blobs/uploads/1"})

    client = make(handler)
    # A POST (not idempotent) is still sent again: the token failed, not the request.
    client.request("POST", REGISTRY, "/v2/a/blobs/uploads/", expect=(201,))
    assert calls["token"] == 2
    assert timeline.sleeps == ([1.0] if headers else [0.5])


def test_token_service_failing_for_good_is_reported(make: Callable[..., RegistryClient]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            return httpx.Response(503)
        challenge = 'Bearer realm="https://auth.example/token",service="r"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    with pytest.raises(RegistryError, match=r"token service .* \(HTTP 503\)"):
        make(handler).request("GET", REGISTRY, "/v2/a/manifests/v1")


# -- secrets in every encoding -----------------------------------------------------------


def test_mask_covers_every_encoding() -> None:
    masking.remember(CANARY)
    basic = base64.b64encode(f"user:{CANARY}".encode()).decode()
    masking.remember_basic("user", CANARY)
    texts = [
        f"raw {CANARY}",
        f"Authorization: Basic {basic}",
        f"https://user:{quote(CANARY, safe='')}@h/x",
        f"https://h/{quote(CANARY)}/blobs",
        f"https://h/x?sig={quote(CANARY, safe='')}",
        f"https://h/x?sig={quote(CANARY, safe='').replace('%20', '+')}",
        json.dumps({"message": CANARY}),
        repr(f"Bearer {CANARY}".encode()),
    ]
    for text in texts:
        masked = masking.mask(text)
        assert CANARY not in masked and "***" in masked, masked
        assert quote(CANARY, safe="") not in masked
        assert basic not in masked


def test_a_token_with_a_line_break_is_refused_without_quoting_it(
    make: Callable[..., RegistryClient],
) -> None:
    token = "tok-\nCANARY-token-7q"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            return httpx.Response(200, json={"token": token})
        challenge = 'Bearer realm="https://auth.example/token",service="r"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    with pytest.raises(RegistryError) as info:
        make(handler).request("GET", REGISTRY, "/v2/a/manifests/v1")
    text = info.value.one_line()
    assert "cannot be sent in an HTTP header" in text
    assert "CANARY-token" not in text


def test_logged_redirect_paths_are_masked(
    make: Callable[..., RegistryClient], caplog: pytest.LogCaptureFixture
) -> None:
    password = "Path-Canary-99z"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == REGISTRY:
            return httpx.Response(307, headers={"Location": f"https://s.example/{password}/b"})
        return httpx.Response(200, content=b"x")

    client = make(handler, TransportSettings(username="u", password=password))
    with caplog.at_level(logging.DEBUG, logger="polyarch"):
        client.request("GET", REGISTRY, "/v2/a/blobs/sha256:00")
    assert "s.example" in caplog.text
    assert password not in caplog.text


# -- messages that name the cause --------------------------------------------------------


def test_tag_list_page_cap_says_it_is_a_cap(make: Callable[..., RegistryClient]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(dict(request.url.params).get("last", "0") or 0)
        link = f'</v2/app/tags/list?n=1&last={page + 1}>; rel="next"'
        return httpx.Response(200, json={"tags": [f"t{page}"]}, headers={"Link": link})

    repo = RegistryRepository(make(handler), REGISTRY, "app")
    with pytest.raises(RegistryError) as info:
        repo.list_tags()
    assert f"more than {MAX_TAG_PAGES} pages" in str(info.value)
    assert "repeats" not in str(info.value)


def test_an_impossible_size_is_named() -> None:
    doc = {"mediaType": "application/octet-stream", "digest": str(_digest()), "size": 10**30}
    with pytest.raises(InvalidManifest, match="64-bit"):
        Descriptor.from_json(doc)


# -- helpers -----------------------------------------------------------------------------


class _Chunks(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks


def _digest(data: bytes = b"x") -> object:
    from polyarch.domain.digest import Digest

    return Digest.of(data)
