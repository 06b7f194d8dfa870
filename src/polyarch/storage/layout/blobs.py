"""The ``blobs/<alg>/<encoded>`` directory of an OCI image layout: content-addressed files.

image-spec ``image-layout.md`` ("Blobs"): each blob is a file named by its digest, whose
content hashes to that digest. :class:`LayoutBlobs` finds, sizes, opens, writes and removes
those files below the layout's root descriptor (links refused, regular files only: through
:mod:`polyarch.storage.layout.files`): a read is a stream verified against its descriptor
(:class:`FileBlobReader`), a write streams into a temporary file that is renamed into place
only once verified, and stops at its next chunk once the operation is interrupted.
:class:`~polyarch.storage.layout.repository.LayoutRepository` says what they mean for
manifests and tags.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from typing import BinaryIO, Final

from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.errors import Interrupted
from polyarch.files import os_failure
from polyarch.storage.layout import files as layoutfs
from polyarch.storage.stream import CHUNK_SIZE, BlobReader, VerifyingStream

__all__ = ["BLOBS", "FileBlobReader", "LayoutBlobs", "SourceFailed", "blob_path"]

#: The layout's directory of blobs.
BLOBS: Final = "blobs"


def blob_path(digest: Digest) -> str:
    """The blob's path inside the layout, as errors name it."""
    return f"{BLOBS}/{digest.algorithm}/{digest.hex}"


class SourceFailed(Exception):
    """An OS error raised by the chunks a blob is written from, on its way out."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class FileBlobReader(BlobReader):
    """A blob file read as chunks verified against its descriptor; closes the file."""

    def __init__(self, file: BinaryIO, descriptor: Descriptor, what: str, shown: str) -> None:
        self.descriptor = descriptor
        self._file = file
        self._shown = shown
        chunks = iter(partial(file.read, CHUNK_SIZE), b"")
        self._stream = VerifyingStream(chunks, descriptor, what=what)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except OSError as exc:
            # Named here, as this layout's file: the consumer (another layout's write)
            # must not take a failing read for a failure of its own file.
            raise os_failure(exc, self._shown) from None
        finally:
            self._file.close()

    def close(self) -> None:
        self._file.close()


class LayoutBlobs:
    """The blob files of the layout ``name``, each call given the layout's root descriptor.

    ``interrupted`` is the layout's: once set, no write commits anything more.
    """

    def __init__(self, name: str, interrupted: threading.Event) -> None:
        self.name = name
        self._interrupted = interrupted

    @contextmanager
    def directory(
        self, root: int | None, digest: Digest, *, create: bool = False
    ) -> Iterator[int | None]:
        """The fd of ``blobs/<alg>`` (links refused), or None when absent."""
        fds: list[int] = []
        try:
            parent = root
            for part, label in (
                (BLOBS, BLOBS),
                (digest.algorithm, f"{BLOBS}/{digest.algorithm}"),
            ):
                parent = layoutfs.open_dir(
                    parent, part, where=self.name, label=label, create=create
                )
                if parent is None:
                    break
                fds.append(parent)
            yield parent
        finally:
            for fd in fds:
                os.close(fd)

    def size(self, root: int | None, digest: Digest) -> int | None:
        """The size of the blob file, or None when absent; anything but a regular file is
        refused."""
        with self.directory(root, digest) as blobs:
            if blobs is None:
                return None
            try:
                st = os.stat(digest.hex, dir_fd=blobs, follow_symlinks=False)
            except FileNotFoundError:
                return None
        if not stat.S_ISREG(st.st_mode):
            raise layoutfs.refused(self.name, blob_path(digest))
        return st.st_size

    def open(self, root: int | None, digest: Digest) -> BinaryIO | None:
        """The blob file opened for reading, or None when absent."""
        with self.directory(root, digest) as blobs, suppress(FileNotFoundError):
            if blobs is None:
                return None
            return layoutfs.open_file(blobs, digest.hex, where=self.name, label=blob_path(digest))
        return None

    def write(self, root: int, descriptor: Descriptor, chunks: Iterable[bytes], where: str) -> None:
        """Stream ``chunks`` into the blob file, verified, renamed into place when whole.

        A file already there with the descriptor's size is left alone. An OS error of the
        source is raised as :class:`SourceFailed`, for the caller to raise as the source's.
        """
        digest = Digest(descriptor.digest)
        with self.directory(root, digest, create=True) as blobs:
            assert blobs is not None
            with suppress(FileNotFoundError):
                st = os.stat(digest.hex, dir_fd=blobs, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_size == descriptor.size:
                    return
            verified = VerifyingStream(chunks, descriptor, what=where)
            layoutfs.write_atomic(blobs, digest.hex, self._until_interrupted(verified, where))

    def unlink(self, root: int, digest: Digest) -> bool:
        """Remove the blob file; False when it was not there."""
        with self.directory(root, digest) as blobs:
            if blobs is None:
                return False
            try:
                os.unlink(digest.hex, dir_fd=blobs)
            except FileNotFoundError:
                return False
            return True

    def check_interrupted(self, where: str) -> None:
        """Refuse to write ``where`` once the operation was interrupted."""
        if self._interrupted.is_set():
            raise Interrupted(f"{where}: not written, the operation was interrupted")

    def _until_interrupted(self, chunks: Iterable[bytes], where: str) -> Iterator[bytes]:
        """``chunks``, checking before each and after the last that no interrupt came.

        An OS error of the source (a file it reads) is carried out as :class:`SourceFailed`,
        so that it is not named as a failure of this layout's file.
        """
        iterator = iter(chunks)
        while True:
            self.check_interrupted(where)
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            except OSError as exc:
                raise SourceFailed(exc) from exc
            yield chunk
