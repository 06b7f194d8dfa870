"""Read a file from the user's environment safely: the one place polyarch does it.

Every file polyarch reads that someone else wrote (Docker's ``config.json``, podman's
``auth.json``, build records, spec files, the files of an OCI image layout) goes
through :func:`read_bytes` / :func:`read_text` / :func:`load_json`, so each of them:

* opens **regular files only**: the file is opened with ``O_NONBLOCK`` (a FIFO
  planted where a file should be cannot make the open block) and ``fstat``-checked
  before a byte is read; a FIFO, a socket, a device or a directory is refused with
  :class:`NotARegularFile`, naming the path and what it is;
* reads **at most** ``limit`` bytes: a larger file is refused with
  :class:`FileTooLarge` (memory stays bounded whatever the file's size);
* **decodes strictly**: bytes that are not UTF-8, or JSON that does not parse, give
  :class:`UnreadableFile` naming the file and the position, never the content (a
  credentials file may hold secrets).

All three are :class:`~polyarch.errors.InvalidInput` (exit code 2): the user has to
fix the file. A missing file raises :class:`FileNotFoundError` unchanged, because
what absence means (nothing configured, or an error) is the caller's decision.

This module does I/O, unlike the rest of the domain layer: it sits there so every
layer (transport for credentials, storage for layouts, operations and pipeline for
records and specs) can share it. It depends on nothing but :mod:`polyarch.errors`.

>>> import os, pathlib, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "config.json")
>>> _ = pathlib.Path(path).write_bytes(b'{"auths": {}}')
>>> load_json(path, what="docker config", limit=1024)
{'auths': {}}
>>> os.mkfifo(path + ".fifo")
>>> try:
...     read_bytes(path + ".fifo", what="docker config", limit=1024)
... except NotARegularFile as exc:
...     print(exc.message.split(": ", 1)[1])
is a FIFO, not a regular file
"""

from __future__ import annotations

import errno
import json
import os
import stat
from typing import Any, BinaryIO, Final

from polyarch.errors import InvalidInput, StorageError

__all__ = [
    "FileTooLarge",
    "NotARegularFile",
    "UnreadableFile",
    "decode_text",
    "describe_mode",
    "load_json",
    "open_regular",
    "os_failure",
    "parse_json",
    "read_bytes",
    "read_text",
]

#: The default cap for configuration-sized files (auth files, records, specs).
DEFAULT_LIMIT: Final = 4 * 1024 * 1024

_FLAGS: Final = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symbolic link"),
)


class NotARegularFile(InvalidInput):
    """A path that must be a regular file is a FIFO, socket, device, directory or link."""


class FileTooLarge(InvalidInput):
    """A file is larger than polyarch reads for that kind of file; check it is the right one."""


class UnreadableFile(InvalidInput):
    """A file is not valid UTF-8 or not valid JSON; the message names the file and position."""


#: What to do about the OS errors a file system gives when it cannot take a write.
_OS_HINTS: Final = {
    errno.ENOSPC: "free space on that file system, or write elsewhere",
    errno.EDQUOT: "the disk quota is used up: free space, or write elsewhere",
    errno.EROFS: "the file system is mounted read-only: write to another directory",
    errno.EMFILE: "raise the limit of open files (ulimit -n), or lower --jobs",
    errno.ENFILE: "the system ran out of open files: retry when fewer are open",
    errno.EFBIG: "the file-size limit (ulimit -f) is below the size of this file",
    errno.EACCES: "check the permissions of that path",
    errno.EPERM: "check the permissions of that path",
    errno.EIO: "the device failed: check the disk",
}


def os_failure(exc: OSError, shown: str) -> StorageError:
    """The error for an OS failure on ``shown`` (``oci:DIR: index.json``, a config path).

    One line: ``shown``, then the system's words (``No space left on device``), with a
    hint for the failures a full, read-only or limited file system gives.

    >>> os_failure(OSError(errno.EROFS, "Read-only file system"), "oci:out: index.json").message
    'oci:out: index.json: Read-only file system'
    """
    words = exc.strerror or type(exc).__name__
    return StorageError(f"{shown}: {words}", hint=_OS_HINTS.get(exc.errno or 0))


def describe_mode(mode: int) -> str:
    """What a ``st_mode`` is, in words: ``"a FIFO"``, ``"a directory"``, ``"a regular file"``.

    >>> describe_mode(stat.S_IFIFO | 0o644)
    'a FIFO'
    """
    for test, words in _KINDS:
        if test(mode):
            return words
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def _shown(path: str | os.PathLike[str], label: str | None) -> str:
    return label if label is not None else os.fspath(path)


def open_regular(
    path: str | os.PathLike[str],
    *,
    what: str,
    dir_fd: int | None = None,
    follow_symlinks: bool = True,
    label: str | None = None,
) -> BinaryIO:
    """Open ``path`` for reading if, and only if, it is a regular file.

    Parameters: ``path`` (relative to ``dir_fd`` when given), ``what`` (what the file is
    for, e.g. ``"docker config"``: starts the error messages), ``follow_symlinks``
    (False adds ``O_NOFOLLOW``: a link is refused), ``label`` (the path as shown in
    messages, default ``path``). Returns a binary file in blocking mode.

    Raises :class:`FileNotFoundError` when absent, :class:`NotARegularFile` for anything
    that is not a regular file (checked with ``fstat`` on the opened descriptor, so
    there is no window between check and use), :class:`OSError` otherwise.
    """
    shown = _shown(path, label)
    flags = _FLAGS if follow_symlinks else _FLAGS | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise NotARegularFile(
                f"{what} {shown}: is a symbolic link, not a regular file"
            ) from None
        if isinstance(exc, IsADirectoryError):
            raise NotARegularFile(f"{what} {shown}: is a directory, not a regular file") from None
        if exc.errno == errno.ENXIO:  # a socket, or a device with nothing behind it
            try:
                mode = os.stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks).st_mode
            except OSError:
                raise exc from None
            raise NotARegularFile(
                f"{what} {shown}: is {describe_mode(mode)}, not a regular file"
            ) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(f"{what} {shown}: is {describe_mode(mode)}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(
    path: str | os.PathLike[str],
    *,
    what: str,
    limit: int = DEFAULT_LIMIT,
    dir_fd: int | None = None,
    follow_symlinks: bool = True,
    label: str | None = None,
) -> bytes:
    """The whole content of the regular file ``path``, at most ``limit`` bytes.

    Parameters as :func:`open_regular`; ``limit`` in bytes. Raises what
    :func:`open_regular` raises, and :class:`FileTooLarge` (reading stops after
    ``limit + 1`` bytes: memory stays bounded).
    """
    with open_regular(
        path, what=what, dir_fd=dir_fd, follow_symlinks=follow_symlinks, label=label
    ) as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(
            f"{what} {_shown(path, label)}: larger than {_size(limit)}, more than polyarch reads",
            hint="check that it is the right file",
        )
    return data


def read_text(
    path: str | os.PathLike[str],
    *,
    what: str,
    limit: int = DEFAULT_LIMIT,
    dir_fd: int | None = None,
    follow_symlinks: bool = True,
    label: str | None = None,
) -> str:
    """The content of ``path`` decoded as UTF-8 (strictly); see :func:`read_bytes`.

    Raises :class:`UnreadableFile` naming the file and the byte offset when it is not
    UTF-8 (a leading byte-order mark is accepted and dropped).
    """
    data = read_bytes(
        path, what=what, limit=limit, dir_fd=dir_fd, follow_symlinks=follow_symlinks, label=label
    )
    return decode_text(data, what=what, shown=_shown(path, label))


def decode_text(data: bytes, *, what: str, shown: str) -> str:
    """``data`` as UTF-8 text; :class:`UnreadableFile` naming ``shown`` and the offset if not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{what} {shown}: not UTF-8 text (invalid byte at offset {exc.start})",
            hint="save it as UTF-8",
        ) from None


def load_json(
    path: str | os.PathLike[str],
    *,
    what: str,
    limit: int = DEFAULT_LIMIT,
    dir_fd: int | None = None,
    follow_symlinks: bool = True,
    label: str | None = None,
) -> Any:
    """The JSON document in ``path``; see :func:`read_text`.

    Raises :class:`UnreadableFile` naming the file and the line and column of a syntax
    error (never the text around it: it may be a secret), or saying it is nested too
    deeply.
    """
    text = read_text(
        path, what=what, limit=limit, dir_fd=dir_fd, follow_symlinks=follow_symlinks, label=label
    )
    return parse_json(text, what=what, shown=_shown(path, label))


def parse_json(text: str | bytes, *, what: str, shown: str) -> Any:
    """Parse ``text`` as JSON; :class:`UnreadableFile` naming ``shown`` and the position if not."""
    try:
        return json.loads(text)
    except RecursionError:
        raise UnreadableFile(f"{what} {shown}: not valid JSON (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"{what} {shown}: not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError:  # bytes that are not UTF-8/16/32
        raise UnreadableFile(f"{what} {shown}: not valid JSON (not UTF-8 text)") from None


def _size(limit: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= factor and limit % factor == 0:
            return f"{limit // factor} {unit}"
    return f"{limit} bytes"
