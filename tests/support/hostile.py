"""A small malicious registry: just enough of the Distribution API to lie convincingly.

:class:`HostileRegistry` is a threaded ``http.server`` on a free loopback port (bind it
to ``127.0.0.2`` to get a second, distinct host). By default it is an honest, minimal
registry: ``/v2/``, manifests (GET, HEAD, PUT), blobs (GET, HEAD, monolithic and
chunked uploads, verified), ``tags/list``. Each test then makes it misbehave:

* :meth:`HostileRegistry.route` answers one ``METHOD PATH`` with a fixed :class:`Reply`
  (any status, headers and body: wrong bytes, a lying ``Docker-Content-Digest``, a
  redirect, an endless chunked stream, a ``Location`` on another host...), or with a
  function of the request;
* ``challenge`` makes every request without the right ``Authorization`` a ``401`` with
  that ``WWW-Authenticate`` header.

Everything that arrives is recorded (:attr:`HostileRegistry.requests`, with headers
and bodies), as is every connection (:attr:`HostileRegistry.connections`), TLS probes
included (:attr:`HostileRegistry.tls_probes`: polyarch tries ``https`` first on loopback
and falls back to ``http`` when the server does not speak TLS). So a test can assert what
a host received, or that it was never contacted at all.

Streams are bounded by the client: a reply that never ends is written until the client
hangs up (:attr:`HostileRegistry.stream_bytes` counts what was written), with a hard
stop at :data:`STREAM_LIMIT` so that a client that never stops reading fails the test
(:attr:`HostileRegistry.streams_exhausted`) instead of hanging it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.platform import Platform
from support.threaded import serve, shutdown

__all__ = [
    "STREAM_LIMIT",
    "HostileRegistry",
    "Reply",
    "Seen",
    "endless",
    "nested_json",
]

#: An endless reply stops here, whatever the client does (far above every polyarch cap).
STREAM_LIMIT = 256 * 1024 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    #: The path without the query string.
    path: str
    query: Mapping[str, list[str]]
    #: Header names lowercased.
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header's value, or None."""
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Reply:
    """What to answer.

    ``body`` is sent with a ``Content-Length`` (or, with ``length=False``, chunked,
    so the client cannot know the size in advance); ``stream`` (a function returning
    fresh chunks for each request) may never end: it is chunked, unless ``headers``
    hold a ``Content-Length`` (then written as is, whatever that header says).
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    length: bool = True
    stream: Callable[[], Iterable[bytes]] | None = None


Route = Reply | Callable[[Seen], Reply]


def endless(byte: bytes = b" ") -> Callable[[], Iterator[bytes]]:
    """A ``Reply.stream`` that never ends: chunks of ``byte`` for as long as anyone reads."""

    def chunks() -> Iterator[bytes]:
        chunk = byte * _CHUNK
        while True:
            yield chunk

    return chunks


def nested_json(depth: int = 100_000) -> bytes:
    """``[[[...]]]`` nested ``depth`` deep: valid JSON no recursive parser survives."""
    return b"[" * depth + b"]" * depth


def _error(status: int, code: str, message: str) -> Reply:
    body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
    return Reply(status, {"Content-Type": "application/json"}, body)


class HostileRegistry:
    """A registry on ``bind`` (loopback) and a free port; see the module docstring.

    >>> with HostileRegistry() as hostile:
    ...     hostile.route("GET", "/v2/app/manifests/v1", Reply(200, body=b"lies"))
    ...     hostile.host.startswith("127.0.0.1:")
    True
    """

    def __init__(self, bind: str = "127.0.0.1") -> None:
        self.bind = bind
        #: (repository, tag or digest) -> (media type, exact bytes).
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}
        #: digest -> bytes (one blob store for every repository).
        self.blobs: dict[str, bytes] = {}
        #: ``WWW-Authenticate`` sent with a 401 to any request not carrying ``authorization``.
        self.challenge: str | None = None
        #: The ``Authorization`` accepted when ``challenge`` is set (None: nothing is).
        self.authorization: str | None = None
        self.requests: list[Seen] = []
        self.connections = 0
        self.tls_probes = 0
        self.stream_bytes = 0
        self.streams_exhausted = 0
        self._routes: dict[tuple[str, str], Route] = {}
        self._uploads: dict[str, bytearray] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> HostileRegistry:
        """Listen and serve in a daemon thread; returns ``self``."""
        server = ThreadingHTTPServer((self.bind, 0), _Handler)
        server.hostile = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = serve(server, f"hostile-{self.host}")
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        shutdown(server, thread)

    def __enter__(self) -> HostileRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """``BIND:PORT``: the registry name polyarch is given."""
        assert self._server is not None, "not started"
        return f"{self.bind}:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """``http://BIND:PORT``."""
        return f"http://{self.host}"

    # -- configuration -------------------------------------------------------------

    def reset(self) -> None:
        """Forget content, routes, auth and everything recorded."""
        with self._lock:
            self.manifests.clear()
            self.blobs.clear()
            self._routes.clear()
            self._uploads.clear()
            self.challenge = self.authorization = None
            self.requests.clear()
            self.connections = self.tls_probes = 0
            self.stream_bytes = self.streams_exhausted = 0

    def route(self, method: str, path: str, reply: Route) -> None:
        """Answer ``METHOD PATH`` (query ignored) with ``reply`` from now on.

        A ``GET`` route also answers ``HEAD`` (without its body) unless ``HEAD`` has its own.
        """
        with self._lock:
            self._routes[(method.upper(), path)] = reply

    def seen(self, method: str | None = None, path_prefix: str = "") -> list[Seen]:
        """The requests received, optionally only ``method`` ones under ``path_prefix``."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(path_prefix)
            ]

    @property
    def contacted(self) -> bool:
        """Whether anything connected at all (TLS probes included)."""
        return self.connections > 0

    # -- content -------------------------------------------------------------------

    def put_blob(self, data: bytes, media_type: str = "application/octet-stream") -> Descriptor:
        """Store a blob; returns its descriptor."""
        digest = Digest.of(data)
        self.blobs[str(digest)] = data
        return Descriptor(media_type, digest, len(data))

    def put_manifest(
        self, repository: str, raw: bytes, media_type: str, tag: str | None = None
    ) -> Descriptor:
        """Store manifest bytes by digest (and under ``tag``); returns its descriptor."""
        digest = Digest.of(raw)
        self.manifests[(repository, str(digest))] = (media_type, raw)
        if tag is not None:
            self.manifests[(repository, tag)] = (media_type, raw)
        return Descriptor(media_type, digest, len(raw))

    def add_image(
        self,
        repository: str,
        tag: str | None = None,
        *,
        platform: str = "linux/amd64",
        layer: bytes | None = None,
    ) -> tuple[Descriptor, Descriptor, Descriptor]:
        """An OCI image (config and one layer); returns (manifest, config, layer) descriptors."""
        plat = Platform.parse(platform)
        layer_data = layer if layer is not None else f"layer of {uuid.uuid4()}\n".encode()
        layer_desc = self.put_blob(layer_data, mediatype.OCI_LAYER_GZIP)
        config = {**plat.to_oci(), "rootfs": {"type": "layers", "diff_ids": []}, "config": {}}
        config_desc = self.put_blob(json.dumps(config).encode(), mediatype.OCI_CONFIG)
        doc = {
            "schemaVersion": 2,
            "mediaType": mediatype.OCI_MANIFEST,
            "config": config_desc.to_json(),
            "layers": [layer_desc.to_json()],
        }
        raw = json.dumps(doc).encode()
        manifest = self.put_manifest(repository, raw, mediatype.OCI_MANIFEST, tag)
        return manifest.with_platform(plat), config_desc, layer_desc

    def add_index(
        self, repository: str, tag: str | None, entries: Iterable[Mapping[str, Any]]
    ) -> Descriptor:
        """An OCI index with these entries (raw JSON objects, so they may lie)."""
        doc = {"schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "manifests": list(entries)}
        return self.put_manifest(repository, json.dumps(doc).encode(), mediatype.OCI_INDEX, tag)

    # -- the server side -----------------------------------------------------------

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def _count(self, *, tls: bool = False) -> None:
        with self._lock:
            self.connections += 1
            self.tls_probes += int(tls)

    def _streamed(self, nbytes: int, *, exhausted: bool = False) -> None:
        with self._lock:
            self.stream_bytes += nbytes
            self.streams_exhausted += int(exhausted)

    def answer(self, seen: Seen) -> Reply:
        """The reply to ``seen``: the auth challenge (``/v2`` paths), a route, or the honest
        registry."""
        if (
            self.challenge is not None
            and seen.path.startswith("/v2")
            and (self.authorization is None or seen.header("authorization") != self.authorization)
        ):
            reply = _error(401, "UNAUTHORIZED", "authentication required")
            return Reply(401, {**reply.headers, "WWW-Authenticate": self.challenge}, reply.body)
        with self._lock:
            route = self._routes.get((seen.method, seen.path))
            if route is None and seen.method == "HEAD":
                route = self._routes.get(("GET", seen.path))
        if route is not None:
            return route(seen) if callable(route) else route
        return self._honest(seen)

    def _honest(self, seen: Seen) -> Reply:
        path = seen.path
        if path in ("/v2", "/v2/"):
            return Reply(200, {"Content-Type": "application/json"}, b"{}")
        if not path.startswith("/v2/"):
            return _error(404, "NOT_FOUND", "not a registry path")
        for kind in ("/manifests/", "/blobs/uploads/", "/blobs/", "/tags/list"):
            name, sep, rest = path[4:].rpartition(kind)
            if sep and (kind != "/tags/list" or not rest):
                return self._api(seen, kind, name, rest)
        return _error(404, "NOT_FOUND", "unknown path")

    def _api(self, seen: Seen, kind: str, name: str, rest: str) -> Reply:
        if kind == "/manifests/":
            return self._manifest(seen, name, rest)
        if kind == "/blobs/":
            found = self.blobs.get(rest)
            if found is None:
                return _error(404, "BLOB_UNKNOWN", "blob unknown")
            return Reply(200, {"Docker-Content-Digest": rest}, found)
        if kind == "/tags/list":
            tags = sorted(ref for repo, ref in self.manifests if repo == name and ":" not in ref)
            body = json.dumps({"name": name, "tags": tags}).encode()
            return Reply(200, {"Content-Type": "application/json"}, body)
        return self._upload(seen, name, rest)

    def _manifest(self, seen: Seen, name: str, reference: str) -> Reply:
        if seen.method == "PUT":
            media_type = seen.header("content-type") or mediatype.OCI_MANIFEST
            descriptor = self.put_manifest(
                name, seen.body, media_type, None if ":" in reference else reference
            )
            return Reply(201, {"Docker-Content-Digest": str(descriptor.digest)})
        found = self.manifests.get((name, reference))
        if found is None:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        media_type, raw = found
        headers = {"Content-Type": media_type, "Docker-Content-Digest": str(Digest.of(raw))}
        return Reply(200, headers, raw)

    def _upload(self, seen: Seen, name: str, session: str) -> Reply:
        if seen.method == "POST":
            session = uuid.uuid4().hex
            with self._lock:
                self._uploads[session] = bytearray()
            location = f"/v2/{name}/blobs/uploads/{session}"
            return Reply(202, {"Location": location, "Range": "0-0"})
        with self._lock:
            data = self._uploads.get(session)
        if data is None:
            return _error(404, "BLOB_UPLOAD_UNKNOWN", "upload unknown")
        if seen.method == "DELETE":
            with self._lock:
                self._uploads.pop(session, None)
            return Reply(204)
        data += seen.body
        location = f"/v2/{name}/blobs/uploads/{session}"
        if seen.method == "PATCH":
            return Reply(202, {"Location": location, "Range": f"0-{max(len(data) - 1, 0)}"})
        digest = seen.query.get("digest", [""])[-1]
        if seen.method != "PUT" or digest != "sha256:" + hashlib.sha256(data).hexdigest():
            return _error(400, "DIGEST_INVALID", "digest does not match")
        with self._lock:
            self._uploads.pop(session, None)
            self.blobs[digest] = bytes(data)
        return Reply(
            201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    @property
    def hostile(self) -> HostileRegistry:
        owner: HostileRegistry = self.server.hostile  # type: ignore[attr-defined]
        return owner

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: everything is in ``requests``."""

    def handle(self) -> None:
        # polyarch tries TLS first on loopback; answer a ClientHello with plain HTTP so
        # it sees "not TLS" at once and falls back (a readline would wait for a newline).
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first == b"\x16":
            self.hostile._count(tls=True)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        if first:
            self.hostile._count()
        super().handle()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        url = urlsplit(self.path)
        try:
            body = self._body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        seen = Seen(
            self.command,
            url.path,
            parse_qs(url.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        self.hostile._record(seen)
        reply = self.hostile.answer(seen)
        try:
            self._send(reply)
        except OSError:  # the client hung up: what a client that caps a body does
            self.close_connection = True

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        head = self.command == "HEAD"
        if reply.stream is None and reply.length:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if not head:
                self.wfile.write(reply.body)
            return
        # A stream with its own Content-Length header goes out as is (a length it may not
        # honour); anything else is chunked.
        framed = "content-length" not in {name.lower() for name in reply.headers}
        if framed:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if head:
            return
        chunks = reply.stream() if reply.stream is not None else [reply.body]
        self._stream(chunks, framed=framed)

    def _stream(self, chunks: Iterable[bytes], *, framed: bool) -> None:
        sent = 0
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                if sent >= STREAM_LIMIT:
                    self.hostile._streamed(0, exhausted=True)
                    self.close_connection = True
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if framed else chunk)
                sent += len(chunk)
            if framed:
                self.wfile.write(b"0\r\n\r\n")
        finally:
            self.hostile._streamed(sent)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _serve
