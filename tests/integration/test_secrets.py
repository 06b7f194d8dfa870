"""Secrets never show: not in stdout, stderr (even ``-vv``), ``--json`` or exception messages.

Against the token-auth registry (distribution + the test JWT issuer), every command that
talks to a registry (``inspect``, ``resolve``, ``create``, ``verify``, ``copy``,
``publish``) runs with a canary password, succeeding and failing (wrong password, push
denied); the output is searched for the password, the Basic header carrying it, and
every token the issuer handed out (whole, and its payload and signature parts). The
issuer signs JWTs for the registry, so it cannot put a canary string into a token: the
issued tokens themselves are the canaries.

Then a hostile registry (:mod:`support.hostile`) and token service echo the credentials
they received in their error messages: polyarch must mask them.

``polyarch build`` is not here: it drives ``docker build``/``docker push``, which use
Docker's own credentials, never polyarch's. Credential helpers that print a secret when
they fail are covered by ``test_auth.py::test_failing_helper_is_named_without_its_output``
(not repeated here).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from polyarch import (
    AuthError,
    Context,
    CopyRequest,
    CreateRequest,
    Denied,
    PolyarchError,
    Reference,
    RegistryError,
    TransportSettings,
    Unauthorized,
    VerifyRequest,
    copy_image,
    create_index,
    inspect,
    resolve,
    verify,
)
from support.cli import Result, run_cli
from support.hostile import HostileRegistry, Reply, Seen
from support.images import push_image, push_wrapper
from support.registry import TokenRegistry
from support.token_issuer import TokenIssuer, User

pytestmark = pytest.mark.integration

#: The password of ``carol`` (pull and push everywhere).
CANARY = "canary-S3cret-Qx7"
#: The password of ``dave`` (pull only: pushes are denied).
CANARY_READONLY = "canary-R3ad-Zw4"
#: A wrong password, itself a canary.
CANARY_WRONG = "canary-Wr0ng-Pk2"


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True)
class Setup:
    """What a module's tests share: the images, and where the CLI writes."""

    registry: TokenRegistry
    issuer: TokenIssuer
    #: Repository holding the two images (``host/repo``).
    source: str
    amd64: str
    arm64: str
    workdir: Path


@pytest.fixture(scope="module")
def setup(token_registry: TokenRegistry, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    issuer = token_registry.issuer
    issuer.reset()
    issuer.set_user("carol", User(CANARY, {"*": ["pull", "push", "delete"]}))
    issuer.set_user("dave", User(CANARY_READONLY, {"*": ["pull"]}))
    source = f"{token_registry.host}/secrets-{uuid.uuid4().hex[:8]}/src"
    settings = TransportSettings(username="carol", password=CANARY)
    with Context(settings) as ctx:
        repo = ctx.repository(Reference.parse(source))
        amd64 = push_image(repo, "linux/amd64", tag="amd64")
        arm64 = push_wrapper(repo, "linux/arm64", tag="arm64")
        index = Reference.parse(f"{source}:index")
        create_index(CreateRequest.build([index], [f"{source}:amd64", f"{source}:arm64"]), ctx)
    workdir = tmp_path_factory.mktemp("secrets")
    for platform in ("amd64", "arm64"):
        (workdir / platform).mkdir()
        (workdir / platform / "Dockerfile").write_text("FROM scratch\n")
    records = workdir / "records"
    records.mkdir()
    for platform, digest in (("amd64", amd64.digest), ("arm64", arm64.image.digest)):
        record = {
            "schema": "polyarch.record/v1",
            "platform": f"linux/{platform}",
            "repository": source,
            "digest": str(digest),
        }
        (records / f"{platform}.json").write_text(json.dumps(record))
    return Setup(
        token_registry,
        issuer,
        source,
        str(amd64.digest),
        str(arm64.image.digest),
        workdir,
    )


def forbidden(issuer: TokenIssuer) -> dict[str, str]:
    """Every secret in play: passwords, Basic headers, issued tokens (and their parts)."""
    secrets = {
        "password": CANARY,
        "read-only password": CANARY_READONLY,
        "wrong password": CANARY_WRONG,
    }
    for user, password in (("carol", CANARY), ("dave", CANARY_READONLY), ("carol", CANARY_WRONG)):
        secrets[f"basic {user}:{password}"] = _basic(user, password)
    for i, issued in enumerate(issuer.issued):
        _, payload, signature = issued.token.split(".")
        secrets[f"token {i}"] = issued.token
        secrets[f"token {i} payload"] = payload
        secrets[f"token {i} signature"] = signature
    return secrets


def assert_no_secret(issuer: TokenIssuer, *texts: str) -> None:
    leaked = [name for name, secret in forbidden(issuer).items() if any(secret in t for t in texts)]
    assert not leaked, (leaked, texts)


# -- every command, through the CLI --------------------------------------------------------

#: (user, password, expected exit code) per scenario.
SCENARIOS = {
    "ok": ("carol", CANARY, 0),
    "wrong-password": ("carol", CANARY_WRONG, 1),
    "push-denied": ("dave", CANARY_READONLY, 1),
}


def _target(setup: Setup) -> str:
    return f"{setup.registry.host}/secrets-{uuid.uuid4().hex[:8]}/dst:v1"


def _spec(setup: Setup, image: str) -> Path:
    spec = setup.workdir / f"spec-{uuid.uuid4().hex[:8]}.yaml"
    spec.write_text(
        f"image: {image}\n"
        "tags: [v1]\n"
        "variants:\n"
        f"  - {{platform: linux/amd64, context: {setup.workdir / 'amd64'}}}\n"
        f"  - {{platform: linux/arm64, context: {setup.workdir / 'arm64'}}}\n"
    )
    return spec


#: Per command: its arguments (given the setup and a fresh target) and whether it pushes.
COMMANDS: dict[str, tuple[Callable[[Setup, str], list[str]], bool]] = {
    "inspect": (lambda s, _: ["inspect", f"{s.source}:arm64"], False),
    "resolve": (lambda s, _: ["resolve", f"{s.source}:arm64"], False),
    "create": (lambda s, t: ["create", "-t", t, f"{s.source}:amd64", f"{s.source}:arm64"], True),
    "verify": (
        lambda s, _: [
            "verify",
            "--platform",
            "linux/amd64",
            "--platform",
            "linux/arm64",
            "--exact",
            f"{s.source}:index",
        ],
        False,
    ),
    "copy": (lambda s, t: ["copy", f"{s.source}:arm64", t], True),
    "publish": (
        lambda s, t: [
            "publish",
            "--spec",
            str(_spec(s, t.removesuffix(":v1"))),
            "--records",
            str(s.workdir / "records"),
            "--no-run",
        ],
        True,
    ),
}


def _cases() -> Iterator[object]:
    for command, (_, pushes) in COMMANDS.items():
        for scenario in SCENARIOS:
            if scenario == "push-denied" and not pushes:
                continue
            for flags in ((), ("-vv",), ("--json",)):
                if flags == ("--json",) and scenario != "ok":
                    continue  # a failure prints no JSON; its one line is checked above
                name = f"{command}-{scenario}-{'-'.join(f.strip('-') for f in flags) or 'plain'}"
                yield pytest.param(command, scenario, flags, id=name)


@pytest.mark.parametrize(("command", "scenario", "flags"), list(_cases()))
def test_no_command_ever_prints_a_secret(
    setup: Setup, command: str, scenario: str, flags: tuple[str, ...]
) -> None:
    args, _ = COMMANDS[command]
    user, password, expected = SCENARIOS[scenario]
    env = {"POLYARCH_USERNAME": user, "POLYARCH_PASSWORD": password, "DOCKER_CONFIG": "/none"}
    result = run_cli(*args(setup, _target(setup)), *flags, env=env)
    assert result.code == expected, (result.code, result.out, result.err)
    if "--json" in flags:
        json.loads(result.out)
    assert_no_secret(setup.issuer, result.out, result.err)
    if expected == 0:
        assert setup.issuer.issued, "no token was issued: the secrets were never in play"


def test_password_from_stdin_never_shows(setup: Setup) -> None:
    result: Result = run_cli(
        "-vv",
        "copy",
        "--username",
        "dave",
        "--password-stdin",
        f"{setup.source}:amd64",
        _target(setup),
        stdin=CANARY_READONLY + "\n",
        env={"DOCKER_CONFIG": "/none"},
    )
    assert result.code == 1, result.err
    assert "DENIED" in result.err or "do not grant" in result.err
    assert_no_secret(setup.issuer, result.out, result.err)


# -- the library: exception messages --------------------------------------------------------


def _exception_texts(error: BaseException) -> list[str]:
    """What a caller could print: str, repr, the one-line form, hints, the whole chain."""
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current), *map(str, current.args)]
        if isinstance(current, PolyarchError):
            texts += [current.one_line(), current.hint or ""]
        current = current.__cause__ or current.__context__
    return texts


@pytest.mark.parametrize("scenario", ["wrong-password", "push-denied"])
def test_exception_messages_hold_no_secret(setup: Setup, scenario: str) -> None:
    user, password, _ = SCENARIOS[scenario]
    settings = TransportSettings(username=user, password=password)
    target = Reference.parse(_target(setup))
    sources = [f"{setup.source}:amd64", f"{setup.source}:arm64"]
    calls: list[Callable[[Context], object]] = [
        lambda ctx: create_index(CreateRequest.build([target], sources), ctx),
        lambda ctx: copy_image(CopyRequest.build(sources[1], target), ctx),
    ]
    if scenario == "wrong-password":
        calls += [
            lambda ctx: inspect(sources[1], ctx),
            lambda ctx: resolve(sources[1], ctx),
            lambda ctx: verify(VerifyRequest.build(sources[0]), ctx),
        ]
    expected = Unauthorized if scenario == "wrong-password" else Denied
    for call in calls:
        with Context(settings) as ctx, pytest.raises(expected) as raised:
            call(ctx)
        assert_no_secret(setup.issuer, *_exception_texts(raised.value))


# -- servers that echo what they were sent ---------------------------------------------------


def assert_masked(texts: list[str], *secrets: str) -> None:
    """No secret, nor any 6 characters of one (a message cut midway), in ``texts``."""
    for secret in secrets:
        pieces = {secret[i : i + 6] for i in range(len(secret) - 5)}
        found = [(p, t) for p in pieces for t in texts if p in t]
        assert not found, (secret, found)


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    with HostileRegistry() as server:
        yield server


def _echo(status: int, code: str, padding: int) -> Callable[[Seen], Reply]:
    """An error whose message repeats the request's Authorization header and more.

    ``padding`` characters come first, so that the secrets straddle where polyarch cuts
    a long message.
    """

    def answer(seen: Seen) -> Reply:
        said = seen.header("authorization") or ""
        decoded = ""
        if said.startswith("Basic "):
            decoded = base64.b64decode(said.removeprefix("Basic ")).decode()
        message = f"{'x' * padding}{CANARY} refused {said} ({decoded})"
        body = {"errors": [{"code": code, "message": message, "detail": said}]}
        return Reply(status, {"Content-Type": "application/json"}, json.dumps(body).encode())

    return answer


@pytest.mark.parametrize("padding", [0, 190])
@pytest.mark.parametrize("status", [403, 404, 400])
@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_a_registry_echoing_credentials_is_masked(
    hostile: HostileRegistry, scheme: str, status: int, padding: int
) -> None:
    token = f"tok-{CANARY}"
    if scheme == "basic":
        hostile.challenge = 'Basic realm="echo"'
        hostile.authorization = f"Basic {_basic('carol', CANARY)}"
    else:
        hostile.challenge = f'Bearer realm="{hostile.url}/token",service="echo"'
        hostile.authorization = f"Bearer {token}"
        body = json.dumps({"token": token}).encode()
        hostile.route("GET", "/token", Reply(200, {"Content-Type": "application/json"}, body))
    code = {403: "DENIED", 404: "MANIFEST_UNKNOWN", 400: "MANIFEST_INVALID"}[status]
    hostile.route("GET", "/v2/app/manifests/v1", _echo(status, code, padding))
    ref = f"{hostile.host}/app:v1"

    settings = TransportSettings(username="carol", password=CANARY)
    with Context(settings) as ctx, pytest.raises(RegistryError) as raised:
        inspect(ref, ctx)
    texts = _exception_texts(raised.value)
    # The registry did say it (the test can fail)...
    echoed = hostile.seen("GET", "/v2/app/manifests/v1")[-1].header("authorization")
    assert echoed == hostile.authorization
    # ...and none of it reaches the caller.
    assert_masked(texts, CANARY, _basic("carol", CANARY), token)

    env = {"POLYARCH_USERNAME": "carol", "POLYARCH_PASSWORD": CANARY, "DOCKER_CONFIG": "/none"}
    for flags in ((), ("-vv",)):
        result = run_cli(*flags, "inspect", ref, env=env)
        assert result.code == 1, result.err
        assert_masked([result.out, result.err], CANARY, _basic("carol", CANARY), token)


@pytest.mark.parametrize("padding", [0, 150])
def test_a_token_service_echoing_the_password_is_masked(
    hostile: HostileRegistry, padding: int
) -> None:
    hostile.challenge = f'Bearer realm="{hostile.url}/token",service="echo"'
    hostile.authorization = "Bearer never"

    def token(seen: Seen) -> Reply:
        said = seen.header("authorization") or ""
        described = f"{'x' * padding}{CANARY} / {said} is wrong"
        body = {"error": "invalid_grant", "error_description": described}
        return Reply(401, {"Content-Type": "application/json"}, json.dumps(body).encode())

    hostile.route("GET", "/token", token)
    settings = TransportSettings(username="carol", password=CANARY)
    with Context(settings) as ctx, pytest.raises(AuthError) as raised:
        inspect(f"{hostile.host}/app:v1", ctx)
    texts = _exception_texts(raised.value)
    assert any("refused a token: " in t for t in texts)  # the service's message is shown...
    assert_masked(texts, CANARY, _basic("carol", CANARY))  # ...masked
