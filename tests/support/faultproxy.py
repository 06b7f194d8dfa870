"""A fault-injecting HTTP proxy between polyarch and a real registry.

:class:`FaultProxy` listens on a free ``127.0.0.1`` port and forwards every request to
one upstream registry, streaming bodies both ways (a 1 GiB blob never sits in memory).
``Host`` is rewritten to the upstream, and ``Location`` headers that point at the
upstream (upload sessions) are rewritten to point at the proxy, so the client keeps
talking to the proxy. Every response carries ``Connection: close``: one request per
connection, so a fault on one connection never leaks into the next request.

Per request, a seeded PRNG decides whether to inject one fault (:class:`Fault`):

* ``500``/``502``/``503``: an error status (the request body is drained, nothing is
  forwarded: the registry never sees the request);
* ``429`` with ``Retry-After`` (``0`` by default, so tests do not wait);
* ``reset-before-response``: a TCP reset instead of a response; half the time the
  request was not forwarded, half the time it was and the response is lost (the
  registry acted, the client cannot know);
* ``reset-mid-body``: the status line, headers and part of the body, then a reset;
* ``reset-mid-upload``: part of the request body is read (and forwarded), then a reset;
* ``truncated-body``: ``Content-Length`` announces N bytes, fewer are sent, then a
  normal close;
* ``slow``: the response is delayed by a small bounded time (50 ms by default);
* ``corrupt-body`` (only when asked for): one byte of the response body flipped, as a
  broken or lying registry would serve it.

Decisions are reproducible even when requests run in parallel: the PRNG for a request
is seeded from the proxy's seed, the method, the path (upload-session ids and query
strings removed) and how many times that method and path were seen before. The proxy
records every injection (:attr:`FaultProxy.injected`, :meth:`FaultProxy.summary`) for
assertion messages, and counts every request it received.

A TLS ``ClientHello`` (polyarch probes ``https`` first, even on loopback) is answered
with a plain-HTTP 400, as Go's server does, so the client falls back to ``http``; the
probe is not a request and never gets a fault.
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import BinaryIO, Self, cast

__all__ = ["Fault", "FaultProxy", "Injection", "RequestInfo"]

#: Bytes moved per socket read/write.
CHUNK = 256 * 1024
#: Longest request line or header line accepted.
MAX_LINE = 64 * 1024
#: Hop-by-hop headers, never forwarded.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_UPLOAD_ID = re.compile(r"(/blobs/uploads/)[^/?]+")
_REPOSITORY = re.compile(r"^/v2/.+?/(manifests|blobs|tags)/")


class Fault(StrEnum):
    """One kind of injected fault."""

    ERROR_500 = "500"
    ERROR_502 = "502"
    ERROR_503 = "503"
    RATE_LIMIT = "429"
    RESET_BEFORE_RESPONSE = "reset-before-response"
    RESET_MID_BODY = "reset-mid-body"
    RESET_MID_UPLOAD = "reset-mid-upload"
    TRUNCATED_BODY = "truncated-body"
    SLOW = "slow"
    #: Not a network fault: one byte of the body flipped (a lying or broken registry).
    CORRUPT_BODY = "corrupt-body"


_STATUS_FAULTS = {
    Fault.ERROR_500: 500,
    Fault.ERROR_502: 502,
    Fault.ERROR_503: 503,
    Fault.RATE_LIMIT: 429,
}
#: Faults that need a response body to cut (never for HEAD).
_BODY_FAULTS = frozenset({Fault.RESET_MID_BODY, Fault.TRUNCATED_BODY})
_CUT_FAULTS = _BODY_FAULTS | {Fault.CORRUPT_BODY}


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the fault decision sees of a request."""

    method: str
    path: str
    has_body: bool
    #: How many requests with this method and (normalized) path came before this one.
    occurrence: int


@dataclass(frozen=True, slots=True)
class Injection:
    """One fault the proxy injected."""

    number: int
    fault: Fault
    method: str
    path: str
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"#{self.number} {self.fault} on {self.method} {self.path}{extra}"


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def chunked(self) -> bool:
        return "chunked" in (self.header("Transfer-Encoding") or "").lower()

    @property
    def length(self) -> int:
        value = self.header("Content-Length") or ""
        return int(value) if value.strip().isdigit() else 0

    @property
    def has_body(self) -> bool:
        return self.chunked or self.length > 0


class _Reset(Exception):
    """Raised inside a handler to end the connection with a TCP reset."""


def _normalized(target: str) -> str:
    """The path without repository name and upload-session id (both ``*``).

    Of the query only the blob a mount or a finishing ``PUT`` names is kept. A test that
    names its repositories with random ids still gets the same faults for the same seed.
    """
    raw, _, query = target.partition("?")
    path = _REPOSITORY.sub(r"/v2/*/\1/", _UPLOAD_ID.sub(r"\1*", raw))
    # A mount or a finishing PUT names its blob: keep it, so parallel uploads of
    # different blobs do not share a draw.
    kept = [p for p in query.split("&") if p.startswith(("mount=", "digest="))]
    return f"{path}?{'&'.join(kept)}" if kept else path


def _read_request(rfile: BinaryIO) -> _Request | None:
    line = rfile.readline(MAX_LINE)
    if not line or not line.strip():
        return None
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3:
        return None
    headers: list[tuple[str, str]] = []
    while True:
        raw = rfile.readline(MAX_LINE)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return _Request(parts[0].upper(), parts[1], headers)


def _body(rfile: BinaryIO, request: _Request) -> Iterator[bytes]:
    """The request body, de-chunked, in pieces of at most :data:`CHUNK` bytes."""

    def exactly(size: int) -> Iterator[bytes]:
        remaining = size
        while remaining:
            data = rfile.read(min(remaining, CHUNK))
            if not data:
                raise _Reset("client closed the connection mid-body")
            remaining -= len(data)
            yield data

    if request.chunked:
        while True:
            size_line = rfile.readline(MAX_LINE)
            if not size_line:
                raise _Reset("client closed the connection mid-body")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            yield from exactly(size)
            rfile.readline(MAX_LINE)  # the CRLF after the chunk
    elif request.length:
        yield from exactly(request.length)


class FaultProxy:
    """A threaded fault-injecting proxy in front of ``upstream`` (``host:port``).

    ``faults`` maps each :class:`Fault` to its probability per request (at most one
    fault is injected per request; kinds that cannot apply, like a cut body on a HEAD,
    are left out of the draw). ``force`` decides instead of the PRNG when it returns a
    fault (for targeted tests); it sees a :class:`RequestInfo`. Use as a context
    manager, or :meth:`start` and :meth:`stop`.

    >>> proxy = FaultProxy("127.0.0.1:5000", seed=1, faults={Fault.ERROR_503: 1.0})
    >>> proxy.decide(RequestInfo("GET", "/v2/", False, 0))
    <Fault.ERROR_503: '503'>
    """

    def __init__(
        self,
        upstream: str,
        *,
        seed: int = 0,
        faults: Mapping[Fault, float] | None = None,
        force: Callable[[RequestInfo], Fault | None] | None = None,
        retry_after: str = "0",
        slow_seconds: float = 0.05,
    ) -> None:
        host, _, port = upstream.rpartition(":")
        self.upstream = upstream
        self._upstream_addr = (host, int(port))
        self.retry_after = retry_after
        self.slow_seconds = min(slow_seconds, 0.2)
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.configure(seed=seed, faults=faults or {}, force=force)

    # -- configuration and records ---------------------------------------------------

    def configure(
        self,
        *,
        seed: int,
        faults: Mapping[Fault, float],
        force: Callable[[RequestInfo], Fault | None] | None = None,
    ) -> None:
        """Set the seed and probabilities for the next run and forget the previous records."""
        with self._lock:
            self.seed = seed
            self.faults = {Fault(k): float(v) for k, v in faults.items() if v > 0}
            self.force = force
            self.enabled = True
            self.injected: list[Injection] = []
            self.requests = 0
            self.by_method: Counter[str] = Counter()
            #: (method, normalized path) of every request, in arrival order.
            self.log: list[tuple[str, str]] = []
            #: (method, path without query) of every request: upload sessions told apart.
            self.raw_log: list[tuple[str, str]] = []
            self._seen: Counter[tuple[str, str]] = Counter()
            self.errors: list[str] = []

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No faults inside the block (requests are still forwarded and counted)."""
        with self._lock:
            previous, self.enabled = self.enabled, False
        try:
            yield
        finally:
            with self._lock:
                self.enabled = previous

    def decide(self, info: RequestInfo) -> Fault | None:
        """The fault for one request, or None: ``force`` first, then the seeded draw."""
        if self.force is not None:
            forced = self.force(info)
            if forced is not None:
                return forced
        rng = random.Random(f"{self.seed}|{info.method}|{info.path}|{info.occurrence}")
        draw = rng.random()
        acc = 0.0
        for fault, probability in self.faults.items():
            if fault in _CUT_FAULTS and info.method == "HEAD":
                continue
            if fault is Fault.RESET_MID_UPLOAD and not info.has_body:
                continue
            acc += probability
            if draw < acc:
                return fault
        return None

    def counts(self) -> Counter[Fault]:
        """How many times each fault was injected."""
        with self._lock:
            return Counter(i.fault for i in self.injected)

    def summary(self) -> str:
        """One line for assertion messages: seed, requests, and every injection."""
        with self._lock:
            injected = "; ".join(str(i) for i in self.injected) or "none"
            # Mostly the client hanging up on a response it no longer wants (its other
            # end failed): informative, not a failure of the proxy.
            errors = f"; broken connections: {'; '.join(self.errors)}" if self.errors else ""
            return (
                f"proxy {self.host} -> {self.upstream}, seed {self.seed}: "
                f"{self.requests} requests, injected: {injected}{errors}"
            )

    # -- lifecycle -------------------------------------------------------------------

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry name clients use."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Listen on a free port and serve in a background thread."""
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            block_on_close = False

            def handle_error(self, request: object, client_address: object) -> None:
                import sys

                exc = sys.exc_info()[1]
                with proxy._lock:
                    proxy.errors.append(f"{type(exc).__name__}: {exc}")

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"faultproxy-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- one connection ----------------------------------------------------------------

    def _handle(self, sock: socket.socket) -> None:
        sock.settimeout(60)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first == b"\x16":  # a TLS handshake: answer like a plain-HTTP server does
            _send_quietly(sock, b"HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\n")
            return
        rfile = cast(BinaryIO, sock.makefile("rb", buffering=CHUNK))
        reset = False
        try:
            self._serve_one(sock, rfile)
        except _Reset:
            reset = True
        except (OSError, http.client.HTTPException, ValueError) as exc:
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            reset = True
        finally:
            rfile.close()
            if reset:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()

    def _serve_one(self, sock: socket.socket, rfile: BinaryIO) -> None:
        request = _read_request(rfile)
        if request is None:
            return
        path = _normalized(request.target)
        with self._lock:
            self.requests += 1
            number = self.requests
            self.by_method[request.method] += 1
            occurrence = self._seen[(request.method, path)]
            self._seen[(request.method, path)] += 1
            self.log.append((request.method, path))
            self.raw_log.append((request.method, request.target.split("?", 1)[0]))
            enabled = self.enabled
        info = RequestInfo(request.method, path, request.has_body, occurrence)
        fault = self.decide(info) if enabled else None

        def record(detail: str = "") -> None:
            assert fault is not None
            with self._lock:
                self.injected.append(Injection(number, fault, request.method, path, detail))

        rng = random.Random(f"{self.seed}|{request.method}|{path}|{occurrence}|detail")
        if fault in _STATUS_FAULTS:
            for _ in _body(rfile, request):
                pass
            record()
            self._send_status(sock, _STATUS_FAULTS[fault])
            return
        if fault is Fault.RESET_BEFORE_RESPONSE and rng.random() < 0.5:
            for _ in _body(rfile, request):
                pass
            record("not forwarded")
            raise _Reset("injected")
        upstream = http.client.HTTPConnection(*self._upstream_addr, timeout=60)
        try:
            self._forward_request(upstream, request, rfile, fault, rng, record)
            response = upstream.getresponse()
            with_body = request.method != "HEAD" and response.status not in (204, 304)
            buffered: bytes | None = None
            if with_body and response.length is None:
                # A chunked (or close-delimited) upstream body, small in practice: sent
                # with a Content-Length, so a cut body is always detectable.
                buffered = response.read()
            length = len(buffered) if buffered is not None else response.length or 0
            head = self._response_head(response, length if with_body else None)
            if fault is Fault.RESET_BEFORE_RESPONSE:
                _drain(response)
                record("forwarded, response lost")
                raise _Reset("injected")
            if fault is Fault.SLOW:
                record(f"{self.slow_seconds * 1000:.0f} ms")
                time.sleep(self.slow_seconds)
            cut: int | None = None
            flip: int | None = None
            if fault in _BODY_FAULTS:
                cut = rng.randrange(0, length) if length else 0
                record(f"{cut} of {length} bytes")
            elif fault is Fault.CORRUPT_BODY:
                flip = rng.randrange(0, length) if length else None
                record(f"byte {flip} of {length} flipped")
            sock.sendall(head)
            sent = 0
            while with_body and (cut is None or sent < cut):
                want = CHUNK if cut is None else min(CHUNK, cut - sent)
                if buffered is not None:
                    data, buffered = buffered[:want], buffered[want:]
                else:
                    data = response.read(want)
                if not data:
                    break
                if flip is not None and sent <= flip < sent + len(data):
                    at = flip - sent
                    data = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
                sock.sendall(data)
                sent += len(data)
            if fault is Fault.RESET_MID_BODY:
                raise _Reset("injected")
            # A truncated body ends with a normal close (FIN): the client sees EOF early.
        finally:
            upstream.close()

    def _forward_request(
        self,
        upstream: http.client.HTTPConnection,
        request: _Request,
        rfile: BinaryIO,
        fault: Fault | None,
        rng: random.Random,
        record: Callable[[str], None],
    ) -> None:
        send_head(upstream, request, self.upstream)
        if not request.has_body:
            return
        # Where an upload is cut: a fraction of its length, or after some chunked bytes.
        limit: int | None = None
        if fault is Fault.RESET_MID_UPLOAD:
            total = request.length or 8 * 1024 * 1024
            limit = rng.randrange(0, max(1, total))
        sent = 0
        for data in _body(rfile, request):
            if limit is not None and sent + len(data) > limit:
                part = data[: limit - sent]
                if part:
                    upstream.send(_frame(part) if request.chunked else part)
                record(f"after {limit} bytes")
                raise _Reset("injected")
            upstream.send(_frame(data) if request.chunked else data)
            sent += len(data)
        if limit is not None:  # the body was shorter than the cut: cut at its end
            record(f"after all {sent} bytes, before the response")
            raise _Reset("injected")
        if request.chunked:
            upstream.send(b"0\r\n\r\n")

    def _response_head(self, response: http.client.HTTPResponse, length: int | None) -> bytes:
        """Status line and headers, hop-by-hop ones dropped, ``Location`` rewritten."""
        lines = [f"HTTP/1.1 {response.status} {response.reason}"]
        for name, value in response.getheaders():
            lowered = name.lower()
            if lowered in _HOP or (lowered == "content-length" and length is not None):
                continue
            shown = self._rewrite_location(value) if lowered == "location" else value
            lines.append(f"{name}: {shown}")
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _rewrite_location(self, value: str) -> str:
        for prefix in (f"http://{self.upstream}", f"https://{self.upstream}"):
            if value.startswith(prefix):
                return f"http://{self.host}" + value[len(prefix) :]
        return value

    def _send_status(self, sock: socket.socket, status: int) -> None:
        reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected by the fault proxy"}]}'
        if status == 429:
            body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"injected rate limit"}]}'
        lines = [
            f"HTTP/1.1 {status} {reason.get(status, 'Too Many Requests')}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        if status == 429:
            lines.append(f"Retry-After: {self.retry_after}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def send_head(upstream: http.client.HTTPConnection, request: _Request, host: str) -> None:
    """Send ``request``'s line and headers on to ``upstream`` (``host``), hop-by-hop ones
    left out; a chunked body stays chunked."""
    upstream.putrequest(request.method, request.target, skip_host=True, skip_accept_encoding=True)
    upstream.putheader("Host", host)
    for name, value in request.headers:
        if name.lower() not in _HOP and name.lower() != "host":
            upstream.putheader(name, value)
    if request.chunked:
        upstream.putheader("Transfer-Encoding", "chunked")
    upstream.endheaders()


def _frame(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _drain(response: http.client.HTTPResponse) -> None:
    while response.read(CHUNK):
        pass


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with suppress(OSError):
        sock.sendall(data)
