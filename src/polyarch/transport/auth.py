"""Registry authentication as an httpx auth flow: Basic, and Docker's Bearer token protocol.

The flow is a generator without I/O of its own: it yields requests (the original one,
token requests, the original again with a token) and httpx sends them, so the same code
serves any client and unit tests drive it with a mock transport.

What it remembers, per registry host, is the last challenge seen (scheme, realm,
service) and the tokens it obtained, per ``(realm, service, scopes)``. The first request
to a host goes out bare; a 401 teaches the challenge. Later requests carry a Basic
header or a token straight away (a cached one, or one fetched before sending), which
saves a 401 round trip per request and, for streamed uploads, is the only way: a
streamed body cannot be sent twice.

Token requests follow the Docker token protocol: ``GET realm?service=..&scope=..`` with
Basic credentials (anonymous without), falling back to the OAuth2 ``POST`` with
``grant_type=password`` when the server answers 404/405, and the ``POST`` with
``grant_type=refresh_token`` when the credential is an identity token. A token realm on
plain HTTP is refused (unless loopback or named insecure): it would carry the password
in clear text.

Secrets never appear in exception messages: errors name the registry and the realm host.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx

from polyarch.errors import (
    AuthError,
    Denied,
    PolyarchError,
    RegistryError,
    TooManyRequests,
    Unauthorized,
)
from polyarch.transport.challenge import Challenge, parse_challenges
from polyarch.transport.credentials import Credential, CredentialResolver
from polyarch.transport.errors import one_line
from polyarch.transport.settings import TransportSettings, is_loopback

__all__ = [
    "REGISTRY_EXTENSION",
    "SCOPES_EXTENSION",
    "TOKEN_EXTENSION",
    "RegistryAuth",
    "append_query",
    "scopes_for",
]

#: Request extension holding the scopes a request needs (set by the client).
SCOPES_EXTENSION = "polyarch_scopes"
#: Request extension holding the registry name (``docker.io``) for credential lookup.
REGISTRY_EXTENSION = "polyarch_registry"
#: Request extension marking a token request yielded by the flow.
TOKEN_EXTENSION = "polyarch_token_request"

#: Tokens are treated as expired this many seconds early (at most a quarter of their life).
EXPIRY_MARGIN = 5.0
DEFAULT_EXPIRES_IN = 60
CLIENT_ID = "polyarch"

_REPO_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?:manifests|blobs|tags|referrers)(?:/|$)")
_BASIC = "basic"
_BEARER = "bearer"


def scopes_for(method: str, path: str, query: bytes | str = b"") -> list[str]:
    """The token scopes a request needs, derived from its path (``/v2/<name>/...``).

    Pull for GET/HEAD, pull and push for anything else; a cross-repository mount
    (``?mount=..&from=OTHER``) also needs pull on ``OTHER``; ``/v2/`` needs none.

    >>> scopes_for("PUT", "/v2/team/app/manifests/v1")
    ['repository:team/app:pull,push']
    >>> scopes_for("POST", "/v2/a/blobs/uploads/", "mount=sha256:x&from=b")
    ['repository:a:pull,push', 'repository:b:pull']
    """
    match = _REPO_PATH.match(path)
    if match is None:
        return []
    actions = "pull" if method.upper() in ("GET", "HEAD") else "pull,push"
    scopes = [f"repository:{match['name']}:{actions}"]
    text = query.decode("ascii", "replace") if isinstance(query, bytes) else query
    source = dict(parse_qsl(text)).get("from")
    if source and source != match["name"]:
        scopes.append(f"repository:{source}:pull")
    return scopes


def _request_scopes(request: httpx.Request) -> tuple[str, ...]:
    given = request.extensions.get(SCOPES_EXTENSION)
    if given is not None:
        scopes: Sequence[str] = given
    else:
        scopes = scopes_for(request.method, request.url.path, request.url.query)
    return tuple(sorted(set(scopes)))


def _parse_scope(scope: str) -> tuple[str, frozenset[str]]:
    """``repository:a/b:pull,push`` -> (``repository:a/b``, {pull, push})."""
    resource, sep, actions = scope.rpartition(":")
    if not sep:
        return scope, frozenset()
    return resource, frozenset(a for a in actions.split(",") if a)


def _covers(granted: Sequence[str], wanted: Sequence[str]) -> bool:
    """Whether a token asked for ``granted`` scopes also serves ``wanted`` ones."""
    have: dict[str, set[str]] = {}
    for scope in granted:
        resource, actions = _parse_scope(scope)
        have.setdefault(resource, set()).update(actions)
    for scope in wanted:
        resource, actions = _parse_scope(scope)
        if resource not in have or not (actions <= have[resource] or "*" in have[resource]):
            return False
    return True


def append_query(
    url: httpx.URL, params: Mapping[str, str] | Sequence[tuple[str, str]] | None
) -> httpx.URL:
    """``url`` with ``params`` appended to its query.

    httpx's ``params=`` replaces a URL's query, which would drop the ``_state`` of an
    upload ``Location``; appending also keeps the registry's own bytes untouched.
    """
    if not params:
        return url
    items: list[tuple[str, str | int | float | bool | None]] = list(
        params.items() if isinstance(params, Mapping) else params
    )
    extra = str(httpx.QueryParams(items))
    query = url.query.decode("ascii")
    return url.copy_with(query=(f"{query}&{extra}" if query else extra).encode("ascii"))


def _replayable(request: httpx.Request) -> bool:
    """Whether the request body can be sent again (bytes, not a one-shot stream)."""
    return isinstance(request.stream, httpx.ByteStream)


def _basic_header(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class _HostAuth:
    """What a host asked for: ``basic`` or ``bearer`` (with realm and service)."""

    scheme: str
    realm: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float
    scopes: tuple[str, ...]


_TokenKey = tuple[str, str, tuple[str, ...]]


class RegistryAuth(httpx.Auth):
    """The auth flow for registries; one instance serves all hosts of a client.

    ``clock`` returns seconds (monotonic) and decides token expiry; inject a fake one in
    tests. The flow reads the body of its own token responses only (see
    :meth:`sync_auth_flow`), never the body of the request being authenticated.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        credentials: CredentialResolver,
        settings: TransportSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._settings = settings if settings is not None else TransportSettings()
        self._clock = clock
        # host -> what it asked for; None: it answered without asking for anything.
        self._hosts: dict[str, _HostAuth | None] = {}
        self._tokens: dict[_TokenKey, _Token] = {}
        self._timeout = httpx.Timeout(self._settings.timeout).as_dict()

    # -- state queries (for the client) --------------------------------------------------

    def knows(self, host: str) -> bool:
        """Whether a response from ``host`` (``host:port``) has been seen."""
        return host in self._hosts

    def ready(self, host: str, scopes: Sequence[str]) -> bool:
        """Whether a request to ``host`` needing ``scopes`` can be sent authenticated now.

        True when the host needs no auth (as far as seen), uses Basic, or uses Bearer and
        a valid token for ``scopes`` is cached. False when the host is unknown or a token
        would have to be fetched first.
        """
        if host not in self._hosts:
            return False
        known = self._hosts[host]
        if known is None or known.scheme == _BASIC:
            return True
        return self._cached(known, tuple(sorted(set(scopes)))) is not None

    # -- httpx entry points ------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Run :meth:`auth_flow`, reading the body of token responses (they carry the token)."""
        flow = self.auth_flow(request)
        outgoing = next(flow)
        while True:
            response = yield outgoing
            if outgoing.extensions.get(TOKEN_EXTENSION):
                response.read()
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The async twin of :meth:`sync_auth_flow`."""
        flow = self.auth_flow(request)
        outgoing = next(flow)
        while True:
            response = yield outgoing
            if outgoing.extensions.get(TOKEN_EXTENSION):
                await response.aread()
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Authenticate ``request``: preemptively if the host is known, else after a 401."""
        host = request.url.netloc.decode("ascii")
        registry: str = request.extensions.get(REGISTRY_EXTENSION) or host
        scopes = _request_scopes(request)
        known = self._hosts.get(host)
        sent_token: _Token | None = None
        token_was_cached = False
        sent_basic = False

        if known is not None and known.scheme == _BEARER:
            sent_token = self._cached(known, scopes)
            token_was_cached = sent_token is not None
            if sent_token is None:
                sent_token = yield from self._fetch_token(registry, known, scopes)
            request.headers["Authorization"] = f"Bearer {sent_token.value}"
        elif known is not None and known.scheme == _BASIC:
            credential = self._credentials.resolve(registry)
            if credential is not None and credential.has_password:
                request.headers["Authorization"] = _basic_header(
                    credential.username or "", credential.password or ""
                )
                sent_basic = True

        response = yield request

        if response.status_code != 401 or response.url.netloc != request.url.netloc:
            # Not ours to handle (success, other error, or a 401 from a redirect target).
            if host not in self._hosts and response.url.netloc == request.url.netloc:
                self._hosts[host] = None
            return
        challenge = _pick(parse_challenges(response.headers.get_list("www-authenticate")))
        if challenge is None:
            return  # a 401 without a usable challenge: the client reports it

        if challenge.scheme == _BASIC:
            self._hosts[host] = _HostAuth(_BASIC)
            if sent_basic:
                return  # the credentials were rejected: the client reports the 401
            credential = self._credentials.resolve(registry)
            if credential is None or not credential.has_password:
                raise Unauthorized(
                    f"{registry} requires a username and password (HTTP Basic) "
                    "and no credentials were found",
                    status=401,
                    hint="log in with docker login, or give a username and a password",
                    parameter="username",
                )
            self._check_replayable(request, registry)
            request.headers["Authorization"] = _basic_header(
                credential.username or "", credential.password or ""
            )
            yield request
            return

        realm = challenge.realm
        if not realm:
            raise Unauthorized(
                f"{registry} answered 401 with a Bearer challenge without a realm", status=401
            )
        new = _HostAuth(_BEARER, realm, challenge.service)
        wanted = tuple(sorted(set(scopes) | set(challenge.scopes)))
        if sent_token is not None:
            if token_was_cached:
                # Expired or revoked mid-operation: forget it and get a fresh one, once.
                self._drop(sent_token)
            elif new == known and wanted == scopes:
                # A fresh token was just refused: asking again would loop. Forget it so
                # the next request does not start with a token known to be bad.
                self._drop(sent_token)
                self._raise_if_insufficient(request, response, registry, wanted)
                return
        self._hosts[host] = new
        self._check_replayable(request, registry)
        token = yield from self._fetch_token(registry, new, wanted)
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request
        if response.status_code == 401 and response.url.netloc == request.url.netloc:
            self._drop(token)
            self._raise_if_insufficient(request, response, registry, wanted)

    def _raise_if_insufficient(
        self,
        request: httpx.Request,
        response: httpx.Response,
        registry: str,
        scopes: tuple[str, ...],
    ) -> None:
        """After a token was refused with ``error="insufficient_scope"``: say so precisely.

        With credentials, the token service authenticated the user but did not grant the
        scopes: that is a permission problem (:class:`Denied`), not a login problem.
        Anonymous requests keep the plain 401 (the client reports it as Unauthorized).
        """
        challenge = _pick(parse_challenges(response.headers.get_list("www-authenticate")))
        if challenge is None or challenge.params.get("error") != "insufficient_scope":
            return
        credential = self._credentials.resolve(registry)
        if credential is None:
            return
        wanted = " ".join(challenge.scopes or scopes) or "this operation"
        who = f" of {credential.username}" if credential.username else ""
        raise Denied(
            f"{request.method} {registry}{request.url.path}: the credentials{who} do not "
            f"grant {wanted} (HTTP 401, insufficient_scope)",
            code="DENIED",
            status=401,
            hint=f"ask for access to the repository on {registry}, or use other credentials",
        )

    # -- tokens ------------------------------------------------------------------------

    def _cached(self, known: _HostAuth, scopes: tuple[str, ...]) -> _Token | None:
        realm, service = known.realm or "", known.service or ""
        now = self._clock()
        exact = self._tokens.get((realm, service, scopes))
        if exact is not None and exact.expires_at > now:
            return exact
        # A snapshot: another thread sharing the client may add tokens meanwhile.
        for (t_realm, t_service, _), token in list(self._tokens.items()):
            if (
                t_realm == realm
                and t_service == service
                and token.expires_at > now
                and _covers(token.scopes, scopes)
            ):
                return token
        return None

    def _drop(self, token: _Token) -> None:
        for key, value in list(self._tokens.items()):
            if value is token:
                del self._tokens[key]

    def _check_replayable(self, request: httpx.Request, registry: str) -> None:
        if not _replayable(request):
            raise Unauthorized(
                f"{request.method} to {registry} was refused (HTTP 401) and its body was "
                "streamed, so it cannot be sent again with credentials",
                status=401,
                hint="authenticate first (the client's ensure_auth) before streaming an upload",
            )

    def _check_realm(self, registry: str, realm: httpx.URL) -> None:
        netloc = realm.netloc.decode("ascii")
        if realm.scheme == "https":
            return
        if realm.scheme == "http" and (is_loopback(netloc) or self._settings.is_insecure(netloc)):
            return
        raise AuthError(
            f"{registry} sends clients to a token service at {realm.scheme}://{netloc}, "
            "which is not HTTPS; refusing to send credentials over an unencrypted connection",
            hint=f"if you trust that network, name {netloc} an insecure registry",
            parameter="insecure",
        )

    def _token_request(self, method: str, realm: httpx.URL, **kwargs: Any) -> httpx.Request:
        headers = {"User-Agent": self._settings.user_agent, "Accept": "application/json"}
        headers.update(kwargs.pop("headers", {}))
        return httpx.Request(
            method,
            realm,
            headers=headers,
            extensions={TOKEN_EXTENSION: True, "timeout": self._timeout},
            **kwargs,
        )

    def _fetch_token(
        self, registry: str, known: _HostAuth, scopes: tuple[str, ...]
    ) -> Generator[httpx.Request, httpx.Response, _Token]:
        """Yield the token request(s) for ``scopes`` and return the token (cached)."""
        realm_text = known.realm or ""
        try:
            realm = httpx.URL(realm_text)
        except httpx.InvalidURL:
            raise AuthError(f"{registry} names an invalid token realm") from None
        if not realm.host:
            raise AuthError(f"{registry} names an invalid token realm")
        self._check_realm(registry, realm)
        credential = self._credentials.resolve(registry)
        service = known.service
        base_form: dict[str, str] = {"client_id": CLIENT_ID}
        if service:
            base_form["service"] = service
        if scopes:
            base_form["scope"] = " ".join(scopes)

        if credential is not None and credential.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": credential.identity_token,
                **base_form,
            }
            response = yield self._token_request("POST", realm, data=form)
        else:
            params: list[tuple[str, str]] = []
            if service:
                params.append(("service", service))
            params.extend(("scope", scope) for scope in scopes)
            headers: dict[str, str] = {}
            if credential is not None and credential.has_password:
                headers["Authorization"] = _basic_header(
                    credential.username or "", credential.password or ""
                )
                params.append(("account", credential.username or ""))
            response = yield self._token_request(
                "GET", append_query(realm, params), headers=headers
            )
            if (
                response.status_code in (404, 405)
                and credential is not None
                and credential.has_password
            ):
                form = {
                    "grant_type": "password",
                    "username": credential.username or "",
                    "password": credential.password or "",
                    **base_form,
                }
                response = yield self._token_request("POST", realm, data=form)

        token = self._parse_token(response, registry, realm, credential, scopes)
        self._tokens[(realm_text, service or "", scopes)] = token
        return token

    def _parse_token(
        self,
        response: httpx.Response,
        registry: str,
        realm: httpx.URL,
        credential: Credential | None,
        scopes: tuple[str, ...],
    ) -> _Token:
        where = f"the token service of {registry} ({realm.netloc.decode('ascii')})"
        status = response.status_code
        if status != 200:
            reason = _server_message(response, credential)
            detail = f": {reason}" if reason else ""
            message = f"{where} refused a token{detail} (HTTP {status})"
            error: PolyarchError
            if status == 401:
                error = Unauthorized(
                    message,
                    status=status,
                    hint=f"check the credentials for {registry} (docker login, or "
                    "--username with --password-stdin)",
                )
            elif status == 403:
                error = Denied(message, status=status)
            elif status == 429:
                error = TooManyRequests(message, status=status, hint="wait and retry later")
            else:
                error = RegistryError(message, status=status)
            raise error
        try:
            data = json.loads(response.content)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            data = None
        if not isinstance(data, dict):
            raise AuthError(f"{where} answered with something that is not a JSON object")
        value = data.get("token") or data.get("access_token")
        if not isinstance(value, str) or not value:
            raise AuthError(f"{where} answered without a token")
        expires_in = data.get("expires_in")
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
            expires_in = DEFAULT_EXPIRES_IN
        if expires_in <= 0:
            expires_in = DEFAULT_EXPIRES_IN
        # issued_at is not used: expiry counts from when the answer arrived on our own
        # clock, because the server's clock may disagree with ours by more than a token's
        # lifetime.
        margin = min(EXPIRY_MARGIN, expires_in / 4)
        return _Token(value, self._clock() + float(expires_in) - margin, scopes)


def _pick(challenges: Sequence[Challenge]) -> Challenge | None:
    """Bearer if offered (it scopes access), else Basic; other schemes are unsupported."""
    for scheme in (_BEARER, _BASIC):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def _server_message(response: httpx.Response, credential: Credential | None) -> str:
    """The message a token service gave with its error, if any (secrets masked, capped)."""
    try:
        body = response.content
    except httpx.ResponseNotRead:
        return ""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    if not isinstance(data, dict):
        return ""
    candidates: list[Any] = []
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        candidates += [errors[0].get("message"), errors[0].get("code")]
    candidates += [data.get("error_description"), data.get("error"), data.get("details")]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            # Masked before it is cut, so that no part of a secret survives the cut.
            return one_line(_redact(candidate, credential), 160)
    return ""


def _redact(text: str, credential: Credential | None) -> str:
    """``text`` with the credential's secrets (should a server echo them) masked."""
    if credential is None:
        return text
    basic = None
    if credential.has_password:  # the header the password travelled in, base64-encoded
        basic = _basic_header(credential.username or "", credential.password or "")
        basic = basic.removeprefix("Basic ")
    for secret in (credential.password, credential.identity_token, basic):
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text
