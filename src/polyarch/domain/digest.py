"""Content digests: parse, validate, compute, and hash while streaming.

A :class:`Digest` is a ``str`` (``"sha256:<64 hex>"``) that is known to be valid, so it
drops straight into JSON and compares with plain strings.

>>> d = Digest.of(b"{}")
>>> d
Digest('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a')
>>> d.algorithm, len(d.hex)
('sha256', 64)
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from polyarch.errors import DigestMismatch, InvalidDigest

__all__ = ["ALGORITHMS", "Digest", "Hasher"]

#: Supported algorithms and the length of their hex encoding.
ALGORITHMS: Final[dict[str, int]] = {"sha256": 64, "sha512": 128}

_ALGORITHM_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$")
_ENCODED_RE = re.compile(r"^[a-zA-Z0-9=_-]+$")
_HEX_RE = re.compile(r"^[a-f0-9]+$")


class Digest(str):
    """A validated content digest such as ``sha256:4413...a8a``.

    Only ``sha256`` (64 lowercase hex) and ``sha512`` (128 lowercase hex) are accepted,
    as in ``opencontainers/go-digest``. Anything else raises :class:`InvalidDigest`.

    >>> Digest("sha256:" + "a" * 64).hex == "a" * 64
    True
    """

    __slots__ = ()

    def __new__(cls, text: str) -> Digest:
        if isinstance(text, Digest):
            return text
        cls._validate(text)
        return super().__new__(cls, text)

    @staticmethod
    def _validate(text: object) -> None:
        if not isinstance(text, str):
            raise InvalidDigest(f"invalid digest {text!r}: not a string")
        algorithm, sep, encoded = text.partition(":")
        if not sep or not algorithm or not encoded:
            raise InvalidDigest(f"invalid digest {text!r}: expected ALGORITHM:HEX")
        if not _ALGORITHM_RE.match(algorithm) or not _ENCODED_RE.match(encoded):
            raise InvalidDigest(f"invalid digest {text!r}: bad characters")
        expected = ALGORITHMS.get(algorithm)
        if expected is None:
            raise InvalidDigest(
                f"invalid digest {text!r}: unsupported algorithm {algorithm!r}",
                hint="use sha256 or sha512",
            )
        if len(encoded) != expected or not _HEX_RE.match(encoded):
            raise InvalidDigest(
                f"invalid digest {text!r}: {algorithm} needs {expected} lowercase hex digits"
            )

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Validate ``text`` and return it as a :class:`Digest`."""
        return cls(text)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of ``data``."""
        hasher = Hasher(algorithm)
        hasher.update(data)
        return hasher.digest()

    @property
    def algorithm(self) -> str:
        """``sha256`` or ``sha512``."""
        return self.partition(":")[0]

    @property
    def hex(self) -> str:
        """The hex-encoded part after the colon."""
        return self.partition(":")[2]

    @property
    def short(self) -> str:
        """A 12-digit abbreviation for display (``sha256:4413...``)."""
        return f"{self.algorithm}:{self.hex[:12]}"

    def verify(self, data: bytes, *, what: str = "content") -> None:
        """Raise :class:`DigestMismatch` unless ``data`` hashes to this digest."""
        actual = Digest.of(data, self.algorithm)
        if actual != self:
            raise DigestMismatch(f"{what} hashes to {actual}, expected {self}")

    def __repr__(self) -> str:
        return f"Digest({str(self)!r})"


class Hasher:
    """Incremental digest computation, for hashing a stream chunk by chunk.

    >>> h = Hasher()
    >>> h.update(b"{")
    >>> h.update(b"}")
    >>> h.digest() == Digest.of(b"{}"), h.size
    (True, 2)
    """

    def __init__(self, algorithm: str = "sha256") -> None:
        if algorithm not in ALGORITHMS:
            raise InvalidDigest(f"unsupported digest algorithm {algorithm!r}")
        self.algorithm = algorithm
        self._hash = hashlib.new(algorithm)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        """Add ``chunk`` to the running hash."""
        self._hash.update(chunk)
        self.size += len(chunk)

    def digest(self) -> Digest:
        """The digest of everything seen so far."""
        return Digest(f"{self.algorithm}:{self._hash.hexdigest()}")
