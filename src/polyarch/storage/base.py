"""The one small storage interface every backend implements.

Operations (inspect, resolve, create, copy, verify) are written only against
:class:`Repository`: a registry repository and an OCI image layout directory look the
same to them, so copying is "read from one, write to another" with no special cases
per pair.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Final

from polyarch.descriptor import Descriptor
from polyarch.digest import Digest, Hasher
from polyarch.errors import DigestMismatch, SizeMismatch
from polyarch.manifest import Manifest
from polyarch.storage.referrers_tag import read_tag_schema

__all__ = ["CHUNK_SIZE", "BlobReader", "Repository", "VerifyingStream"]

#: Read and write blobs in chunks of this size: memory stays constant whatever the blob.
#: Each blob in flight holds about three chunks (the one being joined from the socket's
#: 64 KiB reads, the one being hashed and sent, the one the HTTP stack still refers to), so
#: this sets the memory per ``--jobs``. Measured on a 1 GiB copy between loopback
#: registries (docs/benchmarks.md), with the allocator settled (:func:`_settle_allocator`):
#: 128 KiB takes the same CPU as 256 KiB to 1 MiB, and peak RSS with 4 jobs is about 12 MiB
#: lower than with 1 MiB. Passing the socket's 64 KiB reads on unjoined costs CPU (every
#: chunk is one more trip through the HTTP stack: +0.1 to 0.3 s per GiB).
CHUNK_SIZE: Final = 128 * 1024


@functools.cache
def _settle_allocator() -> None:
    """Make the C allocator reuse chunk-sized blocks instead of asking the kernel each time.

    glibc's malloc serves blocks of 128 KiB and more with ``mmap`` until one such block is
    freed; then it raises that threshold to the freed size and trims the heap whenever
    twice the threshold is free at its top (mallopt(3), ``M_MMAP_THRESHOLD``, "dynamic
    adjustment"). Chunks of 128 KiB and more, made and freed in turn, may then keep being
    handed back to the kernel and faulted in again: measured on a 1 GiB copy with 256 KiB
    chunks, 170,000 minor page faults and 0.3 to 0.7 s more CPU, depending on the run's
    first allocations (1 MiB chunks churned too, in some runs). Freeing one block of four
    chunks first (``calloc``'d by ``mmap``, its pages never touched, so it costs two system
    calls) raises the threshold above every chunk size once per process: 6,700 faults for
    the same copy. Four chunks, not more: the heap keeps up to twice the threshold free,
    resident, per malloc arena (one per job thread). A no-op with other allocators.
    Called by every :class:`VerifyingStream`.
    """
    released = bytes(4 * CHUNK_SIZE)
    del released


class VerifyingStream:
    """Wraps an iterator of chunks, hashing them; at the end checks digest and size.

    Raises :class:`DigestMismatch` / :class:`SizeMismatch` when the stream is exhausted
    and does not match ``descriptor``, so a consumer that commits only after the last
    chunk never commits bad content.
    """

    def __init__(self, chunks: Iterable[bytes], descriptor: Descriptor, *, what: str) -> None:
        _settle_allocator()
        self._chunks = chunks
        self.descriptor = descriptor
        self.what = what
        self.hasher = Hasher(descriptor.digest.algorithm)

    def __iter__(self) -> Iterator[bytes]:
        expected = self.descriptor.size
        for chunk in self._chunks:
            if not chunk:
                continue
            self.hasher.update(chunk)
            if self.hasher.size > expected:
                raise SizeMismatch(
                    f"{self.what}: more than the {expected} bytes its descriptor states"
                )
            yield chunk
        if self.hasher.size != expected:
            raise SizeMismatch(f"{self.what}: got {self.hasher.size} bytes, expected {expected}")
        actual = self.hasher.digest()
        if actual != self.descriptor.digest:
            raise DigestMismatch(f"{self.what}: content hashes to {actual}")


class BlobReader(abc.ABC):
    """An open blob: iterate it for verified chunks, then close it (or use ``with``)."""

    descriptor: Descriptor

    @abc.abstractmethod
    def __iter__(self) -> Iterator[bytes]:
        """Yield the blob's bytes in chunks; raises at the end if they do not verify."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the underlying connection or file."""

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Repository(abc.ABC):
    """One repository of one backend: a registry repository or an OCI layout.

    ``identifier`` arguments are a tag or a digest. Every manifest returned has been
    verified against the digest it was asked by and the digest the backend announced.
    """

    #: Human-readable name, e.g. ``127.0.0.1:5000/metrics-api``.
    name: str

    @abc.abstractmethod
    def get_manifest(self, identifier: str) -> Manifest:
        """Fetch and verify a manifest or index by tag or digest."""

    @abc.abstractmethod
    def head_manifest(self, identifier: str) -> Descriptor | None:
        """The descriptor of a manifest by tag or digest, or None when absent."""

    @abc.abstractmethod
    def put_manifest(self, manifest: Manifest, tag: str | None = None) -> None:
        """Store a manifest's exact bytes, under ``tag`` or (when None) by digest."""

    @abc.abstractmethod
    def delete_manifest(self, digest: Digest) -> None:
        """Delete a manifest by digest."""

    @abc.abstractmethod
    def blob_size(self, digest: Digest) -> int | None:
        """The size of a blob when the repository holds it, else None (a HEAD)."""

    @abc.abstractmethod
    def open_blob(self, descriptor: Descriptor) -> BlobReader:
        """Open a blob for streaming; its chunks verify against ``descriptor``."""

    @abc.abstractmethod
    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Store a blob from a stream of chunks, verifying it before it is committed."""

    @abc.abstractmethod
    def mount_blob(self, descriptor: Descriptor, source: Repository) -> bool:
        """Make a blob of ``source`` appear here without moving bytes, if the backend can.

        Returns False when it cannot (other registry, or the registry declined); the
        caller then streams the blob.
        """

    def can_mount_from(self, source: Repository) -> bool:
        """True when :meth:`mount_blob` may succeed from ``source`` (used to plan dry runs)."""
        return False

    def blob_home(self) -> tuple[str, str] | None:
        """``(registry, repository)`` naming where blobs here can be mounted from, or None.

        Registries mount blobs across their own repositories (distribution spec,
        "Mounting a blob from another repository"); an OCI layout has no such notion.
        """
        return None

    def sibling(self, repository: str) -> Repository | None:
        """Another repository of the same registry, sharing this one's client; or None."""
        return None

    def same_as(self, other: Repository) -> bool:
        """True when ``other`` is this very repository (content there is content here)."""
        return self is other

    @abc.abstractmethod
    def delete_blob(self, digest: Digest) -> None:
        """Delete a blob by digest."""

    @abc.abstractmethod
    def list_tags(self) -> list[str]:
        """All tags of the repository."""

    def delete_tag(self, tag: str) -> bool:
        """Remove ``tag`` alone, leaving the manifest it points at in place.

        True when the tag is gone (deleted now, or absent already); False when the
        backend cannot delete a tag without deleting the manifest (then nothing was
        changed). Backends that cannot do it keep this default.
        """
        return False

    def read_blob(self, descriptor: Descriptor, *, max_size: int = 16 * 1024 * 1024) -> bytes:
        """Read a small blob (a config) whole, verified; refuses anything over ``max_size``."""
        if descriptor.size > max_size:
            raise SizeMismatch(
                f"{self.name}@{descriptor.digest}: {descriptor.size} bytes, too large to read whole"
            )
        with self.open_blob(descriptor) as reader:
            return b"".join(reader)

    def put_blob_bytes(self, descriptor: Descriptor, data: bytes) -> None:
        """Store a small blob given as bytes."""
        self.put_blob(descriptor, [data])

    # Referrers (OCI distribution spec 1.1, "Listing Referrers") ---------------------

    def referrers_api(self) -> bool:
        """True when the backend answers the referrers API (it indexes ``subject`` itself).

        Then a manifest with a ``subject`` is found by its subject once it is pushed;
        otherwise writers maintain the referrers tag schema index. Backends without an
        API (an OCI layout, distribution 2.8) keep this default.
        """
        return False

    def list_referrers(self, digest: Digest, artifact_type: str | None = None) -> list[Descriptor]:
        """The descriptors of the manifests whose ``subject`` is ``digest``.

        ``artifact_type`` keeps only those of that artifact type. This default reads
        the referrers tag schema index (tag ``<alg>-<encoded>``, distribution spec
        "Referrers Tag Schema"); no such tag means no referrers. Backends with the
        referrers API override it. Raises :class:`~polyarch.errors.PolyarchError` when
        the tag exists but cannot be read.
        """
        return read_tag_schema(self, digest, artifact_type)
