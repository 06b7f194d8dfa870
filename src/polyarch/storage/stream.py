"""Blob bytes as verified streams: what every backend reads and writes blobs through.

A blob is never read whole: it moves in chunks of :data:`CHUNK_SIZE`, hashed as it goes
(:class:`VerifyingStream`), so a consumer that commits only after the last chunk never
commits content that does not match its descriptor (dxf, go-containerregistry: "hash
while streaming").
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Final

from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Hasher
from polyarch.errors import DigestMismatch, SizeMismatch
from polyarch.transport.reads import SOCKET_READ_BYTES

__all__ = ["CHUNK_SIZE", "BlobReader", "VerifyingStream"]

#: Read and write blobs in chunks of at least this size: memory stays constant whatever the
#: blob. A registry body arrives in socket reads of up to 512 KiB (transport/reads.py), passed
#: on as they come when they are this large, joined when a slow socket gives less; a file
#: is read in chunks of this size. Each blob in flight holds a few such pieces (the one
#: being hashed and sent, the one the HTTP stack still refers to), so this and the read
#: size set the memory per ``--jobs``. Measured on a 1 GiB copy between loopback
#: registries (docs/benchmarks.md), with the allocator settled (:func:`_settle_allocator`):
#: 128 KiB chunks took the same CPU as 256 KiB to 1 MiB; the socket read size is what
#: counts (a 1 GiB copy: 4.0 s of CPU with 64 KiB reads, 2.2 s with 512 KiB reads).
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
    resident, per malloc arena (one per job thread). Socket reads are larger than chunks
    (512 KiB: transport/reads.py), and their buffers churn the same way, so the block is
    four of the larger of the two (a 32 MiB copy: 4,200 page faults, 2,800 so). A no-op
    with other allocators. Called by every :class:`VerifyingStream`.
    """
    released = bytes(4 * max(CHUNK_SIZE, SOCKET_READ_BYTES))
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
