"""The registry backend: a repository reached over the OCI Distribution API.

Every manifest is read whole (capped at 4 MiB) and verified against the digest it
was requested by and the ``Docker-Content-Digest`` the registry announced. Blobs are
streamed and hashed while read; uploads are verified before the final ``PUT`` commits
them, so a bad stream never becomes a blob in the repository.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from polyarch import mediatype
from polyarch.descriptor import Descriptor
from polyarch.digest import Digest
from polyarch.errors import (
    BlobUnknown,
    ContentError,
    DigestMismatch,
    InvalidDigest,
    InvalidManifest,
    ManifestTooLarge,
    ManifestUnknown,
    NameUnknown,
    NotFound,
    PolyarchError,
    RegistryError,
    TransportError,
)
from polyarch.manifest import MAX_MANIFEST_SIZE, Manifest, parse_manifest
from polyarch.storage import registry_referrers
from polyarch.storage.base import CHUNK_SIZE, BlobReader, Repository, VerifyingStream
from polyarch.transport.client import RegistryClient
from polyarch.transport.errors import transport_error

__all__ = ["RegistryRepository"]

log = logging.getLogger("polyarch.storage")

#: Blobs up to this size are uploaded in one request; larger ones are streamed (PATCH).
MONOLITHIC_LIMIT = 4 * 1024 * 1024
#: Hard stop for ``Link`` pagination, so a registry whose pages loop cannot hang us.
MAX_TAG_PAGES = 1000

_T = TypeVar("_T")
_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
#: What httpx raises when a connection drops or stalls while a body is being read.
_BODY_ERRORS = (httpx.HTTPError, httpx.StreamError)


def _is_digest(identifier: str) -> bool:
    return ":" in identifier


def _verifies_itself(chunks: Iterable[bytes], descriptor: Descriptor) -> bool:
    """Whether ``chunks`` is a reader of exactly this blob: it raises if it does not verify."""
    if not isinstance(chunks, BlobReader):
        return False
    own = chunks.descriptor
    return own.digest == descriptor.digest and own.size == descriptor.size


def _coalesce(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Join the pieces a socket delivers (64 KiB) into chunks of at least ``size`` bytes.

    One copy per byte: httpx's own ``iter_bytes(size)`` re-chunker copies each byte
    three times, which costs more CPU than hashing it (measured: 0.46 s vs 0.30 s of
    CPU per 256 MiB read and hashed).
    """
    held: list[bytes] = []
    count = 0
    for piece in pieces:
        held.append(piece)
        count += len(piece)
        if count >= size:
            yield b"".join(held)
            held.clear()
            count = 0
    if held:
        yield b"".join(held)


class BodyInterrupted(TransportError):
    """A connection dropped or stalled while a response body was read.

    ``cause`` is the httpx error: reads are sent again when it is transient.
    """

    def __init__(self, message: str, *, hint: str | None, cause: Exception) -> None:
        super().__init__(message, hint=hint)
        self.cause = cause


class _RegistryBlobReader(BlobReader):
    def __init__(
        self, response: httpx.Response, descriptor: Descriptor, what: str, repo: RegistryRepository
    ) -> None:
        self.descriptor = descriptor
        self._response = response
        self._what = what
        self._repo = repo
        chunks = _coalesce(response.iter_bytes(), CHUNK_SIZE)
        self._stream = VerifyingStream(chunks, descriptor, what=what)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except _BODY_ERRORS as exc:
            raise self._repo._body_error(exc, f"GET {self._what}") from None
        finally:
            self._response.close()

    def close(self) -> None:
        self._response.close()


class RegistryRepository(Repository):
    """One repository in one registry.

    >>> from polyarch.transport import RegistryClient
    >>> repo = RegistryRepository(RegistryClient(), "127.0.0.1:5000", "metrics-api")
    >>> repo.name
    '127.0.0.1:5000/metrics-api'
    """

    def __init__(self, client: RegistryClient, registry: str, repository: str) -> None:
        self.client = client
        self.registry = registry
        self.repository = repository
        self.name = f"{registry}/{repository}"
        self._pull = [f"repository:{repository}:pull"]
        self._push = [f"repository:{repository}:pull,push"]
        #: Tags asked for per page of the tag list (the registry may return fewer).
        self.tag_page_size = 1000
        # Upload sessions a declined mount left open, reused by the next put of that blob.
        self._pending_uploads: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"RegistryRepository({self.name!r})"

    def _path(self, kind: str, identifier: str = "") -> str:
        return f"/v2/{self.repository}/{kind}/{identifier}"

    # Manifests ---------------------------------------------------------------------

    def get_manifest(self, identifier: str) -> Manifest:
        """Fetch and verify a manifest or index by tag or digest.

        A body cut off by a dropped connection is fetched again, as the client's retry
        policy allows (the client itself only retries what it reads whole).
        """
        return self._reading(lambda: self._get_manifest_once(identifier))

    def _get_manifest_once(self, identifier: str) -> Manifest:
        where = self._where(identifier)
        try:
            response = self.client.request(
                "GET",
                self.registry,
                self._path("manifests", identifier),
                scopes=self._pull,
                headers={"Accept": mediatype.ACCEPT_MANIFESTS},
                stream=True,
                what=f"GET manifest {where}",
            )
        except NotFound as exc:
            raise self._not_found(exc, where) from None
        try:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > MAX_MANIFEST_SIZE:
                raise ManifestTooLarge(f"manifest {where} is {length} bytes, over the 4 MiB limit")
            body = bytearray()
            for chunk in response.iter_bytes(CHUNK_SIZE):
                body += chunk
                if len(body) > MAX_MANIFEST_SIZE:
                    raise ManifestTooLarge(f"manifest {where} is over the 4 MiB limit")
        except _BODY_ERRORS as exc:
            raise self._body_error(exc, f"GET manifest {where}") from None
        finally:
            response.close()
        raw = bytes(body)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip() or None
        announced = response.headers.get("Docker-Content-Digest")
        if _is_digest(identifier):
            Digest(identifier).verify(raw, what=f"manifest {where}")
        if announced:
            try:
                Digest(announced).verify(raw, what=f"manifest {where} (Docker-Content-Digest)")
            except InvalidDigest:
                raise DigestMismatch(
                    f"manifest {where}: registry announced an invalid digest {announced!r}"
                ) from None
        return parse_manifest(raw, content_type, what=f"manifest {where}")

    def head_manifest(self, identifier: str) -> Descriptor | None:
        """The descriptor of a manifest by tag or digest, or None when absent."""
        where = self._where(identifier)
        response = self.client.request(
            "HEAD",
            self.registry,
            self._path("manifests", identifier),
            scopes=self._pull,
            headers={"Accept": mediatype.ACCEPT_MANIFESTS},
            expect=(200, 404),
            what=f"HEAD manifest {where}",
        )
        if response.status_code == 404:
            return None
        announced = response.headers.get("Docker-Content-Digest")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        length = response.headers.get("Content-Length", "")
        if not announced or not length.isdigit() or not mediatype.is_manifest(media_type):
            # Some registries answer HEAD incompletely; the GET is authoritative.
            manifest = self.get_manifest(identifier)
            return Descriptor(manifest.media_type, manifest.digest, manifest.size)
        try:
            digest = Digest(announced)
        except InvalidDigest:
            raise DigestMismatch(
                f"manifest {where}: registry announced an invalid digest {announced!r}"
            ) from None
        if _is_digest(identifier) and digest != identifier:
            raise DigestMismatch(f"manifest {where}: registry announced {digest}")
        return Descriptor(media_type, digest, int(length))

    def put_manifest(self, manifest: Manifest, tag: str | None = None) -> None:
        """PUT a manifest's exact bytes, under ``tag`` or by digest."""
        identifier = tag or str(manifest.digest)
        where = self._where(identifier)
        response = self.client.request(
            "PUT",
            self.registry,
            self._path("manifests", identifier),
            scopes=self._push,
            headers={"Content-Type": manifest.media_type},
            content=manifest.raw,
            expect=(200, 201),
            what=f"PUT manifest {where}",
        )
        announced = response.headers.get("Docker-Content-Digest")
        if announced and announced != manifest.digest:
            raise DigestMismatch(
                f"PUT manifest {where}: registry stored {announced}, expected {manifest.digest}"
            )

    def delete_manifest(self, digest: Digest) -> None:
        """DELETE a manifest by digest (the registry must allow deletes)."""
        where = self._where(digest)
        try:
            self.client.request(
                "DELETE",
                self.registry,
                self._path("manifests", digest),
                scopes=[f"repository:{self.repository}:delete"],
                expect=(200, 202),
                what=f"DELETE manifest {where}",
            )
        except NotFound as exc:
            raise self._not_found(exc, where) from None

    # Blobs -------------------------------------------------------------------------

    def blob_size(self, digest: Digest) -> int | None:
        """HEAD a blob: its size when present, None when absent."""
        response = self.client.request(
            "HEAD",
            self.registry,
            self._path("blobs", digest),
            scopes=self._pull,
            expect=(200, 404),
            what=f"HEAD blob {self.name}@{digest}",
        )
        if response.status_code == 404:
            return None
        length = response.headers.get("Content-Length", "")
        return int(length) if length.isdigit() else -1

    def open_blob(self, descriptor: Descriptor) -> BlobReader:
        """GET a blob as a verified stream of chunks."""
        where = f"blob {self.name}@{descriptor.digest}"
        try:
            response = self.client.request(
                "GET",
                self.registry,
                self._path("blobs", descriptor.digest),
                scopes=self._pull,
                stream=True,
                what=f"GET {where}",
            )
        except NotFound:
            raise BlobUnknown(
                f"{where} not found", hint="push or copy the blob into this repository"
            ) from None
        return _RegistryBlobReader(response, descriptor, where, self)

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Upload a blob: one request when small and given whole, else a streamed PATCH.

        The content is hashed as it goes out; a mismatch aborts the upload session before
        the final PUT, so nothing unverified is ever committed. A :class:`BlobReader` of
        this very blob (a copy from another repository) verifies itself as it is read, so
        it is not hashed a second time. The PATCH states the length: no chunked framing.
        """
        where = f"blob {self.name}@{descriptor.digest}"
        location = self._pending_uploads.pop(str(descriptor.digest), None)
        if location is None:
            location = self._start_upload(where)
        if isinstance(chunks, list | tuple) and descriptor.size <= MONOLITHIC_LIMIT:
            data = b"".join(chunks)
            if (
                Digest.of(data, descriptor.digest.algorithm) != descriptor.digest
                or len(data) != descriptor.size
            ):
                self._cancel_upload(location)
                raise DigestMismatch(f"{where}: the content given does not match its descriptor")
            self._finish_upload(location, descriptor, data, where)
            return
        # Auth must be settled before a one-shot streamed body goes out: it cannot be resent.
        self.client.ensure_auth(self.registry, self._push)
        stream: Iterable[bytes] = chunks
        if not _verifies_itself(chunks, descriptor):
            stream = VerifyingStream(chunks, descriptor, what=where)
        try:
            response = self.client.request_url(
                "PATCH",
                self._absolute(location),
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
            self._cancel_upload(location)
            raise
        location = response.headers.get("Location", location)
        self._finish_upload(location, descriptor, b"", where)

    def _start_upload(self, where: str) -> str:
        response = self.client.request(
            "POST",
            self.registry,
            self._path("blobs", "uploads/"),
            scopes=self._push,
            expect=(202,),
            idempotent=False,
            what=f"start upload of {where}",
        )
        return self._location(response, where)

    def _finish_upload(
        self, location: str, descriptor: Descriptor, data: bytes, where: str
    ) -> None:
        url = self._with_query(self._absolute(location), {"digest": str(descriptor.digest)})
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

    def _cancel_upload(self, location: str) -> None:
        try:
            self.client.request_url(
                "DELETE",
                self._absolute(location),
                registry=self.registry,
                scopes=self._push,
                expect=(200, 202, 204, 404),
                idempotent=False,
                what=f"cancel upload in {self.name}",
            )
        except PolyarchError:  # best effort: the registry expires abandoned sessions anyway
            log.debug("could not cancel upload session in %s", self.name)

    def can_mount_from(self, source: Repository) -> bool:
        """Mounts work between repositories of the same registry."""
        return isinstance(source, RegistryRepository) and source.registry == self.registry

    def same_as(self, other: Repository) -> bool:
        """Same registry, same repository name."""
        return (
            isinstance(other, RegistryRepository)
            and other.registry == self.registry
            and other.repository == self.repository
        )

    def mount_blob(self, descriptor: Descriptor, source: Repository) -> bool:
        """Cross-repository mount (``?mount=&from=``) within the same registry."""
        if not self.can_mount_from(source):
            return False
        if self.same_as(source):
            return True
        assert isinstance(source, RegistryRepository)
        where = f"blob {self.name}@{descriptor.digest}"
        response = self.client.request(
            "POST",
            self.registry,
            self._path("blobs", "uploads/"),
            params={"mount": str(descriptor.digest), "from": source.repository},
            scopes=[*self._push, f"repository:{source.repository}:pull"],
            expect=(201, 202),
            idempotent=False,
            what=f"mount {where} from {source.name}",
        )
        if response.status_code == 201:
            return True
        # 202: the registry declined the mount and opened an ordinary upload session
        # instead; keep it for the upload that follows rather than leaking it.
        self._pending_uploads[str(descriptor.digest)] = self._location(response, where)
        return False

    def read_blob(self, descriptor: Descriptor, *, max_size: int = 16 * 1024 * 1024) -> bytes:
        """Read a small blob (a config) whole, verified; read again if its body is cut off."""
        return self._reading(lambda: Repository.read_blob(self, descriptor, max_size=max_size))

    def delete_blob(self, digest: Digest) -> None:
        """DELETE a blob by digest (the registry must allow deletes)."""
        where = f"blob {self.name}@{digest}"
        try:
            self.client.request(
                "DELETE",
                self.registry,
                self._path("blobs", digest),
                scopes=[f"repository:{self.repository}:delete"],
                expect=(200, 202),
                what=f"DELETE {where}",
            )
        except NotFound:
            raise BlobUnknown(f"{where} not found") from None

    # Tags --------------------------------------------------------------------------

    def delete_tag(self, tag: str) -> bool:
        """DELETE ``/v2/NAME/manifests/TAG``: the OCI 1.1 tag deletion, where supported.

        202 (or 200): the tag is gone, the manifest stays; 404: the tag was absent. A
        registry that can only delete by digest refuses the request without changing
        anything (distribution 2.8 answers 400 ``DIGEST_INVALID`` when deletes are
        enabled, 405 ``UNSUPPORTED`` when not): False. Other failures raise.
        """
        if _is_digest(tag):
            raise InvalidDigest(f"delete_tag needs a tag, not the digest {tag}")
        response = self.client.request(
            "DELETE",
            self.registry,
            self._path("manifests", tag),
            scopes=[f"repository:{self.repository}:delete"],
            expect=(200, 202, 400, 404, 405),
            what=f"DELETE tag {self._where(tag)}",
        )
        if response.status_code == 404:
            log.debug("tag %s was already absent", self._where(tag))
        return response.status_code in (200, 202, 404)

    def list_tags(self) -> list[str]:
        """All tags, following ``Link`` pagination (loops are detected and stopped)."""
        tags: list[str] = []
        url: str | None = self._absolute(f"/v2/{self.repository}/tags/list?n={self.tag_page_size}")
        # Pages are told apart by path and query: the scheme of the first URL may change
        # once the client has decided between https and http.
        seen: set[tuple[str, str]] = set()
        while url is not None:
            page_key = urlsplit(url)[2:4]
            if page_key in seen or len(seen) >= MAX_TAG_PAGES:
                raise RegistryError(
                    f"tag list of {self.name}: pagination does not end (page {url!r} repeats)"
                )
            seen.add(page_key)
            try:
                response = self.client.request_url(
                    "GET",
                    url,
                    registry=self.registry,
                    scopes=self._pull,
                    what=f"list tags of {self.name}",
                )
            except NotFound as exc:
                raise self._not_found(exc, self.name) from None
            try:
                page = response.json()
            except (ValueError, RecursionError):
                raise InvalidManifest(f"tag list of {self.name} is not valid JSON") from None
            page_tags = page.get("tags") if isinstance(page, dict) else None
            if page_tags is not None:
                if not isinstance(page_tags, list) or not all(
                    isinstance(t, str) for t in page_tags
                ):
                    raise InvalidManifest(f"tag list of {self.name}: tags must be strings")
                tags.extend(page_tags)
            match = _LINK_RE.search(response.headers.get("Link", ""))
            url = self._absolute(match.group(1)) if match else None
        return tags

    # Referrers (the API client lives in storage/registry_referrers.py) -------------

    def referrers_api(self) -> bool:
        """True when the registry answers ``GET /v2/NAME/referrers/DIGEST`` (asked once)."""
        return registry_referrers.api_available(self)

    def list_referrers(self, digest: Digest, artifact_type: str | None = None) -> list[Descriptor]:
        """The referrers API when the registry has it, else the referrers tag schema."""
        return registry_referrers.list_referrers(self, digest, artifact_type)

    # Helpers -----------------------------------------------------------------------

    def _body_error(self, exc: Exception, what: str) -> TransportError:
        """The error for a connection that dropped or stalled while a body was read."""
        error = transport_error(exc, self.registry, what, timeout=self.client.settings.timeout)
        return BodyInterrupted(error.message, hint=error.hint, cause=exc)

    def _reading(self, read: Callable[[], _T]) -> _T:
        """``read()``, called again when a response body it reads is cut off.

        As often as the client's retry policy allows (attempts, total time, backoff);
        the last error is raised. Only for reads: they are idempotent and re-sent whole.
        """
        started = self.client.clock()
        failures = 0
        while True:
            try:
                return read()
            except BodyInterrupted as cut:
                failures += 1
                if not self.client.retry_read(cut.cause, failures, started):
                    raise

    def _where(self, identifier: str) -> str:
        sep = "@" if _is_digest(identifier) else ":"
        return f"{self.name}{sep}{identifier}"

    def _not_found(self, exc: NotFound, where: str) -> NotFound:
        if isinstance(exc, NameUnknown):
            return NameUnknown(
                f"repository {self.name} not found", hint="check the repository name"
            )
        if isinstance(exc, BlobUnknown):
            return exc
        return ManifestUnknown(
            f"manifest {where} not found", hint="check the tag or digest, or push the image first"
        )

    def _absolute(self, location: str) -> str:
        return urljoin(self.client.base_url(self.registry) + "/", location)

    def _location(self, response: httpx.Response, where: str) -> str:
        location: str | None = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{where}: the registry opened an upload without a Location")
        return location

    @staticmethod
    def _with_query(url: str, extra: dict[str, str]) -> str:
        parts = urlsplit(url)
        query = [*parse_qsl(parts.query, keep_blank_values=True), *extra.items()]
        return urlunsplit(parts._replace(query=urlencode(query)))
