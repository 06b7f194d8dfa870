"""The transport layer: HTTP to registries, with auth, retries, TLS choices and error mapping.

Everything above this package (storage, copy, CLI) talks to registries through
:class:`RegistryClient`; nothing here knows about manifests or images. The layer imports
only :mod:`polyarch.errors`, :mod:`polyarch.digest` and the version from polyarch, so it
can be tested (and reused) on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyarch._lazy import lazy_exports

if TYPE_CHECKING:
    from polyarch.transport.auth import (
        RegistryAuth,
        scopes_for,
    )
    from polyarch.transport.challenge import (
        Challenge,
        parse_challenges,
    )
    from polyarch.transport.client import (
        RegistryClient,
        TransportStats,
    )
    from polyarch.transport.credentials import (
        Credential,
        CredentialResolver,
    )
    from polyarch.transport.errors import (
        error_from_response,
    )
    from polyarch.transport.retry import (
        RetryPolicy,
        parse_retry_after,
    )
    from polyarch.transport.settings import (
        TransportSettings,
    )

__all__ = [
    "Challenge",
    "Credential",
    "CredentialResolver",
    "RegistryAuth",
    "RegistryClient",
    "RetryPolicy",
    "TransportSettings",
    "TransportStats",
    "error_from_response",
    "parse_challenges",
    "parse_retry_after",
    "scopes_for",
]

# Imported on first use (see polyarch._lazy): a command loads only what it needs.
__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "polyarch.transport.auth": ("RegistryAuth", "scopes_for"),
        "polyarch.transport.challenge": ("Challenge", "parse_challenges"),
        "polyarch.transport.client": ("RegistryClient", "TransportStats"),
        "polyarch.transport.credentials": ("Credential", "CredentialResolver"),
        "polyarch.transport.errors": ("error_from_response",),
        "polyarch.transport.retry": ("RetryPolicy", "parse_retry_after"),
        "polyarch.transport.settings": ("TransportSettings",),
    },
)
