"""The secrets a message must not repeat, gathered from the credentials in play.

Registries and token services may echo what they were sent (a password, a token, the
base64 of a ``Basic`` header) in their error messages; whatever polyarch reports is
masked first.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterable

import httpx

__all__ = ["request_secrets"]


def request_secrets(known: Iterable[str], request: httpx.Request) -> list[str]:
    """``known`` secrets plus those ``request`` carried in its ``Authorization`` header.

    For ``Basic``, both the base64 value and the password inside it; for ``Bearer``, the
    token.
    """
    secrets = [secret for secret in known if secret]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if value:
        secrets.append(value)  # the token, or user:password in base64
        if scheme.lower() == "basic":
            with contextlib.suppress(ValueError):
                secrets.append(base64.b64decode(value).decode().partition(":")[2])
    return secrets
