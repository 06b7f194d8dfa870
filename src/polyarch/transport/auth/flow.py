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

Token requests themselves live in :mod:`polyarch.transport.auth.tokens`, scopes in
:mod:`polyarch.transport.auth.scopes`. Secrets never appear in exception messages: errors
name the registry and the realm host.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from dataclasses import dataclass

import httpx

from polyarch.errors import Denied, Unauthorized
from polyarch.transport.auth.challenge import Challenge, parse_challenges
from polyarch.transport.auth.credentials import Credential, CredentialResolver
from polyarch.transport.auth.scopes import covers, request_scopes
from polyarch.transport.auth.tokens import (
    TOKEN_EXTENSION,
    Token,
    TokenFetcher,
    basic_header,
    remember_credential,
)
from polyarch.transport.settings import TransportSettings

__all__ = ["REGISTRY_EXTENSION", "RegistryAuth"]

#: Request extension holding the registry name (``docker.io``) for credential lookup.
REGISTRY_EXTENSION = "polyarch_registry"

_BASIC = "basic"
_BEARER = "bearer"


@dataclass(frozen=True)
class _HostAuth:
    """What a host asked for: ``basic`` or ``bearer`` (with realm and service)."""

    scheme: str
    realm: str | None = None
    service: str | None = None


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
        self._tokens: dict[_TokenKey, Token] = {}
        self._fetcher = TokenFetcher(credentials, self._settings, clock)

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
        scopes = request_scopes(request)
        known = self._hosts.get(host)
        sent_token: Token | None = None
        token_was_cached = False
        sent_basic = False

        if known is not None and known.scheme == _BEARER:
            sent_token = self._cached(known, scopes)
            token_was_cached = sent_token is not None
            if sent_token is None:
                sent_token = yield from self._fetch_token(registry, known, scopes)
            request.headers["Authorization"] = f"Bearer {sent_token.value}"
        elif known is not None and known.scheme == _BASIC:
            credential = self._credential(registry)
            if credential is not None and credential.has_password:
                request.headers["Authorization"] = basic_header(
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
            credential = self._credential(registry)
            if credential is None or not credential.has_password:
                raise Unauthorized(
                    f"{registry} requires a username and password (HTTP Basic) "
                    "and no credentials were found",
                    status=401,
                    hint="log in with docker login, or give a username and a password",
                    parameter="username",
                )
            self._check_replayable(request, registry)
            request.headers["Authorization"] = basic_header(
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
        credential = self._credential(registry)
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

    def _credential(self, registry: str) -> Credential | None:
        """The credentials for ``registry``; their secrets are masked from now on."""
        credential = self._credentials.resolve(registry)
        remember_credential(credential)
        return credential

    # -- tokens ------------------------------------------------------------------------

    def _cached(self, known: _HostAuth, scopes: tuple[str, ...]) -> Token | None:
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
                and covers(token.scopes, scopes)
            ):
                return token
        return None

    def _drop(self, token: Token) -> None:
        for key, value in list(self._tokens.items()):
            if value is token:
                del self._tokens[key]

    def _check_replayable(self, request: httpx.Request, registry: str) -> None:
        if not isinstance(request.stream, httpx.ByteStream):  # a one-shot stream
            raise Unauthorized(
                f"{request.method} to {registry} was refused (HTTP 401) and its body was "
                "streamed, so it cannot be sent again with credentials",
                status=401,
                hint="authenticate first (the client's ensure_auth) before streaming an upload",
            )

    def _fetch_token(
        self, registry: str, known: _HostAuth, scopes: tuple[str, ...]
    ) -> Generator[httpx.Request, httpx.Response, Token]:
        """Yield the token request(s) for ``scopes`` and return the token (cached)."""
        realm = known.realm or ""
        token = yield from self._fetcher.fetch(registry, realm, known.service, scopes)
        self._tokens[(realm, known.service or "", scopes)] = token
        return token


def _pick(challenges: Sequence[Challenge]) -> Challenge | None:
    """Bearer if offered (it scopes access), else Basic; other schemes are unsupported."""
    for scheme in (_BEARER, _BASIC):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None
