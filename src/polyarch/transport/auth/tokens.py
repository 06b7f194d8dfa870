"""Docker's token protocol: asking a token service for a Bearer token, and reading its answer.

Token requests follow the Docker token specification (distribution's
``docs/spec/auth/token.md`` and ``oauth.md``): ``GET realm?service=..&scope=..`` with Basic
credentials (anonymous without), falling back to the OAuth2 ``POST`` with
``grant_type=password`` when the server answers 404/405, and the ``POST`` with
``grant_type=refresh_token`` when the credential is an identity token. A token realm on
plain HTTP is refused (unless loopback or named insecure): it would carry the password
in clear text.

:class:`TokenFetcher` is a generator without I/O of its own, like the auth flow that
drives it: it yields the token requests and reads the responses it is sent back.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx

from polyarch.domain.document import load_json
from polyarch.errors import (
    AuthError,
    Denied,
    PolyarchError,
    RegistryError,
    TooManyRequests,
    Unauthorized,
)
from polyarch.transport.auth.credentials import Credential, CredentialResolver
from polyarch.transport.errors import one_line
from polyarch.transport.limits import BODY_LIMIT_EXTENSION, TOKEN_LIMIT, BodyLimit
from polyarch.transport.masking import mask, remember, remember_basic
from polyarch.transport.retry import READ_RETRY_STATUSES
from polyarch.transport.settings import TransportSettings, is_loopback
from polyarch.transport.urls import append_query

__all__ = [
    "TOKEN_EXTENSION",
    "Token",
    "TokenFetcher",
    "TransientTokenFailure",
    "basic_header",
    "redact",
]

#: Request extension marking a token request yielded by the flow.
TOKEN_EXTENSION = "polyarch_token_request"

#: Tokens are treated as expired this many seconds early (at most a quarter of their life).
EXPIRY_MARGIN = 5.0
DEFAULT_EXPIRES_IN = 60
CLIENT_ID = "polyarch"
# What an HTTP header value may hold (RFC 9110 field-value: visible ASCII, space, tab).
_HEADER_SAFE = re.compile(r"[\x21-\x7e][\x20-\x7e\t]*")


def basic_header(username: str, password: str) -> str:
    """The ``Authorization`` value for HTTP Basic (RFC 7617): ``Basic base64(user:password)``."""
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class TransientTokenFailure(Exception):
    """The token service failed in a way worth retrying (500, 502, 503, 504, 429).

    Raised out of the auth flow; the client sends the request again under its retry
    policy (the same as for every idempotent request: a token request is one), honouring
    ``retry_after`` (the ``Retry-After`` header), and raises ``error`` when it gives up.
    """

    def __init__(self, error: RegistryError, retry_after: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True)
class Token:
    """A Bearer token, when it expires (on the client's clock) and the scopes asked for."""

    value: str
    expires_at: float
    scopes: tuple[str, ...]


class TokenFetcher:
    """Yields the token request(s) for a realm and scopes, and parses the token service's answer.

    ``clock`` returns seconds (monotonic) and decides expiry.
    """

    def __init__(
        self,
        credentials: CredentialResolver,
        settings: TransportSettings,
        clock: Callable[[], float],
    ) -> None:
        self._credentials = credentials
        self._settings = settings
        self._clock = clock
        self._timeout = httpx.Timeout(settings.timeout).as_dict()

    def fetch(
        self, registry: str, realm_text: str, service: str | None, scopes: tuple[str, ...]
    ) -> Generator[httpx.Request, httpx.Response, Token]:
        """Yield the token request(s) for ``scopes`` at ``realm_text`` and return the token."""
        try:
            realm = httpx.URL(realm_text)
        except httpx.InvalidURL:
            raise AuthError(f"{registry} names an invalid token realm") from None
        if not realm.host:
            raise AuthError(f"{registry} names an invalid token realm")
        self._check_realm(registry, realm)
        where = _service_name(registry, realm)
        credential = self._credentials.resolve(registry)
        remember_credential(credential)
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
            response = yield self._token_request("POST", realm, where, data=form)
        else:
            params: list[tuple[str, str]] = []
            if service:
                params.append(("service", service))
            params.extend(("scope", scope) for scope in scopes)
            headers: dict[str, str] = {}
            if credential is not None and credential.has_password:
                headers["Authorization"] = basic_header(
                    credential.username or "", credential.password or ""
                )
                params.append(("account", credential.username or ""))
            response = yield self._token_request(
                "GET", append_query(realm, params), where, headers=headers
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
                response = yield self._token_request("POST", realm, where, data=form)

        return self._parse_token(response, registry, realm, credential, scopes)

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

    def _token_request(
        self, method: str, realm: httpx.URL, where: str, **kwargs: Any
    ) -> httpx.Request:
        headers = {"User-Agent": self._settings.user_agent, "Accept": "application/json"}
        headers.update(kwargs.pop("headers", {}))
        extensions = {
            TOKEN_EXTENSION: True,
            "timeout": self._timeout,
            BODY_LIMIT_EXTENSION: BodyLimit(TOKEN_LIMIT, "a token answer", where),
        }
        return httpx.Request(method, realm, headers=headers, extensions=extensions, **kwargs)

    def _parse_token(
        self,
        response: httpx.Response,
        registry: str,
        realm: httpx.URL,
        credential: Credential | None,
        scopes: tuple[str, ...],
    ) -> Token:
        where = _service_name(registry, realm)
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
            if status in READ_RETRY_STATUSES and isinstance(error, RegistryError):
                raise TransientTokenFailure(error, response.headers.get("retry-after"))
            raise error
        try:
            data = load_json(response.content, what=where, error=AuthError)
        except AuthError:  # not JSON, nested too deeply, a lone surrogate: no token in it
            data = None
        if not isinstance(data, dict):
            raise AuthError(f"{where} answered with something that is not a JSON object")
        value = data.get("token") or data.get("access_token")
        if not isinstance(value, str) or not value:
            raise AuthError(f"{where} answered without a token")
        remember(value)
        if not _HEADER_SAFE.fullmatch(value):
            # h11 would refuse the header and quote the token in its message.
            raise AuthError(
                f"{where} answered with a token that cannot be sent in an HTTP header "
                "(it contains a line break, a control or a non-ASCII character)",
                hint="the token service is misbehaving; report it to the registry's operator",
            )
        expires_in = data.get("expires_in")
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
            expires_in = DEFAULT_EXPIRES_IN
        if expires_in <= 0:
            expires_in = DEFAULT_EXPIRES_IN
        # issued_at is not used: expiry counts from when the answer arrived on our own
        # clock, because the server's clock may disagree with ours by more than a token's
        # lifetime.
        margin = min(EXPIRY_MARGIN, expires_in / 4)
        return Token(value, self._clock() + float(expires_in) - margin, scopes)


def _service_name(registry: str, realm: httpx.URL) -> str:
    """How messages name a token service: its registry and the realm's host."""
    return f"the token service of {registry} ({realm.netloc.decode('ascii')})"


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
            return one_line(redact(candidate, credential), 160)
    return ""


def remember_credential(credential: Credential | None) -> None:
    """Mask ``credential``'s secrets (password, its Basic base64, identity token) from now on."""
    if credential is None:
        return
    remember(credential.identity_token)
    if credential.password is not None:
        remember_basic(credential.username or "", credential.password)


def redact(text: str, credential: Credential | None) -> str:
    """``text`` with the credential's secrets (should a server echo them) masked.

    In every form :func:`~polyarch.transport.masking.mask` knows (raw, base64 of the
    Basic header, percent-encoded as in a form body or query, JSON-escaped), and every
    other secret seen in this process.
    """
    secrets: list[str] = []
    if credential is not None:
        secrets += [s for s in (credential.password, credential.identity_token) if s]
        if credential.has_password:  # the header the password travelled in
            basic = basic_header(credential.username or "", credential.password or "")
            secrets.append(basic.removeprefix("Basic "))
    return mask(text, secrets)
