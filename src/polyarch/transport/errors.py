"""Turn failures into :mod:`polyarch.errors`: error responses and httpx exceptions.

Registries explain failures with ``{"errors": [{"code", "message", "detail"}]}``; the
``code`` is more precise than the HTTP status (a 404 may be ``MANIFEST_UNKNOWN``,
``BLOB_UNKNOWN`` or ``NAME_UNKNOWN``), so callers can catch exactly what they handle.
Messages are one line, capped, and built only from the caller's ``what``, the code, the
registry's message and the status: never headers, never a query string.

httpx exceptions become :class:`~polyarch.errors.TransportError` naming the registry,
with a hint saying what to do (start the registry, trust its CA, ...). The TLS helpers
here also tell a server that does not speak TLS (plain HTTP: the client may fall back)
from a certificate problem (never downgraded).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterable
from typing import Any

import httpx

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
from polyarch.transport.deadline import BodyTooSlow
from polyarch.transport.limits import DRAIN_LIMIT
from polyarch.transport.masking import mask
from polyarch.transport.retry import parse_retry_after

__all__ = [
    "CODE_CLASSES",
    "STATUS_CLASSES",
    "TLS_HINT",
    "RetriesExhausted",
    "error_from_response",
    "final_error",
    "is_not_tls",
    "is_tls_failure",
    "looks_like_certificate_error",
    "one_line",
    "read_error_body",
    "status_error",
    "transport_error",
]

#: Distribution error codes with a dedicated exception class.
CODE_CLASSES: dict[str, type[RegistryError]] = {
    "MANIFEST_UNKNOWN": ManifestUnknown,
    "BLOB_UNKNOWN": BlobUnknown,
    "BLOB_UPLOAD_UNKNOWN": BlobUnknown,
    "NAME_UNKNOWN": NameUnknown,
    "UNAUTHORIZED": Unauthorized,
    "DENIED": Denied,
    "TOOMANYREQUESTS": TooManyRequests,
    "UNSUPPORTED": Unsupported,
}

#: The class for a status when the body carries no (known) code.
STATUS_CLASSES: dict[int, type[RegistryError]] = {
    401: Unauthorized,
    403: Denied,
    404: NotFound,
    429: TooManyRequests,
}

#: The hint for TLS failures: how to trust a registry's certificate, or skip verifying it.
TLS_HINT = "pass --ca-file FILE to trust its CA, or --insecure HOST"
# How OpenSSL reports that the peer answered a ClientHello with something that is not TLS
# (e.g. a plain-HTTP "400 Bad Request"): "wrong version number" up to OpenSSL 3.1,
# "record layer failure" from 3.2, "unknown protocol" with 1.0; "packet length too long"
# and "http request" appear for other non-TLS peers.
_NOT_TLS_MARKERS = (
    "wrong version number",
    "wrong_version_number",
    "record layer failure",
    "record_layer_failure",
    "unknown protocol",
    "packet length too long",
    "http_request",
    "http request",
)
_CERT_MARKERS = ("certificate verify failed", "certificate_verify_failed")


class RetriesExhausted(TransportError):
    """A transient failure that is final: the request was retried as long as the retry
    policy allows, or the operation's retry budget is spent.

    Nothing should start the work over (the transfer engine does not move the blob
    again): that would only repeat the same retries against a registry that keeps
    failing. Failures the client could not retry itself (an upload request, which is not
    idempotent) stay plain :class:`~polyarch.errors.TransportError`.
    """


#: How much of an error response body is read to find the registry's ``errors[]``.
ERROR_BODY_LIMIT = DRAIN_LIMIT
_MAX_PART = 200
_MAX_MESSAGE = 400


def one_line(text: str, limit: int = _MAX_PART) -> str:
    """``text`` with whitespace collapsed to single spaces and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _body(response: httpx.Response) -> bytes:
    try:
        return response.content
    except httpx.ResponseNotRead:
        return b""


def read_error_body(response: httpx.Response) -> bytes:
    """At most ``ERROR_BODY_LIMIT`` bytes of a streamed error body; the response is closed."""
    chunks: list[bytes] = []
    try:
        if response.request.method != "HEAD":
            size = 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= ERROR_BODY_LIMIT:
                    break
    except (httpx.HTTPError, httpx.StreamError):
        chunks = []
    finally:
        response.close()
    return b"".join(chunks)[:ERROR_BODY_LIMIT]


def _errors(body: bytes) -> list[dict[str, Any]]:
    if not body or len(body) > 1_000_000:
        return []
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
        return []
    if not isinstance(data, dict):
        return []
    items = data.get("errors")
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def _hint(cls: type[RegistryError], response: httpx.Response) -> str | None:
    if issubclass(cls, Unauthorized):
        challenge = response.headers.get("www-authenticate", "")
        if 'error="invalid_token"' in challenge and "Authorization" in response.request.headers:
            # The credentials were accepted by the token service; the registry then
            # refused the token it issued: a configuration or clock problem, not a login.
            return (
                "the registry refused a token its auth service issued: check that both agree "
                "on service, issuer, signing certificate and time"
            )
        return (
            "log in to the registry (docker login), or pass --username with --password-stdin "
            "(or POLYARCH_USERNAME/POLYARCH_PASSWORD)"
        )
    if issubclass(cls, Denied):
        return "the credentials lack permission for this action on this repository"
    if issubclass(cls, TooManyRequests):
        wait = parse_retry_after(response.headers.get("retry-after"))
        if wait is not None:
            return f"the registry asks to retry after {wait:.0f} s"
        return "wait and retry later"
    return None


def error_from_response(
    response: httpx.Response,
    what: str | None = None,
    *,
    body: bytes | None = None,
    secrets: Iterable[str] = (),
) -> RegistryError:
    """The exception for an unexpected ``response``.

    ``what`` names the operation (``GET manifest 127.0.0.1:5000/app:v1``); by default the
    method, host and path of the request. ``body`` is the (possibly truncated) body when
    the response was streamed; by default the response's own content, if it was read.
    Each of ``secrets`` is masked in what the registry said (a registry may echo the
    credentials it was sent).

    The first entry of ``errors[]`` picks the class by code. Without a code, or with a
    code that has no class of its own, the status does (401 :class:`Unauthorized`, 403
    :class:`Denied`, 404 :class:`NotFound`, 429 :class:`TooManyRequests`), else
    :class:`RegistryError`; the code is kept on the exception either way.

    >>> r = httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN",
    ...     "message": "manifest unknown"}]}, request=httpx.Request("GET", "https://r/v2/a/manifests/v1"))
    >>> err = error_from_response(r, "GET manifest r/a:v1")
    >>> type(err).__name__, str(err)
    ('ManifestUnknown', 'GET manifest r/a:v1: MANIFEST_UNKNOWN manifest unknown (HTTP 404)')
    """
    status = response.status_code
    if what is None:
        try:
            request = response.request
            what = f"{request.method} {request.url.netloc.decode('ascii')}{request.url.path}"
        except RuntimeError:
            what = "request"
    items = _errors(body if body is not None else _body(response))
    code: str | None = None
    text = ""
    cls: type[RegistryError] | None = None
    if items:
        first = items[0]
        raw_code = first.get("code")
        code = raw_code.upper() if isinstance(raw_code, str) and raw_code else None
        message = first.get("message")
        text = message if isinstance(message, str) else ""
        cls = CODE_CLASSES.get(code) if code else None
        if len(items) > 1:
            text = f"{text} (and {len(items) - 1} more)" if text else f"and {len(items) - 1} more"
    if cls is None:
        cls = STATUS_CLASSES.get(status, RegistryError)
    if not text and not code:
        text = response.reason_phrase or ""
    secrets = list(secrets)
    text = mask(text, secrets)
    code = mask(code, secrets) if code else code
    parts = [one_line(code or ""), one_line(text)]
    detail = " ".join(part for part in parts if part)
    message = f"{one_line(what)}: {detail} (HTTP {status})" if detail else f"{what} (HTTP {status})"
    return cls(one_line(message, _MAX_MESSAGE), code=code, status=status, hint=_hint(cls, response))


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes (httpx wraps httpcore, which wraps ``ssl.SSLError``)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _text(exc: BaseException) -> str:
    return " ".join(str(e) for e in _exception_chain(exc)).lower()


def is_not_tls(exc: BaseException) -> bool:
    """Whether a connect failure means the server answered the TLS handshake with non-TLS."""
    text = _text(exc)
    return any(marker in text for marker in _NOT_TLS_MARKERS)


def looks_like_certificate_error(exc: BaseException) -> bool:
    """Whether a connect failure is a failed certificate verification."""
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in _exception_chain(exc)):
        return True
    text = _text(exc)
    return any(marker in text for marker in _CERT_MARKERS)


def is_tls_failure(exc: BaseException) -> bool:
    """Whether a failure happened in TLS (an ``ssl.SSLError`` in its chain)."""
    return any(isinstance(e, ssl.SSLError) for e in _exception_chain(exc)) or "[ssl" in _text(exc)


def transport_error(
    exc: Exception, registry: str, what: str, *, timeout: float | None = None
) -> TransportError:
    """The :class:`TransportError` for an httpx exception raised while doing ``what``.

    The message names the registry; the hint says what to try. ``timeout`` (seconds) is
    quoted in the hint of a timeout. Secrets a lower library quoted (h11's ``Illegal
    header value b'Bearer ...'``) are masked (:func:`~polyarch.transport.masking.mask`).
    """
    detail = one_line(mask(str(exc)) or type(exc).__name__, 200)
    if isinstance(exc, httpx.TooManyRedirects):
        return TransportError(
            f"{what}: too many redirects (a redirect loop?)",
            hint=f"check the address of {registry} and its proxy configuration",
        )
    if isinstance(exc, httpx.ConnectError) and looks_like_certificate_error(exc):
        return TransportError(
            f"{what}: TLS certificate verification failed for {registry}: {detail}",
            hint=TLS_HINT,
        )
    if isinstance(exc, httpx.ConnectError) and is_tls_failure(exc):
        return TransportError(
            f"{what}: TLS handshake with {registry} failed: {detail}", hint=TLS_HINT
        )
    if isinstance(exc, httpx.ConnectError):
        return TransportError(
            f"{what}: cannot connect to {registry}: {detail}",
            hint="is the registry running at that address?",
        )
    if isinstance(exc, BodyTooSlow):
        return TransportError(
            f"{what}: {registry} sent its response too slowly: {detail}",
            hint=(
                f"raise --timeout (now {timeout:g} s) if the network is that slow"
                if timeout is not None
                else "is the registry overloaded?"
            ),
        )
    if isinstance(exc, httpx.TimeoutException):
        return TransportError(
            f"{what}: {registry} did not answer in time ({type(exc).__name__})",
            hint=(
                f"the timeout is {timeout:g} s; is the registry overloaded?"
                if timeout is not None
                else "is the registry overloaded?"
            ),
        )
    if isinstance(exc, httpx.StreamError):
        return TransportError(
            f"{what}: the request body was streamed and cannot be sent again "
            f"({type(exc).__name__})",
            hint=f"{registry} redirected or reset a streamed upload",
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return TransportError(f"{what}: unsupported URL for {registry}: {detail}")
    return TransportError(f"{what}: connection to {registry} failed: {detail}")


def status_error(
    response: httpx.Response, registry: str, url: httpx.URL, what: str, secrets: list[str]
) -> RegistryError:
    """The error for an unexpected status of a request to ``url``; the response is closed.

    A refusal by the host a registry redirected to (its blob storage: S3, a CDN) says so,
    with a hint that does not send the user to log in: the registry's credentials are
    never sent there. ``secrets`` are masked in the message.
    """
    body = read_error_body(response)
    error = error_from_response(response, what, body=body, secrets=secrets)
    target = response.url.netloc.decode("ascii")
    if response.history and target.lower() != url.netloc.decode("ascii").lower():
        error.message = f"{error.message} (answered by {target}, where {registry} redirected)"
        error.hint = (
            f"{registry} redirected the request to its storage at {target}, which refused "
            "it; the registry's credentials are not sent there, so this is a problem of "
            "the registry's storage configuration, not of your login"
        )
    error.message = mask(error.message, secrets)
    return error


def final_error(
    exc: Exception,
    registry: str,
    what: str,
    *,
    timeout: float,
    retryable: bool,
    budget_spent: bool,
    budget: float,
    secrets: Iterable[str],
) -> TransportError:
    """The error for ``exc`` once no retry is due; ``secrets`` are masked in it.

    A transient failure retried as long as allowed is :class:`RetriesExhausted` (final:
    starting the work over would only repeat these retries), naming a spent operation
    budget of ``budget`` seconds; others a plain :class:`~polyarch.errors.TransportError`.
    """
    error = transport_error(exc, registry, what, timeout=timeout)
    message = mask(error.message, secrets)
    if retryable and budget_spent:
        return RetriesExhausted(
            f"{message} (no more retries: the budget of {budget:g} s for this operation is spent)",
            hint=error.hint,
        )
    if retryable:
        return RetriesExhausted(message, hint=error.hint)
    return TransportError(message, hint=error.hint)
