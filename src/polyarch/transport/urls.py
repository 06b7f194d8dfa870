"""Where requests go: the base URL of each registry, and which URLs it may hand out.

A registry is reached over ``https`` by default. An insecure or loopback registry that
does not speak TLS is reached over plain ``http``: the choice is made once, on the first
failed handshake, and kept for the client's lifetime. URLs a registry hands out (upload
``Location``, ``Link`` next pages) are accepted only on that registry's own host and
scheme, so credentials and upload bodies go only where the user pointed polyarch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import httpx

from polyarch.errors import InvalidInput, TransportError
from polyarch.transport.auth.credentials import canonical_registry
from polyarch.transport.errors import (
    is_not_tls,
    is_tls_failure,
    looks_like_certificate_error,
    one_line,
)
from polyarch.transport.settings import TransportSettings, is_loopback, split_host

__all__ = ["DOCKER_HUB_HOST", "TLS_PROBE_TIMEOUT", "Endpoints", "append_query", "safe_url"]

logger = logging.getLogger("polyarch.transport")

#: Where Docker Hub's registry API lives (``docker.io`` is only a name).
DOCKER_HUB_HOST = "registry-1.docker.io"
#: Seconds for the TLS handshake of a loopback registry whose scheme is not known yet.
TLS_PROBE_TIMEOUT = 3.0


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


def safe_url(url: httpx.URL) -> str:
    """The URL for logs and messages: no userinfo, no query string, no fragment."""
    return str(url.copy_with(query=None, fragment=None, username=None, password=None))


class Endpoints:
    """The scheme decided for each registry, and the hosts this client was pointed at."""

    def __init__(self, settings: TransportSettings) -> None:
        self._settings = settings
        # Registry (lowercased as given) -> "https" or "http", once decided.
        self._schemes: dict[str, str] = {}
        # host:port of every base URL handed out -> the registry name (for resolve).
        self._registry_of_host: dict[str, str] = {}

    def base_url(self, registry: str) -> str:
        """``https://host`` (or ``http://host`` once decided) for ``registry``.

        ``docker.io`` (and its aliases) maps to ``https://registry-1.docker.io``. A port
        outside 1-65535 is :class:`~polyarch.errors.InvalidInput`, before any connection.
        """
        key = registry.lower()
        if canonical_registry(key) == "docker.io":
            host = DOCKER_HUB_HOST
            scheme = "https"
        else:
            host = key
            scheme = self._schemes.get(key, "https")
            port = split_host(key)[1]
            if port is not None and not 0 < port < 65536:
                # The reference grammar takes any digits; the socket layer would wrap the
                # number around and connect to some other port.
                raise InvalidInput(
                    f"registry {registry}: port {port} is not between 1 and 65535",
                    hint="check the registry address",
                )
        self._registry_of_host.setdefault(host, registry)
        return f"{scheme}://{host}"

    def resolve(self, method: str, url: str, registry: str | None) -> tuple[str, httpx.URL]:
        """The registry and the absolute URL for a ``url`` a registry handed out.

        Relative URLs need ``registry``; absolute ones must be on ``registry`` (or on a
        registry this client already addressed) and never downgrade https to http.
        Raises :class:`~polyarch.errors.TransportError` otherwise.
        """
        base: httpx.URL | None = None
        if registry is not None:
            base = httpx.URL(self.base_url(registry))
        try:
            target = httpx.URL(url)
            if target.is_relative_url:
                if base is None:
                    raise TransportError(
                        f"{method} {one_line(url, 100)}: a relative URL needs the registry"
                    )
                target = base.join(url)
        except httpx.InvalidURL as exc:
            raise TransportError(f"{method}: invalid URL from the registry ({exc})") from None
        netloc = target.netloc.decode("ascii").lower()
        if registry is None:
            found = self._registry_of_host.get(netloc)
            if found is None:
                raise TransportError(
                    f"{method} {safe_url(target)}: refusing a URL on {netloc}, "
                    "a host this client has not been pointed at"
                )
            registry = found
            base = httpx.URL(self.base_url(registry))
        assert base is not None
        if netloc != base.netloc.decode("ascii").lower():
            raise TransportError(
                f"{method} {safe_url(target)}: refusing a URL on {netloc}, "
                f"outside the registry {registry}",
                hint="the registry handed out a Location on another host",
            )
        if target.scheme != base.scheme:
            if target.scheme == "http" and base.scheme == "https":
                raise TransportError(
                    f"{method} {safe_url(target)}: refusing to downgrade {registry} "
                    "from https to plain http"
                )
            target = target.copy_with(scheme=base.scheme)
        return registry, target

    def timeout_for(self, registry: str, url: httpx.URL) -> dict[str, float | None]:
        """A request's timeouts (httpx's extension dict): short for a loopback TLS probe.

        A loopback TCP connect is immediate, so a TLS handshake that does not finish
        within :data:`TLS_PROBE_TIMEOUT` means a server that will never speak TLS; the
        client then falls back to plain HTTP instead of waiting the full timeout.
        """
        timeout = self._settings.timeout
        connect = timeout
        if url.scheme == "https" and self.probing(registry):
            connect = min(timeout, TLS_PROBE_TIMEOUT)
        return httpx.Timeout(timeout, connect=connect).as_dict()

    def may_fall_back(self, registry: str) -> bool:
        """Whether ``registry`` may be reached over plain HTTP if it does not speak TLS."""
        key = registry.lower()
        if self._schemes.get(key) == "http":
            # Another request (a concurrent thread) sent https before this one found out,
            # and already decided on plain HTTP: this request follows the decision.
            return True
        if key in self._schemes or canonical_registry(key) == "docker.io":
            return False
        return self._settings.is_insecure(key) or is_loopback(key)

    def probing(self, registry: str) -> bool:
        """Whether the next https request to ``registry`` probes a loopback server for TLS."""
        key = registry.lower()
        return key not in self._schemes and is_loopback(key) and self.may_fall_back(key)

    def fall_back(self, registry: str, exc: httpx.ConnectError | httpx.ConnectTimeout) -> bool:
        """Decide on plain HTTP after a failed TLS handshake, if this registry allows it.

        Nothing was sent yet (the handshake failed while connecting), so the same request
        can go to ``http://`` without a wasted exchange. A connect timeout counts as a
        handshake that never finishes only for a loopback registry, whose TCP connect is
        immediate: a server that accepts and then waits for a plain-HTTP request line.
        """
        if not self.may_fall_back(registry):
            return False
        if isinstance(exc, httpx.ConnectTimeout):
            if self.probing(registry):
                logger.info("%s did not finish a TLS handshake in time; using plain http", registry)
                self._schemes[registry.lower()] = "http"
                return True
            return False
        insecure = self._settings.is_insecure(registry.lower())
        # A loopback registry falls back only when the server does not speak TLS at all;
        # a certificate problem must be reported, not silently downgraded.
        if is_not_tls(exc) or (
            insecure and is_tls_failure(exc) and not looks_like_certificate_error(exc)
        ):
            logger.debug("%s does not speak TLS; using plain http", registry)
            self._schemes[registry.lower()] = "http"
            return True
        return False

    def decided(self, registry: str, url: httpx.URL) -> None:
        """Record the scheme of a request to ``registry`` that got an answer."""
        key = registry.lower()
        if key not in self._schemes and canonical_registry(key) != "docker.io":
            self._schemes[key] = url.scheme
