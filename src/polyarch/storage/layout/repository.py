"""The OCI image layout backend: a directory on disk seen as a :class:`Repository`.

An OCI image layout (image-spec ``image-layout.md``) is ``oci-layout`` (the version
marker), ``index.json`` (an OCI index whose entries carry the tags as
``org.opencontainers.image.ref.name`` annotations) and ``blobs/<alg>/<hex>``. It lets
polyarch read what ``buildx --output type=oci``, ``skopeo``, ``crane`` or ``regctl``
wrote, and write something they read, with the same semantics as a registry repository.

**Tags** (one rule for reading and writing, see docs/layouts.md):

* ``oci:DIR:TAG`` reads and writes the entry whose ``ref.name`` is ``TAG``;
* ``oci:DIR`` written: the tag the operation gives it (``copy``: the source's tag, else
  ``latest``; ``create``: ``latest``), as regctl's ``ocidir://`` defaults to ``latest``;
* ``oci:DIR`` read: the entry tagged ``latest`` (regctl), else, when the layout holds
  exactly one image, that image (skopeo's ``oci:`` transport and crane read a layout
  of one image without a name); otherwise an error listing the layout's tags.

**Errors** name what is wrong: a missing (or empty) directory is
:class:`LayoutNotFound` ("not an OCI image layout"), a directory with other content is
refused, a tag that is absent lists the tags present, and a path inside the layout that
is not what it must be (a link, a FIFO, a directory where a blob must be) is named.

**Writes** create only the layout directory itself, never missing parents (skopeo,
crane and regctl create the whole path; a typo in a parent is then silently a new
tree, so polyarch refuses it). Blob files are kept by
:mod:`polyarch.storage.layout.blobs`; files are touched through
:mod:`polyarch.storage.layout.files`: atomic writes, no links followed, regular files only,
stale temporary files of dead writers removed by the next writer, ``index.json``
read-modify-writes under a ``flock`` on the directory (no lock file in the layout).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import ALGORITHMS, Digest
from polyarch.domain.location import DEFAULT_TAG, NAME_RULE, is_valid_layout_name
from polyarch.domain.manifest import MAX_MANIFEST_SIZE, Index, Manifest, parse_manifest
from polyarch.errors import (
    BlobUnknown,
    ContentError,
    InvalidInput,
    InvalidReference,
    ManifestTooLarge,
    ManifestUnknown,
    SizeMismatch,
)
from polyarch.files import os_failure
from polyarch.storage.layout import files as layoutfs
from polyarch.storage.layout import referrers as layout_referrers
from polyarch.storage.layout.blobs import FileBlobReader, LayoutBlobs, SourceFailed, blob_path
from polyarch.storage.layout.directory import LayoutDirectory, LayoutNotFound
from polyarch.storage.layout.files import LEGACY_LOCK_FILE
from polyarch.storage.layout.index import (
    INDEX_CACHE,
    INDEX_FILE,
    LAYOUT_FILE,
    MAX_INDEX_SIZE,
    REF_NAME,
    LayoutIndex,
    dump,
    empty_index,
    is_entry_tagged,
    manifest_unknown,
    sole_image,
    tag_unknown,
)
from polyarch.storage.layout.inventory import manifest_digests
from polyarch.storage.repository import ManifestListing, Repository, TagIndexing
from polyarch.storage.stream import BlobReader

__all__ = [
    "INDEX_FILE",
    "LAYOUT_FILE",
    "LOCK_FILE",
    "REF_NAME",
    "LayoutNotFound",
    "LayoutRepository",
]


#: The lock file of earlier versions: tolerated in a layout, no longer created.
LOCK_FILE: Final = LEGACY_LOCK_FILE


def _is_digest(identifier: str) -> bool:
    """A digest, not an entry's name: names may hold ":" too (``rancher/pause:3.6``)."""
    algorithm, colon, _ = identifier.partition(":")
    if not colon:
        return False
    return algorithm in ALGORITHMS or not is_valid_layout_name(identifier)


class LayoutRepository(ManifestListing, TagIndexing):
    """An OCI image layout directory; tags are ``ref.name`` annotations in ``index.json``.

    >>> repo = LayoutRepository("./out")
    >>> repo.name
    'oci:./out'

    ``put_manifest(m, tag)`` writes the manifest blob and points the ``index.json``
    entry named ``tag`` at it (replacing any entry of that name); without a tag only
    the blob is written (it is then reachable only from the manifests that name it).

    ``implicit_tag``: the location named no tag (``oci:DIR``), so a read of
    ``latest`` that finds no such tag falls back to the layout's only image (see the
    module docstring). :meth:`head_manifest` never falls back: it answers whether
    the tag itself is there.
    """

    def __init__(self, path: str | os.PathLike[str], *, implicit_tag: bool = False) -> None:
        self.path = os.fspath(path)
        if not self.path or "\0" in self.path:
            raise InvalidInput(f"invalid OCI layout path {self.path!r}")
        self.name = f"oci:{self.path}"
        self.implicit_tag = implicit_tag
        self._dir = LayoutDirectory(self.path, self.name)
        self._interrupted = threading.Event()
        self._blobs = LayoutBlobs(self.name, self._interrupted)

    def __repr__(self) -> str:
        return f"LayoutRepository({self.path!r})"

    # Manifests ---------------------------------------------------------------------

    def get_manifest(self, identifier: str) -> Manifest:
        """Read and verify a manifest or index by tag or digest.

        Raises :class:`LayoutNotFound` when the directory is missing or empty, and
        :class:`ManifestUnknown` listing the layout's tags when the tag is absent.
        """
        return self._get(identifier, fallback=self.implicit_tag)

    def _get(self, identifier: str, *, fallback: bool) -> Manifest:
        where = self._where(identifier)
        with self._failures(), self._dir.root() as root:
            if root is None:
                raise self._dir.not_found()
            index = self._index(root)
            entry = self._lookup(index, identifier)
            implicit = fallback and identifier == DEFAULT_TAG
            if entry is None and implicit:
                entry = sole_image(index.entries, self._children(root, index.entries))
            if entry is None and not _is_digest(identifier):
                shown = f"{where} (the default when no tag is given)" if implicit else where
                raise tag_unknown(shown, index.entries, self.name)
            digest = entry.digest if entry is not None else Digest(identifier)
            with self._failures(blob_path(digest)):
                file = self._blobs.open(root, digest)
                if file is None:
                    raise manifest_unknown(where)
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

        A file is cheap to read, so this reads and verifies the manifest. A missing
        directory holds nothing: None. Never falls back from ``latest`` to another tag.
        """
        try:
            manifest = self._get(identifier, fallback=False)
        except (ManifestUnknown, LayoutNotFound):
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
        with self._failures(INDEX_FILE), self._dir.root(write=True) as root:
            assert root is not None
            with layoutfs.locked(root):
                index = self._index(root)
                names = [e.annotations.get(REF_NAME) for e in index.entries]
                items = index.doc["manifests"]
                kept = [i for i, n in zip(items, names, strict=True) if n != tag]
                # The first entry of that name is replaced in place, others dropped.
                kept.insert(names.index(tag) if tag in index.by_tag else len(kept), entry)
                self._write_index(root, {**index.doc, "manifests": kept})

    def delete_manifest(self, digest: Digest) -> None:
        """Remove a manifest: its index.json entries (its tags), then its blob."""
        digest = Digest(digest)
        where = self._where(digest)
        with self._failures(INDEX_FILE), self._dir.root() as root:
            if root is None:
                raise self._dir.not_found()
            with layoutfs.locked(root):
                index = self._index(root)
                entries = index.entries
                kept = [
                    i
                    for i, e in zip(index.doc["manifests"], entries, strict=True)
                    if e.digest != digest
                ]
                untagged = len(kept) != len(entries)
                if untagged:
                    self._write_index(root, {**index.doc, "manifests": kept})
                with self._failures(blob_path(digest)):
                    if not self._blobs.unlink(root, digest) and not untagged:
                        raise manifest_unknown(where)

    # Blobs -------------------------------------------------------------------------

    def blob_size(self, digest: Digest) -> int | None:
        """The size of the blob file, or None when absent."""
        digest = Digest(digest)
        with self._failures(blob_path(digest)), self._dir.root() as root:
            return self._blobs.size(root, digest)

    def open_blob(self, descriptor: Descriptor) -> BlobReader:
        """Open a blob file as a stream of chunks verified against ``descriptor``."""
        digest = Digest(descriptor.digest)  # validated before it names a file
        where = f"blob {self.name}@{digest}"
        with self._failures(blob_path(digest)), self._dir.root() as root:
            file = self._blobs.open(root, digest)
        if file is None:
            raise BlobUnknown(f"{where} not found", hint="copy the blob into this layout first")
        return FileBlobReader(file, descriptor, where, f"{self.name}: {blob_path(digest)}")

    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Stream a blob into a temp file, verify it, then rename it into place.

        A blob already present with the right size is left alone (a file of another size
        is written again). On a digest or size mismatch, or once :meth:`interrupt` was
        called, the temp file is removed and nothing is committed.
        """
        digest = Digest(descriptor.digest)  # validated before it names a file
        where = f"blob {self.name}@{digest}"
        self._blobs.check_interrupted(where)
        try:
            with self._failures(blob_path(digest)), self._dir.root(write=True) as root:
                assert root is not None
                self._blobs.write(root, descriptor, chunks, where)
        except SourceFailed as failed:
            raise failed.error from None  # the source's own failure, not this layout's

    def same_as(self, other: Repository) -> bool:
        """Same directory, once symbolic links and relative paths are resolved."""
        if not isinstance(other, LayoutRepository):
            return False
        return os.path.realpath(other.path) == os.path.realpath(self.path)

    def delete_blob(self, digest: Digest) -> None:
        """Delete a blob file."""
        digest = Digest(digest)
        with self._failures(blob_path(digest)), self._dir.root() as root:
            if root is None or not self._blobs.unlink(root, digest):
                raise BlobUnknown(f"blob {self.name}@{digest} not found")

    # Tags --------------------------------------------------------------------------

    def delete_tag(self, tag: str) -> bool:
        """Remove the ``index.json`` entries named ``tag``; the manifest blob stays.

        Always True: the tag is gone (or was never there).
        """
        self._check_tag(tag)
        with self._failures(INDEX_FILE), self._dir.root() as root:
            if root is None:
                return True
            with layoutfs.locked(root):
                index = self._index(root)
                if tag not in index.by_tag:
                    return True
                kept = [
                    item
                    for item, entry in zip(index.doc["manifests"], index.entries, strict=True)
                    if entry.annotations.get(REF_NAME) != tag
                ]
                self._write_index(root, {**index.doc, "manifests": kept})
        return True

    def list_tags(self) -> list[str]:
        """The ``ref.name`` annotations of index.json that are valid tags, in its order.

        Raises :class:`LayoutNotFound` (a :class:`NameUnknown`) when the directory does
        not exist, as a registry does for an unknown repository; an empty directory
        has no tags.
        """
        with self._failures(INDEX_FILE), self._dir.root() as root:
            if root is None:
                if not os.path.isdir(self.path):
                    raise self._dir.not_found()
                return []
            return self._index(root).tags

    def tag_digests(self) -> dict[str, Digest]:
        """Every tag of index.json and the digest it names, from one read of the file."""
        with self._failures(INDEX_FILE), self._dir.root() as root:
            return {} if root is None else self._index(root).tag_digests()

    def index_entries(self) -> list[Descriptor]:
        """Every entry of index.json, tagged or not (none when the layout is empty)."""
        with self._failures(INDEX_FILE), self._dir.root() as root:
            return [] if root is None else list(self._index(root).entries)

    def list_manifests(self) -> list[Digest]:
        """Every manifest of the layout: index.json entries, then manifest blobs nothing
        there names (storage/layout/inventory.py)."""
        entries = [e.digest for e in self.index_entries()]
        return manifest_digests(self.path, entries, self.get_manifest)

    def untagged_entries(self) -> list[Digest]:
        """The index.json entries that carry no tag (``crane pull``, ``buildx`` output)."""
        return [e.digest for e in self.index_entries() if not is_entry_tagged(e)]

    def list_referrers(self, digest: Digest, artifact_type: str | None = None) -> list[Descriptor]:
        """The tag schema index, plus index.json entries naming ``digest`` as subject (oras).

        Each manifest entry of index.json is read once per version of the file, however
        many subjects are asked about. The reading lives in storage/layout/referrers.py.
        """
        with self._failures(INDEX_FILE), self._dir.root() as root:
            index = self._index(root) if root is not None else LayoutIndex(empty_index(), [])
        by_subject = index.manifests_by_subject(self.get_manifest)
        return layout_referrers.list_referrers(self.get_manifest, by_subject, digest, artifact_type)

    def interrupt(self, timeout: float) -> None:
        """Commit nothing more: writes under way fail at their next chunk, their temporary
        files removed (``timeout`` is not needed: nothing here waits on a network)."""
        del timeout
        self._interrupted.set()

    # The layout --------------------------------------------------------------------

    def _index(self, root: int) -> LayoutIndex:
        """index.json parsed, from the cache when the file is the version parsed before.

        The key is the file's identity (device, inode, size, change times: every writer
        replaces it by a rename), taken with ``stat``, which opens nothing.
        """
        try:
            st = os.stat(INDEX_FILE, dir_fd=root, follow_symlinks=False)
        except FileNotFoundError:
            return LayoutIndex(empty_index(), [])
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        cached = INDEX_CACHE.get(key) if stat.S_ISREG(st.st_mode) else None
        if cached is not None:
            return cached
        try:
            raw = layoutfs.read_file(
                root, INDEX_FILE, where=self.name, label=INDEX_FILE, limit=MAX_INDEX_SIZE
            )
        except FileNotFoundError:
            return LayoutIndex(empty_index(), [])
        index = LayoutIndex.parse(raw, what=f"{self.name}: {INDEX_FILE}")
        # Cached under the key taken before the read: a writer that replaced the file in
        # between gave it a new inode, so that key never names this version wrongly.
        if len(raw) == st.st_size:
            INDEX_CACHE.put(key, index)
        return index

    def _write_index(self, root: int, doc: dict[str, Any]) -> None:
        """Replace index.json (under the caller's lock), unless the operation is stopping."""
        self._blobs.check_interrupted(f"{self.name}: {INDEX_FILE}")
        layoutfs.write_atomic(root, INDEX_FILE, dump(doc))

    def _lookup(self, index: LayoutIndex, identifier: str) -> Descriptor | None:
        """The index.json entry for a tag (the first of that name) or a digest."""
        if _is_digest(identifier):
            return index.by_digest.get(Digest(identifier))
        self._check_tag(identifier)
        return index.by_tag.get(identifier)

    def _children(self, root: int, entries: list[Descriptor]) -> set[Digest]:
        """The manifests the indexes among ``entries`` name (oras lists them as entries
        of their own); read only when the entries name more than one manifest."""
        if len({e.digest for e in entries}) <= 1:
            return set()
        children: set[Digest] = set()
        for entry in entries:
            if not mediatype.is_index(entry.media_type):
                continue
            file = self._blobs.open(root, entry.digest)
            if file is None:
                continue
            with file:
                raw = file.read(MAX_MANIFEST_SIZE + 1)
            try:
                entry.digest.verify(raw, what=f"manifest {self._where(str(entry.digest))}")
                found = parse_manifest(raw, entry.media_type)
            except ContentError:
                continue  # read (and reported) when it is asked for itself
            if isinstance(found, Index):
                children.update(d.digest for d in found.manifests)
        return children

    # Helpers -----------------------------------------------------------------------

    @contextmanager
    def _failures(self, label: str = "") -> Iterator[None]:
        """OS errors in the block named as this layout's (``oci:DIR: LABEL: ...``), with a
        hint for a full, read-only or limited file system (docs/layouts.md)."""
        try:
            yield
        except OSError as exc:
            shown = f"{self.name}: {label}" if label else self.name
            raise os_failure(exc, shown) from None

    def _check_tag(self, tag: str) -> None:
        if not is_valid_layout_name(tag):
            raise InvalidReference(f"invalid tag {tag!r} for {self.name}", hint=NAME_RULE)

    def _where(self, identifier: str) -> str:
        sep = "@" if _is_digest(identifier) else ":"
        return f"{self.name}{sep}{identifier}"
