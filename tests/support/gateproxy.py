"""A loopback proxy in front of a real registry or token service that refuses, stalls or
redirects chosen requests, for the behaviours a real registry cannot be made to show.

What it imitates, each seen in the field:

* a registry or token service refusing an optimization: a cross-repository mount
  answered 401/403, a token request for several scopes refused, a ``HEAD`` answered 405;
* a registry that redirects blob reads to its storage (S3, GCS, a CDN) on another host,
  with URLs signed for ``GET`` only, so that storage answers ``HEAD`` with 403 (what
  S3 does for a presigned ``GET`` URL used with ``HEAD``);
* a server whose bodies trickle (one byte every interval), one that accepts connections
  and never answers, and one that never completes a TLS handshake (a plain-HTTP server
  waiting for a request line that a ClientHello never ends);
* a token service answering 500/503/429 now and then.

Each request is shown to ``rule`` (a :class:`Seen`); the :class:`Action` it returns
decides, ``None`` forwards the request unchanged. Bodies are buffered (test images are
small). The storage of a redirect is served by the proxy itself under ``localhost``
(another host name than the registry's ``127.0.0.1``), at ``/_storage/[prefix]/v2/...``,
which reads from the upstream registry.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import parse_qsl, urlsplit

from support.threaded import serve, shutdown

__all__ = ["Action", "GateProxy", "Hang", "Refuse", "Seen", "ToStorage", "Trickle"]

_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})
STORAGE_PREFIX = "/_storage"


@dataclass(frozen=True)
class Seen:
    """One request as the proxy received it (header names lowercased)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    #: The request body as received (form bodies of token requests, uploads).
    body: bytes = b""

    def params(self, name: str) -> list[str]:
        """Every value of a query parameter."""
        return [value for key, value in self.query if key == name]


class Action:
    """What to do with one request (see the subclasses)."""


@dataclass(frozen=True)
class Refuse(Action):
    """Answer ``status`` with ``headers`` and ``body`` instead of forwarding."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Trickle(Action):
    """Forward, then send the response body one byte every ``interval`` seconds."""

    interval: float


@dataclass(frozen=True)
class Hang(Action):
    """Read the request and never answer (until the proxy stops)."""


@dataclass(frozen=True)
class ToStorage(Action):
    """Redirect (307) to the proxy's own storage on ``localhost``, which serves GET.

    ``prefix`` is put before the request's path in the storage URL (a bucket, a signed
    path segment); ``query`` is the storage URL's query (a signature).
    """

    prefix: str = ""
    query: str = "X-Amz-Signature=0123abcd"


Rule = Callable[[Seen], Action | None]


class GateProxy:
    """A threaded proxy on ``127.0.0.1`` in front of ``upstream`` (``host:port``).

    ``rule`` decides per request; ``storage_rule`` per request to the storage (``None``
    serves it). ``tls`` says what a TLS ClientHello gets: ``"refuse"`` (a plain-HTTP 400,
    as Go's server answers, so clients fall back to http) or ``"hang"`` (no answer).
    ``rewrite`` maps strings in response headers (e.g. a token realm to another proxy).
    ``seen`` records every request, ``storage_seen`` every storage request.
    """

    def __init__(
        self,
        upstream: str,
        rule: Rule | None = None,
        *,
        storage_rule: Rule | None = None,
        tls: str = "refuse",
        rewrite: dict[str, str] | None = None,
    ) -> None:
        self.upstream = upstream
        self.rule = rule
        self.storage_rule = storage_rule
        self.tls = tls
        self.rewrite = dict(rewrite or {})
        self.seen: list[Seen] = []
        self.storage_seen: list[Seen] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the registry name clients use."""
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def storage_url(self) -> str:
        """``http://localhost:PORT/_storage``: the storage, on another host name."""
        assert self._server is not None
        return f"http://localhost:{self._server.server_address[1]}{STORAGE_PREFIX}"

    def start(self) -> Self:
        """Listen on a free port and serve from a daemon thread."""
        proxy = self

        class Handler(_Handler):
            gate = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = serve(self._server, f"gateproxy-{self._server.server_address[1]}")
        return self

    def stop(self) -> None:
        """Release hanging requests and stop serving."""
        self.stopping.set()
        shutdown(self._server, self._thread)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def record(self, seen: Seen, *, storage: bool) -> None:
        """Remember a request."""
        with self._lock:
            (self.storage_seen if storage else self.seen).append(seen)


class _Handler(BaseHTTPRequestHandler):
    gate: GateProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def handle(self) -> None:
        try:
            first = self.request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first == b"\x16":  # a TLS ClientHello
            if self.gate.tls == "hang":
                self.gate.stopping.wait(300)
            else:
                self.request.sendall(b"HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\n")
            self.close_connection = True
            return
        super().handle()

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = parse_qsl(parts.query, keep_blank_values=True)
        seen = Seen(self.command, parts.path, query, headers, body)
        storage = parts.path.startswith(STORAGE_PREFIX)
        self.gate.record(seen, storage=storage)
        rule = self.gate.storage_rule if storage else self.gate.rule
        action = rule(seen) if rule is not None else None
        if isinstance(action, Refuse):
            self._answer(action.status, action.headers, action.body)
            return
        if isinstance(action, Hang):
            self.gate.stopping.wait(300)
            self.close_connection = True
            return
        if isinstance(action, ToStorage):
            location = self.gate.storage_url + action.prefix + self.path
            location += ("&" if parts.query else "?") + action.query
            self._answer(307, {"Location": location}, b"")
            return
        target = self.path
        if storage:
            target = target[target.index("/v2/") :]
            for name in ("authorization",):  # a storage never gets the registry's credentials
                headers.pop(name, None)
        status, reason, out_headers, out_body = self._forward(target, headers, body)
        if isinstance(action, Trickle):
            self._answer(status, out_headers, out_body, trickle=action.interval, reason=reason)
        else:
            self._answer(status, out_headers, out_body, reason=reason)

    def _forward(
        self, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, dict[str, str], bytes]:
        host, _, port = self.gate.upstream.rpartition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", self.gate.upstream)
            for name, value in headers.items():
                if name not in _HOP and name not in ("host", "content-length"):
                    conn.putheader(name, value)
            if body or self.command in ("PUT", "POST", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            response = conn.getresponse()
            data = response.read()
            out: dict[str, str] = {}
            for name, given in response.getheaders():
                if name.lower() in _HOP:
                    continue
                shown = given
                if name.lower() == "location":
                    shown = shown.replace(f"://{self.gate.upstream}", f"://{self.gate.host}")
                for old, new in self.gate.rewrite.items():
                    shown = shown.replace(old, new)
                out[name] = shown
            return response.status, response.reason, out, data
        finally:
            conn.close()

    def _answer(
        self,
        status: int,
        headers: dict[str, str],
        body: bytes,
        *,
        trickle: float | None = None,
        reason: str | None = None,
    ) -> None:
        self.send_response_only(status, reason)
        sent_length = False
        for name, value in headers.items():
            if name.lower() == "content-length":
                sent_length = True
            self.send_header(name, value)
        if not sent_length and self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        try:
            if trickle is None:
                self.wfile.write(body)
                return
            for i in range(len(body)):
                if self.gate.stopping.wait(trickle):
                    return
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
        except OSError:
            pass  # the client gave up: what a trickle is for
