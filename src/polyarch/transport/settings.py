"""Transport settings: the one object that carries user choices down to the HTTP layer.

The CLI builds a :class:`TransportSettings` from flags and the environment; the library
never reads argv or the environment itself (except through :meth:`TransportSettings.from_env`),
so tests build settings directly.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from polyarch._version import __version__
from polyarch.domain.document import ascii_int
from polyarch.errors import InvalidInput
from polyarch.transport.retry import RetryPolicy

__all__ = [
    "DEFAULT_TIMEOUT",
    "TransportSettings",
    "default_user_agent",
    "is_loopback",
    "parse_timeout",
    "split_host",
]

#: Seconds for connecting, each read and write, and the progress window of bodies.
DEFAULT_TIMEOUT = 30.0


def default_user_agent() -> str:
    """``polyarch/<version>``."""
    return f"polyarch/{__version__}"


@dataclass(frozen=True)
class TransportSettings:
    """How to reach registries: TLS trust, insecure hosts, explicit credentials, timeouts, retries.

    ``insecure`` holds registry hosts (``host:port`` or ``host``) the user named insecure:
    polyarch talks TLS to them without verifying the certificate, or plain HTTP if they do
    not speak TLS. ``username``/``password`` are explicit credentials (flags or
    ``POLYARCH_USERNAME``/``POLYARCH_PASSWORD``) used for every registry; the password is
    kept out of ``repr``. Credentials that are not UTF-8 text are :class:`InvalidInput`.

    Time bounds (all in seconds; see docs/guarantees.md):

    * ``timeout`` (default 30; ``--timeout`` or ``POLYARCH_TIMEOUT``): connecting, each
      socket read and write, and the progress window of response bodies: every
      ``timeout`` seconds a body must deliver ``min_speed * timeout`` bytes or end;
    * ``min_speed`` (default 1024 bytes/s): the slowest body still accepted;
    * ``retry.max_total`` (default 60): retries of one request stop after this long;
    * ``retry_budget`` (default 120): what all requests of one client (one operation)
      may spend together on failed attempts and the waits between them; once spent,
      nothing is retried any more and the first failure is final.

    >>> TransportSettings(username="me", password="s3cret")  # doctest: +ELLIPSIS
    TransportSettings(insecure=frozenset(), ca_file=None, username='me', timeout=30.0, ...)
    """

    insecure: frozenset[str] = frozenset()
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    min_speed: float = 1024.0
    retry_budget: float = 120.0
    user_agent: str = field(default_factory=default_user_agent)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        # Accept any iterable of hosts (a list from argparse/click) and normalise case.
        hosts: Iterable[str] = self.insecure
        object.__setattr__(self, "insecure", frozenset(h.strip().lower() for h in hosts if h))
        for host in self.insecure:
            name, port = split_host(host)
            if port is None and ":" in name.strip("[]") and not name.startswith("["):
                # A port that is not ASCII digits ("127.0.0.1:¹"): no registry is there.
                raise InvalidInput(
                    f"insecure registry {host!r}: not host[:port] (a port is ASCII digits)",
                    parameter="insecure",
                )
        for name, value in (("user name", self.username), ("password", self.password)):
            try:
                if value is not None:
                    value.encode()
            except UnicodeEncodeError:
                # Bytes that were not UTF-8 (argv, environment, stdin): no header could
                # carry them, and the codec's message would quote part of the secret.
                raise InvalidInput(f"the registry {name} is not valid UTF-8 text") from None
        if not (isinstance(self.timeout, int | float) and 0 < self.timeout < 86400):
            raise InvalidInput(
                f"timeout {self.timeout!r}: must be a number of seconds above 0 and below 86400"
            )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] = os.environ, **overrides: Any
    ) -> TransportSettings:
        """Settings from ``POLYARCH_USERNAME``/``POLYARCH_PASSWORD``/``POLYARCH_TIMEOUT``,
        then ``overrides``.

        An override whose value is ``None`` is ignored, so a CLI can pass its optional
        flags straight through and an unset flag leaves the environment's value in place.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown TransportSettings fields: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        username = environ.get("POLYARCH_USERNAME")
        password = environ.get("POLYARCH_PASSWORD")
        if username:
            values["username"] = username
        if password:
            values["password"] = password
        timeout = environ.get("POLYARCH_TIMEOUT")
        if timeout:
            values["timeout"] = parse_timeout(timeout, "POLYARCH_TIMEOUT")
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "insecure" in values:
            values["insecure"] = frozenset(values["insecure"])
        return cls(**values)

    def is_insecure(self, host: str) -> bool:
        """Whether ``host`` (``host:port`` or ``host``) was named insecure, with or without port."""
        host = host.lower()
        return host in self.insecure or split_host(host)[0] in self.insecure


def parse_timeout(text: str, source: str = "--timeout") -> float:
    """Seconds from ``text`` (``"30"``, ``"2.5"``); :class:`InvalidInput` naming ``source``.

    >>> parse_timeout("2.5")
    2.5
    """
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 86400:
        raise InvalidInput(
            f"{source} {text!r}: must be a number of seconds above 0 and below 86400",
            hint="for example 30 (seconds)",
            parameter="timeout",
        )
    return value


def split_host(netloc: str) -> tuple[str, int | None]:
    """Split ``host:port`` (``[::1]:5000`` for IPv6) into the host and the port (or ``None``)."""
    if netloc.startswith("["):
        end = netloc.find("]")
        if end != -1:
            host, rest = netloc[: end + 1], netloc[end + 1 :]
            port = rest[1:] if rest.startswith(":") else ""
            return host, ascii_int(port)
    host, sep, port = netloc.rpartition(":")
    number = ascii_int(port)
    if sep and number is not None and ":" not in host:
        return host, number
    return netloc, None


def is_loopback(netloc: str) -> bool:
    """Whether ``netloc``'s host is ``localhost``, in ``127.0.0.0/8`` or ``::1`` (port ignored)."""
    host = split_host(netloc.lower())[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
