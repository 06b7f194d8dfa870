"""A small Docker registry token server (the "realm" of Bearer auth) for tests.

It implements the two flavours of the Docker token protocol that clients use:

* ``GET /token?service=S&scope=A&scope=B&account=U`` with optional Basic auth
  (the classic protocol, ``offline_token=true`` adds a refresh token);
* ``POST /token`` with an ``application/x-www-form-urlencoded`` body, either
  ``grant_type=password`` (``username``/``password``) or
  ``grant_type=refresh_token`` (``refresh_token``), the OAuth2 flavour
  (``access_type=offline`` adds a refresh token).

Both answer ``{"token", "access_token", "expires_in", "issued_at"}`` (plus
``refresh_token`` when asked for one) and sign an RS256 JWT with the claims
distribution expects: ``iss``, ``sub``, ``aud`` (the service), ``exp``, ``nbf``,
``iat``, ``jti`` and ``access`` (a list of ``{type, name, actions}``).

How distribution 2.8.x finds the key that signed a token
(``registry/auth/token/token.go``, ``VerifySigningKey``), in this order:

1. ``x5c`` header: a certificate chain whose leaf holds the signing key and
   which must verify against ``auth.token.rootcertbundle`` (Go's
   ``x509.Certificate.Verify`` with ``ExtKeyUsageAny``; a leaf that is itself
   in the bundle verifies on its own);
2. ``jwk`` header: the public key as a JWK; without an embedded ``x5c`` it must
   be one of the trusted keys (by libtrust key ID);
3. ``kid`` header: a libtrust key ID (see :func:`libtrust_key_id`) of the
   public key of one of the certificates of the bundle.

The issuer signs with the key of a self-signed certificate that is written to
:attr:`TokenIssuer.cert_path`, the file to give the registry as
``rootcertbundle``, so all three ways work; ``x5c`` is the default.
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import hashlib
import json
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from support.threaded import serve, shutdown

#: Seconds of clock-skew leeway distribution 2.8.x grants on ``exp`` and ``nbf``
#: (``Leeway = 60 * time.Second`` in ``registry/auth/token/token.go``): a token
#: is still accepted until ``exp + 60 s``. So a token whose ``exp`` is merely in
#: the past is NOT rejected by the registry; to make the registry reject a
#: token as expired its ``exp`` must lie more than this many seconds in the
#: past (see :meth:`TokenIssuer.expire_next` and :meth:`TokenIssuer.set_expiry`).
REGISTRY_TOKEN_LEEWAY = 60

#: How far past the leeway :meth:`TokenIssuer.expire_next` backdates ``exp``.
_STALE_MARGIN = 60

HeaderMode = Literal["x5c", "kid", "jwk"]

#: Allowed actions per resource pattern, e.g. ``{"*": ["pull", "push"]}``.
#: A pattern is an :func:`fnmatch.fnmatchcase` pattern matched against the
#: repository name for ``repository`` scopes and against ``"TYPE:NAME"`` for
#: other types (e.g. ``"registry:catalog"``). The action ``"*"`` allows every
#: requested action.
AccessRules = Mapping[str, Sequence[str]]


@dataclass
class User:
    """A user of the issuer: password, allowed actions and optional refresh token."""

    password: str
    access: dict[str, list[str]]
    refresh_token: str | None = None


#: Accepted ways to configure a user: a :class:`User`, ``(password, rules)`` or
#: ``(password, rules, refresh_token)``.
UserConfig = User | tuple[str, AccessRules] | tuple[str, AccessRules, str]


class TokenRequest(NamedTuple):
    """One request served by the issuer.

    ``query`` holds the URL query parameters; for a POST the form fields of the
    body are merged in (a field wins over a query parameter of the same name).
    """

    method: str
    path: str
    query: dict[str, list[str]]


@dataclass(frozen=True)
class IssuedToken:
    """A token the issuer handed out, for assertions in tests."""

    subject: str
    #: ``"basic"`` (GET with credentials), ``"anonymous"`` (GET without),
    #: ``"password"`` or ``"refresh_token"`` (POST grants).
    grant_type: str
    access: list[dict[str, Any]]
    token: str
    expires_in: int


@dataclass(frozen=True)
class ResourceScope:
    """A parsed scope such as ``repository:library/app:pull,push``."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> ResourceScope:
        """Parse ``TYPE:NAME:ACTIONS``; NAME may itself contain colons."""
        type_, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not sep or not sep2 or not type_ or not name:
            raise ValueError(f"malformed scope: {text!r}")
        return cls(type_, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scopes(values: Iterable[str]) -> list[ResourceScope]:
    """Parse scope parameters; each may hold several space-separated scopes."""
    return [ResourceScope.parse(part) for value in values for part in value.split()]


def libtrust_key_id(public_key: rsa.RSAPublicKey) -> str:
    """Return the libtrust key ID distribution 2.8.x uses as ``kid``.

    SHA-256 of the DER ``SubjectPublicKeyInfo``, truncated to 240 bits,
    base32 encoded and split into 12 groups of 4 joined by ``:``.
    """
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with a self-signed certificate, usable as a token signing root."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def generate(cls, common_name: str = "polyarch test token issuer") -> SigningKey:
        """Generate a 2048-bit RSA key and a self-signed CA certificate for it."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @property
    def cert_pem(self) -> bytes:
        """The certificate in PEM form (the registry's ``rootcertbundle``)."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_id(self) -> str:
        """The libtrust key ID of the public key (the ``kid`` header value)."""
        return libtrust_key_id(self.private_key.public_key())

    @property
    def x5c(self) -> list[str]:
        """The ``x5c`` header value: standard base64 DER, leaf first."""
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return [base64.b64encode(der).decode()]

    @property
    def jwk(self) -> dict[str, str]:
        """The public key as a JWK, with its libtrust ``kid``."""
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.key_id,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }

    def headers(self, mode: HeaderMode) -> dict[str, Any]:
        """JWT header fields that let distribution find this key."""
        if mode == "x5c":
            return {"x5c": self.x5c}
        if mode == "kid":
            return {"kid": self.key_id}
        if mode == "jwk":
            return {"jwk": self.jwk}
        raise ValueError(f"unknown header mode: {mode!r}")


def _normalize_user(config: UserConfig) -> User:
    if isinstance(config, User):
        return User(config.password, _copy_rules(config.access), config.refresh_token)
    if len(config) == 2:
        return User(config[0], _copy_rules(config[1]))
    password, rules, refresh = config
    return User(password, _copy_rules(rules), refresh)


def _copy_rules(rules: AccessRules) -> dict[str, list[str]]:
    return {pattern: list(actions) for pattern, actions in rules.items()}


def _allowed_actions(rules: Mapping[str, Sequence[str]], scope: ResourceScope) -> set[str]:
    target = scope.name if scope.type == "repository" else f"{scope.type}:{scope.name}"
    allowed: set[str] = set()
    for pattern, actions in rules.items():
        if fnmatch.fnmatchcase(target, pattern):
            allowed.update(actions)
    return allowed


def grant(
    rules: Mapping[str, Sequence[str]], scopes: Iterable[ResourceScope]
) -> list[dict[str, Any]]:
    """Return the ``access`` claim for ``scopes``, keeping only allowed actions.

    Scopes on the same resource are merged; resources with no granted action
    are left out (as the Docker Hub token server does).
    """
    merged: dict[tuple[str, str], list[str]] = {}
    for scope in scopes:
        allowed = _allowed_actions(rules, scope)
        actions = merged.setdefault((scope.type, scope.name), [])
        for action in scope.actions:
            if (action in allowed or "*" in allowed) and action not in actions:
                actions.append(action)
    return [
        {"type": type_, "name": name, "actions": actions}
        for (type_, name), actions in merged.items()
        if actions
    ]


class _AuthError(Exception):
    """Raised by the grant logic; becomes an HTTP error response."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class _State:
    """The mutable configuration of an issuer, restorable by ``reset()``."""

    users: dict[str, User]
    anonymous: dict[str, list[str]] | None
    expires_in: int
    exp_offset: int | None
    header_mode: HeaderMode
    allow_post: bool
    stale_remaining: int = 0
    revoked: bool = False
    dynamic_refresh: dict[str, str] = field(default_factory=dict)


class TokenIssuer:
    """Threaded token server on ``127.0.0.1`` (free port) for distribution's token auth.

    Example::

        issuer = TokenIssuer({"alice": ("secret", {"*": ["pull", "push", "delete"]})})
        issuer.start()
        ...  # configure the registry with issuer.realm/service/issuer_name/cert_path
        issuer.stop()

    ``users`` maps user names to :data:`UserConfig`. ``anonymous`` gives the
    rules for requests without credentials (``None``: they get 401; ``{}``: a
    token with no access). ``expires_in`` is the token lifetime in seconds.
    """

    def __init__(
        self,
        users: Mapping[str, UserConfig],
        *,
        service: str = "polyarch-test-registry",
        issuer_name: str = "polyarch-test-issuer",
        anonymous: AccessRules | None = None,
        expires_in: int = 300,
        header_mode: HeaderMode = "x5c",
        allow_post: bool = True,
        workdir: Path | None = None,
        signing_key: SigningKey | None = None,
    ) -> None:
        self.service = service
        self.issuer_name = issuer_name
        self.signing_key = signing_key or SigningKey.generate()
        self._initial = _State(
            users={name: _normalize_user(cfg) for name, cfg in users.items()},
            anonymous=None if anonymous is None else _copy_rules(anonymous),
            expires_in=expires_in,
            exp_offset=None,
            header_mode=header_mode,
            allow_post=allow_post,
        )
        self._state = self._copy_state(self._initial)
        self._lock = threading.Lock()
        self.requests: list[TokenRequest] = []
        self.issued: list[IssuedToken] = []
        self._owns_workdir = workdir is None
        self._workdir = (
            Path(tempfile.mkdtemp(prefix="token-issuer-")) if workdir is None else workdir
        )
        self._workdir.mkdir(parents=True, exist_ok=True)
        self.cert_path = self._workdir / "token-signing-root.pem"
        self.cert_path.write_bytes(self.signing_key.cert_pem)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> TokenIssuer:
        """Bind ``127.0.0.1:0`` and serve in a daemon thread; returns ``self``."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.issuer = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = serve(server, f"token-issuer-{self.port}")
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        shutdown(server, thread)
        if self._owns_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._owns_workdir = False

    def __enter__(self) -> TokenIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port (only while started)."""
        if self._server is None:
            raise RuntimeError("token issuer is not started")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    @property
    def realm(self) -> str:
        """The token endpoint URL (``auth.token.realm`` of the registry)."""
        return f"{self.url}/token"

    # -- test controls -------------------------------------------------------------

    def set_expiry(self, expires_in: int, *, exp_offset: int | None = None) -> None:
        """Set the lifetime of tokens issued from now on.

        ``expires_in`` is what the response reports; the ``exp`` claim is
        ``iat + exp_offset`` (default: ``iat + expires_in``). Remember the
        registry's :data:`REGISTRY_TOKEN_LEEWAY`: ``exp_offset=-120`` makes
        tokens the registry rejects at once while clients believe them valid
        for ``expires_in`` seconds; a small ``expires_in`` (e.g. 1) lets a test
        check that a client refreshes a token it considers expired.
        """
        with self._lock:
            self._state.expires_in = expires_in
            self._state.exp_offset = exp_offset

    def expire_next(self, count: int = 1) -> None:
        """Make the next ``count`` tokens already expired for the registry.

        They report the normal ``expires_in`` (so a client caches them) but
        their ``exp`` lies beyond the registry's leeway in the past, so the
        registry answers 401 ``error="invalid_token"``: a test for "cached
        token rejected, client fetches a new one" without sleeping.
        """
        with self._lock:
            self._state.stale_remaining = count

    def revoke_all(self) -> None:
        """Revoke every refresh token (configured or issued): refresh grants get 401.

        Access tokens already handed out cannot be revoked: distribution
        validates them statelessly (signature, iss, aud, exp/nbf with leeway).
        Use :meth:`expire_next` / :meth:`set_expiry` for expiry scenarios.
        """
        with self._lock:
            self._state.revoked = True

    def set_anonymous(self, rules: AccessRules | None) -> None:
        """Set what anonymous requests get (``None``: 401)."""
        with self._lock:
            self._state.anonymous = None if rules is None else _copy_rules(rules)

    def set_user(self, name: str, config: UserConfig) -> None:
        """Add or replace a user."""
        with self._lock:
            self._state.users[name] = _normalize_user(config)

    def set_header_mode(self, mode: HeaderMode) -> None:
        """Choose how tokens name their signing key (``x5c``, ``kid`` or ``jwk``)."""
        with self._lock:
            self._state.header_mode = mode

    def set_allow_post(self, allow: bool) -> None:
        """Enable or disable the POST (OAuth2) flavour; disabled POSTs get 404."""
        with self._lock:
            self._state.allow_post = allow

    def clear_requests(self) -> None:
        """Forget the recorded requests and issued tokens."""
        with self._lock:
            self.requests.clear()
            self.issued.clear()

    def reset(self) -> None:
        """Restore the configuration given to the constructor and clear the logs."""
        with self._lock:
            self._state = self._copy_state(self._initial)
            self.requests.clear()
            self.issued.clear()

    def refresh_token_for(self, username: str) -> str:
        """The refresh token of ``username`` (configured, else generated once)."""
        with self._lock:
            return self._refresh_token_locked(username)

    @property
    def users(self) -> dict[str, str]:
        """User name to password."""
        with self._lock:
            return {name: user.password for name, user in self._state.users.items()}

    # -- tokens --------------------------------------------------------------------

    def mint(
        self,
        subject: str,
        access: Sequence[Mapping[str, Any]],
        *,
        lifetime: int = 300,
        exp_offset: int | None = None,
        header_mode: HeaderMode | None = None,
        signing_key: SigningKey | None = None,
        audience: str | None = None,
        issuer_name: str | None = None,
    ) -> str:
        """Sign a token directly (no request recorded), for negative tests."""
        now = int(time.time())
        claims = {
            "iss": issuer_name if issuer_name is not None else self.issuer_name,
            "sub": subject,
            "aud": audience if audience is not None else self.service,
            "exp": now + (lifetime if exp_offset is None else exp_offset),
            "nbf": now,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": [dict(entry) for entry in access],
        }
        key = signing_key or self.signing_key
        mode = header_mode or self._state.header_mode
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers=key.headers(mode))

    @staticmethod
    def decode(token: str) -> dict[str, Any]:
        """Return the claims of a token without verifying it."""
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return claims

    # -- internals -----------------------------------------------------------------

    @staticmethod
    def _copy_state(state: _State) -> _State:
        return _State(
            users={
                name: User(u.password, _copy_rules(u.access), u.refresh_token)
                for name, u in state.users.items()
            },
            anonymous=None if state.anonymous is None else _copy_rules(state.anonymous),
            expires_in=state.expires_in,
            exp_offset=state.exp_offset,
            header_mode=state.header_mode,
            allow_post=state.allow_post,
        )

    def _refresh_token_locked(self, username: str) -> str:
        user = self._state.users[username]
        if user.refresh_token is not None:
            return user.refresh_token
        token = self._state.dynamic_refresh.get(username)
        if token is None:
            token = f"rt-{username}-{secrets.token_urlsafe(16)}"
            self._state.dynamic_refresh[username] = token
        return token

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _authenticate(self, username: str, password: str) -> User:
        user = self._state.users.get(username)
        if user is None or not secrets.compare_digest(user.password, password):
            raise _AuthError(401, "invalid_grant", "invalid username or password")
        return user

    def _user_for_refresh_token(self, token: str) -> str:
        if not self._state.revoked:
            for name, user in self._state.users.items():
                configured = user.refresh_token
                if configured is not None and secrets.compare_digest(configured, token):
                    return name
            for name, issued in self._state.dynamic_refresh.items():
                if secrets.compare_digest(issued, token):
                    return name
        raise _AuthError(401, "invalid_grant", "invalid or revoked refresh token")

    def _check_service(self, params: Mapping[str, list[str]]) -> None:
        service = params.get("service", [self.service])[-1]
        if service != self.service:
            raise _AuthError(400, "invalid_request", f"unknown service {service!r}")

    def handle_get(
        self, params: Mapping[str, list[str]], basic: tuple[str, str] | None
    ) -> dict[str, Any]:
        """Serve the classic GET flavour; returns the JSON response body."""
        with self._lock:
            self._check_service(params)
            scopes = self._parse_scopes(params)
            if basic is None:
                if self._state.anonymous is None:
                    raise _AuthError(401, "unauthorized", "authentication required")
                subject, rules, grant_type = "", self._state.anonymous, "anonymous"
            else:
                user = self._authenticate(*basic)
                subject, rules, grant_type = basic[0], user.access, "basic"
            offline = params.get("offline_token", ["false"])[-1].lower() == "true"
            refresh = self._refresh_token_locked(subject) if offline and subject else None
            return self._issue_locked(subject, grant_type, grant(rules, scopes), refresh)

    def handle_post(self, form: Mapping[str, list[str]]) -> dict[str, Any]:
        """Serve the OAuth2 POST flavour; returns the JSON response body."""
        with self._lock:
            if not self._state.allow_post:
                raise _AuthError(404, "not_found", "POST is disabled on this issuer")
            self._check_service(form)
            scopes = self._parse_scopes(form)
            grant_type = form.get("grant_type", [""])[-1]
            if grant_type == "password":
                username = form.get("username", [""])[-1]
                user = self._authenticate(username, form.get("password", [""])[-1])
            elif grant_type == "refresh_token":
                username = self._user_for_refresh_token(form.get("refresh_token", [""])[-1])
                user = self._state.users[username]
            else:
                raise _AuthError(400, "unsupported_grant_type", f"grant_type {grant_type!r}")
            offline = form.get("access_type", [""])[-1] == "offline"
            refresh = self._refresh_token_locked(username) if offline else None
            if grant_type == "refresh_token":
                refresh = form["refresh_token"][-1]
            return self._issue_locked(username, grant_type, grant(user.access, scopes), refresh)

    @staticmethod
    def _parse_scopes(params: Mapping[str, list[str]]) -> list[ResourceScope]:
        try:
            return parse_scopes(params.get("scope", []))
        except ValueError as exc:
            raise _AuthError(400, "invalid_scope", str(exc)) from exc

    def _issue_locked(
        self, subject: str, grant_type: str, access: list[dict[str, Any]], refresh: str | None
    ) -> dict[str, Any]:
        state = self._state
        exp_offset = state.exp_offset
        if state.stale_remaining > 0:
            state.stale_remaining -= 1
            exp_offset = -(REGISTRY_TOKEN_LEEWAY + _STALE_MARGIN)
        token = self.mint(
            subject,
            access,
            lifetime=state.expires_in,
            exp_offset=exp_offset,
            header_mode=state.header_mode,
        )
        self.issued.append(IssuedToken(subject, grant_type, access, token, state.expires_in))
        issued_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        body: dict[str, Any] = {
            "token": token,
            "access_token": token,
            "expires_in": state.expires_in,
            "issued_at": issued_at,
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        return body


class _Handler(BaseHTTPRequestHandler):
    """Request handler; the issuer hangs off ``self.server.issuer``."""

    server_version = "polyarch-test-token-issuer/1"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle
    # plus delayed ACKs add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    @property
    def _issuer(self) -> TokenIssuer:
        issuer: TokenIssuer = self.server.issuer  # type: ignore[attr-defined]
        return issuer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet; requests are recorded in ``issuer.requests``."""

    def do_GET(self) -> None:
        """Serve the classic token protocol."""
        url = urlsplit(self.path)
        params = parse_qs(url.query, keep_blank_values=True)
        self._issuer._record(TokenRequest("GET", url.path, params))
        if url.path != "/token":
            self._send_json(404, {"error": "not_found"})
            return
        try:
            basic = self._basic_credentials()
            self._send_json(200, self._issuer.handle_get(params, basic))
        except _AuthError as exc:
            self._send_error(exc)

    def do_POST(self) -> None:
        """Serve the OAuth2 flavour (form-encoded body)."""
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        params = parse_qs(url.query, keep_blank_values=True)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        form = parse_qs(body, keep_blank_values=True)
        self._issuer._record(TokenRequest("POST", url.path, {**params, **form}))
        if url.path != "/token":
            self._send_json(404, {"error": "not_found"})
            return
        if content_type != "application/x-www-form-urlencoded":
            self._send_json(400, {"error": "invalid_request", "error_description": content_type})
            return
        try:
            self._send_json(200, self._issuer.handle_post({**params, **form}))
        except _AuthError as exc:
            self._send_error(exc)

    def _basic_credentials(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            raise _AuthError(401, "unauthorized", f"unsupported auth scheme {scheme!r}")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except ValueError as exc:
            raise _AuthError(400, "invalid_request", "malformed Basic credentials") from exc
        username, sep, password = decoded.partition(":")
        if not sep:
            raise _AuthError(400, "invalid_request", "malformed Basic credentials")
        return username, password

    def _send_error(self, exc: _AuthError) -> None:
        headers = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="polyarch-test-token-issuer"'
        self._send_json(
            exc.status, {"error": exc.error, "error_description": exc.description}, headers
        )

    def _send_json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
