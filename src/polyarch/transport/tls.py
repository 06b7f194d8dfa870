"""TLS trust for the one HTTP client: the CA file the user named, and insecure registries.

HTTPS with certificate verification by default. ``--ca-file`` adds a CA to the default
roots (it does not replace them: one client serves every registry, and Docker Hub must
keep working next to a private registry). A registry named ``--insecure`` gets TLS
without verification (plain HTTP is tried when it does not speak TLS at all).
"""

from __future__ import annotations

import ssl

import httpx

from polyarch.errors import TransportError
from polyarch.transport.settings import TransportSettings

__all__ = ["insecure_mounts", "verify_context"]


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
