"""The registry backend: a repository reached over the OCI Distribution API.

Every manifest is read whole (capped at 4 MiB) and verified against the digest it
was requested by and the ``Docker-Content-Digest`` the registry announced. Blobs are
streamed and hashed while read; uploads are verified before the final ``PUT`` commits
them, so a bad stream never becomes a blob in the repository.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.document import ascii_int
from polyarch.domain.manifest import MAX_MANIFEST_SIZE, Manifest, parse_manifest
from polyarch.errors import (
    BlobUnknown,
    DigestMismatch,
    ImmutableTag,
    InvalidDigest,
    ManifestTooLarge,
    NotFound,
    RegistryError,
    Unsupported,
)
from polyarch.storage.registry.bodies import (
    BODY_ERRORS,
    BodyInterrupted,
    RegistryBlobReader,
    body_error,
)
from polyarch.storage.registry.endpoint import Endpoint
from polyarch.storage.registry.referrers import ReferrersAPI
from polyarch.storage.registry.tags import DEFAULT_PAGE_SIZE, list_tags
from polyarch.storage.registry.uploads import Uploads
from polyarch.storage.repository import (
    MAX_SMALL_BLOB,
    BlobMounting,
    CheckedStore,
    ReferrersIndexing,
    Repository,
    TagPaging,
)
from polyarch.storage.stream import CHUNK_SIZE, BlobReader
from polyarch.transport.client import RegistryClient

__all__ = ["RegistryRepository"]

log = logging.getLogger("polyarch.storage")

_T = TypeVar("_T")


def _is_digest(identifier: str) -> bool:
    return ":" in identifier


def _is_schema1(raw: bytes, content_type: str | None) -> bool:
    """A Docker schema1 manifest, by its media type or its ``schemaVersion``."""
    if content_type in (mediatype.DOCKER_SCHEMA1_MANIFEST, mediatype.DOCKER_SCHEMA1_SIGNED):
        return True
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("schemaVersion") == 1


def _same_bytes(announced: str, manifest: Manifest) -> bool:
    """A digest the registry announced in another algorithm than the manifest's own (its
    canonical sha256; the distribution spec allows it) names the same bytes."""
    try:
        other = Digest(announced)
    except InvalidDigest:
        return False
    return other.algorithm != manifest.digest.algorithm and other == Digest.of(
        manifest.raw, other.algorithm
    )


def _immutable(exc: RegistryError) -> bool:
    """A tag PUT refused because the tag is immutable (the registries' own words)."""
    return exc.status in (400, 403, 409, 412) and "immutable" in exc.message.lower()


class RegistryRepository(BlobMounting, CheckedStore, ReferrersIndexing, TagPaging):
    """One repository in one registry: every storage ability a registry has.

    >>> from polyarch.transport.client import RegistryClient
    >>> repo = RegistryRepository(RegistryClient(), "127.0.0.1:5000", "metrics-api")
    >>> repo.name
    '127.0.0.1:5000/metrics-api'
    """

    def __init__(self, client: RegistryClient, registry: str, repository: str) -> None:
        self.endpoint = Endpoint(client, registry, repository)
        self.client = client
        self.registry = registry
        self.repository = repository
        self.name = self.endpoint.name
        self._uploads = Uploads(self.endpoint)
        self._referrers = ReferrersAPI(self.endpoint, self.get_manifest)
        self.tag_page_size = DEFAULT_PAGE_SIZE
        # The page size the registry refused, and the one it accepted instead (None: no n).
        self._page_size_refused: int | None = None
        self._page_size_accepted: int | None = None

    def __repr__(self) -> str:
        return f"RegistryRepository({self.name!r})"

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
                self.endpoint.path("manifests", identifier),
                scopes=self.endpoint.pull,
                headers={"Accept": mediatype.ACCEPT_MANIFESTS},
                stream=True,
                what=f"GET manifest {where}",
            )
        except NotFound as exc:
            raise self._not_found(exc, where) from None
        try:
            length = ascii_int(response.headers.get("Content-Length"))
            if length is not None and length > MAX_MANIFEST_SIZE:
                raise ManifestTooLarge(f"manifest {where} is {length} bytes, over the 4 MiB limit")
            body = bytearray()
            for chunk in response.iter_bytes(CHUNK_SIZE):
                body += chunk
                if len(body) > MAX_MANIFEST_SIZE:
                    raise ManifestTooLarge(f"manifest {where} is over the 4 MiB limit")
        except BODY_ERRORS as exc:
            raise body_error(self.client, self.registry, exc, f"GET manifest {where}") from None
        finally:
            response.close()
        raw = bytes(body)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip() or None
        announced = response.headers.get("Docker-Content-Digest")
        try:
            if _is_digest(identifier):
                Digest(identifier).verify(raw, what=f"manifest {where}")
            if announced:
                try:
                    Digest(announced).verify(raw, what=f"manifest {where} (Docker-Content-Digest)")
                except InvalidDigest:
                    raise DigestMismatch(
                        f"manifest {where}: registry announced an invalid digest {announced!r}"
                    ) from None
        except DigestMismatch:
            # A signed schema1 manifest is served re-signed by the registry, announced by the
            # digest of its canonical payload (distribution's signedmanifesthandler): the
            # bytes never hash to it. That is no tampering but an unsupported format.
            if _is_schema1(raw, content_type):
                parse_manifest(raw, content_type, what=f"manifest {where}")  # says schema1
            raise
        return parse_manifest(raw, content_type, what=f"manifest {where}")

    def head_manifest(self, identifier: str) -> Descriptor | None:
        """The descriptor of a manifest by tag or digest, or None when absent."""
        where = self._where(identifier)
        response = self.client.request(
            "HEAD",
            self.registry,
            self.endpoint.path("manifests", identifier),
            scopes=self.endpoint.pull,
            headers={"Accept": mediatype.ACCEPT_MANIFESTS},
            expect=(200, 404),
            what=f"HEAD manifest {where}",
        )
        if response.status_code == 404:
            return None
        announced = response.headers.get("Docker-Content-Digest")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        length = ascii_int(response.headers.get("Content-Length"))
        if not announced or length is None or not mediatype.is_manifest(media_type):
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
            if digest.algorithm == Digest(identifier).algorithm:
                raise DigestMismatch(f"manifest {where}: registry announced {digest}")
            # Announced in the registry's own algorithm: the GET verifies the one asked.
            manifest = self.get_manifest(identifier)
            return Descriptor(manifest.media_type, manifest.digest, manifest.size)
        return Descriptor(media_type, digest, length)

    def put_manifest(self, manifest: Manifest, tag: str | None = None) -> None:
        """PUT a manifest's exact bytes, under ``tag`` or by digest.

        A tag the registry refuses to overwrite raises :class:`~polyarch.errors.ImmutableTag`
        (ECR ``400 TAG_INVALID`` and Harbor ``412 PRECONDITION`` both say "immutable").
        """
        identifier = tag or str(manifest.digest)
        where = self._where(identifier)
        try:
            response = self.client.request(
                "PUT",
                self.registry,
                self.endpoint.path("manifests", identifier),
                scopes=self.endpoint.push,
                headers={"Content-Type": manifest.media_type},
                content=manifest.raw,
                expect=(200, 201),
                what=f"PUT manifest {where}",
            )
        except RegistryError as exc:
            if tag is not None and _immutable(exc):
                raise ImmutableTag(
                    f"{where} is an immutable tag on {self.registry}: it exists and the "
                    f"registry refuses to overwrite it ({exc.message})",
                    code=exc.code,
                    status=exc.status,
                    hint="publish under a new tag (a version that does not exist yet), or "
                    "delete the tag first where the registry allows it",
                ) from None
            raise
        announced = response.headers.get("Docker-Content-Digest")
        if announced and announced != manifest.digest and not _same_bytes(announced, manifest):
            raise DigestMismatch(
                f"PUT manifest {where}: registry stored {announced}, expected {manifest.digest}"
            )

    def delete_manifest(self, digest: Digest) -> None:
        """DELETE a manifest by digest (the registry must allow deletes).

        A registry with deletes disabled answers ``405 UNSUPPORTED`` (distribution's
        ``storage.delete.enabled: false``, its default): :class:`~polyarch.errors.Unsupported`
        saying so.
        """
        where = self._where(digest)
        try:
            self.client.request(
                "DELETE",
                self.registry,
                self.endpoint.path("manifests", digest),
                scopes=self.endpoint.delete,
                expect=(200, 202),
                what=f"DELETE manifest {where}",
            )
        except NotFound as exc:
            raise self._not_found(exc, where) from None
        except Unsupported as exc:
            raise self._deletes_disabled(exc, f"manifest {where}") from None

    # Blobs -------------------------------------------------------------------------

    def blob_size(self, digest: Digest) -> int | None:
        """HEAD a blob: its size when present, None when absent."""
        response = self.client.request(
            "HEAD",
            self.registry,
            self.endpoint.path("blobs", digest),
            scopes=self.endpoint.pull,
            expect=(200, 404),
            what=f"HEAD blob {self.name}@{digest}",
        )
        if response.status_code == 404:
            return None
        length = ascii_int(response.headers.get("Content-Length"))
        return length if length is not None else -1

    def open_blob(self, descriptor: Descriptor) -> BlobReader:
        """GET a blob as a verified stream of chunks."""
        where = f"blob {self.name}@{descriptor.digest}"
        try:
            response = self.client.request(
                "GET",
                self.registry,
                self.endpoint.path("blobs", descriptor.digest),
                scopes=self.endpoint.pull,
                stream=True,
                what=f"GET {where}",
            )
        except NotFound:
            raise BlobUnknown(
                f"{where} not found", hint="push or copy the blob into this repository"
            ) from None
        return RegistryBlobReader(response, descriptor, where, self.client, self.registry)

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Upload a blob: one request when small and given whole, else a streamed PATCH.

        The content is hashed as it goes out; a mismatch aborts the upload session before
        the final PUT, so nothing unverified is ever committed (see
        :class:`~polyarch.storage.registry.uploads.Uploads`).
        """
        self._uploads.put_blob(descriptor, chunks)

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

    def interrupt(self, timeout: float) -> None:
        """Send nothing more through this repository's client (it is the operation's, so no
        request of the operation is sent any more) and cancel its open upload sessions
        (``DELETE``, in parallel, within ``timeout`` seconds, best effort)."""
        self.client.cancel()
        self._uploads.cancel_open(timeout)

    def blob_home(self) -> tuple[str, str]:
        """This registry and repository: blobs here can be mounted into its siblings."""
        return (self.registry, self.repository)

    def sibling(self, repository: str) -> Repository:
        """Another repository of this registry, through the same client (tokens, pool)."""
        return RegistryRepository(self.client, self.registry, repository)

    def mount_blob(self, descriptor: Descriptor, source: Repository) -> bool:
        """Cross-repository mount (``?mount=&from=``) within the same registry."""
        if not self.can_mount_from(source):
            return False
        if self.same_as(source):
            return True
        assert isinstance(source, RegistryRepository)
        return self._uploads.mount(descriptor, source.repository, source.name)

    def read_blob(self, descriptor: Descriptor, *, max_size: int = MAX_SMALL_BLOB) -> bytes:
        """Read a small blob (a config) whole, verified; read again if its body is cut off."""
        return self._reading(lambda: Repository.read_blob(self, descriptor, max_size=max_size))

    def delete_blob(self, digest: Digest) -> None:
        """DELETE a blob by digest (the registry must allow deletes)."""
        where = f"blob {self.name}@{digest}"
        try:
            self.client.request(
                "DELETE",
                self.registry,
                self.endpoint.path("blobs", digest),
                scopes=self.endpoint.delete,
                expect=(200, 202),
                what=f"DELETE {where}",
            )
        except NotFound:
            raise BlobUnknown(f"{where} not found") from None
        except Unsupported as exc:
            raise self._deletes_disabled(exc, where) from None

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
            self.endpoint.path("manifests", tag),
            scopes=self.endpoint.delete,
            expect=(200, 202, 400, 404, 405),
            what=f"DELETE tag {self._where(tag)}",
        )
        if response.status_code == 404:
            log.debug("tag %s was already absent", self._where(tag))
        return response.status_code in (200, 202, 404)

    def list_tags(self) -> list[str]:
        """All tags, following ``Link`` pagination (storage/registry/tags.py).

        A page size the registry refuses is replaced by one it accepts, and that one is
        asked from then on.
        """
        if self._page_size_refused == self.tag_page_size:
            return list_tags(self.endpoint, self._page_size_accepted)
        return list_tags(self.endpoint, self.tag_page_size, adapted=self._adapted)

    def _adapted(self, size: int | None) -> None:
        self._page_size_refused = self.tag_page_size
        self._page_size_accepted = size

    # Referrers (the API client lives in storage/registry/referrers.py) -------------

    def referrers_api(self) -> bool:
        """True when the registry answers ``GET /v2/NAME/referrers/DIGEST`` (asked once)."""
        return self._referrers.available()

    def list_referrers(self, digest: Digest, artifact_type: str | None = None) -> list[Descriptor]:
        """The referrers API when the registry has it, else the referrers tag schema."""
        return self._referrers.find(digest, artifact_type)

    # Helpers -----------------------------------------------------------------------

    def _reading(self, read: Callable[[], _T]) -> _T:
        """``read()``, called again when a response body it reads is cut off.

        As often as the client's retry policy allows (transport/retry.py: attempts, total
        time, backoff, the operation's budget); the last error is raised. Only for reads:
        they are idempotent and re-sent whole.
        """
        tries = self.client.retrier.tries()
        while True:
            try:
                return read()
            except BodyInterrupted as cut:
                if not tries.read_again(cut.cause):
                    raise

    def _where(self, identifier: str) -> str:
        return self.endpoint.where(identifier)

    def _deletes_disabled(self, exc: Unsupported, what: str) -> Unsupported:
        """The error for a DELETE the registry refuses as unsupported (405)."""
        if exc.status != 405:
            return exc
        return Unsupported(
            f"{self.registry} does not allow deletes (deletes are disabled in its "
            f"configuration); {what} was not deleted",
            code=exc.code,
            status=exc.status,
            hint="enable deletes (distribution: storage.delete.enabled: true), or delete "
            "through the registry's own interface",
        )

    def _not_found(self, exc: NotFound, where: str) -> NotFound:
        return self.endpoint.not_found(exc, where)
