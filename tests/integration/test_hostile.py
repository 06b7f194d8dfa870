"""A lying registry (:mod:`support.hostile`) cannot make polyarch trust, publish or leak.

Each test makes the hostile registry misbehave in one way and checks that polyarch
refuses with the right exception (library) or one error line and exit code 1 (CLI),
and, where a push target is involved, that the real target registry got nothing: no
tag, no manifest, no blob committed.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from polyarch import (
    AuthError,
    Context,
    CopyRequest,
    Digest,
    DigestMismatch,
    InvalidManifest,
    ManifestTooLarge,
    NotFound,
    PolyarchError,
    Reference,
    RegistryError,
    SizeMismatch,
    TransportError,
    TransportSettings,
    Unauthorized,
    VerifyRequest,
    copy_image,
    inspect,
    resolve,
    verify,
)
from polyarch.domain import mediatype
from polyarch.storage.registry.tags import MAX_TAG_PAGES
from polyarch.transport.client import MAX_REDIRECTS
from polyarch.transport.retry import RetryPolicy
from support.cli import Result, assert_one_line_error, run_cli
from support.hostile import HostileRegistry, Reply, Seen, endless, nested_json
from support.images import push_image
from support.registry import RegistryServer

pytestmark = pytest.mark.integration

#: A password and a token that must never reach another host.
CANARY = "canary-hostile-Pa55"
TOKEN = "canary-hostile-token-9Xq"
MANIFEST = mediatype.OCI_MANIFEST
FOUR_MIB = 4 * 1024 * 1024


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    """The misbehaving registry, on 127.0.0.1."""
    with HostileRegistry() as server:
        yield server


@pytest.fixture
def other() -> Iterator[HostileRegistry]:
    """Another host (127.0.0.2, also loopback on Linux): where nothing may leak."""
    with HostileRegistry(bind="127.0.0.2") as server:
        yield server


def cli(*args: str) -> Result:
    """The real CLI, with an empty docker config (no stray credentials)."""
    return run_cli(*args, env={"DOCKER_CONFIG": "/nonexistent", "REGISTRY_AUTH_FILE": "/none"})


def fresh(registry: RegistryServer) -> Reference:
    """A repository nobody used yet on the real registry."""
    return Reference.parse(f"{registry.host}/hostile-{uuid.uuid4().hex[:8]}/app")


def assert_nothing_published(target: Reference, *digests: str) -> None:
    """The real target has no tag ``target.tag`` and none of ``digests`` (manifests or blobs)."""
    assert target.tag is not None
    with Context(TransportSettings()) as check:
        repo = check.repository(target)
        assert repo.head_manifest(target.tag) is None, f"{target} was tagged"
        for digest in digests:
            assert repo.head_manifest(digest) is None, f"manifest {digest} was pushed"
            assert repo.blob_size(Digest(digest)) is None, f"blob {digest} was committed"


def json_reply(data: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, {"Content-Type": "application/json", **headers}, json.dumps(data).encode())


def manifest_reply(raw: bytes, digest: str | None = None, *, length: bool = True) -> Reply:
    """A manifest answer; ``digest`` is what Docker-Content-Digest claims (default: honest)."""
    headers = {"Content-Type": MANIFEST}
    headers["Docker-Content-Digest"] = digest or str(Digest.of(raw))
    return Reply(200, headers, raw, length=length)


# -- manifests that are not what they claim ---------------------------------------------


@pytest.mark.parametrize("header", ["honest", "claims-requested", "absent"])
def test_manifest_not_matching_the_requested_digest(
    hostile: HostileRegistry, ctx: Context, header: str
) -> None:
    wanted, _, _ = hostile.add_image("app")
    impostor, _, _ = hostile.add_image("app")
    raw = hostile.manifests[("app", str(impostor.digest))][1]
    reply = manifest_reply(raw, str(wanted.digest) if header == "claims-requested" else None)
    if header == "absent":
        reply = Reply(200, {"Content-Type": MANIFEST}, raw)
    hostile.route("GET", f"/v2/app/manifests/{wanted.digest}", reply)
    ref = f"{hostile.host}/app@{wanted.digest}"

    with pytest.raises(DigestMismatch, match=f"hashes to {impostor.digest}"):
        inspect(ref, ctx)
    assert_one_line_error(cli("inspect", ref), 1, "hashes to", str(wanted.digest))


@pytest.mark.parametrize("claimed", ["other-digest", "invalid"])
def test_manifest_not_matching_docker_content_digest(
    hostile: HostileRegistry, ctx: Context, claimed: str
) -> None:
    real, _, _ = hostile.add_image("app", "v1")
    raw = hostile.manifests[("app", "v1")][1]
    announced = str(Digest.of(b"something else")) if claimed == "other-digest" else "sha256:zz"
    hostile.route("GET", "/v2/app/manifests/v1", manifest_reply(raw, announced))
    ref = f"{hostile.host}/app:v1"

    with pytest.raises(DigestMismatch, match=r"Docker-Content-Digest|invalid digest"):
        resolve(ref, ctx)
    result = cli("resolve", ref)
    assert_one_line_error(result, 1, f"{hostile.host}/app:v1")
    assert str(real.digest) not in result.out


def test_copy_refuses_a_child_that_does_not_match_its_digest(
    hostile: HostileRegistry, registry: RegistryServer, ctx: Context
) -> None:
    good, config, layer = hostile.add_image("app")
    bad, _, _ = hostile.add_image("app", platform="linux/arm64")
    hostile.add_index("app", "v1", [good.to_json()])
    swapped = hostile.manifests[("app", str(bad.digest))][1]
    hostile.route("GET", f"/v2/app/manifests/{good.digest}", manifest_reply(swapped))
    target = fresh(registry).with_tag("v1")

    with pytest.raises(DigestMismatch, match=str(good.digest)):
        copy_image(CopyRequest.build(f"{hostile.host}/app:v1", target), ctx)
    assert_nothing_published(target, good.digest, bad.digest, config.digest, layer.digest)

    result = cli("copy", "-q", f"{hostile.host}/app:v1", str(target))
    assert_one_line_error(result, 1, "hashes to")
    assert_nothing_published(target, good.digest, bad.digest, config.digest, layer.digest)


# -- blobs that are not what they claim ---------------------------------------------------


TAMPERED = {
    "same-size": (lambda data: bytes(b ^ 0xFF for b in data), DigestMismatch),
    "longer": (lambda data: data + b"!", SizeMismatch),
    "shorter": (lambda data: data[:-1], SizeMismatch),
}


@pytest.mark.parametrize("how", [*TAMPERED, "endless"])
def test_copy_never_commits_a_blob_that_does_not_match(
    hostile: HostileRegistry, registry: RegistryServer, ctx: Context, how: str
) -> None:
    manifest, _, layer = hostile.add_image("app", "v1", layer=b"the real layer\n" * 4096)
    if how == "endless":
        expected: type[PolyarchError] = SizeMismatch
        hostile.route("GET", f"/v2/app/blobs/{layer.digest}", Reply(stream=endless(b"x")))
    else:
        tamper, expected = TAMPERED[how]
        hostile.blobs[str(layer.digest)] = tamper(hostile.blobs[str(layer.digest)])
    target = fresh(registry).with_tag("v1")

    with pytest.raises(expected, match=str(layer.digest)):
        copy_image(CopyRequest.build(f"{hostile.host}/app:v1", target), ctx)
    # The layer never became a blob of the target; the manifest and the tag never moved.
    assert_nothing_published(target, manifest.digest, layer.digest)
    assert hostile.streams_exhausted == 0

    result = cli("copy", "-q", f"{hostile.host}/app:v1", str(target))
    assert_one_line_error(result, 1, str(layer.digest))
    assert_nothing_published(target, manifest.digest, layer.digest)


def test_a_bad_blob_is_never_committed_even_to_a_registry_that_would_accept_it(
    hostile: HostileRegistry, other: HostileRegistry, ctx: Context
) -> None:
    # The real registry checks digests on commit too; this target accepts any final PUT
    # it gets, so only polyarch's own check keeps the bad bytes out.
    _, _, layer = hostile.add_image("app", "v1")
    hostile.blobs[str(layer.digest)] = b"X" * layer.size
    session = "/v2/dst/blobs/uploads/s1"
    other.route("POST", "/v2/dst/blobs/uploads/", Reply(202, {"Location": session}))
    other.route("PATCH", session, Reply(202, {"Location": session}))
    other.route("PUT", session, Reply(201))

    with pytest.raises(DigestMismatch):
        copy_image(CopyRequest.build(f"{hostile.host}/app:v1", f"{other.host}/dst:v1"), ctx)
    commits = [s for s in other.seen("PUT") if s.query.get("digest") == [str(layer.digest)]]
    assert commits == []
    assert other.seen("PUT", "/v2/dst/manifests/") == []


# -- bodies that are too large or never end ----------------------------------------------


@pytest.mark.parametrize("form", ["content-length", "content-length-1-gib", "chunked", "endless"])
def test_manifest_over_4_mib_is_refused_without_reading_on(
    hostile: HostileRegistry, ctx: Context, form: str
) -> None:
    huge = b'{"schemaVersion":2,"x":"' + b"a" * FOUR_MIB + b'"}'
    if form == "endless":
        reply = Reply(200, {"Content-Type": MANIFEST}, stream=endless())
    elif form == "content-length-1-gib":  # refused on the header, not after a download
        headers = {"Content-Type": MANIFEST, "Content-Length": str(1024**3)}
        reply = Reply(200, headers, stream=endless())
    else:
        reply = manifest_reply(huge, length=form == "content-length")
    hostile.route("GET", "/v2/app/manifests/v1", reply)
    ref = f"{hostile.host}/app:v1"

    with pytest.raises(ManifestTooLarge, match="4 MiB"):
        inspect(ref, ctx)
    assert_one_line_error(cli("inspect", ref), 1, f"{hostile.host}/app:v1", "4 MiB")
    # The client hung up at its cap: the endless stream was cut long before its end.
    assert hostile.streams_exhausted == 0
    assert hostile.stream_bytes < 64 * 1024 * 1024


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_registry_that_stalls_fails_after_the_read_timeout(
    hostile: HostileRegistry, where: str
) -> None:
    release = threading.Event()  # the server hangs until the test is over

    def stall_headers(seen: Seen) -> Reply:
        release.wait(30)
        return Reply(404)

    def stall_body() -> Iterator[bytes]:
        yield b"{"
        release.wait(30)

    stalled = Reply(200, {"Content-Type": MANIFEST}, stream=stall_body)
    hostile.route("GET", "/v2/app/manifests/v1", stall_headers if where == "headers" else stalled)
    settings = TransportSettings(timeout=0.5, retry=RetryPolicy(max_attempts=2, base_delay=0))
    try:
        with (
            Context(settings) as ctx,
            pytest.raises(TransportError, match="did not answer in time"),
        ):
            inspect(f"{hostile.host}/app:v1", ctx)
    finally:
        release.set()
    # Retried at most as the policy allows (here: 2 attempts), then given up: bounded.
    attempts = len(hostile.seen("GET", "/v2/app/manifests/"))
    assert (attempts == 2) if where == "headers" else (1 <= attempts <= 2)


# -- JSON nested beyond any recursion limit -----------------------------------------------


def _bearer(hostile: HostileRegistry, token_reply: Reply) -> None:
    hostile.challenge = f'Bearer realm="{hostile.url}/token",service="hostile"'
    hostile.authorization = f"Bearer {TOKEN}"
    hostile.route("GET", "/token", token_reply)


def test_deeply_nested_manifest(hostile: HostileRegistry, ctx: Context) -> None:
    hostile.route("GET", "/v2/app/manifests/v1", manifest_reply(nested_json()))
    ref = f"{hostile.host}/app:v1"
    with pytest.raises(InvalidManifest, match="nested too deeply"):
        inspect(ref, ctx)
    assert_one_line_error(cli("inspect", ref), 1, "nested too deeply")


def test_deeply_nested_config(hostile: HostileRegistry, ctx: Context) -> None:
    config = hostile.put_blob(nested_json(), mediatype.OCI_CONFIG)
    doc = {"schemaVersion": 2, "mediaType": MANIFEST, "config": config.to_json(), "layers": []}
    hostile.put_manifest("app", json.dumps(doc).encode(), MANIFEST, "v1")
    with pytest.raises(InvalidManifest, match="nested too deeply"):
        inspect(f"{hostile.host}/app:v1", ctx)


@pytest.mark.parametrize("status", [404, 500])
def test_deeply_nested_error_body(hostile: HostileRegistry, status: int) -> None:
    # Within the 64 KiB of an error body the client reads.
    hostile.route(
        "GET",
        "/v2/app/manifests/v1",
        Reply(status, {"Content-Type": "application/json"}, nested_json(20_000)),
    )
    settings = TransportSettings(retry=RetryPolicy(max_attempts=1))
    expected = NotFound if status == 404 else RegistryError
    with Context(settings) as plain, pytest.raises(expected, match=r"not found|HTTP 500"):
        inspect(f"{hostile.host}/app:v1", plain)


@pytest.mark.parametrize("status", [200, 401])
def test_deeply_nested_token_answer(hostile: HostileRegistry, ctx: Context, status: int) -> None:
    _bearer(hostile, Reply(status, {"Content-Type": "application/json"}, nested_json()))
    hostile.add_image("app", "v1")
    with pytest.raises(AuthError, match="token"):
        inspect(f"{hostile.host}/app:v1", ctx)


def test_deeply_nested_tag_list(hostile: HostileRegistry, ctx: Context) -> None:
    hostile.route("GET", "/v2/app/tags/list", manifest_reply(nested_json()))
    repo = ctx.repository(Reference.parse(f"{hostile.host}/app"))
    with pytest.raises(InvalidManifest, match="tag list"):
        repo.list_tags()


def test_deeply_nested_provenance_is_a_warning_not_a_crash(
    hostile: HostileRegistry, ctx: Context
) -> None:
    image, _, _ = hostile.add_image("app")
    statement = hostile.put_blob(nested_json(), mediatype.IN_TOTO)
    layer = {
        **statement.to_json(),
        "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
    }
    config = hostile.put_blob(b'{"architecture":"unknown","os":"unknown"}', mediatype.OCI_CONFIG)
    doc = {"schemaVersion": 2, "mediaType": MANIFEST, "config": config.to_json(), "layers": [layer]}
    attestation = hostile.put_manifest("app", json.dumps(doc).encode(), MANIFEST)
    attestation_entry = {
        **attestation.to_json(),
        "annotations": {
            "vnd.docker.reference.digest": str(image.digest),
            "vnd.docker.reference.type": "attestation-manifest",
        },
        "platform": {"architecture": "unknown", "os": "unknown"},
    }
    hostile.add_index("app", "v1", [image.to_json(), attestation_entry])

    report = verify(VerifyRequest.build(f"{hostile.host}/app:v1"), ctx)
    warnings = [c for c in report.checks if c.check == "provenance" and c.status.value == "warn"]
    assert len(warnings) == 1, report.to_json()
    assert f"{statement.digest} unreadable" in warnings[0].message


# -- indexes that lie about their children ------------------------------------------------


@pytest.mark.parametrize("delta", [+7, -1])
def test_index_with_lying_child_sizes(
    hostile: HostileRegistry, registry: RegistryServer, ctx: Context, delta: int
) -> None:
    image, config, layer = hostile.add_image("app")
    entry = image.to_json()
    entry["size"] = image.size + delta
    index = hostile.add_index("app", "v1", [entry])
    source = f"{hostile.host}/app:v1"
    target = fresh(registry).with_tag("v1")
    published = (index.digest, image.digest, config.digest, layer.digest)

    with pytest.raises(InvalidManifest, match=f"the index says {image.size + delta}"):
        copy_image(CopyRequest.build(source, target), ctx)
    assert_nothing_published(target, *published)
    assert_one_line_error(cli("copy", "-q", source, str(target)), 1, "the index says")
    assert_nothing_published(target, *published)

    report = verify(VerifyRequest.build(source), ctx)
    assert not report.ok
    children = [c for c in report.checks if c.check == "children"]
    assert [c.status.value for c in children] == ["fail"]
    assert f"the index says {image.size + delta} bytes" in children[0].message
    result = cli("verify", "--json", source)
    assert result.code == 1, result.err
    assert not result.json()["ok"]


# -- redirects -----------------------------------------------------------------------------


def _authorize(hostile: HostileRegistry, scheme: str) -> str:
    """Make ``hostile`` require credentials (``user``/CANARY); returns the secret in play."""
    if scheme == "basic":
        hostile.challenge = 'Basic realm="hostile"'
        basic = base64.b64encode(f"user:{CANARY}".encode()).decode()
        hostile.authorization = f"Basic {basic}"
        return basic
    _bearer(hostile, json_reply({"token": TOKEN, "expires_in": 300}))
    return TOKEN


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_credentials_do_not_follow_a_redirect_to_another_host(
    hostile: HostileRegistry, other: HostileRegistry, scheme: str
) -> None:
    secret = _authorize(hostile, scheme)
    image, _, _ = hostile.add_image("app")
    raw = hostile.manifests[("app", str(image.digest))][1]
    other.put_manifest("app", raw, MANIFEST, "v1")  # a CDN serving the right bytes
    hostile.route(
        "GET", "/v2/app/manifests/v1", Reply(307, {"Location": f"{other.url}/v2/app/manifests/v1"})
    )
    settings = TransportSettings(username="user", password=CANARY)
    with Context(settings) as ctx:
        assert inspect(f"{hostile.host}/app:v1", ctx).digest == image.digest

    # The credentials were in play (the registry got them)...
    assert any(s.header("authorization") == hostile.authorization for s in hostile.requests)
    # ...and the other host got the request, without them.
    received = other.seen("GET", "/v2/app/manifests/v1")
    assert len(received) == 1
    for seen in other.requests:
        assert seen.header("authorization") is None, seen
        text = json.dumps([seen.path, seen.query, dict(seen.headers)])
        assert CANARY not in text and secret not in text


@pytest.mark.parametrize("loop", ["self", "two-step"])
def test_redirect_loop_is_bounded(hostile: HostileRegistry, ctx: Context, loop: str) -> None:
    if loop == "self":
        hostile.route(
            "GET", "/v2/app/manifests/v1", Reply(302, {"Location": "/v2/app/manifests/v1"})
        )
    else:
        hostile.route("GET", "/v2/app/manifests/v1", Reply(302, {"Location": "/elsewhere"}))
        hostile.route("GET", "/elsewhere", Reply(302, {"Location": "/v2/app/manifests/v1"}))
    ref = f"{hostile.host}/app:v1"
    with pytest.raises(TransportError, match="too many redirects"):
        inspect(ref, ctx)
    # Followed at most MAX_REDIRECTS times, and not retried.
    assert len(hostile.requests) <= MAX_REDIRECTS + 1
    assert_one_line_error(cli("inspect", ref), 1, "too many redirects")


# -- where credentials and uploads may go -------------------------------------------------


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name this process resolves; ``*.invalid`` fails at once."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def recording(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(host))
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    return seen


def test_plain_http_token_realm_on_another_host_is_refused(
    hostile: HostileRegistry, lookups: list[str]
) -> None:
    hostile.challenge = 'Bearer realm="http://auth.invalid/token",service="hostile"'
    hostile.add_image("app", "v1")
    ref = f"{hostile.host}/app:v1"
    settings = TransportSettings(username="user", password=CANARY)
    with Context(settings) as ctx, pytest.raises(AuthError) as refused:
        inspect(ref, ctx)
    message = refused.value.one_line()
    assert "http://auth.invalid" in message and "not HTTPS" in message
    assert "name auth.invalid an insecure registry" in message
    assert refused.value.parameter == "insecure"
    assert CANARY not in message
    assert "auth.invalid" not in lookups  # never even resolved

    # The control: named insecure, the realm is contacted (and here cannot be resolved).
    insecure = TransportSettings(username="user", password=CANARY, insecure={"auth.invalid"})
    with Context(insecure) as ctx, pytest.raises(TransportError):
        inspect(ref, ctx)
    assert "auth.invalid" in lookups

    result = cli("inspect", ref)
    assert_one_line_error(result, 1, "auth.invalid", "not HTTPS", "see --insecure")
    assert {s.path for s in hostile.requests} == {"/v2/app/manifests/v1"}


@pytest.mark.parametrize("stage", ["POST", "POST-scheme-relative", "PATCH"])
def test_upload_location_outside_the_registry_is_refused(
    hostile: HostileRegistry,
    other: HostileRegistry,
    registry: RegistryServer,
    ctx: Context,
    stage: str,
) -> None:
    source = fresh(registry)
    push_image(ctx.repository(source), "linux/amd64", tag="v1")
    evil = f"{other.url}/v2/dst/blobs/uploads/stolen"
    if stage == "POST":
        hostile.route("POST", "/v2/dst/blobs/uploads/", Reply(202, {"Location": evil}))
    elif stage == "POST-scheme-relative":
        location = evil.removeprefix("http:")
        hostile.route("POST", "/v2/dst/blobs/uploads/", Reply(202, {"Location": location}))
    else:
        here = "/v2/dst/blobs/uploads/s1"
        hostile.route("POST", "/v2/dst/blobs/uploads/", Reply(202, {"Location": here}))
        hostile.route("PATCH", here, Reply(202, {"Location": evil}))
    destination = f"{hostile.host}/dst:v1"

    with pytest.raises(TransportError, match="outside the registry"):
        copy_image(CopyRequest.build(source.with_tag("v1"), destination), ctx)
    result = cli("copy", "-q", str(source.with_tag("v1")), destination)
    assert_one_line_error(result, 1, f"refusing a URL on {other.host}")
    assert not other.contacted  # not a byte, not even a TLS probe
    assert hostile.seen("PUT", "/v2/dst/manifests/") == []


# -- tag lists whose pagination never ends -------------------------------------------------


def _pages(hostile: HostileRegistry, other: HostileRegistry, how: str) -> None:
    path = "/v2/app/tags/list"

    def page(seen: Seen) -> Reply:
        last = int(seen.query.get("last", ["0"])[-1])
        first = f"{path}?" + urlencode({"n": seen.query.get("n", [""])[-1]})
        if how == "self":
            link = first
        elif how == "two-step":
            link = f"{first}&last=1" if last == 0 else first
        elif how == "other-host":
            link = f"{other.url}{first}&last=1"
        else:  # endless: a new page every time
            link = f"{first}&last={last + 1}"
        return json_reply({"name": "app", "tags": [f"t{last}"]}, Link=f'<{link}>; rel="next"')

    hostile.route("GET", path, page)


@pytest.mark.parametrize("how", ["self", "two-step", "other-host", "endless"])
def test_tag_list_pagination_that_loops_is_stopped(
    hostile: HostileRegistry, other: HostileRegistry, ctx: Context, how: str
) -> None:
    _pages(hostile, other, how)
    repo = ctx.repository(Reference.parse(f"{hostile.host}/app"))
    expected: type[PolyarchError] = TransportError if how == "other-host" else RegistryError
    with pytest.raises(expected, match=r"outside the registry|does not end|more than \d+ pages"):
        repo.list_tags()
    pages = len(hostile.seen("GET", "/v2/app/tags/list"))
    assert pages == {"self": 1, "two-step": 2, "other-host": 1, "endless": MAX_TAG_PAGES}[how]
    assert not other.contacted


def test_unauthorized_is_reported_not_retried_forever(hostile: HostileRegistry) -> None:
    # A registry that keeps answering 401 to valid-looking credentials: one clear error.
    hostile.challenge = 'Basic realm="hostile"'
    hostile.authorization = "never"
    hostile.add_image("app", "v1")
    with (
        Context(TransportSettings(username="user", password=CANARY)) as ctx,
        pytest.raises(Unauthorized) as refused,
    ):
        inspect(f"{hostile.host}/app:v1", ctx)
    assert CANARY not in refused.value.one_line()
    assert len(hostile.seen("GET", "/v2/app/manifests/")) == 2  # bare, then with credentials
