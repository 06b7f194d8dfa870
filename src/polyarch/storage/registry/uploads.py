"""Blob uploads to a registry: upload sessions, monolithic and streamed, and mounts.

The flow is the OCI Distribution one (``POST /blobs/uploads/``, then a ``PATCH`` of the
content and a closing ``PUT ?digest=``, or a single ``PUT`` for small blobs given whole).
Content is hashed as it goes out; a mismatch cancels the session before the final PUT,
so nothing unverified is ever committed. Open sessions are tracked: when the operation
is interrupted, each is cancelled (``DELETE`` on its ``Location``, which the
distribution spec's "Canceling an Upload" defines), best effort and within a deadline.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.errors import (
    AuthError,
    ContentError,
    DigestMismatch,
    PolyarchError,
    RegistryError,
)
from polyarch.storage.registry.endpoint import Endpoint
from polyarch.storage.stream import BlobReader, VerifyingStream

__all__ = ["CANONICAL_ALGORITHM", "MONOLITHIC_LIMIT", "Uploads"]

log = logging.getLogger("polyarch.storage")

#: Blobs up to this size are uploaded in one request; larger ones are streamed (PATCH).
MONOLITHIC_LIMIT = 4 * 1024 * 1024
#: The digest algorithm registries store and announce blobs by (distribution's canonical).
CANONICAL_ALGORITHM = "sha256"


def _verifies_itself(chunks: Iterable[bytes], descriptor: Descriptor) -> bool:
    """Whether ``chunks`` is a reader of exactly this blob: it raises if it does not verify."""
    if not isinstance(chunks, BlobReader):
        return False
    own = chunks.descriptor
    return own.digest == descriptor.digest and own.size == descriptor.size


class Uploads:
    """Upload sessions of one repository, reached at ``endpoint``."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.client = endpoint.client
        self.registry = endpoint.registry
        self.repository = endpoint.repository
        self.name = endpoint.name
        self._push = endpoint.push
        # Upload sessions a declined mount left open, reused by the next put of that blob.
        self._pending: dict[str, str] = {}
        # Every session opened and neither committed nor cancelled yet (their Locations).
        self._open: set[str] = set()
        self._lock = threading.Lock()

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Upload a blob: one request when small and given whole, else a streamed PATCH.

        A :class:`BlobReader` of this very blob (a copy from another repository) verifies
        itself as it is read, so it is not hashed a second time. The PATCH states the
        length: no chunked framing.
        """
        where = f"blob {self.name}@{descriptor.digest}"
        with self._lock:
            location = self._pending.pop(str(descriptor.digest), None)
        if location is None:
            location = self._start(where)
        if isinstance(chunks, list | tuple) and descriptor.size <= MONOLITHIC_LIMIT:
            data = b"".join(chunks)
            if (
                Digest.of(data, descriptor.digest.algorithm) != descriptor.digest
                or len(data) != descriptor.size
            ):
                self._cancel(location)
                raise DigestMismatch(f"{where}: the content given does not match its descriptor")
            self._finish(location, descriptor, data, where)
            return
        # Auth must be settled before a one-shot streamed body goes out: it cannot be resent.
        self.client.ensure_auth(self.registry, self._push)
        stream: Iterable[bytes] = chunks
        if not _verifies_itself(chunks, descriptor):
            stream = VerifyingStream(chunks, descriptor, what=where)
        try:
            response = self.client.request_url(
                "PATCH",
                self.endpoint.absolute(location),
                registry=self.registry,
                scopes=self._push,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(descriptor.size),
                },
                content=iter(stream),
                expect=(202, 204),
                idempotent=False,
                what=f"PATCH {where}",
            )
        except (ContentError, ValueError):  # digest or size: the session is abandoned
            self._cancel(location)
            raise
        self._opened(location, response.headers.get("Location", location))
        location = response.headers.get("Location", location)
        self._finish(location, descriptor, b"", where)

    def mount(self, descriptor: Descriptor, source_repository: str, source_name: str) -> bool:
        """Cross-repository mount (``?mount=&from=``); False when it was declined or refused.

        Declined: 202 and an ordinary upload session (kept for the upload that follows).
        Refused: 401/403 (:class:`~polyarch.errors.AuthError`) from the registry or its
        token service; logged at ``-v``, and the caller uploads instead.
        """
        where = f"blob {self.name}@{descriptor.digest}"
        try:
            response = self.client.request(
                "POST",
                self.registry,
                self.endpoint.path("blobs", "uploads/"),
                params={"mount": str(descriptor.digest), "from": source_repository},
                scopes=[*self._push, f"repository:{source_repository}:pull"],
                expect=(201, 202),
                idempotent=False,
                what=f"mount {where} from {source_name}",
            )
        except AuthError as exc:
            # A mount is an optimization: a registry or token service that refuses it
            # (401/403 on the mount, or on the token for both repositories at once)
            # leaves the plain upload, which needs push on this repository only.
            log.info("mount of %s refused (%s); uploading it instead", where, exc.one_line())
            return False
        if response.status_code == 201:
            if descriptor.digest.algorithm != CANONICAL_ALGORITHM:
                # distribution 2.8 answers a mount of a sha512 blob 201, naming the sha512
                # digest, yet links it in the repository by its canonical sha256 only: a
                # manifest naming the sha512 digest is then refused (MANIFEST_BLOB_UNKNOWN;
                # measured). Trust such a mount only when the blob is found by the digest
                # asked for; otherwise upload it.
                return self._present(descriptor.digest)
            return True
        # 202: the registry declined the mount and opened an ordinary upload session
        # instead; keep it for the upload that follows rather than leaking it.
        location = self._location(response, where)
        with self._lock:
            self._pending[str(descriptor.digest)] = location
            self._open.add(location)
        return False

    def _present(self, digest: Digest) -> bool:
        """``HEAD /blobs/<digest>``: whether the blob is found by that very digest."""
        response = self.client.request(
            "HEAD",
            self.registry,
            self.endpoint.path("blobs", digest),
            scopes=self._push,
            expect=(200, 404),
            what=f"HEAD blob {self.name}@{digest}",
        )
        return response.status_code == 200

    def _start(self, where: str) -> str:
        response = self.client.request(
            "POST",
            self.registry,
            self.endpoint.path("blobs", "uploads/"),
            scopes=self._push,
            expect=(202,),
            idempotent=False,
            what=f"start upload of {where}",
        )
        location = self._location(response, where)
        self._opened(None, location)
        return location

    def _finish(self, location: str, descriptor: Descriptor, data: bytes, where: str) -> None:
        url = _with_query(self.endpoint.absolute(location), {"digest": str(descriptor.digest)})
        response = self.client.request_url(
            "PUT",
            url,
            registry=self.registry,
            scopes=self._push,
            headers={"Content-Type": "application/octet-stream"},
            content=data,
            expect=(201, 204),
            idempotent=False,
            what=f"PUT {where}",
        )
        self._opened(location, None)  # committed: no longer a session to cancel
        announced = response.headers.get("Docker-Content-Digest")
        if not announced or announced == descriptor.digest:
            return
        if _algorithm(announced) == descriptor.digest.algorithm:
            raise DigestMismatch(f"{where}: registry stored {announced}")
        # The distribution spec lets a registry answer in its own canonical algorithm
        # (distribution 2.8 verifies a sha512 upload, then announces its sha256): not a
        # mismatch. The blob must be there under the digest asked for, though.
        if not self._present(descriptor.digest):
            raise DigestMismatch(
                f"{where}: registry stored {announced}, and the blob is not found by the "
                f"digest it was uploaded as"
            )

    def _opened(self, old: str | None, new: str | None) -> None:
        """Track a session: ``old`` Location no longer open, ``new`` open now."""
        with self._lock:
            if old is not None:
                self._open.discard(old)
            if new is not None:
                self._open.add(new)

    def cancel_open(self, timeout: float) -> None:
        """Cancel every open upload session at once, waiting at most ``timeout`` seconds.

        For an interrupted operation: the client is cancelled already, so each ``DELETE``
        is a cleanup request (sent anyway, once, with ``timeout``); they go out in
        parallel, on threads of their own, and are abandoned when the time is up (the
        registry expires abandoned sessions anyway). An interrupt while waiting ends the
        wait at once.
        """
        with self._lock:
            sessions = sorted(self._open)
            self._open.clear()
            self._pending.clear()
        if not sessions:
            return
        threads = [
            threading.Thread(
                target=self._cancel_quietly,
                args=(location, timeout),
                name="polyarch-cancel-upload",
                daemon=True,
            )
            for location in sessions
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _cancel_quietly(self, location: str, timeout: float) -> None:
        # SIGINT and SIGTERM blocked here go to the main thread, waiting in join: a second
        # Ctrl-C ends its wait at once (as content/pool.py's workers do).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        self._cancel(location, timeout)

    def _cancel(self, location: str, cleanup: float | None = None) -> None:
        """Cancel one session (``DELETE``), best effort; ``cleanup``: even once cancelled."""
        self._opened(location, None)
        try:
            self.client.request_url(
                "DELETE",
                self.endpoint.absolute(location),
                registry=self.registry,
                scopes=self._push,
                expect=(200, 202, 204, 404),
                idempotent=False,
                what=f"cancel upload in {self.name}",
                cleanup=cleanup,
            )
        except PolyarchError:  # best effort: the registry expires abandoned sessions anyway
            log.debug("could not cancel upload session in %s", self.name)

    @staticmethod
    def _location(response: httpx.Response, where: str) -> str:
        location: str | None = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{where}: the registry opened an upload without a Location")
        return location


def _algorithm(digest: str) -> str:
    return digest.partition(":")[0]


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *extra.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))
