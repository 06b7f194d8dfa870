"""A loopback proxy in front of a real registry or token service that holds chosen requests
or answers them with a body that never ends, for what a real registry cannot be made to do.

What it imitates, each seen in the field or in issue 25's probes:

* a slow network or a loaded registry: a request (an upload ``PATCH``, a blob ``GET``, a
  manifest ``GET``) that gets no answer until the test says so (:class:`Hold`), so that a
  test can interrupt a command while it is provably in the middle of its work;
* a connection that drops after the registry acted: the request is forwarded, the
  registry does what it asks, and its answer is lost (:class:`Lose`, a TCP reset instead
  of the answer), as a load balancer that times out or a network that fails may do;
* a hostile or broken registry or token service: the real answer's status and headers, then
  a body that never ends (:class:`Endless`), on the answers a client reads into memory (a
  token, a tag-list page, a referrers page, an upload ``POST``/``PATCH``/``PUT`` answer, a
  manifest ``PUT`` answer, a ``DELETE`` answer, the ``/v2/`` ping). The request itself is
  forwarded first, so the registry's state changes exactly as it would have.

Every request is shown to ``rule`` (a :class:`Seen`); the :class:`Action` it returns
decides, ``None`` forwards the request and streams both bodies unchanged. ``Location``
headers pointing at the upstream are rewritten to the proxy (upload sessions keep coming
here), and ``rewrite`` maps other strings in response headers (a token realm to another
proxy). Every response carries ``Connection: close``.

An endless body stops when the client hangs up (:attr:`TamperProxy.streamed` counts what
was written) or, at the latest, at ``limit`` bytes (:attr:`TamperProxy.exhausted` counts
those): a client that never stops reading fails its test instead of filling the machine.

A :class:`support.faultproxy.FaultProxy` that injects no fault: its lifecycle, its answer to
a TLS ``ClientHello`` (polyarch probes ``https`` first on loopback) and its ``Location``
rewriting are the fault proxy's.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import parse_qsl, urlsplit

from support.faultproxy import (
    _HOP,
    CHUNK,
    FaultProxy,
    _body,
    _frame,
    _read_request,
    _Request,
    _Reset,
    send_head,
)

__all__ = ["ENDLESS_LIMIT", "Action", "Endless", "Hold", "Lose", "Seen", "TamperProxy"]

#: An endless body stops here whatever the client does (far above any sensible cap).
ENDLESS_LIMIT = 256 * 1024 * 1024


@dataclass(frozen=True)
class Seen:
    """One request as the proxy received it (header names lowercased)."""

    #: Arrival order, from 1.
    number: int
    method: str
    #: The path without the query string.
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]

    def param(self, name: str) -> str | None:
        """The last value of query parameter ``name``, or None."""
        values = [value for key, value in self.query if key == name]
        return values[-1] if values else None


class Action:
    """What to do with one request (see the subclasses)."""


@dataclass(frozen=True)
class Hold(Action):
    """Forward the request only once :meth:`TamperProxy.release` is called."""


@dataclass(frozen=True)
class Endless(Action):
    """Forward the request; answer with the upstream's status and headers, then a body
    of ``prefix`` and ``filler`` repeated for ever (chunked, or under a lying
    ``Content-Length: length`` when ``length`` is given)."""

    filler: bytes = b" "
    prefix: bytes = b""
    length: int | None = None


@dataclass(frozen=True)
class Lose(Action):
    """Forward the request (the registry acts on it) and reset the connection instead of
    answering: the client cannot know whether it was done."""


Rule = Callable[[Seen], Action | None]


@dataclass
class _State:
    seen: list[Seen] = field(default_factory=list)
    held: int = 0
    streamed: int = 0
    exhausted: int = 0


class TamperProxy(FaultProxy):
    """A threaded proxy on ``127.0.0.1`` in front of ``upstream`` (``host:port``).

    >>> proxy = TamperProxy("127.0.0.1:5000", lambda seen: None)
    >>> proxy.limit == ENDLESS_LIMIT
    True
    """

    def __init__(
        self,
        upstream: str,
        rule: Rule | None = None,
        *,
        rewrite: Mapping[str, str] | None = None,
        limit: int = ENDLESS_LIMIT,
        hold_limit: float = 120,
    ) -> None:
        super().__init__(upstream)
        self.rule = rule
        self.rewrite = dict(rewrite or {})
        self.limit = limit
        self.hold_limit = hold_limit
        self._state = _State()
        self._changed = threading.Condition()
        self._released = threading.Event()

    # -- records -------------------------------------------------------------------------

    @property
    def seen(self) -> list[Seen]:
        """Every request received, in arrival order."""
        with self._changed:
            return list(self._state.seen)

    @property
    def held(self) -> int:
        """Requests held right now."""
        with self._changed:
            return self._state.held

    @property
    def streamed(self) -> int:
        """Bytes of endless bodies written so far."""
        with self._changed:
            return self._state.streamed

    @property
    def exhausted(self) -> int:
        """Endless bodies that reached ``limit`` (the client never stopped reading)."""
        with self._changed:
            return self._state.exhausted

    def wait_held(self, count: int, timeout: float = 60) -> bool:
        """Wait until ``count`` requests are held at once; False when ``timeout`` passed."""
        with self._changed:
            return self._changed.wait_for(lambda: self._state.held >= count, timeout)

    def release(self) -> None:
        """Let every held request (and every later one the rule holds) go on."""
        self._released.set()

    def stop(self) -> None:
        """Release held requests and stop serving."""
        self.release()
        super().stop()

    # -- one request (the fault proxy's connection handling calls this) -----------------------

    def _serve_one(self, sock: socket.socket, rfile: BinaryIO) -> None:
        request = _read_request(rfile)
        if request is None:
            return
        parts = urlsplit(request.target)
        with self._changed:
            seen = Seen(
                len(self._state.seen) + 1,
                request.method,
                parts.path,
                tuple(parse_qsl(parts.query, keep_blank_values=True)),
                {k.lower(): v for k, v in request.headers},
            )
            self._state.seen.append(seen)
            self._changed.notify_all()
        action = self.rule(seen) if self.rule is not None else None
        if isinstance(action, Hold):
            self._hold()
        upstream = http.client.HTTPConnection(*self._upstream_addr, timeout=60)
        try:
            self._forward(upstream, request, rfile)
            response = upstream.getresponse()
            if isinstance(action, Lose):
                while response.read(CHUNK):  # the registry's answer, never shown
                    pass
                raise _Reset("answer lost")
            if isinstance(action, Endless):
                self._endless(sock, response, action)
            else:
                self._relay(sock, request, response)
        finally:
            upstream.close()

    def _hold(self) -> None:
        with self._changed:
            self._state.held += 1
            self._changed.notify_all()
        try:
            self._released.wait(self.hold_limit)
        finally:
            with self._changed:
                self._state.held -= 1
                self._changed.notify_all()

    def _forward(
        self, upstream: http.client.HTTPConnection, request: _Request, rfile: BinaryIO
    ) -> None:
        send_head(upstream, request, self.upstream)
        if not request.has_body:
            return
        for data in _body(rfile, request):
            upstream.send(_frame(data) if request.chunked else data)
        if request.chunked:
            upstream.send(b"0\r\n\r\n")

    def _rewritten(self, head: str) -> bytes:
        for old, new in self.rewrite.items():
            head = head.replace(old, new)
        return head.encode("latin-1")

    def _response_head(self, response: http.client.HTTPResponse, length: int | None) -> bytes:
        """The fault proxy's head (``Location`` rewritten), then ``rewrite`` applied."""
        return self._rewritten(super()._response_head(response, length).decode("latin-1"))

    def _relay(
        self, sock: socket.socket, request: _Request, response: http.client.HTTPResponse
    ) -> None:
        with_body = request.method != "HEAD" and response.status not in (204, 304)
        buffered = response.read() if with_body and response.length is None else None
        length = len(buffered) if buffered is not None else response.length or 0
        sock.sendall(self._response_head(response, length if with_body else None))
        if buffered is not None:
            sock.sendall(buffered)
            return
        while with_body:
            data = response.read(CHUNK)
            if not data:
                break
            sock.sendall(data)

    def _endless(
        self, sock: socket.socket, response: http.client.HTTPResponse, action: Endless
    ) -> None:
        while response.read(CHUNK):  # the real body, never shown
            pass
        lines = [f"HTTP/1.1 {response.status} {response.reason}"]
        for name, value in response.getheaders():
            if name.lower() not in _HOP and name.lower() != "content-length":
                shown = self._rewrite_location(value) if name.lower() == "location" else value
                lines.append(f"{name}: {shown}")
        framed = action.length is None
        lines.append("Transfer-Encoding: chunked" if framed else f"Content-Length: {action.length}")
        lines.append("Connection: close")
        sock.sendall(self._rewritten("\r\n".join(lines) + "\r\n\r\n"))
        piece = action.filler * max(1, CHUNK // max(1, len(action.filler)))
        sent = 0
        try:
            data = action.prefix or piece
            while sent < self.limit:
                sock.sendall(_frame(data) if framed else data)
                sent += len(data)
                data = piece
            with self._changed:
                self._state.exhausted += 1
        except OSError:
            pass  # the client hung up: what a client that caps a body does
        finally:
            with self._changed:
                self._state.streamed += sent
