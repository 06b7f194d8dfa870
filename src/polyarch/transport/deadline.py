"""A progress deadline for response bodies: a body that trickles is cut off.

httpx's read timeout bounds each socket read, so a server that sends one byte every few
seconds keeps a response alive for ever. :class:`ProgressStream` wraps a response body
and also requires progress: over every window of ``window`` seconds (the client's
timeout) at least ``min_speed * window`` bytes, unless the body ends first. Bodies that
arrive at any useful speed never notice it; a trickle fails within about two windows
(the window, plus the socket read timeout of the read that ends it).

This is curl's ``--speed-limit``/``--speed-time`` rule (libcurl
``CURLOPT_LOW_SPEED_LIMIT``/``CURLOPT_LOW_SPEED_TIME``), applied to every response
body polyarch reads: manifests, blobs, token responses, tag lists, error bodies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx

from polyarch.domain.document import ascii_int

__all__ = ["BodyTooSlow", "ProgressStream", "attach_deadline"]


class BodyTooSlow(httpx.ReadTimeout):
    """A response body that made too little progress (a :class:`httpx.ReadTimeout`)."""


class ProgressStream(httpx.SyncByteStream):
    """``stream`` with a progress deadline; raises :class:`BodyTooSlow` on a trickle.

    ``window`` in seconds, ``min_speed`` in bytes per second, ``length`` the announced
    ``Content-Length`` (if any: a body that reaches it is complete); ``request`` is attached to
    the exception (httpx errors carry their request); ``clock`` returns monotonic seconds.
    """

    def __init__(
        self,
        stream: httpx.SyncByteStream,
        request: httpx.Request,
        *,
        window: float,
        min_speed: float,
        length: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._request = request
        self._window = window
        self._min_bytes = min_speed * window
        self._clock = clock
        self._length = length

    def __iter__(self) -> Iterator[bytes]:
        length = self._length
        started = self._clock()
        received = total = 0
        for chunk in self._stream:
            received += len(chunk)
            total += len(chunk)
            now = self._clock()
            if now - started >= self._window:
                # A chunk that completes the announced length ends the body: never cut.
                if received < self._min_bytes and (length is None or total < length):
                    raise BodyTooSlow(
                        f"the response body made too little progress: {received} bytes in "
                        f"{now - started:.0f} s (at least {self._min_bytes:.0f} bytes per "
                        f"{self._window:g} s are required)",
                        request=self._request,
                    )
                started, received = now, 0
            yield chunk

    def close(self) -> None:
        """Close the wrapped stream."""
        self._stream.close()


def attach_deadline(
    response: httpx.Response,
    *,
    window: float,
    min_speed: float,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Wrap ``response``'s body (not read yet) in a :class:`ProgressStream`.

    Called from the client's response hook, so every body gets it: token responses the
    auth flow reads, error bodies, manifests, blobs.
    """
    length = response.headers.get("Content-Length", "")
    response.stream = ProgressStream(
        response.stream,  # type: ignore[arg-type]
        response.request,
        window=window,
        min_speed=min_speed,
        length=ascii_int(length),
        clock=clock,
    )
