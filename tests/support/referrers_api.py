"""A loopback registry front that adds the OCI 1.1 referrers API to a real registry.

distribution 2.8 has no referrers API, so this server stands in front of one and
implements exactly what the distribution spec (1.1, "Listing Referrers" and "Pushing
Manifests with Subject") asks of a registry that has it; everything else is forwarded
unchanged to the real registry, which stores all content:

* a manifest ``PUT`` whose body has a ``subject`` is recorded, and the ``201`` answer
  carries ``OCI-Subject: <subject digest>`` (how clients learn the API exists);
* ``GET /v2/<name>/referrers/<digest>`` answers ``200`` with an OCI image index of the
  recorded manifests whose subject is ``<digest>`` (``artifactType`` from the manifest,
  else its config media type; its annotations), an empty list when there are none, and
  ``400`` for a malformed digest; never ``404``;
* ``?artifactType=`` filters, and the answer then says ``OCI-Filters-Applied:
  artifactType`` (unless ``apply_filters`` is False: a registry that ignores the
  filter, which the spec allows, and clients must then filter themselves);
* ``page_size`` entries per page, the next page linked with ``Link: <...>; rel="next"``.

With ``unsupported_status`` (e.g. 405) it plays a registry *without* the API that
answers the unknown route with that status instead of 404: no ``OCI-Subject``, and
every referrers request gets that status with a distribution-style error body.

The https probe polyarch sends first is answered with a plain-HTTP 400 by
:mod:`http.server`, as Go's server does, so clients fall back to http.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from .threaded import serve, shutdown

_REFERRERS = re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$")
_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class ReferrersFront:
    """Serve on ``127.0.0.1``; ``host`` is what clients use instead of the registry's."""

    def __init__(
        self,
        upstream: str,
        *,
        page_size: int = 2,
        apply_filters: bool = True,
        unsupported_status: int | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.unsupported_status = unsupported_status
        self.page_size = page_size
        self.apply_filters = apply_filters
        #: (repository, subject digest) -> descriptors of the manifests naming it.
        self.referrers: dict[tuple[str, str], list[dict[str, Any]]] = {}
        #: Referrers requests seen: (path, query), for assertions.
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=30)

    @property
    def host(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ReferrersFront:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                front._handle(self)

            def do_HEAD(self) -> None:
                front._handle(self)

            def do_PUT(self) -> None:
                front._handle(self)

            def do_POST(self) -> None:
                front._handle(self)

            def do_PATCH(self) -> None:
                front._handle(self)

            def do_DELETE(self) -> None:
                front._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = serve(self._server, "referrers-front")
        return self

    def stop(self) -> None:
        shutdown(self._server, self._thread)
        self._client.close()

    # The API ----------------------------------------------------------------------------

    def _referrers(self, h: BaseHTTPRequestHandler, name: str, digest: str, query: str) -> None:
        with self._lock:
            self.requests.append((h.path.split("?")[0], query))
        if self.unsupported_status is not None:
            error = {"code": "UNSUPPORTED", "message": "the operation is unsupported"}
            self._send(h, self.unsupported_status, {"errors": [error]})
            return
        if not _DIGEST.match(digest):
            self._send(h, 400, {"errors": [{"code": "DIGEST_INVALID", "message": digest}]})
            return
        params = parse_qs(query)
        with self._lock:
            found = list(self.referrers.get((name, digest), []))
        headers: dict[str, str] = {"Content-Type": "application/vnd.oci.image.index.v1+json"}
        wanted = params.get("artifactType", [None])[0]
        if wanted and self.apply_filters:
            found = [d for d in found if d.get("artifactType") == wanted]
            headers["OCI-Filters-Applied"] = "artifactType"
        start = int(params.get("page", ["0"])[0])
        page = found[start : start + self.page_size]
        if start + self.page_size < len(found):
            nxt = {k: v[0] for k, v in params.items()}
            nxt["page"] = str(start + self.page_size)
            headers["Link"] = f'</v2/{name}/referrers/{digest}?{urlencode(nxt)}>; rel="next"'
        body = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": page,
        }
        self._send(h, 200, body, headers)

    def _record(self, name: str, body: bytes, content_type: str, digest: str) -> str | None:
        """A pushed manifest with a subject: remember it; returns the subject digest."""
        try:
            doc = json.loads(body)
        except ValueError:
            return None
        subject = doc.get("subject") if isinstance(doc, dict) else None
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), str):
            return None
        descriptor: dict[str, Any] = {
            "mediaType": doc.get("mediaType") or content_type,
            "digest": digest,
            "size": len(body),
        }
        artifact_type = doc.get("artifactType")
        if artifact_type is None and isinstance(doc.get("config"), dict):
            artifact_type = doc["config"].get("mediaType")  # spec: the config's media type
        if artifact_type:
            descriptor["artifactType"] = artifact_type
        if doc.get("annotations"):
            descriptor["annotations"] = doc["annotations"]
        with self._lock:
            entries = self.referrers.setdefault((name, subject["digest"]), [])
            if all(e["digest"] != digest for e in entries):
                entries.append(descriptor)
        return str(subject["digest"])

    # Forwarding -------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        match = _REFERRERS.match(parts.path)
        if match and h.command == "GET":
            self._referrers(h, match["name"], match["digest"], parts.query)
            return
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP}
        upstream = self._client.request(
            h.command, self.upstream + h.path, headers=headers, content=body
        )
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
        if "location" in {k.lower() for k in out}:
            key = next(k for k in out if k.lower() == "location")
            out[key] = out[key].replace(self.upstream, "")
        manifest = _MANIFEST.match(parts.path)
        if h.command == "PUT" and manifest and upstream.status_code == 201:
            digest = upstream.headers.get("Docker-Content-Digest", "")
            subject = self._record(
                manifest["name"], body, h.headers.get("Content-Type", ""), digest
            )
            if subject and self.unsupported_status is None:
                out["OCI-Subject"] = subject
        if h.command == "HEAD" and "content-length" in upstream.headers:
            out["Content-Length"] = upstream.headers["content-length"]
        self._send_raw(h, upstream.status_code, upstream.content, out)

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        doc: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        base = {"Content-Type": "application/json"}
        self._send_raw(h, status, json.dumps(doc).encode(), {**base, **(headers or {})})

    def _send_raw(
        self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        h.send_response(status)
        for key, value in headers.items():
            h.send_header(key, value)
        if "Content-Length" not in headers:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)
