"""The registry HTTP client: one :class:`httpx.Client` for every registry polyarch talks to.

It owns what is the same for every registry operation, so the storage layer above only
speaks the Distribution API:

* the URL of a registry (``https`` by default; ``http`` for insecure or loopback
  registries that do not speak TLS, decided once per registry and cached);
* authentication (:class:`~polyarch.transport.auth.RegistryAuth` as the httpx auth flow);
* retries of transient failures (:class:`~polyarch.transport.retry.RetryPolicy`);
* turning failures into :mod:`polyarch.errors`: httpx exceptions become
  :class:`~polyarch.errors.TransportError` with a hint, unexpected statuses become the
  :class:`~polyarch.errors.RegistryError` subclass picked by the registry's error code;
* redirects (followed by httpx, which drops ``Authorization`` when leaving the origin);
* request counting (for benchmarks) and DEBUG logging without headers or query strings.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Self

import httpx

from polyarch.errors import PolyarchError, TransportError
from polyarch.transport.auth import REGISTRY_EXTENSION, RegistryAuth
from polyarch.transport.credentials import CredentialResolver
from polyarch.transport.deadline import ProgressStream
from polyarch.transport.errors import (
    RetriesExhausted,
    error_from_response,
    read_error_body,
    transport_error,
)
from polyarch.transport.masking import mask, remember, request_secrets
from polyarch.transport.retry import READ_RETRY_STATUSES, RetryBudget, is_retryable_exception
from polyarch.transport.scopes import SCOPES_EXTENSION
from polyarch.transport.settings import TransportSettings
from polyarch.transport.stats import TransportStats
from polyarch.transport.tokens import TOKEN_EXTENSION, TransientTokenFailure
from polyarch.transport.urls import DOCKER_HUB_HOST, Endpoints, append_query, safe_url

__all__ = ["DOCKER_HUB_HOST", "MAX_REDIRECTS", "RegistryClient", "TransportStats"]

logger = logging.getLogger("polyarch.transport")

MAX_REDIRECTS = 10

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
# Every status except the ones ensure_auth must report (auth failures, rate limits, 5xx).
_PING_EXPECT = frozenset(range(200, 500)) - {401, 403, 429}
# What a HEAD probe may be refused with where a GET answers: 403 (a storage URL signed
# for GET only), 405 (HEAD not allowed), 501 (not implemented).
_HEAD_REFUSED = frozenset({403, 405, 501})
#: Seconds for the TLS handshake of a loopback registry whose scheme is not known yet.
TLS_PROBE_TIMEOUT = 3.0


class RegistryClient:
    """One httpx.Client for all registries.

    ``transport`` replaces the network (``httpx.MockTransport`` in tests); ``sleep`` and
    ``clock`` are injectable so retry tests never wait. ``stats`` counts exchanges.

    >>> def handler(request: httpx.Request) -> httpx.Response:
    ...     return httpx.Response(200, json={"tags": ["v1"]})
    >>> with RegistryClient(transport=httpx.MockTransport(handler)) as client:
    ...     client.request("GET", "registry.example", "/v2/app/tags/list").json()
    {'tags': ['v1']}
    """

    def __init__(
        self,
        settings: TransportSettings | None = None,
        *,
        credentials: CredentialResolver | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings if settings is not None else TransportSettings()
        self.credentials = (
            credentials if credentials is not None else CredentialResolver(self.settings)
        )
        self.stats = TransportStats()
        self.auth = RegistryAuth(self.credentials, self.settings, clock=clock)
        #: What all requests of this client may spend on retries together.
        self.budget = RetryBudget(self.settings.retry_budget)
        remember(self.settings.password)
        self._sleep = sleep
        self._clock = clock
        self._endpoints = Endpoints(self.settings)

        verify: ssl.SSLContext | bool = True
        if self.settings.ca_file:
            # The CA is trusted in addition to the default roots (certifi, or
            # SSL_CERT_FILE/SSL_CERT_DIR as httpx honours them): one client serves every
            # registry, and Docker Hub must keep working next to a private registry.
            verify = httpx.create_ssl_context(verify=True, trust_env=True)
            try:
                verify.load_verify_locations(cafile=self.settings.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise TransportError(
                    f"cannot load the CA file {self.settings.ca_file}: {exc}",
                    hint="pass a PEM file with the CA certificate(s)",
                ) from None
        mounts: dict[str, httpx.BaseTransport | None] = {}
        if transport is None:
            for host in sorted(self.settings.insecure):
                # Insecure registries: TLS without verification (http is tried if no TLS).
                mounts[f"https://{host}"] = httpx.HTTPTransport(verify=False)
        self._http = httpx.Client(
            auth=self.auth,
            transport=transport,
            mounts=mounts or None,
            verify=verify,
            timeout=httpx.Timeout(self.settings.timeout),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": self.settings.user_agent},
            trust_env=True,
            event_hooks={"response": [self._on_response]},
        )

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- URLs --------------------------------------------------------------------------

    def base_url(self, registry: str) -> str:
        """``https://host`` (or ``http://host`` once decided) for ``registry``.

        ``docker.io`` (and its aliases) maps to ``https://registry-1.docker.io``. A port
        outside 1-65535 is :class:`~polyarch.errors.InvalidInput`, before any connection.

        >>> RegistryClient().base_url("docker.io")
        'https://registry-1.docker.io'
        """
        return self._endpoints.base_url(registry)

    # -- requests ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        registry: str,
        path: str,
        *,
        scopes: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        expect: Collection[int] = (200,),
        idempotent: bool | None = None,
        stream: bool = False,
        what: str | None = None,
    ) -> httpx.Response:
        """Send ``method`` to ``path`` (``/v2/...``) on ``registry`` and return the response.

        ``scopes`` are the token scopes the request needs (derived from the path if
        omitted). A status outside ``expect`` raises the matching
        :class:`~polyarch.errors.RegistryError`. ``idempotent`` overrides the default
        (GET, HEAD, DELETE and manifest PUT are retried on transient failures; nothing
        else is). With ``stream=True`` the response is returned open: the caller must
        close it or consume ``iter_bytes()``. ``what`` names the operation in errors.
        """
        if not path.startswith("/"):
            path = "/" + path
        url = httpx.URL(self.base_url(registry) + path)
        return self._send(
            method,
            registry,
            url,
            scopes=scopes,
            headers=headers,
            params=params,
            content=content,
            expect=expect,
            idempotent=idempotent,
            stream=stream,
            what=what,
        )

    def request_url(
        self,
        method: str,
        url: str,
        *,
        registry: str | None = None,
        scopes: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        expect: Collection[int] = (200,),
        idempotent: bool | None = None,
        stream: bool = False,
        what: str | None = None,
    ) -> httpx.Response:
        """Like :meth:`request`, for an absolute URL a registry handed out.

        Upload ``Location`` headers and ``Link`` next pages are absolute (or relative to
        the registry: pass ``registry`` then). The URL must point at the registry
        (``registry`` if given, else a registry this client already addressed): a
        ``Location`` on another host is refused, so credentials and upload bodies only go
        where the user pointed polyarch. Redirects answered by the registry are still
        followed (httpx drops ``Authorization`` when they leave the origin).
        """
        registry, target = self._endpoints.resolve(method, url, registry)
        return self._send(
            method,
            registry,
            target,
            scopes=scopes,
            headers=headers,
            params=params,
            content=content,
            expect=expect,
            idempotent=idempotent,
            stream=stream,
            what=what,
        )

    def ensure_auth(self, registry: str, scopes: Sequence[str]) -> None:
        """Authenticate for ``scopes`` on ``registry`` now, ahead of a streamed upload.

        A streamed body cannot be re-sent after a 401, so before streaming, the client
        makes sure the flow will attach credentials preemptively: the first time a host is
        seen this costs a cheap ``GET /v2/`` (plus a token request for Bearer registries);
        with a valid cached token it costs nothing.
        """
        host = httpx.URL(self.base_url(registry)).netloc.decode("ascii")
        if self.auth.ready(host, scopes):
            return
        response = self.request(
            "GET",
            registry,
            "/v2/",
            scopes=list(scopes),
            expect=_PING_EXPECT,
            what=f"authenticate to {registry}",
        )
        response.close()

    # -- the engine --------------------------------------------------------------------

    def _send(
        self,
        method: str,
        registry: str,
        url: httpx.URL,
        *,
        scopes: Sequence[str] | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None,
        content: bytes | Iterable[bytes] | None,
        expect: Collection[int],
        idempotent: bool | None,
        stream: bool,
        what: str | None,
    ) -> httpx.Response:
        method = method.upper()
        if what is None:
            what = f"{method} {registry}{url.path}"
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS or (
                method == "PUT" and "/manifests/" in url.path
            )
        replayable = content is None or isinstance(content, bytes | bytearray)
        may_retry = idempotent and replayable
        extensions: dict[str, object] = {REGISTRY_EXTENSION: registry}
        if scopes is not None:
            extensions[SCOPES_EXTENSION] = list(scopes)
        url = append_query(url, params)
        started = self._clock()
        failures = 0
        # A HEAD is a probe: when it is refused where a GET would answer (a storage
        # redirect that signs GET only), the same question is asked with a GET.
        head_via_get = False
        while True:
            attempt_started = self._clock()
            request = self._http.build_request(
                "GET" if head_via_get else method,
                url,
                headers=dict(headers) if headers else None,
                content=content,
                extensions={**extensions, "timeout": self._timeout_for(registry, url)},
            )
            try:
                response = self._http.send(request, stream=True)
            except TransientTokenFailure as exc:
                # The token service failed (5xx, 429) before the request itself was sent
                # or after it was refused with 401: sending it again is safe if its body
                # can be sent again, idempotent or not.
                failures += 1
                delay = self._delay(
                    replayable, failures, started, attempt_started, retry_after=exc.retry_after
                )
                if delay is None:
                    raise exc.error from None
                logger.info("%s; trying again in %.1f s", exc.error.message, delay)
                self._pause(delay)
                continue
            except PolyarchError:
                raise
            except (httpx.HTTPError, httpx.StreamError) as exc:
                logger.debug("%s %s -> %s", method, safe_url(url), type(exc).__name__)
                if (
                    isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                    and url.scheme == "https"
                    and self._endpoints.fall_back(registry, exc)
                ):
                    # The TLS handshake failed while connecting, so nothing was sent:
                    # the same request goes to http:// and is not counted as a retry.
                    url = url.copy_with(scheme="http")
                    continue
                failures += 1
                self._wait_or_raise(
                    may_retry,
                    exc,
                    failures=failures,
                    started=started,
                    attempt_started=attempt_started,
                    registry=registry,
                    what=what,
                    request=request,
                )
                continue
            self._endpoints.decided(registry, url)

            status = response.status_code
            if status not in expect:
                if method == "HEAD" and not head_via_get and status in _HEAD_REFUSED:
                    logger.info(
                        "%s: HEAD refused by %s (HTTP %d); asking with GET instead",
                        what,
                        response.url.netloc.decode("ascii"),
                        status,
                    )
                    response.close()
                    head_via_get = True
                    continue
                if may_retry and status in READ_RETRY_STATUSES:
                    failures += 1
                    delay = self._delay(
                        True,
                        failures,
                        started,
                        attempt_started,
                        retry_after=response.headers.get("retry-after"),
                    )
                    if delay is not None:
                        response.close()
                        self._pause(delay)
                        continue
                raise self._status_error(response, registry, url, what)
            if head_via_get:
                response.close()  # only the headers were asked for
                return response
            if not stream:
                try:
                    response.read()
                except httpx.HTTPError as exc:
                    response.close()
                    failures += 1
                    self._wait_or_raise(
                        may_retry,
                        exc,
                        failures=failures,
                        started=started,
                        attempt_started=attempt_started,
                        registry=registry,
                        what=what,
                        request=request,
                    )
                    continue
            return response

    def _status_error(
        self, response: httpx.Response, registry: str, url: httpx.URL, what: str
    ) -> PolyarchError:
        """The error for an unexpected status; the response is closed."""
        body = read_error_body(response)
        known = self.credentials.known_secrets()
        if self.settings.password:
            known.append(self.settings.password)
        secrets = request_secrets(known, response.request)
        error = error_from_response(response, what, body=body, secrets=secrets)
        target = response.url.netloc.decode("ascii")
        if response.history and target.lower() != url.netloc.decode("ascii").lower():
            # The refusal came from where the registry redirected (its blob storage),
            # which never sees the registry's credentials: logging in cannot help.
            error.message = f"{error.message} (answered by {target}, where {registry} redirected)"
            error.hint = (
                f"{registry} redirected the request to its storage at {target}, which refused "
                "it; the registry's credentials are not sent there, so this is a problem of "
                "the registry's storage configuration, not of your login"
            )
        error.message = mask(error.message, secrets)
        return error

    def retry_read(self, exc: Exception, failures: int, started: float) -> bool:
        """Wait before reading again after the body of an idempotent GET was cut off.

        For callers that stream a response themselves (manifests, small blobs) and so
        must send the request again: ``exc`` is the httpx error the body read raised,
        ``failures`` the attempts made so far, ``started`` when the first began (by
        :meth:`clock`). Returns False at once when the policy or the client's retry
        budget gives up, or ``exc`` is not a transient connection failure; a body that
        stalled until the read timeout is not read again (that would multiply the timeout).
        """
        if isinstance(exc, httpx.TimeoutException) or not is_retryable_exception(exc):
            return False
        delay = self._delay(True, failures, started, self._clock())
        if delay is None:
            return False
        self._pause(delay)
        return True

    def clock(self) -> float:
        """The client's monotonic clock (injectable, like its sleep)."""
        return self._clock()

    def _timeout_for(self, registry: str, url: httpx.URL) -> dict[str, float | None]:
        """The request's timeouts: short for the TLS probe of a loopback registry.

        A loopback TCP connect is immediate, so a TLS handshake that does not finish
        within :data:`TLS_PROBE_TIMEOUT` means a server that will never speak TLS; the
        client then falls back to plain HTTP instead of waiting the full timeout.
        """
        timeout = self.settings.timeout
        connect = timeout
        if url.scheme == "https" and self._endpoints.probing(registry):
            connect = min(timeout, TLS_PROBE_TIMEOUT)
        return httpx.Timeout(timeout, connect=connect).as_dict()

    def _wait_or_raise(
        self,
        may_retry: bool,
        exc: Exception,
        *,
        failures: int,
        started: float,
        attempt_started: float,
        registry: str,
        what: str,
        request: httpx.Request,
    ) -> None:
        """Sleep before the next attempt, or raise the mapped TransportError if none is due."""
        retryable = may_retry and is_retryable_exception(exc)
        delay = self._delay(retryable, failures, started, attempt_started)
        if delay is None:
            error = transport_error(exc, registry, what, timeout=self.settings.timeout)
            secrets = request_secrets(self.credentials.known_secrets(), request)
            message = mask(error.message, secrets)
            if retryable and self.budget.spent:
                raise RetriesExhausted(
                    f"{message} (no more retries: the budget of "
                    f"{self.settings.retry_budget:g} s for this operation is spent)",
                    hint=error.hint,
                ) from None
            if retryable:
                # Retried as long as the policy allows: starting the work over would only
                # repeat these retries (a registry that never answers).
                raise RetriesExhausted(message, hint=error.hint) from None
            raise TransportError(message, hint=error.hint) from None
        self._pause(delay)

    def _delay(
        self,
        may_retry: bool,
        failures: int,
        started: float,
        attempt_started: float,
        *,
        retry_after: str | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None: the policy and budget decide.

        What the failed attempt took and the wait are charged to the client's budget.
        """
        if not may_retry or self.budget.spent:
            return None
        now = self._clock()
        delay = self.settings.retry.next_delay(failures, now - started, retry_after=retry_after)
        if delay is None:
            return None
        if not self.budget.take(now - attempt_started + delay):
            return None
        return delay

    def _pause(self, delay: float) -> None:
        self.stats.retries += 1
        logger.debug("retrying in %.2f s", delay)
        self._sleep(delay)

    def _on_response(self, response: httpx.Response) -> None:
        request = response.request
        self.stats.count(request.method, token=bool(request.extensions.get(TOKEN_EXTENSION)))
        length = response.headers.get("Content-Length", "")
        # Every body (token responses read by the auth flow included) gets a deadline.
        response.stream = ProgressStream(
            response.stream,  # type: ignore[arg-type]
            request,
            window=self.settings.timeout,
            min_speed=self.settings.min_speed,
            length=int(length) if length.isdigit() else None,
            clock=self._clock,
        )
        if logger.isEnabledFor(logging.DEBUG):
            status = response.status_code
            logger.debug("%s %s -> %d", request.method, safe_url(request.url), status)
