"""Secrets never printed: every form a secret can take is masked before text leaves.

A secret travels in several encodings, and a registry, a token service or a lower
library (h11's ``Illegal header value b'Bearer ...'``) may quote any of them back: raw,
base64 inside ``Authorization: Basic``, percent-encoded in a URL's user-info, path or
query, escaped inside a JSON string. :func:`mask` replaces each of these forms of
every secret polyarch has seen in this process (:func:`remember`: explicit passwords,
resolved credentials, tokens received) with ``***``.

Where text leaves, it goes through :func:`mask`: error messages built by the transport
layer, and every log record (:class:`MaskingFilter`, installed on the handler the CLI
adds and on polyarch's own loggers).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

import httpx

__all__ = ["MaskingFilter", "forms", "mask", "remember", "request_secrets"]

#: Secrets shorter than this are not masked: "***" replacing every "a" helps no one.
MIN_SECRET = 3

_lock = threading.Lock()
_secrets: set[str] = set()
_forms: list[str] = []


def forms(secret: str) -> set[str]:
    """The encodings of ``secret`` that may appear in text (itself included)."""
    found = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    found.add(json.dumps(secret)[1:-1])  # escaped inside a JSON string
    found.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    found.add(repr(secret.encode())[2:-1])  # inside a bytes repr: b'...'
    found.add(base64.b64encode(secret.encode()).decode("ascii"))
    return {form for form in found if len(form) >= MIN_SECRET}


def remember(*secrets: str | None) -> None:
    """Mask these secrets (and their encodings) in everything polyarch prints from now on.

    A ``user:password`` pair is remembered by its password and its ``Basic`` base64.
    """
    with _lock:
        added = False
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET and secret not in _secrets:
                _secrets.add(secret)
                added = True
        if added:
            every = set().union(*(forms(s) for s in _secrets))
            # Longest first: a form that contains another is replaced whole.
            _forms[:] = sorted(every, key=len, reverse=True)


def remember_basic(username: str, password: str) -> None:
    """Remember a password and the base64 of ``username:password`` (a Basic header)."""
    remember(password, base64.b64encode(f"{username}:{password}".encode()).decode("ascii"))


def mask(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every remembered secret (and each of ``extra``) masked in every form."""
    with _lock:
        known = list(_forms)
    more = [form for secret in extra if len(secret or "") >= MIN_SECRET for form in forms(secret)]
    for form in sorted(more, key=len, reverse=True) + known:
        if form in text:
            text = text.replace(form, "***")
    return text


class MaskingFilter(logging.Filter):
    """A logging filter that masks secrets in the message and in the formatted traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask ``record`` in place; always keep it."""
        with contextlib.suppress(Exception):
            record.msg = mask(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = mask(record.exc_text)
        return True


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
            with contextlib.suppress(ValueError, binascii.Error, UnicodeDecodeError):
                secrets.append(base64.b64decode(value).decode().partition(":")[2])
    return secrets


# Records of polyarch's transport and storage loggers are masked even without the CLI's
# handler (a library user's own handler): a filter on a logger applies to its records.
for _name in ("polyarch", "polyarch.transport", "polyarch.storage"):
    logging.getLogger(_name).addFilter(MaskingFilter())
