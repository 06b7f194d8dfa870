"""Credentials and auth against real registries, through the library and the real CLI.

Every claim of README.md and docs/credentials.md about where credentials come from
(flags, environment, docker's config.json and credential helpers, podman's auth.json),
how Basic and Bearer auth work (one token per scope, identity tokens, renewal) and that
secrets never show, proven against the ``basic_registry`` (htpasswd, bcrypt) and the
``token_registry`` (distribution with a JWT token issuer).

Each CLI run gets its own user environment (:class:`Sandbox`): ``HOME``,
``DOCKER_CONFIG``, ``REGISTRY_AUTH_FILE`` and ``XDG_RUNTIME_DIR`` point into the test's
tmp dir and no ``POLYARCH_*`` variable is set unless the test sets it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import stat
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from polyarch import (
    Context,
    CredentialError,
    Denied,
    Reference,
    RegistryClient,
    TransportSettings,
    Unauthorized,
    inspect,
    resolve,
)
from support.cli import Result, assert_one_line_error, run_cli
from support.images import push_image
from support.registry import BasicAuthRegistry, TokenRegistry
from support.token_issuer import REGISTRY_TOKEN_LEEWAY, TokenIssuer, TokenRequest, User

pytestmark = pytest.mark.integration

#: A password that must never show in any output.
CANARY = "canary-Pa55-XYZ"
#: An identity (refresh) token that must never show in any output.
CANARY_REFRESH = "canary-refresh-7Qz"
#: The name of the test credential helper (``docker-credential-polytest``).
HELPER = "polytest"


# -- the sandbox: one isolated user environment per test -------------------------------


@dataclass(frozen=True)
class Sandbox:
    """An isolated user environment: home, docker config dir, podman auth file, PATH.

    The ``sandbox`` fixture also installs it in ``os.environ`` (so library calls in
    the test process see the same, empty, configuration); :meth:`cli` passes it to the
    CLI explicitly.
    """

    root: Path

    @property
    def home(self) -> Path:
        """``$HOME``."""
        return self.root / "home"

    @property
    def docker_dir(self) -> Path:
        """``$DOCKER_CONFIG`` (holds ``config.json``)."""
        return self.root / "docker"

    @property
    def auth_file(self) -> Path:
        """``$REGISTRY_AUTH_FILE`` (podman's ``auth.json``); absent until written."""
        return self.root / "podman" / "auth.json"

    @property
    def runtime_dir(self) -> Path:
        """``$XDG_RUNTIME_DIR``."""
        return self.root / "runtime"

    @property
    def bin_dir(self) -> Path:
        """Prepended to ``PATH``: where credential helpers are installed."""
        return self.root / "bin"

    @property
    def helper_log(self) -> Path:
        """One JSON line per credential helper call: its arguments and its stdin."""
        return self.root / "helper-calls.jsonl"

    def create(self) -> Sandbox:
        """Make the directories; returns ``self``."""
        for path in (self.home, self.docker_dir, self.auth_file.parent, self.runtime_dir):
            path.mkdir(parents=True, exist_ok=True)
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        return self

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a CLI run, plus ``extra``."""
        env = {
            "HOME": str(self.home),
            "DOCKER_CONFIG": str(self.docker_dir),
            "REGISTRY_AUTH_FILE": str(self.auth_file),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        env.update(extra)
        return env

    def cli(self, *args: str, stdin: str | None = None, **env: str) -> Result:
        """Run the real CLI in this environment (``env`` adds variables, e.g. credentials)."""
        return run_cli(*args, env=self.env(**env), stdin=stdin)

    def docker_config(self, config: Mapping[str, Any]) -> None:
        """Write ``$DOCKER_CONFIG/config.json``."""
        (self.docker_dir / "config.json").write_text(json.dumps(config))

    def podman_auth(self, config: Mapping[str, Any], path: Path | None = None) -> None:
        """Write podman's ``auth.json`` (at ``$REGISTRY_AUTH_FILE`` unless ``path``)."""
        target = path or self.auth_file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(config))

    def helper(
        self,
        name: str = HELPER,
        *,
        answers: Mapping[str, tuple[str, str]] | None = None,
        fail_with: str | None = None,
    ) -> Path:
        """Install ``docker-credential-NAME`` speaking the docker-credential protocol.

        It logs each call to :attr:`helper_log`, then answers ``get`` for the server
        URLs in ``answers`` (URL -> (Username, Secret)) and says "credentials not found"
        (exit 1) for others, as docker's helpers do; with ``fail_with`` it prints that
        text on stdout and exits 1 instead.
        """
        script = self.bin_dir / f"docker-credential-{name}"
        script.write_text(
            f"#!{sys.executable}\n"
            "import json, sys\n"
            "server = sys.stdin.read()\n"
            f"with open({str(self.helper_log)!r}, 'a', encoding='utf-8') as log:\n"
            "    log.write(json.dumps({'args': sys.argv[1:], 'stdin': server}) + '\\n')\n"
            f"answers = json.loads({json.dumps(dict(answers or {}))!r})\n"
            f"fail_with = {fail_with!r}\n"
            "if fail_with is not None:\n"
            "    print(fail_with)\n"
            "    sys.exit(1)\n"
            "found = answers.get(server.strip())\n"
            "if found is None:\n"
            "    print('credentials not found in native keychain')\n"
            "    sys.exit(1)\n"
            "print(json.dumps({'ServerURL': server.strip(), 'Username': found[0],"
            " 'Secret': found[1]}))\n"
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return script

    def helper_calls(self) -> list[dict[str, Any]]:
        """What the credential helpers were called with, in order."""
        if not self.helper_log.exists():
            return []
        return [json.loads(line) for line in self.helper_log.read_text().splitlines()]


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """A fresh :class:`Sandbox`, also installed in ``os.environ`` for library calls."""
    box = Sandbox(tmp_path / "sandbox").create()
    for name in list(os.environ):
        if name.startswith("POLYARCH_"):
            monkeypatch.delenv(name)
    for name, value in box.env().items():
        monkeypatch.setenv(name, value)
    return box


def basic_auth(username: str, password: str) -> str:
    """The ``auth`` field of a config file: base64 of ``user:password``."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def creds(username: str, password: str) -> dict[str, str]:
    """``POLYARCH_USERNAME``/``POLYARCH_PASSWORD`` for :meth:`Sandbox.cli`."""
    return {"POLYARCH_USERNAME": username, "POLYARCH_PASSWORD": password}


def assert_success(result: Result, digest: str) -> None:
    """The run succeeded and printed ``digest`` (resolve: exactly; inspect: within)."""
    assert result.code == 0, (result.code, result.out, result.err)
    assert digest in result.out, result.out


@dataclass(frozen=True)
class Pushed:
    """An image pushed for a module's tests."""

    ref: str
    #: The repository name inside the registry (for token scopes).
    repository: str
    digest: str


def push_test_image(host: str, settings: TransportSettings, platform: str) -> Pushed:
    """Push one single-platform image to a fresh repository on ``host``, tagged ``v1``."""
    ref = Reference.parse(f"{host}/auth-{uuid.uuid4().hex[:8]}/app")
    with Context(settings) as ctx:
        image = push_image(ctx.repository(ref), platform, tag="v1")
    return Pushed(str(ref.with_tag("v1")), ref.repository, str(image.digest))


# -- Basic auth (htpasswd, bcrypt) ---------------------------------------------------


@pytest.fixture(scope="module")
def basic_image(basic_registry: BasicAuthRegistry) -> Pushed:
    """An image on the Basic-auth registry, pushed with its credentials."""
    settings = TransportSettings(username=basic_registry.username, password=basic_registry.password)
    return push_test_image(basic_registry.host, settings, "linux/arm64")


def test_basic_anonymous_is_refused_in_one_line(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    result = sandbox.cli("inspect", basic_image.ref)
    assert_one_line_error(
        result, 1, basic_registry.host, "requires a username and password", "--username"
    )

    with Context(TransportSettings()) as ctx, pytest.raises(Unauthorized, match="no credentials"):
        inspect(basic_image.ref, ctx)


def test_basic_credentials_from_the_environment(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    result = sandbox.cli("resolve", basic_image.ref, **creds(*basic_registry.auth))
    assert result.code == 0, result.err
    assert result.out.strip() == basic_image.digest


def test_basic_username_flag_and_password_stdin(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    before = sandbox.cli(
        "--username",
        basic_registry.username,
        "--password-stdin",
        "resolve",
        basic_image.ref,
        stdin=basic_registry.password + "\n",
    )
    assert before.code == 0, before.err
    assert before.out.strip() == basic_image.digest
    # The flags are accepted after the command too.
    after = sandbox.cli(
        "inspect",
        "--username",
        basic_registry.username,
        "--password-stdin",
        basic_image.ref,
        stdin=basic_registry.password + "\n",
    )
    assert_success(after, basic_image.digest)

    no_user = sandbox.cli("inspect", "--password-stdin", basic_image.ref, stdin="x\n")
    assert_one_line_error(no_user, 2, "--password-stdin", "--username")


@pytest.mark.parametrize("verbosity", [(), ("-vv",)], ids=["quiet", "vv"])
def test_basic_wrong_password_is_one_line_without_the_password(
    sandbox: Sandbox,
    basic_registry: BasicAuthRegistry,
    basic_image: Pushed,
    verbosity: tuple[str, ...],
) -> None:
    wrong = "wrong-" + CANARY
    result = sandbox.cli(
        *verbosity, "inspect", basic_image.ref, **creds(basic_registry.username, wrong)
    )
    if verbosity:
        # -vv adds HTTP lines and the traceback; the error line is still there.
        assert result.code == 1
        assert any(line.startswith("error: ") for line in result.err.splitlines())
    else:
        assert_one_line_error(result, 1, basic_registry.host, "UNAUTHORIZED", "HTTP 401")
    output = result.out + result.err
    assert wrong not in output
    assert basic_auth(basic_registry.username, wrong) not in output


@pytest.mark.parametrize(
    "key_form",
    ["{host}", "https://{host}", "http://{host}/v1/", "HTTPS://{host}/v2/"],
)
@pytest.mark.parametrize("entry_form", ["auth", "username-password"])
def test_basic_docker_config_auths(
    sandbox: Sandbox,
    basic_registry: BasicAuthRegistry,
    basic_image: Pushed,
    key_form: str,
    entry_form: str,
) -> None:
    user, password = basic_registry.auth
    entry = (
        {"auth": basic_auth(user, password)}
        if entry_form == "auth"
        else {"username": user, "password": password}
    )
    sandbox.docker_config({"auths": {key_form.format(host=basic_registry.host): entry}})
    assert_success(sandbox.cli("resolve", basic_image.ref), basic_image.digest)


def test_basic_docker_config_for_another_registry_is_not_used(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    other = "127.0.0.1:1"  # same host, other port: another registry
    sandbox.docker_config({"auths": {other: {"auth": basic_auth(*basic_registry.auth)}}})
    result = sandbox.cli("inspect", basic_image.ref)
    assert_one_line_error(result, 1, basic_registry.host, "no credentials were found")


def test_basic_podman_auth_file(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    sandbox.podman_auth(
        {"auths": {basic_registry.host: {"auth": basic_auth(*basic_registry.auth)}}}
    )
    assert_success(sandbox.cli("resolve", basic_image.ref), basic_image.digest)
    # REGISTRY_AUTH_FILE elsewhere: that file alone is read, so no credentials now.
    moved = sandbox.cli("resolve", basic_image.ref, REGISTRY_AUTH_FILE=str(sandbox.root / "none"))
    assert_one_line_error(moved, 1, basic_registry.host, "no credentials were found")


def test_basic_podman_auth_in_xdg_runtime_dir(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    entry = {"auths": {basic_registry.host: {"auth": basic_auth(*basic_registry.auth)}}}
    sandbox.podman_auth(entry, path=sandbox.runtime_dir / "containers" / "auth.json")
    # Without REGISTRY_AUTH_FILE podman's file is $XDG_RUNTIME_DIR/containers/auth.json.
    result = sandbox.cli("resolve", basic_image.ref, REGISTRY_AUTH_FILE="")
    assert_success(result, basic_image.digest)
    ignored = sandbox.cli("resolve", basic_image.ref)  # REGISTRY_AUTH_FILE set: only that one
    assert_one_line_error(ignored, 1, basic_registry.host, "no credentials were found")


def test_explicit_credentials_beat_the_docker_config(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    user, password = basic_registry.auth
    sandbox.docker_config({"auths": {basic_registry.host: {"auth": basic_auth(user, "stale")}}})
    assert_success(
        sandbox.cli("resolve", basic_image.ref, **creds(user, password)), basic_image.digest
    )
    with_stdin = sandbox.cli(
        "resolve", "--username", user, "--password-stdin", basic_image.ref, stdin=password
    )
    assert_success(with_stdin, basic_image.digest)

    # The reverse: the right password in config.json does not rescue a wrong explicit one.
    sandbox.docker_config({"auths": {basic_registry.host: {"auth": basic_auth(user, password)}}})
    assert_success(sandbox.cli("resolve", basic_image.ref), basic_image.digest)
    explicit_wrong = sandbox.cli("resolve", basic_image.ref, **creds(user, "stale"))
    assert_one_line_error(explicit_wrong, 1, basic_registry.host, "UNAUTHORIZED")


def test_docker_config_beats_podman_auth(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    user, password = basic_registry.auth
    right = {"auths": {basic_registry.host: {"auth": basic_auth(user, password)}}}
    wrong = {"auths": {basic_registry.host: {"auth": basic_auth(user, "stale")}}}
    sandbox.docker_config(right)
    sandbox.podman_auth(wrong)
    assert_success(sandbox.cli("resolve", basic_image.ref), basic_image.digest)
    sandbox.docker_config(wrong)
    sandbox.podman_auth(right)
    assert_one_line_error(sandbox.cli("resolve", basic_image.ref), 1, "UNAUTHORIZED")


# -- Bearer tokens (distribution + the test token issuer) ----------------------------


@pytest.fixture(scope="module")
def token_image(token_registry: TokenRegistry) -> Pushed:
    """An image on the token registry, pushed by alice (pull, push, delete)."""
    token_registry.issuer.reset()
    settings = TransportSettings(username=token_registry.username, password=token_registry.password)
    return push_test_image(token_registry.host, settings, "linux/amd64")


@pytest.fixture
def issuer(token_registry: TokenRegistry) -> Iterator[TokenIssuer]:
    """The session's issuer, reset before and after the test."""
    token_registry.issuer.reset()
    try:
        yield token_registry.issuer
    finally:
        token_registry.issuer.reset()


def token_calls(issuer: TokenIssuer) -> list[tuple[str, str, list[str]]]:
    """(method, grant, scopes) of each token request: grant is the POST grant_type or
    ``basic:USER``/``anonymous`` for GET."""
    calls = []
    for request in issuer.requests:
        if request.method == "POST":
            grant = request.query.get("grant_type", ["?"])[-1]
        else:
            account = request.query.get("account")
            grant = f"basic:{account[-1]}" if account else "anonymous"
        calls.append((request.method, grant, request.query.get("scope", [])))
    return calls


def registry_lines(result: Result, host: str) -> list[str]:
    """The ``-vv`` log lines of HTTP exchanges with the registry ``host`` (not the realm)."""
    pattern = re.compile(rf"^DEBUG polyarch\.transport: \w+ https?://{re.escape(host)}/v2/")
    return [line for line in result.err.splitlines() if pattern.match(line)]


def test_token_cli_fetches_one_token_per_scope(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    pull = f"repository:{token_image.repository}:pull"
    inspected = sandbox.cli("-vv", "inspect", token_image.ref, **creds("alice", "alice-secret"))
    assert inspected.code == 0, inspected.err
    assert token_image.digest in inspected.out
    # Several registry requests (manifest 401 + retry, config blob), one token for the scope.
    answered = [line for line in registry_lines(inspected, token_registry.host) if "-> 2" in line]
    assert len(answered) >= 2, inspected.err
    assert token_calls(issuer) == [("GET", "basic:alice", [pull])]
    request: TokenRequest = issuer.requests[0]
    assert request.query["service"] == [token_registry.service]
    assert issuer.issued[0].access == [
        {"type": "repository", "name": token_image.repository, "actions": ["pull"]}
    ]

    issuer.clear_requests()
    resolved = sandbox.cli(
        "resolve",
        "--username",
        "alice",
        "--password-stdin",
        token_image.ref,
        stdin="alice-secret\n",
    )
    assert resolved.code == 0, resolved.err
    assert resolved.out.strip() == token_image.digest
    assert token_calls(issuer) == [("GET", "basic:alice", [pull])]


def test_token_library_caches_per_scope(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    settings = TransportSettings(username="alice", password="alice-secret")
    with Context(settings) as ctx:
        for _ in range(3):
            assert resolve(token_image.ref, ctx).digest == token_image.digest
            assert inspect(token_image.ref, ctx).digest == token_image.digest
        assert len(issuer.requests) == 1
        assert ctx.client.stats.token_requests == 1
        # A push needs another scope: one more token, which then also serves pulls.
        fresh = Reference.parse(f"{token_registry.host}/auth-{uuid.uuid4().hex[:8]}/pushed")
        push_image(ctx.repository(fresh), "linux/s390x", tag="v1")
        assert resolve(fresh.with_tag("v1"), ctx).platform is not None
    scopes = [call[2] for call in token_calls(issuer)]
    assert scopes == [
        [f"repository:{token_image.repository}:pull"],
        [f"repository:{fresh.repository}:pull"],
        [f"repository:{fresh.repository}:pull,push"],
    ]


def test_token_anonymous(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    refused = sandbox.cli("inspect", token_image.ref)
    assert_one_line_error(
        refused, 1, token_registry.host, issuer.host, "refused a token", "HTTP 401"
    )
    assert token_calls(issuer) == [
        ("GET", "anonymous", [f"repository:{token_image.repository}:pull"])
    ]

    issuer.set_anonymous({"*": ["pull"]})
    allowed = sandbox.cli("resolve", token_image.ref)
    assert allowed.code == 0, allowed.err
    assert allowed.out.strip() == token_image.digest
    assert issuer.issued[-1].grant_type == "anonymous"


@pytest.mark.parametrize("verbosity", [(), ("-vv",)], ids=["quiet", "vv"])
def test_token_wrong_password(
    sandbox: Sandbox,
    token_registry: TokenRegistry,
    issuer: TokenIssuer,
    token_image: Pushed,
    verbosity: tuple[str, ...],
) -> None:
    result = sandbox.cli(*verbosity, "inspect", token_image.ref, **creds("alice", CANARY))
    if not verbosity:
        assert_one_line_error(
            result, 1, token_registry.host, issuer.host, "refused a token", "HTTP 401"
        )
    assert result.code == 1
    assert CANARY not in result.out + result.err
    assert len(issuer.requests) == 1  # refused once, never retried with the same password


def test_identity_token_in_docker_config_uses_the_refresh_grant(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    refresh = issuer.refresh_token_for("alice")
    sandbox.docker_config({"auths": {token_registry.host: {"identitytoken": refresh}}})
    result = sandbox.cli("resolve", token_image.ref)
    assert result.code == 0, result.err
    assert result.out.strip() == token_image.digest
    assert token_calls(issuer) == [
        ("POST", "refresh_token", [f"repository:{token_image.repository}:pull"])
    ]
    form = issuer.requests[0].query
    assert form["refresh_token"] == [refresh]
    assert form["service"] == [token_registry.service]
    assert form["client_id"] == ["polyarch"]
    assert "password" not in form
    assert issuer.issued[0].subject == "alice"


def test_identity_token_failures_are_one_line_without_the_token(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    refresh = issuer.refresh_token_for("alice")
    sandbox.docker_config({"auths": {token_registry.host: {"identitytoken": refresh}}})

    issuer.revoke_all()
    revoked = sandbox.cli("inspect", token_image.ref)
    assert_one_line_error(revoked, 1, token_registry.host, issuer.host, "HTTP 401")
    assert refresh not in revoked.out + revoked.err

    issuer.reset()
    issuer.set_allow_post(False)  # an identity token needs the POST flavour
    no_post = sandbox.cli("inspect", token_image.ref)
    assert_one_line_error(no_post, 1, token_registry.host, issuer.host, "HTTP 404")
    assert refresh not in no_post.out + no_post.err


def test_password_get_flow_does_not_need_post(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    # The test issuer cannot refuse GET, so the GET->POST fallback is covered by unit
    # tests; here: an issuer without the OAuth2 POST still serves password users.
    issuer.set_allow_post(False)
    result = sandbox.cli("resolve", token_image.ref, **creds("alice", "alice-secret"))
    assert result.code == 0, result.err
    assert result.out.strip() == token_image.digest
    assert [call[0] for call in token_calls(issuer)] == ["GET"]


def test_read_only_user_push_is_denied(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    settings = TransportSettings(
        username=token_registry.readonly_username, password=token_registry.readonly_password
    )
    target = Reference.parse(f"{token_registry.host}/auth-{uuid.uuid4().hex[:8]}/bob")
    with Context(settings) as ctx:
        assert resolve(token_image.ref, ctx).digest == token_image.digest  # bob may pull
        with pytest.raises(Denied) as denied:
            push_image(ctx.repository(target), "linux/amd64", tag="v1")
    message = denied.value.one_line()
    assert f"repository:{target.repository}:pull,push" in message
    assert token_registry.host in message
    assert "bob" in message
    assert token_registry.readonly_password not in message
    # The issuer authenticated bob and granted only what he may do.
    assert issuer.issued[-1].subject == "bob"
    assert issuer.issued[-1].access == [
        {"type": "repository", "name": target.repository, "actions": ["pull"]}
    ]


def _expire_cached_tokens(ctx: Context, issuer: TokenIssuer) -> int:
    """Swap every token the client caches for one the registry rejects as expired.

    The client's own idea of their expiry is unchanged, so it still sends them: what a
    cached token looks like once it expired at the registry mid-operation, without
    sleeping through the registry's 60 s leeway. Returns how many were swapped.
    """
    tokens = ctx.client.auth._tokens
    for key, token in list(tokens.items()):
        claims = issuer.decode(token.value)
        stale = issuer.mint(
            claims["sub"], claims["access"], exp_offset=-(REGISTRY_TOKEN_LEEWAY + 60)
        )
        tokens[key] = dataclasses.replace(token, value=stale)
    return len(tokens)


def test_token_expired_mid_operation_is_renewed_once(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    settings = TransportSettings(username="alice", password="alice-secret")
    with Context(settings) as ctx:
        assert resolve(token_image.ref, ctx).digest == token_image.digest
        assert len(issuer.requests) == 1
        assert _expire_cached_tokens(ctx, issuer) == 1
        # The registry refuses the cached token: one fresh token, the request resent.
        assert inspect(token_image.ref, ctx).digest == token_image.digest
        assert len(issuer.requests) == 2
        # The fresh token is cached in turn.
        assert resolve(token_image.ref, ctx).digest == token_image.digest
        assert len(issuer.requests) == 2


def test_token_already_expired_when_issued_fails_cleanly(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    # A token the registry refuses right after it was issued is not fetched again (that
    # could loop; see the unit test test_fresh_token_refused_is_not_retried): one clear
    # line, one token request.
    issuer.expire_next(1)
    result = sandbox.cli("inspect", token_image.ref, **creds("alice", "alice-secret"))
    assert_one_line_error(result, 1, token_registry.host, "UNAUTHORIZED", "HTTP 401")
    assert len(issuer.requests) == 1
    # The next run gets a good token.
    again = sandbox.cli("resolve", token_image.ref, **creds("alice", "alice-secret"))
    assert again.code == 0, again.err
    assert again.out.strip() == token_image.digest


def test_token_renewed_when_the_client_sees_it_expire(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    now = [1000.0]
    settings = TransportSettings(username="alice", password="alice-secret")
    with RegistryClient(settings, clock=lambda: now[0]) as client:
        ctx = Context(settings, client=client)
        resolve(token_image.ref, ctx)
        assert len(issuer.requests) == 1
        before = client.stats.requests
        resolve(token_image.ref, ctx)
        cached_cost = client.stats.requests - before
        now[0] += issuer.issued[0].expires_in  # past the token's life, on the client's clock
        before = client.stats.requests
        resolve(token_image.ref, ctx)
        assert len(issuer.requests) == 2
        # Renewed before sending: one token request, no 401 round trip.
        assert client.stats.requests - before == cached_cost + 1


# -- credential helpers (the docker-credential protocol) -----------------------------


def test_cred_helper_for_basic_registry(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    sandbox.helper(answers={basic_registry.host: basic_registry.auth})
    sandbox.docker_config(
        {
            "credHelpers": {basic_registry.host: HELPER},
            # credHelpers come before auths: this wrong entry is never used.
            "auths": {basic_registry.host: {"auth": basic_auth("tester", "stale")}},
        }
    )
    result = sandbox.cli("resolve", basic_image.ref)
    assert result.code == 0, result.err
    assert result.out.strip() == basic_image.digest
    # Called once (results are cached per run), with `get` and the registry's host.
    assert sandbox.helper_calls() == [{"args": ["get"], "stdin": basic_registry.host}]


def test_cred_helper_for_token_registry(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    sandbox.helper(answers={token_registry.host: ("alice", "alice-secret")})
    sandbox.docker_config({"credHelpers": {token_registry.host: HELPER}})
    result = sandbox.cli("inspect", token_image.ref)
    assert_success(result, token_image.digest)
    assert sandbox.helper_calls() == [{"args": ["get"], "stdin": token_registry.host}]
    assert token_calls(issuer) == [
        ("GET", "basic:alice", [f"repository:{token_image.repository}:pull"])
    ]


def test_cred_helper_identity_token(
    sandbox: Sandbox, token_registry: TokenRegistry, issuer: TokenIssuer, token_image: Pushed
) -> None:
    refresh = issuer.refresh_token_for("alice")
    sandbox.helper(answers={token_registry.host: ("<token>", refresh)})
    sandbox.docker_config({"credHelpers": {token_registry.host: HELPER}})
    result = sandbox.cli("resolve", token_image.ref)
    assert result.code == 0, result.err
    assert [call[:2] for call in token_calls(issuer)] == [("POST", "refresh_token")]
    assert issuer.requests[0].query["refresh_token"] == [refresh]


def test_creds_store(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    sandbox.helper(answers={basic_registry.host: basic_registry.auth})
    sandbox.docker_config({"credsStore": HELPER, "auths": {basic_registry.host: {}}})
    assert_success(sandbox.cli("resolve", basic_image.ref), basic_image.digest)
    assert sandbox.helper_calls() == [{"args": ["get"], "stdin": basic_registry.host}]


def test_creds_store_without_an_entry_falls_through_to_auths(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    sandbox.helper(answers={})  # "credentials not found" for every server
    sandbox.docker_config(
        {
            "credsStore": HELPER,
            "auths": {basic_registry.host: {"auth": basic_auth(*basic_registry.auth)}},
        }
    )
    assert_success(sandbox.cli("resolve", basic_image.ref), basic_image.digest)
    assert len(sandbox.helper_calls()) == 1


@pytest.mark.parametrize("source", ["credHelpers", "credsStore"])
def test_failing_helper_is_named_without_its_output(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed, source: str
) -> None:
    sandbox.helper(fail_with=f"oops, the secret is {CANARY}")
    config: dict[str, Any] = (
        {"credHelpers": {basic_registry.host: HELPER}}
        if source == "credHelpers"
        else {"credsStore": HELPER}
    )
    sandbox.docker_config(config)
    result = sandbox.cli("inspect", basic_image.ref)
    assert_one_line_error(
        result, 1, f"docker-credential-{HELPER}", basic_registry.host, "exit status 1"
    )
    assert CANARY not in result.out + result.err
    verbose = sandbox.cli("-vv", "inspect", basic_image.ref)
    assert verbose.code == 1
    assert CANARY not in verbose.out + verbose.err

    with Context(TransportSettings()) as ctx, pytest.raises(CredentialError) as failed:
        inspect(basic_image.ref, ctx)
    assert CANARY not in failed.value.one_line()


def test_missing_helper_is_a_clear_error(
    sandbox: Sandbox, basic_registry: BasicAuthRegistry, basic_image: Pushed
) -> None:
    sandbox.docker_config({"credHelpers": {basic_registry.host: "polytest-absent"}})
    result = sandbox.cli("inspect", basic_image.ref)
    assert_one_line_error(
        result, 1, "docker-credential-polytest-absent", basic_registry.host, "not found on PATH"
    )


# -- secrets never show -------------------------------------------------------------


CANARY_SCENARIOS = [
    "env",
    "password-stdin",
    "docker-auth",
    "podman-auth",
    "helper",
    "identity-token",
    "wrong-password",
    "missing-tag",
]


@pytest.mark.parametrize("verbosity", [(), ("-v",), ("-vv",)], ids=["quiet", "v", "vv"])
@pytest.mark.parametrize("scenario", CANARY_SCENARIOS)
def test_canary_secret_never_shows(
    sandbox: Sandbox,
    token_registry: TokenRegistry,
    issuer: TokenIssuer,
    token_image: Pushed,
    scenario: str,
    verbosity: tuple[str, ...],
) -> None:
    issuer.set_user("carol", User(CANARY, {"*": ["pull"]}, CANARY_REFRESH))
    host = token_registry.host
    ref = token_image.ref
    env: dict[str, str] = {}
    stdin: str | None = None
    flags: tuple[str, ...] = ()
    expect = 0
    if scenario == "env":
        env = creds("carol", CANARY)
    elif scenario == "password-stdin":
        flags, stdin = ("--username", "carol", "--password-stdin"), CANARY + "\n"
    elif scenario == "docker-auth":
        sandbox.docker_config({"auths": {host: {"auth": basic_auth("carol", CANARY)}}})
    elif scenario == "podman-auth":
        sandbox.podman_auth({"auths": {host: {"username": "carol", "password": CANARY}}})
    elif scenario == "helper":
        sandbox.helper(answers={host: ("carol", CANARY)})
        sandbox.docker_config({"credHelpers": {host: HELPER}})
    elif scenario == "identity-token":
        sandbox.docker_config({"auths": {host: {"identitytoken": CANARY_REFRESH}}})
    elif scenario == "wrong-password":
        env, expect = creds("alice", CANARY), 1
    else:
        env, expect = creds("carol", CANARY), 1
        ref = ref.replace(":v1", ":no-such-tag")

    result = sandbox.cli(*verbosity, *flags, "inspect", ref, stdin=stdin, **env)
    assert result.code == expect, (result.out, result.err)
    if expect == 0:
        assert issuer.issued, "no token was issued"
        assert issuer.issued[-1].subject == "carol"
    output = result.out + result.err
    forbidden = {
        "password": CANARY,
        "refresh token": CANARY_REFRESH,
        "basic header": basic_auth("carol", CANARY),
        "basic header (alice)": basic_auth("alice", CANARY),
    }
    forbidden.update({f"token {i}": issued.token for i, issued in enumerate(issuer.issued)})
    leaked = [name for name, secret in forbidden.items() if secret in output]
    assert not leaked, (leaked, output)
