"""The file-system side of an OCI image layout: safe opens, atomic writes, crash leftovers.

:class:`~polyarch.storage.layout.repository.LayoutRepository` says what a layout means; this module
says how its files are touched, given that the directory is shared with other tools
and other polyarch processes and may come from anyone:

* every path below the layout is opened relative to its parent's descriptor with
  ``O_NOFOLLOW``: a symbolic link, a FIFO, a device or a directory where a file must
  be is refused with a message naming that path (files are read through
  :mod:`polyarch.files`: regular files only, bounded size);
* every write is atomic: a temporary file ``.tmp-PID-RANDOM`` in the same directory,
  ``fsync``, ``os.replace``, ``fsync`` of the directory;
* a writer holds an exclusive ``flock`` on its temporary file from creation until the
  rename, so a temporary file whose lock can be taken belongs to a writer that died
  (``kill -9``, power loss): :func:`remove_stale_temps` removes exactly those. The
  kernel drops the lock of a dead process, so this holds across PID namespaces and
  needs no clock; a live writer's file is never touched. A cleaner that wins the race
  against a writer between ``open`` and ``flock`` removes an empty file, and the
  writer, which checks after locking that its name still points at its file, starts
  over with a new name;
* read-modify-writes of ``index.json`` hold an exclusive ``flock`` on the layout
  directory itself, so the layout gets no lock file of polyarch's own.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO, Final

from polyarch.errors import InvalidInput
from polyarch.files import NotARegularFile, describe_mode, open_regular, read_bytes

__all__ = [
    "LEGACY_LOCK_FILE",
    "TMP_PREFIX",
    "locked",
    "open_dir",
    "open_file",
    "read_file",
    "refused",
    "remove_stale_temps",
    "write_atomic",
]

#: Temporary files of writers start with this (then ``PID-RANDOM``).
TMP_PREFIX: Final = ".tmp-"
#: The lock file earlier polyarch versions created in the layout; ignored, never created.
LEGACY_LOCK_FILE: Final = ".polyarch.lock"

ROOT_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_DIR_FLAGS: Final = ROOT_FLAGS | os.O_NOFOLLOW
_CREATE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_PROBE_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NOT_FOLLOWED: Final = (errno.ELOOP, errno.ENOTDIR)
_LINK_HINT: Final = "polyarch follows no links inside an OCI layout"


def refused(where: str, label: str, what: str | None = None) -> InvalidInput:
    """The error for ``label`` (a path inside layout ``where``) not being what it must be."""
    what = what or "is a symbolic link or not a regular file or directory"
    return InvalidInput(f"{where}: {label} {what}", hint=_LINK_HINT)


def open_dir(
    parent: int | None, name: str, *, where: str, label: str, create: bool = False
) -> int | None:
    """Open directory ``name`` below ``parent`` without following a link.

    Returns its descriptor, or None when it (or ``parent``) is absent and ``create`` is
    False. Raises :class:`InvalidInput` naming ``label`` when it is a link or a file.
    """
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
            raise _describe(parent, name, where, label, "a directory") from None
        raise


def _describe(
    dir_fd: int, name: str, where: str, label: str, expected: str = "a regular file"
) -> InvalidInput:
    """The refusal for ``name``, saying what it is instead of ``expected`` when visible."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return refused(where, label)
    return refused(where, label, f"is {describe_mode(mode)}, not {expected}")


def open_file(dir_fd: int, name: str, *, where: str, label: str) -> BinaryIO:
    """Open the regular file ``name`` below ``dir_fd`` (no links, never blocks on a FIFO).

    Raises :class:`FileNotFoundError` when absent, :class:`InvalidInput` naming
    ``label`` when it is anything but a regular file.
    """
    try:
        return open_regular(name, what=f"{where}:", dir_fd=dir_fd, follow_symlinks=False)
    except NotARegularFile:
        raise _describe(dir_fd, name, where, label) from None
    except OSError as exc:
        if exc.errno in _NOT_FOLLOWED:
            raise _describe(dir_fd, name, where, label) from None
        raise


def read_file(dir_fd: int, name: str, *, where: str, label: str, limit: int) -> bytes:
    """The content of regular file ``name`` below ``dir_fd``, at most ``limit`` bytes.

    Raises as :func:`open_file`, and :class:`InvalidInput` naming ``label`` when the
    file is larger than ``limit``.
    """
    try:
        return read_bytes(
            name, what=f"{where}:", dir_fd=dir_fd, follow_symlinks=False, limit=limit, label=label
        )
    except NotARegularFile:
        raise _describe(dir_fd, name, where, label) from None
    except OSError as exc:
        if exc.errno in _NOT_FOLLOWED:
            raise _describe(dir_fd, name, where, label) from None
        raise


def _create_temp(dir_fd: int) -> tuple[str, int]:
    """A new temporary file below ``dir_fd``, locked by us: its name and descriptor."""
    while True:
        name = f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"
        fd = os.open(name, _CREATE_FLAGS, 0o644, dir_fd=dir_fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits only while a cleaner looks at it
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            mine = os.fstat(fd)
            if st is not None and (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev):
                return name, fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # a cleaner took it for a dead writer's: start over


def write_atomic(dir_fd: int, name: str, content: bytes | Iterable[bytes]) -> None:
    """Write ``name`` below ``dir_fd`` atomically: locked temp file, fsync, rename, fsync.

    On any failure (including an exception from ``content``) the temporary file is
    removed and ``name`` is unchanged.
    """
    tmp, fd = _create_temp(dir_fd)
    try:
        with os.fdopen(fd, "wb") as file:
            for chunk in [content] if isinstance(content, bytes) else content:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
            # Renamed while the lock is held: no cleaner can see a finished file as stale.
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)


def remove_stale_temps(dir_fd: int) -> list[str]:
    """Remove the temporary files of dead writers below ``dir_fd``; return their names.

    A temporary file is stale when its ``flock`` can be taken: a live writer holds it
    from creation to rename. Entries that are not regular files are left alone.
    """
    removed: list[str] = []
    with os.scandir(dir_fd) as entries:
        names = [e.name for e in entries if e.name.startswith(TMP_PREFIX)]
    for name in names:
        try:
            fd = os.open(name, _PROBE_FLAGS, dir_fd=dir_fd)
        except OSError:
            continue  # gone already, or a link: not ours
        try:
            mine = os.fstat(fd)
            if not stat.S_ISREG(mine.st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # renamed into place by its writer meanwhile
            if (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev):
                os.unlink(name, dir_fd=dir_fd)
                removed.append(name)
        finally:
            os.close(fd)
    return removed


@contextmanager
def locked(dir_fd: int) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the directory ``dir_fd`` for the block.

    Not re-entrant on the same descriptor (the inner exit would release the outer lock).
    """
    fcntl.flock(dir_fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(dir_fd, fcntl.LOCK_UN)
