"""Opening, creating and checking an OCI image layout directory.

:class:`LayoutDirectory` hands :class:`~polyarch.storage.layout.repository.LayoutRepository` the
directory's descriptor: it checks the ``oci-layout`` marker once, creates a layout on
first write (the directory itself, never its parents), removes the temporary files of
dead writers once per process (:func:`polyarch.storage.layout.files.remove_stale_temps`),
and says what is wrong with a path that is no layout.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Final

from polyarch.errors import InvalidInput, NameUnknown
from polyarch.storage.layout import files as layoutfs
from polyarch.storage.layout.files import LEGACY_LOCK_FILE, TMP_PREFIX
from polyarch.storage.layout.index import (
    INDEX_FILE,
    LAYOUT_FILE,
    LAYOUT_VERSION,
    check_marker,
    dump,
    empty_index,
)

__all__ = ["LayoutDirectory", "LayoutNotFound"]

_MAX_MARKER_SIZE: Final = 64 * 1024
_BLOBS: Final = "blobs"


class LayoutNotFound(NameUnknown):
    """``oci:DIR`` names a directory that does not exist or is empty: not an OCI image layout.

    Check the path, or write an image there first (copy, create).
    """


class LayoutDirectory:
    """The directory of one layout: ``path`` on disk, ``name`` (``oci:PATH``) in messages."""

    def __init__(self, path: str, name: str) -> None:
        self.path = path
        self.name = name
        self._checked = False  # a valid oci-layout marker has been seen
        self._cleaned = False  # stale temporary files were looked for

    @contextmanager
    def root(self, *, write: bool = False) -> Iterator[int | None]:
        """The layout directory's fd, or None when it is missing or empty.

        With ``write`` the layout is created if it is missing or empty (the directory
        itself only, never its parents), and the fd is never None. A directory that
        is not a layout raises :class:`InvalidInput`.
        """
        fd: int | None = None
        try:
            fd = os.open(self.path, layoutfs.ROOT_FLAGS)  # PATH itself may be a link
        except FileNotFoundError:
            if write:
                self._make_directory()
                fd = os.open(self.path, layoutfs.ROOT_FLAGS)
        except NotADirectoryError:
            raise InvalidInput(f"{self.name}: not a directory") from None
        if fd is None:
            yield None
            return
        try:
            if write and not self._checked:
                with layoutfs.locked(fd):
                    if not self._is_layout(fd):
                        self._create(fd)
            if write and not self._cleaned:
                self._remove_stale_temps(fd)
            yield fd if self._checked or self._is_layout(fd) else None
        finally:
            os.close(fd)

    def _make_directory(self) -> None:
        """Create the layout directory; its parent must exist (no ``mkdir -p``)."""
        try:
            os.mkdir(self.path, 0o755)
        except FileExistsError:
            pass  # another writer was first
        except FileNotFoundError:
            parent = os.path.dirname(os.path.abspath(self.path))
            raise InvalidInput(
                f"{self.name}: the parent directory {parent} does not exist",
                hint="polyarch creates the layout directory, not its parents: create them first",
            ) from None
        except NotADirectoryError:
            raise InvalidInput(f"{self.name}: a parent of the path is not a directory") from None

    def _remove_stale_temps(self, root: int) -> None:
        """Remove what writers killed mid-write left (``.tmp-*`` whose lock is free)."""
        self._cleaned = True
        layoutfs.remove_stale_temps(root)
        blobs = layoutfs.open_dir(root, _BLOBS, where=self.name, label=_BLOBS)
        if blobs is None:
            return
        try:
            with os.scandir(blobs) as algorithms:
                names = [a.name for a in algorithms if not a.name.startswith(".")]
            for algorithm in names:
                with suppress(InvalidInput):  # not a directory: reported when used
                    sub = layoutfs.open_dir(
                        blobs, algorithm, where=self.name, label=f"{_BLOBS}/{algorithm}"
                    )
                    if sub is not None:
                        try:
                            layoutfs.remove_stale_temps(sub)
                        finally:
                            os.close(sub)
        finally:
            os.close(blobs)

    def _is_layout(self, root: int, *, again: bool = True) -> bool:
        """True for a valid layout, False for an empty directory; InvalidInput otherwise."""
        try:
            raw = layoutfs.read_file(
                root, LAYOUT_FILE, where=self.name, label=LAYOUT_FILE, limit=_MAX_MARKER_SIZE
            )
        except FileNotFoundError:
            names = [n for n in os.listdir(root) if n != LEGACY_LOCK_FILE]
            if again and LAYOUT_FILE in names:
                # Another writer (a thread of this copy, or another process) created the
                # layout between our two looks: its marker goes first, so read it again.
                return self._is_layout(root, again=False)
            if any(not n.startswith(TMP_PREFIX) for n in names):
                raise InvalidInput(
                    f"{self.name}: not an OCI image layout (no {LAYOUT_FILE} file)",
                    hint="give an empty or new directory, or a layout written by an OCI tool",
                ) from None
            return False
        check_marker(raw, self.name)
        self._checked = True
        return True

    def _create(self, root: int) -> None:
        # The marker goes first: until index.json exists a layout reads as empty.
        layoutfs.write_atomic(root, LAYOUT_FILE, dump({"imageLayoutVersion": LAYOUT_VERSION}))
        with suppress(FileExistsError):
            os.mkdir(_BLOBS, 0o755, dir_fd=root)
        layoutfs.write_atomic(root, INDEX_FILE, dump(empty_index()))
        self._checked = True

    def not_found(self) -> LayoutNotFound:
        """The error for a missing or empty layout directory (reads only)."""
        if os.path.isdir(self.path):
            return LayoutNotFound(
                f"{self.name}: an empty directory, not an OCI image layout",
                hint="write an image there first, or check the path",
            )
        return LayoutNotFound(
            f"{self.name}: no such directory, so not an OCI image layout",
            hint="check the path",
        )
