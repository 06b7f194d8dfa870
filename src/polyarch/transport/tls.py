"""TLS trust for the one HTTP client: the CA file the user named, and insecure registries.

HTTPS with certificate verification by default. ``--ca-file`` adds a CA to the default
roots (it does not replace them: one client serves every registry, and Docker Hub must
keep working next to a private registry). A registry named ``--insecure`` gets TLS
without verification (plain HTTP is tried when it does not speak TLS at all).

The verifying TLS context is built on the first ``https`` request that needs it, not with
the client: loading the default roots costs ~40 ms, and a run that only talks plain HTTP
to a loopback registry (CI, the bench) never needs them (:class:`DeferredTLSTransport`).
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import TypedDict

import httpx

from polyarch.errors import TransportError
from polyarch.transport.reads import widen_socket_reads
from polyarch.transport.settings import TransportSettings, is_loopback

__all__ = [
    "DeferredTLSTransport",
    "TransportOptions",
    "insecure_mounts",
    "transports",
    "verify_context",
]


class TransportOptions(TypedDict):
    """The TLS-related keyword arguments of :class:`httpx.Client`."""

    transport: httpx.BaseTransport
    mounts: dict[str, httpx.BaseTransport | None] | None
    verify: ssl.SSLContext | bool


def transports(
    settings: TransportSettings, transport: httpx.BaseTransport | None = None
) -> TransportOptions:
    """How the one client reaches registries: ``httpx.Client(**transports(settings))``.

    ``transport``: a replacement network (``httpx.MockTransport`` in tests), used as given
    with no mounts. Otherwise: a :class:`DeferredTLSTransport` (verifying TLS, built on
    first use) and an unverified TLS mount per registry named insecure. Raises
    :class:`~polyarch.errors.TransportError` for an unloadable ``--ca-file``, at once.
    """
    verify = verify_context(settings)  # a bad --ca-file fails here, not at the first request
    if transport is not None:
        return {"transport": transport, "mounts": None, "verify": verify}
    widen_socket_reads()  # blobs read in 1 MiB pieces (transport/reads.py)
    # Insecure registries: TLS without verification (http is tried if no TLS).
    mounts = insecure_mounts(settings)
    return {"transport": DeferredTLSTransport(verify), "mounts": mounts or None, "verify": verify}


def verify_context(settings: TransportSettings) -> ssl.SSLContext | bool:
    """What httpx's ``verify=`` gets: True, or a context that also trusts ``ca_file``.

    Raises :class:`~polyarch.errors.TransportError` when the CA file cannot be loaded.
    """
    if not settings.ca_file:
        return True
    # The default roots: certifi, or SSL_CERT_FILE/SSL_CERT_DIR as httpx honours them.
    context = httpx.create_ssl_context(verify=True, trust_env=True)
    try:
        context.load_verify_locations(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise TransportError(
            f"cannot load the CA file {settings.ca_file}: {exc}",
            hint="pass a PEM file with the CA certificate(s)",
        ) from None
    return context


def insecure_mounts(settings: TransportSettings) -> dict[str, httpx.BaseTransport | None]:
    """httpx ``mounts=``: an unverified TLS transport for each registry named insecure."""
    return {
        f"https://{host}": httpx.HTTPTransport(verify=False) for host in sorted(settings.insecure)
    }


class DeferredTLSTransport(httpx.BaseTransport):
    """httpx's default transport, with its verifying TLS context built on first use.

    ``http://`` requests go through a transport whose TLS context is never used (it
    verifies, with no roots: it could not accept any certificate); the first ``https://``
    request builds the real one from ``verify`` (``True``: httpx's default roots, honouring
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``; or a context from :func:`verify_context`). Both are
    ordinary :class:`httpx.HTTPTransport` connection pools, so streaming, timeouts and
    connection reuse are httpx's own. Thread-safe: sources are read concurrently.

    A loopback registry is first asked over ``https`` and reached over plain HTTP when it
    does not speak TLS (Docker's rule, see :mod:`polyarch.transport.urls`). Before the roots
    are loaded for such a host, a bare TLS handshake (no certificate check, nothing sent,
    closed at once) tells whether it speaks TLS at all; a plain-HTTP server fails it exactly
    as the real connection would (:class:`httpx.ConnectError`), so the client falls back
    without the roots ever being loaded. A server that does speak TLS then gets the real,
    verifying connection: certificates are checked as always.

    ``verify``: what ``httpx.HTTPTransport(verify=...)`` takes, never ``False`` here.
    Raises nothing itself; TLS failures surface from the request as httpx errors.
    """

    def __init__(self, verify: ssl.SSLContext | bool = True) -> None:
        self._verify = verify
        self._lock = threading.Lock()
        self._plain: httpx.HTTPTransport | None = None
        self._tls: httpx.HTTPTransport | None = None
        self._speaks_tls: set[tuple[str, int]] = set()

    def _transport(self, scheme: str) -> httpx.HTTPTransport:
        built = self._tls if scheme == "https" else self._plain
        if built is not None:  # the common case, without taking the lock
            return built
        with self._lock:
            if scheme == "https":
                if self._tls is None:
                    self._tls = httpx.HTTPTransport(verify=self._verify, trust_env=True)
                return self._tls
            if self._plain is None:
                # A verifying context with no roots: cheap to build, refuses any peer.
                self._plain = httpx.HTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
            return self._plain

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the pool of its scheme (``https`` built on first use)."""
        url = request.url
        if url.scheme == "https" and self._tls is None and is_loopback(url.host):
            self._check_speaks_tls(request)
        return self._transport(url.scheme).handle_request(request)

    def _check_speaks_tls(self, request: httpx.Request) -> None:
        """Raise what the real connection would if the loopback server does not speak TLS."""
        address = (request.url.host, request.url.port or 443)
        if address in self._speaks_tls:
            return
        timeouts = request.extensions.get("timeout", {})
        probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # Only asks "is this TLS?": no request is sent on this connection, so nothing
        # depends on who the peer is; the request itself goes over a verified one.
        probe.check_hostname = False
        probe.verify_mode = ssl.CERT_NONE
        try:
            with (
                socket.create_connection(address, timeout=timeouts.get("connect")) as raw,
                probe.wrap_socket(raw, server_hostname=address[0]),
            ):
                pass
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:  # ssl.SSLError included: the server does not speak TLS
            raise httpx.ConnectError(str(exc), request=request) from exc
        with self._lock:
            self._speaks_tls.add(address)

    def close(self) -> None:
        """Close whichever pools were built."""
        with self._lock:
            for transport in (self._plain, self._tls):
                if transport is not None:
                    transport.close()
