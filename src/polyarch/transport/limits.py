"""How much of an answer polyarch reads: a cap on every response body it keeps in memory.

A registry, a token service or something between them can answer with a body that
never ends (issue 25: 1 GiB of RSS in under 2 s from an endless tag-list page). Every
body polyarch reads into memory therefore has a cap suited to what it is, set on the
request (:class:`BodyLimit`, carried in the request's extensions so that the token
requests the auth flow sends get theirs) and enforced while the body is read
(:class:`CappedStream`, attached by the client's response hook to every response):

* a body polyarch **uses** (a token answer, a tag-list page, a referrers page) is read up
  to its cap: a ``Content-Length`` over it is refused before a byte is read, more bytes
  than the cap end the read; either is :class:`~polyarch.errors.BodyTooLarge`, final
  (never retried: the same server would send the same);
* a body polyarch has **no use for** (the answer to an upload, a mount, a manifest
  ``PUT``, a ``DELETE``, the ``/v2/`` ping; every error, redirect and ``401`` answer) is
  drained up to :data:`DRAIN_LIMIT` (so a small one leaves the connection reusable),
  then the connection is closed: nothing more is read, and nothing fails;
* a body the caller **streams** (a blob, a manifest) is bounded by its reader: a blob by
  its descriptor's size (:class:`~polyarch.storage.stream.VerifyingStream`), a manifest
  by the 4 MiB cap (:data:`~polyarch.domain.manifest.MAX_MANIFEST_SIZE`).

docs/guarantees.md ("Every body has a bound") shows the same table, with the caps that
live beside their readers (manifests, configs, ``index.json``, credential helpers, the
engine's output).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import httpx

from polyarch.domain.document import ascii_int
from polyarch.errors import BodyTooLarge

__all__ = [
    "BODY_LIMIT_EXTENSION",
    "DRAIN",
    "DRAIN_LIMIT",
    "REFERRERS_PAGE_LIMIT",
    "TAG_PAGE_LIMIT",
    "TOKEN_LIMIT",
    "BodyLimit",
    "CappedStream",
    "cap_body",
]

_MIB: Final = 1024 * 1024

#: A body polyarch has no use for: read this much at most (an error body is parsed from
#: this much too), then the connection is closed.
DRAIN_LIMIT: Final = 64 * 1024
#: A token service's answer: a JSON object with a token (a JWT of a few KiB; 1 MiB is far
#: above any real one).
TOKEN_LIMIT: Final = 1 * _MIB
#: One page of a tag list: 1,000 tags (the page size asked for) of up to 128 characters
#: are about 130 KiB; a registry that ignores ``n`` and sends every tag at once gets 16
#: MiB (about 120,000 tags of 128 characters, far more of real ones).
TAG_PAGE_LIMIT: Final = 16 * _MIB
#: One page of the referrers API: an image index, capped as every manifest is (4 MiB).
REFERRERS_PAGE_LIMIT: Final = 4 * _MIB

#: The request extension holding its :class:`BodyLimit` (or :data:`DRAIN`).
BODY_LIMIT_EXTENSION: Final = "polyarch_body_limit"


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """The cap on one request's answer: ``limit`` bytes of ``kind`` (for the message),
    the request named ``what`` in errors."""

    limit: int
    kind: str
    what: str


#: The extension value of a request whose answer's body is not used: drained.
DRAIN: Final = "drain"


def _size(limit: int) -> str:
    return f"{limit // _MIB} MiB" if limit % _MIB == 0 else f"{limit // 1024} KiB"


class CappedStream(httpx.SyncByteStream):
    """``stream`` read up to ``limit`` bytes: past it, :class:`BodyTooLarge` (``cap``) or
    the end of the body as far as the reader is concerned (``cap`` None: drained)."""

    def __init__(
        self,
        stream: httpx.SyncByteStream,
        *,
        limit: int,
        cap: BodyLimit | None,
        length: int | None,
    ) -> None:
        self._stream = stream
        self._limit = limit
        self._cap = cap
        self._length = length

    def _too_large(self) -> BodyTooLarge:
        assert self._cap is not None
        announced = f" ({self._length} bytes announced)" if self._length is not None else ""
        return BodyTooLarge(
            f"{self._cap.what}: the answer is larger than the {_size(self._cap.limit)} "
            f"polyarch reads for {self._cap.kind}{announced}",
            hint="the server, or a proxy in front of it, sends an answer without end: "
            "report it to its operator",
        )

    def __iter__(self) -> Iterator[bytes]:
        if self._cap is not None and self._length is not None and self._length > self._limit:
            raise self._too_large()  # refused before a byte of it is read
        taken = 0
        for chunk in self._stream:
            if taken + len(chunk) > self._limit:
                if self._cap is not None:
                    raise self._too_large()
                yield chunk[: self._limit - taken]
                return  # drained: the rest stays unread, the connection is closed
            taken += len(chunk)
            yield chunk

    def close(self) -> None:
        """Close the wrapped stream (an unread rest closes the connection)."""
        self._stream.close()


def cap_body(response: httpx.Response) -> None:
    """Attach the cap its request asked for to ``response``'s body (not read yet).

    A success answer gets its request's :class:`BodyLimit`, or is drained when the request
    said :data:`DRAIN`; a streamed success answer without either is the caller's to bound.
    Every other answer (error, redirect, ``401``) is drained.
    """
    wanted = response.request.extensions.get(BODY_LIMIT_EXTENSION)
    length = ascii_int(response.headers.get("Content-Length"))
    if response.is_success and isinstance(wanted, BodyLimit):
        limit, cap = wanted.limit, wanted
    elif not response.is_success or wanted == DRAIN:
        limit, cap = DRAIN_LIMIT, None
    else:
        return
    response.stream = CappedStream(
        response.stream,  # type: ignore[arg-type]
        limit=limit,
        cap=cap,
        length=length,
    )
