"""The blob-info cache: where polyarch has seen each blob, so the next copy can mount it.

A registry mounts a blob from another repository of the same registry without moving a
byte (``POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>``, distribution spec
"Mounting a blob from another repository"), but only when the client names a repository
that holds it. Promoting one image from registry A into ten repositories of registry B
would otherwise stream every layer ten times. Like containers/image's blob-info cache
(``pkg/blobinfocache``, used by skopeo and podman), polyarch remembers, per registry, the
repositories where it pushed, mounted or saw each blob, and tries a mount from one of them
before streaming.

The cache is a small SQLite file: safe under concurrent processes (SQLite's own file
locking, a busy timeout), bounded (:data:`MAX_ENTRIES`, least recently seen dropped
first) and only ever a hint: an entry whose blob has been deleted since makes the mount
fail (the registry answers 202 and opens an ordinary upload), the entry is forgotten and
the blob is streamed as it would have been. A cache that cannot be opened or written is
ignored with a log line: it never stops a copy.

Location: ``$POLYARCH_BLOB_CACHE`` (a file path, or ``off``), else
``$XDG_CACHE_HOME/polyarch/blob-info.sqlite3`` (``~/.cache/...``). The CLI enables it;
library callers pass one to :class:`~polyarch.content.context.Context` when they want it.

>>> import tempfile, pathlib
>>> cache = BlobInfoCache(pathlib.Path(tempfile.mkdtemp()) / "cache.sqlite3")
>>> cache.record("r.example:5000", "team/app", "sha256:" + "a" * 64)
>>> cache.candidates("r.example:5000", "sha256:" + "a" * 64, exclude="team/other")
['team/app']
>>> cache.close()
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    # sqlite3 is loaded on the cache's first use: a command that moves no blob never opens it.
    import sqlite3

__all__ = ["MAX_ENTRIES", "BlobInfoCache", "default_cache_path"]

log = logging.getLogger("polyarch.blobinfo")

#: Rows kept at most (one row = one blob seen in one repository): a few MiB on disk.
MAX_ENTRIES: Final = 50_000
#: Repositories tried for one blob before streaming it.
MAX_CANDIDATES: Final = 3
#: How long a writer waits for another process's lock before giving up on the cache (s).
BUSY_TIMEOUT: Final = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    seen       REAL NOT NULL,
    PRIMARY KEY (registry, digest, repository)
) WITHOUT ROWID
"""


def default_cache_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the CLI keeps the cache, from the environment; None when it is turned off.

    Parameters:
        environ: the environment (default ``os.environ``): ``POLYARCH_BLOB_CACHE`` (a path,
            or ``off``/``0``/empty to disable), ``XDG_CACHE_HOME``, ``HOME``.

    Returns:
        The cache file's path, or None.
    """
    env = os.environ if environ is None else environ
    chosen = env.get("POLYARCH_BLOB_CACHE")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "false", "no") else Path(chosen)
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "polyarch" / "blob-info.sqlite3"


class BlobInfoCache:
    """Per registry, the repositories known to hold each blob; thread- and process-safe.

    Parameters:
        path: the SQLite file (created with its directory, mode 0700, on first use).
        max_entries: rows kept at most; the least recently seen are dropped beyond it.

    Every method swallows (and logs) SQLite and file-system errors: the cache is an
    optimization and never fails an operation.
    """

    def __init__(self, path: Path, *, max_entries: int = MAX_ENTRIES) -> None:
        self.path = path
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._broken = False
        self._writes = 0

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is not None or self._broken:
            return self._db
        import sqlite3

        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            # Write-ahead logging without a sync per commit: a record is a tiny transaction
            # that does not wait for the disk, so processes sharing the file hold its write
            # lock for microseconds. With the default rollback journal every record waited for
            # an fsync, and under load a process could wait out the busy timeout and lose
            # the cache (measured: 4 processes x 200 records). Losing the last records at a
            # power cut is fine for a cache (SQLite docs, "Write-Ahead Logging").
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            # BEGIN IMMEDIATE takes the write lock before the schema is read: processes
            # starting together wait their turn. Without it, one that read "no table" and
            # then asks to write while another writer is pending gets SQLITE_BUSY at once,
            # with no wait (SQLite's deadlock rule, "Locking And Concurrency In SQLite 3").
            db.execute("BEGIN IMMEDIATE")
            db.execute(_SCHEMA)
            db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            log.info("blob-info cache %s unusable, ignoring it: %s", self.path, exc)
            self._broken = True
            return None
        self._db = db
        return db

    def _run(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        import sqlite3

        with self._lock:
            db = self._connection()
            if db is None:
                return []
            try:
                return db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                log.info("blob-info cache %s: %s (ignored)", self.path, exc)
                return []

    def record(self, registry: str, repository: str, digest: str) -> None:
        """Remember that ``registry``/``repository`` holds blob ``digest`` (now)."""
        self._run(
            "INSERT OR REPLACE INTO blobs (registry, repository, digest, seen) VALUES (?,?,?,?)",
            (registry, repository, digest, time.time()),
        )
        self._writes += 1
        if self._writes % 256 == 1:
            self._prune()

    def forget(self, registry: str, repository: str, digest: str) -> None:
        """Drop one entry (its mount failed: the blob is gone from that repository)."""
        self._run(
            "DELETE FROM blobs WHERE registry = ? AND repository = ? AND digest = ?",
            (registry, repository, digest),
        )

    def candidates(
        self, registry: str, digest: str, *, exclude: str, limit: int = MAX_CANDIDATES
    ) -> list[str]:
        """Repositories of ``registry`` known to hold ``digest``, most recent first.

        Parameters:
            registry: host[:port] as polyarch names it.
            digest: the blob's digest string.
            exclude: the repository being written (a mount from itself is pointless).
            limit: how many to return at most.
        """
        rows = self._run(
            "SELECT repository FROM blobs WHERE registry = ? AND digest = ? AND repository != ?"
            " ORDER BY seen DESC LIMIT ?",
            (registry, digest, exclude, limit),
        )
        return [str(row[0]) for row in rows]

    def _prune(self) -> None:
        # Keep the newest max_entries rows (row values need SQLite 3.15, 2016).
        self._run(
            "DELETE FROM blobs WHERE (registry, digest, repository) IN ("
            " SELECT registry, digest, repository FROM blobs ORDER BY seen DESC"
            " LIMIT -1 OFFSET ?)",
            (self.max_entries,),
        )

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
