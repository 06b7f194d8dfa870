"""Blob uploads to a registry: upload sessions, monolithic and streamed, and mounts.

The flow is the OCI Distribution one (``POST /blobs/uploads/``, then a ``PATCH`` of the
content and a closing ``PUT ?digest=``, or a single ``PUT`` for small blobs given whole).
Content is hashed as it goes out; a mismatch cancels the session before the final PUT,
so nothing unverified is ever committed.
"""

from __future__ import annotations

import logging
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

__all__ = ["MONOLITHIC_LIMIT", "Uploads"]

log = logging.getLogger("polyarch.storage")

#: Blobs up to this size are uploaded in one request; larger ones are streamed (PATCH).
MONOLITHIC_LIMIT = 4 * 1024 * 1024


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

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Upload a blob: one request when small and given whole, else a streamed PATCH.

        A :class:`BlobReader` of this very blob (a copy from another repository) verifies
        itself as it is read, so it is not hashed a second time. The PATCH states the
        length: no chunked framing.
        """
        where = f"blob {self.name}@{descriptor.digest}"
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
            return True
        # 202: the registry declined the mount and opened an ordinary upload session
        # instead; keep it for the upload that follows rather than leaking it.
        self._pending[str(descriptor.digest)] = self._location(response, where)
        return False

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
        return self._location(response, where)

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
        announced = response.headers.get("Docker-Content-Digest")
        if announced and announced != descriptor.digest:
            raise DigestMismatch(f"{where}: registry stored {announced}")

    def _cancel(self, location: str) -> None:
        try:
            self.client.request_url(
                "DELETE",
                self.endpoint.absolute(location),
                registry=self.registry,
                scopes=self._push,
                expect=(200, 202, 204, 404),
                idempotent=False,
                what=f"cancel upload in {self.name}",
            )
        except PolyarchError:  # best effort: the registry expires abandoned sessions anyway
            log.debug("could not cancel upload session in %s", self.name)

    @staticmethod
    def _location(response: httpx.Response, where: str) -> str:
        location: str | None = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{where}: the registry opened an upload without a Location")
        return location


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *extra.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))
