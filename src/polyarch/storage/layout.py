"""The OCI image layout backend: a directory on disk seen as a :class:`Repository`.

An OCI image layout (image-spec ``image-layout.md``) is ``oci-layout`` (the version
marker), ``index.json`` (an OCI index whose entries carry the tags as
``org.opencontainers.image.ref.name`` annotations) and ``blobs/<alg>/<hex>``. It lets
polyarch read what ``buildx --output type=oci`` or ``skopeo`` wrote, and write
something they read, with the same semantics as a registry repository.

The directory is shared with other tools and other polyarch processes, and may come
from anyone, so:

* every write is atomic (temp file in the same directory, ``fsync``, ``os.replace``),
  blobs are verified before they are renamed into place, and ``index.json``
  read-modify-writes hold an exclusive ``flock`` on ``.polyarch.lock``;
* nothing outside ``PATH/blobs/`` is ever followed: digests are validated before a
  path is built, every component below ``PATH`` is opened relative to its parent with
  ``O_NOFOLLOW`` (a symbolic link anywhere in ``blobs/`` is refused), and only regular
  files are read;
* a missing or empty directory is an empty layout (created on first write); a
  directory with other content but no valid ``oci-layout`` is refused, never written.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any, BinaryIO, Final

from polyarch import mediatype
from polyarch.descriptor import Descriptor
from polyarch.digest import Digest
from polyarch.errors import (
    BlobUnknown,
    InvalidInput,
    InvalidManifest,
    InvalidReference,
    ManifestTooLarge,
    ManifestUnknown,
    NameUnknown,
    SizeMismatch,
)
from polyarch.location import TAG_RULE, is_valid_tag
from polyarch.manifest import MAX_MANIFEST_SIZE, Manifest, parse_manifest
from polyarch.storage import layout_referrers
from polyarch.storage.base import CHUNK_SIZE, BlobReader, Repository, VerifyingStream

__all__ = ["INDEX_FILE", "LAYOUT_FILE", "LOCK_FILE", "REF_NAME", "LayoutRepository"]

#: The layout's version marker file, and the one version the image spec defines.
LAYOUT_FILE: Final = "oci-layout"
LAYOUT_VERSION: Final = "1.0.0"
#: The layout's top-level index, whose entries carry the tags.
INDEX_FILE: Final = "index.json"
#: The annotation naming a tag in ``index.json``.
REF_NAME: Final = "org.opencontainers.image.ref.name"
#: Taken (``flock``, exclusive) around every read-modify-write of ``index.json``.
LOCK_FILE: Final = ".polyarch.lock"
#: ``index.json`` grows with the number of tags; refuse anything absurd.
MAX_INDEX_SIZE: Final = 64 * 1024 * 1024

_BLOBS: Final = "blobs"
_TMP_PREFIX: Final = ".tmp-"
_ROOT_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_DIR_FLAGS: Final = _ROOT_FLAGS | os.O_NOFOLLOW
# O_NONBLOCK: opening a FIFO planted in the layout must not hang (it is refused after).
_READ_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NOT_FOLLOWED: Final = (errno.ELOOP, errno.ENOTDIR)


def _is_digest(identifier: str) -> bool:
    return ":" in identifier


def _empty_index() -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": mediatype.OCI_INDEX, "manifests": []}


def _rel(digest: Digest) -> str:
    return f"{_BLOBS}/{digest.algorithm}/{digest.hex}"


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


class _FileBlobReader(BlobReader):
    def __init__(self, file: BinaryIO, descriptor: Descriptor, what: str) -> None:
        self.descriptor = descriptor
        self._file = file
        chunks = iter(partial(file.read, CHUNK_SIZE), b"")
        self._stream = VerifyingStream(chunks, descriptor, what=what)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        finally:
            self._file.close()

    def close(self) -> None:
        self._file.close()


class LayoutRepository(Repository):
    """An OCI image layout directory; tags are ``ref.name`` annotations in ``index.json``.

    >>> repo = LayoutRepository("./out")
    >>> repo.name
    'oci:./out'

    ``put_manifest(m, tag)`` writes the manifest blob and points the ``index.json``
    entry named ``tag`` at it (replacing any entry of that name); without a tag only
    the blob is written (it is then reachable only from the manifests that name it).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        if not self.path or "\0" in self.path:
            raise InvalidInput(f"invalid OCI layout path {self.path!r}")
        self.name = f"oci:{self.path}"
        self._checked = False  # a valid oci-layout marker has been seen

    def __repr__(self) -> str:
        return f"LayoutRepository({self.path!r})"

    # Manifests ---------------------------------------------------------------------

    def get_manifest(self, identifier: str) -> Manifest:
        """Read and verify a manifest or index by tag or digest."""
        where = self._where(identifier)
        with self._root() as root:
            entries = self._index(root)[1] if root is not None else []
            entry = self._lookup(entries, identifier)
            if root is None or (entry is None and not _is_digest(identifier)):
                raise _manifest_unknown(where)
            digest = entry.digest if entry is not None else Digest(identifier)
            file = self._open_blob_file(root, digest)
            if file is None:
                raise _manifest_unknown(where)
            with file:
                raw = file.read(MAX_MANIFEST_SIZE + 1)
        if len(raw) > MAX_MANIFEST_SIZE:
            raise ManifestTooLarge(f"manifest {where} is over the 4 MiB limit")
        digest.verify(raw, what=f"manifest {where}")
        if entry is not None and entry.size != len(raw):
            raise SizeMismatch(f"manifest {where}: {len(raw)} bytes, index.json says {entry.size}")
        media_type = entry.media_type if entry is not None else None
        return parse_manifest(raw, media_type, what=f"manifest {where}")

    def head_manifest(self, identifier: str) -> Descriptor | None:
        """The descriptor of a manifest by tag or digest, or None when absent.

        A file is cheap to read, so this reads and verifies the manifest.
        """
        try:
            manifest = self.get_manifest(identifier)
        except ManifestUnknown:
            return None
        return Descriptor(manifest.media_type, manifest.digest, manifest.size)

    def put_manifest(self, manifest: Manifest, tag: str | None = None) -> None:
        """Write a manifest's exact bytes as a blob and, with ``tag``, tag it in index.json."""
        if tag is not None:
            self._check_tag(tag)
        descriptor = Descriptor(manifest.media_type, manifest.digest, manifest.size)
        self.put_blob(descriptor, [manifest.raw])
        if tag is None:
            return
        entry = Descriptor(
            manifest.media_type, manifest.digest, manifest.size, annotations={REF_NAME: tag}
        ).to_json()
        with self._root(write=True) as root:
            assert root is not None
            with self._locked(root):
                doc, entries = self._index(root)
                names = [e.annotations.get(REF_NAME) for e in entries]
                kept = [i for i, n in zip(doc["manifests"], names, strict=True) if n != tag]
                # The first entry of that name is replaced in place, others dropped.
                kept.insert(names.index(tag) if tag in names else len(kept), entry)
                doc["manifests"] = kept
                self._write(root, INDEX_FILE, _dump(doc))

    def delete_manifest(self, digest: Digest) -> None:
        """Remove a manifest: its index.json entries (its tags), then its blob."""
        digest = Digest(digest)
        where = self._where(digest)
        with self._root() as root:
            if root is None:
                raise _manifest_unknown(where)
            with self._locked(root):
                doc, entries = self._index(root)
                kept = [
                    i for i, e in zip(doc["manifests"], entries, strict=True) if e.digest != digest
                ]
                untagged = len(kept) != len(entries)
                if untagged:
                    doc["manifests"] = kept
                    self._write(root, INDEX_FILE, _dump(doc))
                if not self._unlink_blob(root, digest) and not untagged:
                    raise _manifest_unknown(where)

    # Blobs -------------------------------------------------------------------------

    def blob_size(self, digest: Digest) -> int | None:
        """The size of the blob file, or None when absent."""
        digest = Digest(digest)
        with self._root() as root, self._blob_dir(root, digest) as blobs:
            if blobs is None:
                return None
            try:
                st = os.stat(digest.hex, dir_fd=blobs, follow_symlinks=False)
            except FileNotFoundError:
                return None
        if not stat.S_ISREG(st.st_mode):
            raise self._refused(_rel(digest))
        return st.st_size

    def open_blob(self, descriptor: Descriptor) -> BlobReader:
        """Open a blob file as a stream of chunks verified against ``descriptor``."""
        digest = Digest(descriptor.digest)  # validated before it names a file
        where = f"blob {self.name}@{digest}"
        with self._root() as root:
            file = self._open_blob_file(root, digest)
        if file is None:
            raise BlobUnknown(f"{where} not found", hint="copy the blob into this layout first")
        return _FileBlobReader(file, descriptor, where)

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Stream a blob into a temp file, verify it, then rename it into place.

        A blob already present with the right size is left alone. On a digest or size
        mismatch the temp file is removed and nothing is committed.
        """
        digest = Digest(descriptor.digest)  # validated before it names a file
        where = f"blob {self.name}@{digest}"
        with self._root(write=True) as root, self._blob_dir(root, digest, create=True) as blobs:
            assert blobs is not None
            with suppress(FileNotFoundError):
                st = os.stat(digest.hex, dir_fd=blobs, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_size == descriptor.size:
                    return
            self._write(blobs, digest.hex, VerifyingStream(chunks, descriptor, what=where))

    def can_mount_from(self, source: Repository) -> bool:
        """True only for the same layout directory: there is nothing to move."""
        return self.same_as(source)

    def same_as(self, other: Repository) -> bool:
        """Same directory, once symbolic links and relative paths are resolved."""
        if not isinstance(other, LayoutRepository):
            return False
        return os.path.realpath(other.path) == os.path.realpath(self.path)

    def mount_blob(self, descriptor: Descriptor, source: Repository) -> bool:
        """True when ``source`` is this very layout; False otherwise (stream the blob)."""
        return self.same_as(source)

    def delete_blob(self, digest: Digest) -> None:
        """Delete a blob file."""
        digest = Digest(digest)
        with self._root() as root:
            if root is None or not self._unlink_blob(root, digest):
                raise BlobUnknown(f"blob {self.name}@{digest} not found")

    # Tags --------------------------------------------------------------------------

    def delete_tag(self, tag: str) -> bool:
        """Remove the ``index.json`` entries named ``tag``; the manifest blob stays.

        Always True: the tag is gone (or was never there).
        """
        self._check_tag(tag)
        with self._root() as root:
            if root is None:
                return True
            with self._locked(root):
                doc, entries = self._index(root)
                kept = [
                    item
                    for item, entry in zip(doc["manifests"], entries, strict=True)
                    if entry.annotations.get(REF_NAME) != tag
                ]
                if len(kept) != len(entries):
                    doc["manifests"] = kept
                    self._write(root, INDEX_FILE, _dump(doc))
        return True

    def list_tags(self) -> list[str]:
        """The ``ref.name`` annotations of index.json that are valid tags, in its order.

        Raises :class:`NameUnknown` when the directory does not exist (as a registry
        does for an unknown repository); an empty directory has no tags.
        """
        with self._root() as root:
            if root is None:
                if not os.path.isdir(self.path):
                    raise NameUnknown(f"OCI layout {self.name} not found", hint="check the path")
                return []
            tags: list[str] = []
            for entry in self._index(root)[1]:
                tag = entry.annotations.get(REF_NAME)
                if is_valid_tag(tag) and tag not in tags:
                    assert tag is not None
                    tags.append(tag)
            return tags

    def list_referrers(self, digest: Digest, artifact_type: str | None = None) -> list[Descriptor]:
        """The tag schema index, plus index.json entries naming ``digest`` as subject (oras).

        The reading lives in storage/layout_referrers.py.
        """
        return layout_referrers.list_referrers(self, digest, artifact_type)

    # The layout --------------------------------------------------------------------

    @contextmanager
    def _root(self, *, write: bool = False) -> Iterator[int | None]:
        """The layout directory's fd, or None when it is missing or empty.

        With ``write`` the layout is created if it is missing or empty, and the fd is
        never None. A directory that is not a layout raises :class:`InvalidInput`.
        """
        fd: int | None = None
        try:
            fd = os.open(self.path, _ROOT_FLAGS)  # PATH itself may be a link: the user's choice
        except FileNotFoundError:
            if write:
                os.makedirs(self.path, exist_ok=True)
                fd = os.open(self.path, _ROOT_FLAGS)
        except NotADirectoryError:
            raise InvalidInput(f"{self.name}: not a directory") from None
        if fd is None:
            yield None
            return
        try:
            if write and not self._checked:
                with self._locked(fd):
                    if not self._is_layout(fd):
                        self._create(fd)
            yield fd if self._checked or self._is_layout(fd) else None
        finally:
            os.close(fd)

    def _is_layout(self, root: int) -> bool:
        """True for a valid layout, False for an empty directory; InvalidInput otherwise."""
        try:
            raw = self._read(root, LAYOUT_FILE, 64 * 1024)
        except FileNotFoundError:
            names = [n for n in os.listdir(root) if n != LOCK_FILE]
            if any(not n.startswith(_TMP_PREFIX) for n in names):
                raise InvalidInput(
                    f"{self.name}: not an OCI image layout (no {LAYOUT_FILE} file)",
                    hint="give an empty or new directory, or a layout written by an OCI tool",
                ) from None
            return False
        try:
            version = json.loads(raw).get("imageLayoutVersion")
        except (ValueError, AttributeError, RecursionError):
            raise InvalidInput(f"{self.name}: {LAYOUT_FILE} is not a JSON object") from None
        if version != LAYOUT_VERSION:
            raise InvalidInput(
                f"{self.name}: {LAYOUT_FILE} has imageLayoutVersion {version!r}, "
                f"expected {LAYOUT_VERSION!r}"
            )
        self._checked = True
        return True

    def _create(self, root: int) -> None:
        # The marker goes first: until index.json exists a layout reads as empty.
        self._write(root, LAYOUT_FILE, _dump({"imageLayoutVersion": LAYOUT_VERSION}))
        with suppress(FileExistsError):
            os.mkdir(_BLOBS, 0o755, dir_fd=root)
        self._write(root, INDEX_FILE, _dump(_empty_index()))
        self._checked = True

    def _index(self, root: int) -> tuple[dict[str, Any], list[Descriptor]]:
        """index.json as a document (to rewrite) and its validated entries."""
        try:
            raw = self._read(root, INDEX_FILE, MAX_INDEX_SIZE)
        except FileNotFoundError:
            return _empty_index(), []
        what = f"{self.name}: {INDEX_FILE}"
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            raise InvalidInput(f"{what} is not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
            raise InvalidInput(f"{what} is not an OCI index (schemaVersion must be 2)")
        if doc.get("mediaType", mediatype.OCI_INDEX) != mediatype.OCI_INDEX:
            raise InvalidInput(f"{what} has mediaType {doc.get('mediaType')!r}, not an OCI index")
        items = doc.get("manifests")
        if not isinstance(items, list):
            raise InvalidInput(f"{what}: manifests must be a list")
        try:
            entries = [
                Descriptor.from_json(e, where=f"manifests[{i}]") for i, e in enumerate(items)
            ]
        except InvalidManifest as exc:
            raise InvalidInput(f"{what}: {exc}") from None
        return doc, entries

    def _lookup(self, entries: list[Descriptor], identifier: str) -> Descriptor | None:
        """The index.json entry for a tag (the first of that name) or a digest."""
        if _is_digest(identifier):
            digest = Digest(identifier)
            return next((e for e in entries if e.digest == digest), None)
        self._check_tag(identifier)
        return next((e for e in entries if e.annotations.get(REF_NAME) == identifier), None)

    @contextmanager
    def _locked(self, root: int) -> Iterator[None]:
        fd = os.open(
            LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=root
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed
            yield
        finally:
            os.close(fd)

    # Files -------------------------------------------------------------------------

    @contextmanager
    def _blob_dir(
        self, root: int | None, digest: Digest, *, create: bool = False
    ) -> Iterator[int | None]:
        """The fd of ``blobs/<alg>`` (links refused), or None when absent."""
        fds: list[int] = []
        try:
            parent = root
            for part, label in (
                (_BLOBS, _BLOBS),
                (digest.algorithm, f"{_BLOBS}/{digest.algorithm}"),
            ):
                parent = self._open_dir(parent, part, label, create=create)
                if parent is None:
                    break
                fds.append(parent)
            yield parent
        finally:
            for fd in fds:
                os.close(fd)

    def _open_dir(self, parent: int | None, name: str, label: str, *, create: bool) -> int | None:
        """Open directory ``name`` below ``parent`` without following a link."""
        if parent is None:
            return None
        if create:
            with suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=parent)
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if create:
                raise
            return None
        except OSError as exc:
            if exc.errno in _NOT_FOLLOWED:
                raise self._refused(label) from None
            raise

    def _open_blob_file(self, root: int | None, digest: Digest) -> BinaryIO | None:
        with self._blob_dir(root, digest) as blobs, suppress(FileNotFoundError):
            return None if blobs is None else self._open_regular(blobs, digest.hex, _rel(digest))
        return None

    def _open_regular(self, dir_fd: int, name: str, label: str) -> BinaryIO:
        """Open a regular file below ``dir_fd`` without following links."""
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in _NOT_FOLLOWED:
                raise self._refused(label) from None
            raise
        file = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            file.close()
            raise self._refused(label)
        return file

    def _read(self, dir_fd: int, name: str, limit: int) -> bytes:
        with self._open_regular(dir_fd, name, name) as file:
            data = file.read(limit + 1)
        if len(data) > limit:
            raise InvalidInput(f"{self.name}: {name} is over {limit} bytes")
        return data

    def _write(self, dir_fd: int, name: str, content: bytes | Iterable[bytes]) -> None:
        """Write ``name`` atomically: temp file, fsync, rename, fsync the directory."""
        tmp = f"{_TMP_PREFIX}{secrets.token_hex(8)}"
        fd = os.open(tmp, _CREATE_FLAGS, 0o644, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as file:
                for chunk in [content] if isinstance(content, bytes) else content:
                    file.write(chunk)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)

    def _unlink_blob(self, root: int, digest: Digest) -> bool:
        with self._blob_dir(root, digest) as blobs:
            if blobs is None:
                return False
            try:
                os.unlink(digest.hex, dir_fd=blobs)
            except FileNotFoundError:
                return False
            return True

    # Helpers -----------------------------------------------------------------------

    def _check_tag(self, tag: str) -> None:
        if not is_valid_tag(tag):
            raise InvalidReference(f"invalid tag {tag!r} for {self.name}", hint=TAG_RULE)

    def _refused(self, name: str) -> InvalidInput:
        return InvalidInput(
            f"{self.name}: {name} is a symbolic link or not a regular file or directory",
            hint="polyarch follows no links inside an OCI layout",
        )

    def _where(self, identifier: str) -> str:
        sep = "@" if _is_digest(identifier) else ":"
        return f"{self.name}{sep}{identifier}"


def _manifest_unknown(where: str) -> ManifestUnknown:
    return ManifestUnknown(
        f"manifest {where} not found", hint="check the tag or digest, or write the image first"
    )
