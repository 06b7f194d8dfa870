"""The registry HTTP client: one :class:`httpx.Client` for every registry polyarch talks to.

It owns what is the same for every registry operation, so the storage layer above only
speaks the Distribution API:

* the URL of a registry (``https`` by default; ``http`` for insecure or loopback
  registries that do not speak TLS, decided once per registry and cached);
* authentication (:class:`~polyarch.transport.auth.flow.RegistryAuth` as the httpx auth flow);
* retries of transient failures (how often and how long: :mod:`polyarch.transport.retry`);
* turning failures into :mod:`polyarch.errors`: httpx exceptions become
  :class:`~polyarch.errors.TransportError` with a hint, unexpected statuses become the
  :class:`~polyarch.errors.RegistryError` subclass picked by the registry's error code;
* redirects (followed by httpx, which drops ``Authorization`` when leaving the origin);
* how much of each answer is read (:mod:`polyarch.transport.limits`), and stopping: once
  :meth:`RegistryClient.cancel` was called, only cleanup requests are sent;
* request counting (for benchmarks) and DEBUG logging without headers or query strings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Self

import httpx

from polyarch.errors import Interrupted, PolyarchError
from polyarch.transport.auth.credentials import CredentialResolver
from polyarch.transport.auth.flow import REGISTRY_EXTENSION, RegistryAuth
from polyarch.transport.auth.scopes import SCOPES_EXTENSION
from polyarch.transport.auth.tokens import TOKEN_EXTENSION, TransientTokenFailure
from polyarch.transport.deadline import attach_deadline
from polyarch.transport.errors import final_error, status_error
from polyarch.transport.limits import BODY_LIMIT_EXTENSION, DRAIN, BodyLimit, cap_body
from polyarch.transport.masking import remember, request_secrets
from polyarch.transport.retry import (
    READ_RETRY_STATUSES,
    Retrier,
    RetryBudget,
    Tries,
    is_retryable_exception,
)
from polyarch.transport.settings import TransportSettings
from polyarch.transport.stats import TransportStats
from polyarch.transport.tls import transports
from polyarch.transport.urls import Endpoints, append_query, safe_url

__all__ = ["MAX_REDIRECTS", "RegistryClient"]

logger = logging.getLogger("polyarch.transport")

MAX_REDIRECTS = 10

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
# Every status except the ones ensure_auth must report (auth failures, rate limits, 5xx).
_PING_EXPECT = frozenset(range(200, 500)) - {401, 403, 429}
# What a HEAD probe may be refused with where a GET answers: 403 (a storage URL signed
# for GET only), 405 (HEAD not allowed), 501 (not implemented).
_HEAD_REFUSED = frozenset({403, 405, 501})


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
        #: Every retry decision of this client (transport/retry.py).
        self.retrier = Retrier(
            self.settings.retry, self.budget, self.stats, sleep=sleep, clock=clock
        )
        remember(self.settings.password)
        self._clock = clock
        self._endpoints = Endpoints(self.settings)
        self._cancelled = threading.Event()

        self._http = httpx.Client(
            auth=self.auth,
            **transports(self.settings, transport),
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

    # -- stopping ----------------------------------------------------------------------

    def cancel(self) -> None:
        """The operation is being stopped: from now on no request is sent (each raises
        :class:`~polyarch.errors.Interrupted`), except the ``cleanup`` requests that cancel
        what was started. Requests already under way are not interrupted."""
        self._cancelled.set()

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
        body_limit: int | None = None,
        body_kind: str = "this answer",
    ) -> httpx.Response:
        """Send ``method`` to ``path`` (``/v2/...``) on ``registry`` and return the response.

        ``scopes`` are the token scopes the request needs (derived from the path if
        omitted). A status outside ``expect`` raises the matching
        :class:`~polyarch.errors.RegistryError`. ``idempotent`` overrides the default
        (GET, HEAD, DELETE and manifest PUT are retried on transient failures; nothing
        else is). With ``stream=True`` the response is returned open: the caller must
        close it or consume ``iter_bytes()``. ``what`` names the operation in errors.

        ``body_limit``: the body is wanted, at most that many bytes of ``body_kind``
        (:mod:`polyarch.transport.limits`: more is :class:`~polyarch.errors.BodyTooLarge`,
        final). Without it an unstreamed answer's body is not wanted: at most 64 KiB of it
        is kept, then the connection is closed, and ``response.content`` is not to be used.
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
            body_limit=body_limit,
            body_kind=body_kind,
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
        body_limit: int | None = None,
        body_kind: str = "this answer",
        cleanup: float | None = None,
    ) -> httpx.Response:
        """Like :meth:`request`, for an absolute URL a registry handed out.

        Upload ``Location`` headers and ``Link`` next pages are absolute (or relative to
        the registry: pass ``registry`` then). The URL must point at the registry
        (``registry`` if given, else a registry this client already addressed): a
        ``Location`` on another host is refused, so credentials and upload bodies only go
        where the user pointed polyarch. Redirects answered by the registry are still
        followed (httpx drops ``Authorization`` when they leave the origin).

        ``cleanup`` (seconds) makes this a request that gives up something started (an
        upload session's ``DELETE``): it is sent even once the client is cancelled, once,
        with that timeout.
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
            body_limit=body_limit,
            body_kind=body_kind,
            cleanup=cleanup,
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
        body_limit: int | None,
        body_kind: str,
        cleanup: float | None = None,
    ) -> httpx.Response:
        method = method.upper()
        if what is None:
            what = f"{method} {registry}{url.path}"
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS or (
                method == "PUT" and "/manifests/" in url.path
            )
        replayable = content is None or isinstance(content, bytes | bytearray)
        may_retry = idempotent and replayable and cleanup is None
        extensions: dict[str, object] = {REGISTRY_EXTENSION: registry}
        if body_limit is not None:
            extensions[BODY_LIMIT_EXTENSION] = BodyLimit(body_limit, body_kind, what)
        elif not stream:
            extensions[BODY_LIMIT_EXTENSION] = DRAIN
        if scopes is not None:
            extensions[SCOPES_EXTENSION] = list(scopes)
        url = append_query(url, params)
        tries = self.retrier.tries()
        # A HEAD is a probe: when it is refused where a GET would answer (a storage
        # redirect that signs GET only), the same question is asked with a GET.
        head_via_get = False
        while True:
            if cleanup is None and self._cancelled.is_set():
                raise Interrupted(f"{what}: not sent, the operation was interrupted")
            tries.begin()
            timeouts = (
                self._endpoints.timeout_for(registry, url)
                if cleanup is None
                else httpx.Timeout(cleanup).as_dict()
            )
            request = self._http.build_request(
                "GET" if head_via_get else method,
                url,
                headers=dict(headers) if headers else None,
                content=content,
                extensions={**extensions, "timeout": timeouts},
            )
            try:
                response = self._http.send(request, stream=True)
            except TransientTokenFailure as exc:
                # The token service failed (5xx, 429) before the request itself was sent
                # or after it was refused with 401: sending it again is safe if its body
                # can be sent again, idempotent or not.
                delay = tries.next_delay(replayable, retry_after=exc.retry_after)
                if delay is None:
                    raise exc.error from None
                logger.info("%s; trying again in %.1f s", exc.error.message, delay)
                self.retrier.pause(delay)
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
                self._again_or_raise(tries, exc, may_retry, registry, what, request)
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
                    delay = tries.next_delay(True, retry_after=response.headers.get("retry-after"))
                    if delay is not None:
                        response.close()
                        self.retrier.pause(delay)
                        continue
                if method == "DELETE" and status == 404 and tries.failures:
                    # An earlier attempt failed after it may have reached the registry (its
                    # answer was lost): "not found" now means that attempt deleted it. What
                    # was asked for is done; the caller sees the success it expects.
                    logger.info(
                        "%s: not found after an attempt whose answer was lost: that attempt did it",
                        what,
                    )
                    response.close()
                    return response
                secrets = self._secrets(response.request)
                raise status_error(response, registry, url, what, secrets)
            if head_via_get:
                response.close()  # only the headers were asked for
                return response
            if not stream:
                try:
                    response.read()
                except httpx.HTTPError as exc:
                    response.close()
                    self._again_or_raise(tries, exc, may_retry, registry, what, request)
                    continue
                except BaseException:  # BodyTooLarge (final), an interrupt
                    response.close()
                    raise
            return response

    def _again_or_raise(
        self,
        tries: Tries,
        exc: Exception,
        may_retry: bool,
        registry: str,
        what: str,
        request: httpx.Request,
    ) -> None:
        """Wait before the next attempt after ``exc``, or raise the final error."""
        retryable = may_retry and is_retryable_exception(exc)
        if tries.again(retryable):
            return
        raise final_error(
            exc,
            registry,
            what,
            timeout=self.settings.timeout,
            retryable=retryable,
            budget_spent=self.budget.spent,
            budget=self.settings.retry_budget,
            secrets=self._secrets(request),
        ) from None

    def clock(self) -> float:
        """The client's monotonic clock (injectable, like its sleep)."""
        return self._clock()

    def _secrets(self, request: httpx.Request) -> list[str]:
        """What an error about ``request`` must not repeat: the credentials in play."""
        known = self.credentials.known_secrets()
        if self.settings.password:
            known.append(self.settings.password)
        return request_secrets(known, request)

    def _on_response(self, response: httpx.Response) -> None:
        request = response.request
        self.stats.count(request.method, token=bool(request.extensions.get(TOKEN_EXTENSION)))
        # Every body (token responses read by the auth flow included) gets a deadline,
        # and the cap its request asked for (transport/limits.py).
        attach_deadline(
            response,
            window=self.settings.timeout,
            min_speed=self.settings.min_speed,
            clock=self._clock,
        )
        cap_body(response)
        if logger.isEnabledFor(logging.DEBUG):
            status = response.status_code
            logger.debug("%s %s -> %d", request.method, safe_url(request.url), status)
