"""The one transfer engine: make content of one repository present in another.

``create`` uses it to bring child manifests and their blobs into each target before
any tag moves; ``copy`` uses it for whole images and indexes. For each blob, in order
of preference: it is already there (HEAD: skipped), it can be mounted from the source
repository of the same registry (no bytes move), or it is streamed from source to
destination while being hashed (constant memory, no temp files, nothing unverified
committed). Several blobs move in parallel (``jobs``); manifests are pushed only after
all their blobs are in place. Only the blobs :func:`~polyarch.content.graph.required_blobs`
names move: external layers (Docker foreign, OCI non-distributable, any with ``urls``)
stay where their URLs point, and the manifest naming them is copied byte for byte.

A blob whose move fails for a transient reason the HTTP client could not retry itself
(a dropped connection in an upload request, which is not idempotent; a 5xx; a 429) is
moved again from the start, at most :data:`BLOB_ATTEMPTS` times in all: the destination
is asked again whether it has the blob (a lost response may hide a completed upload), a
new upload session is opened and the source is read again. An upload session is never resumed or
repeated blindly. Content that does not match its digest is never retried. The first
blob that fails for good ends the transfer: blobs not started are cancelled, the others
are not started over.

Presence is trusted only in a :class:`~polyarch.storage.repository.CheckedStore` (a
registry, which verifies what it stores): in an ``oci:`` layout a blob counts as present
when its file has the descriptor's size, a manifest there does not vouch for its blobs, and
a blob of the very layout a new tag is written to is read through and hashed first.

Blobs move on a :class:`~polyarch.content.pool.WorkerPool`: an interrupt (Ctrl-C, SIGTERM)
starts no further blob, stops those in flight at their next chunk (none is committed after
it), and has each repository give up what it started (:meth:`Transfer.interrupt`).

A dry run asks the same HEAD questions and records what it *would* do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from polyarch.content.blobinfo import BlobInfoCache
from polyarch.content.graph import required_blobs
from polyarch.content.pool import WorkerPool
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.manifest import ImageManifest, Manifest
from polyarch.errors import ContentError, Interrupted, PolyarchError, RegistryError, TransportError
from polyarch.storage.repository import BlobMounting, CheckedStore, Repository
from polyarch.storage.stream import BlobReader
from polyarch.transport.errors import RetriesExhausted
from polyarch.transport.retry import BLOB_ATTEMPTS, RetryPolicy, blob_restart_delay

__all__ = ["BlobAction", "ProgressEvent", "Transfer", "TransferStats", "is_transient"]

log = logging.getLogger("polyarch.transfer")

#: Default number of blobs moved at once: loopback registries are CPU-bound on upload,
#: so a few parallel streams pay; many more only contend.
DEFAULT_JOBS = 4


class BlobAction(StrEnum):
    """What happened (or would happen) to one blob."""

    SKIPPED = "skipped"
    MOUNTED = "mounted"
    COPIED = "copied"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """A step of a transfer, for progress displays.

    ``kind`` is ``start`` (a blob begins: ``action`` says how), ``bytes`` (``nbytes``
    more bytes of it moved) or ``done``.
    """

    kind: str
    descriptor: Descriptor
    action: BlobAction
    nbytes: int = 0


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class TransferStats:
    """Counts and bytes per action, for one destination repository."""

    blobs: dict[BlobAction, int] = field(default_factory=lambda: dict.fromkeys(BlobAction, 0))
    bytes: dict[BlobAction, int] = field(default_factory=lambda: dict.fromkeys(BlobAction, 0))
    manifests_pushed: int = 0
    manifests_present: int = 0

    def add(self, action: BlobAction, size: int) -> None:
        """Record one blob."""
        self.blobs[action] += 1
        self.bytes[action] += size

    def merge(self, other: TransferStats) -> None:
        """Add another destination's counts to these."""
        for action in BlobAction:
            self.blobs[action] += other.blobs[action]
            self.bytes[action] += other.bytes[action]
        self.manifests_pushed += other.manifests_pushed
        self.manifests_present += other.manifests_present

    def to_json(self) -> dict[str, Any]:
        """Counts and bytes per action (the documented ``transfer`` object)."""
        return {
            "blobs": {
                a.value: {"count": self.blobs[a], "bytes": self.bytes[a]} for a in BlobAction
            },
            "manifests": {"pushed": self.manifests_pushed, "present": self.manifests_present},
        }


def is_transient(exc: BaseException) -> bool:
    """Whether moving a blob again from the start may succeed where this attempt failed.

    True for transport failures (reset, timeout, refused) and for 5xx and 429 answers;
    False for everything else, always for content that does not match its descriptor
    (:class:`~polyarch.errors.DigestMismatch`, ``SizeMismatch``), and once the client's
    retry budget is spent (:class:`~polyarch.transport.errors.RetriesExhausted`).
    """
    if isinstance(exc, ContentError | RetriesExhausted):
        return False
    if isinstance(exc, TransportError):
        return True
    return (
        isinstance(exc, RegistryError)
        and exc.status is not None
        and (exc.status >= 500 or exc.status == 429)
    )


class _GuardedReader(BlobReader):
    """A source blob reader that stops once the transfer is stopped, and reports progress.

    Checked before each chunk and after the last (before the destination commits), so an
    interrupted transfer commits no blob whose end it had not reached. Still a
    :class:`BlobReader` of the same blob, so the destination knows the chunks verify
    themselves and does not hash them a second time.
    """

    def __init__(
        self, reader: BlobReader, stopped: threading.Event, progress: ProgressCallback | None
    ) -> None:
        self.descriptor = reader.descriptor
        self._reader = reader
        self._stopped = stopped
        self._progress = progress

    def _check(self) -> None:
        if self._stopped.is_set():
            raise Interrupted(f"{self.descriptor.digest}: the transfer was interrupted")

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._reader:
            self._check()
            if self._progress is not None:
                event = ProgressEvent("bytes", self.descriptor, BlobAction.COPIED, len(chunk))
                self._progress(event)
            yield chunk
        self._check()

    def close(self) -> None:
        self._reader.close()


class Transfer:
    """Copies blobs and manifests into destination repositories; safe across threads.

    >>> from polyarch.content.transfer import Transfer
    >>> Transfer(dry_run=True).stats.manifests_pushed
    0
    """

    def __init__(
        self,
        *,
        dry_run: bool = False,
        jobs: int = DEFAULT_JOBS,
        progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
        attempts: int = BLOB_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        blob_cache: BlobInfoCache | None = None,
    ) -> None:
        self.dry_run = dry_run
        #: Where blobs were seen before (content/blobinfo.py): mount sources across runs.
        self.blob_cache = blob_cache
        self.jobs = max(1, jobs)
        self.progress = progress
        #: The backoff between attempts at one blob (the client's policy, when given).
        self.retry = retry if retry is not None else RetryPolicy()
        self.attempts = max(1, attempts)
        self._sleep = sleep
        self.stats = TransferStats()
        self._lock = threading.Lock()
        # (destination, digest) known present during this transfer: saves HEADs.
        self._present: set[tuple[str, str]] = set()
        # Set by the first blob that fails for good: the others stop starting over.
        self._failed = threading.Event()
        # Set when the operation is interrupted: no blob starts, none in flight commits.
        self._stopped = threading.Event()

    def _known(self, dest: Repository, digest: str) -> bool:
        with self._lock:
            return (dest.name, digest) in self._present

    def _mark(self, dest: Repository, digest: str) -> None:
        with self._lock:
            self._present.add((dest.name, digest))

    def blob(self, source: Repository, dest: Repository, descriptor: Descriptor) -> BlobAction:
        """Make one blob present in ``dest``: skip, mount, or stream it.

        A transient failure starts the blob over (see the module docstring), at most
        ``attempts`` times in all; the last failure is raised.
        """
        digest = str(descriptor.digest)
        if self._known(dest, digest):
            return BlobAction.SKIPPED
        if self._stopped.is_set():
            raise Interrupted(f"{descriptor.digest} -> {dest.name}: the transfer was interrupted")
        attempt = 1
        while True:
            try:
                action = self._move(source, dest, descriptor, first=attempt == 1)
                break
            except PolyarchError as exc:
                delay = blob_restart_delay(self.retry, attempt, self.attempts)
                if delay is None or self.dry_run or not is_transient(exc) or self._failed.is_set():
                    raise
                log.info(
                    "%s -> %s failed (%s); starting it over in %.2f s (attempt %d of %d)",
                    descriptor.digest,
                    dest.name,
                    exc.one_line(),
                    delay,
                    attempt + 1,
                    self.attempts,
                )
                self._sleep(delay)
                attempt += 1
        log.info(
            "%s %s -> %s (%d bytes)", action.value, descriptor.digest, dest.name, descriptor.size
        )
        with self._lock:
            self.stats.add(action, descriptor.size)
            self._present.add((dest.name, digest))
        if not self.dry_run:
            self._remember(dest, digest)
            self._remember(source, digest)
        if self.progress:
            self.progress(ProgressEvent("done", descriptor, action))
        return action

    def _move(
        self, source: Repository, dest: Repository, descriptor: Descriptor, *, first: bool
    ) -> BlobAction:
        """One attempt: HEAD the destination, then mount or stream (with a new session).

        Where the destination is no :class:`CheckedStore` (a layout), what is there is
        checked: a blob of the destination itself (same layout) is read through and
        hashed, since the new tag will rely on it; another blob present counts when its
        size is the descriptor's, and is written again otherwise.
        """
        checked = isinstance(dest, CheckedStore)
        if dest.same_as(source):
            if not checked:
                self._verify(source, descriptor)
            return BlobAction.SKIPPED
        size = dest.blob_size(descriptor.digest)
        if size is not None and (checked or size == descriptor.size):
            return BlobAction.SKIPPED
        mounting = dest if isinstance(dest, BlobMounting) else None
        if self.dry_run:
            can = mounting is not None and mounting.can_mount_from(source)
            return BlobAction.MOUNTED if can else BlobAction.COPIED
        if mounting is not None and (
            mounting.mount_blob(descriptor, source) or self._mount_seen(mounting, descriptor)
        ):
            return BlobAction.MOUNTED
        if self.progress and first:
            self.progress(ProgressEvent("start", descriptor, BlobAction.COPIED))
        with source.open_blob(descriptor) as reader:
            dest.put_blob(descriptor, _GuardedReader(reader, self._stopped, self.progress))
        return BlobAction.COPIED

    def _verify(self, repo: Repository, descriptor: Descriptor) -> None:
        """Read ``descriptor``'s blob in ``repo`` through, hashed: raises if it is missing,
        short, long or other bytes."""
        with repo.open_blob(descriptor) as reader:
            for _ in _GuardedReader(reader, self._stopped, None):
                pass

    def _remember(self, repo: Repository, digest: str) -> None:
        if self.blob_cache is not None and isinstance(repo, BlobMounting):
            registry, repository = repo.blob_home()
            self.blob_cache.record(registry, repository, digest)

    def _mount_seen(self, dest: BlobMounting, descriptor: Descriptor) -> bool:
        """Mount from a repository of ``dest``'s registry where the cache saw the blob."""
        if self.blob_cache is None:
            return False
        registry, repository = dest.blob_home()
        digest = str(descriptor.digest)
        for name in self.blob_cache.candidates(registry, digest, exclude=repository):
            sibling = dest.sibling(name)
            try:
                if dest.mount_blob(descriptor, sibling):
                    log.info(
                        "mounted %s into %s from %s (blob-info cache)", digest, dest.name, name
                    )
                    return True
            except PolyarchError as exc:
                # A mount is an optimization: a refusal means "stream it", never a failure.
                log.info("mount of %s from %s refused (%s)", digest, name, exc.one_line())
            log.info("blob-info cache: %s no longer in %s; forgetting it", digest, name)
            self.blob_cache.forget(registry, name, digest)
        return False

    def manifests(self, dest: Repository, items: Sequence[tuple[Repository, Manifest]]) -> int:
        """Make child manifests (and all their blobs) present in ``dest`` by digest.

        Blobs of every manifest not yet there move first, ``jobs`` at a time; then the
        manifests are pushed in the order given (so a caller lists the children of a
        nested index before it). A manifest already in a :class:`CheckedStore` (a
        registry) is trusted to have its blobs: registries refuse a manifest whose blobs
        are missing. A layout proves nothing of the kind, so there the blobs of a manifest
        already present are checked too (see :meth:`_move`), and the manifest is not
        written again. External blobs are never moved
        (:func:`~polyarch.content.graph.required_blobs`). Linear in ``items``. Returns the
        number of manifests pushed (or that a dry run would push).
        """
        todo: list[tuple[Repository, Manifest]] = []
        unchecked: list[tuple[Repository, Manifest]] = []
        queued: set[str] = set()
        for source, manifest in items:
            digest = str(manifest.digest)
            if self._known(dest, digest) or digest in queued:
                continue
            queued.add(digest)
            if dest.same_as(source) or dest.head_manifest(digest) is not None:
                with self._lock:
                    self.stats.manifests_present += 1
                if not isinstance(dest, CheckedStore):
                    unchecked.append((source, manifest))
                    continue
                self._mark(dest, digest)
                continue
            todo.append((source, manifest))
        blobs: dict[str, tuple[Repository, Descriptor]] = {}
        for source, manifest in [*todo, *unchecked]:
            if isinstance(manifest, ImageManifest):
                for blob in required_blobs(manifest):
                    blobs.setdefault(str(blob.digest), (source, blob))
        self._blobs(dest, list(blobs.values()))
        for _, manifest in unchecked:
            self._mark(dest, str(manifest.digest))
        for _, manifest in todo:
            if not self.dry_run:
                dest.put_manifest(manifest)
            with self._lock:
                self.stats.manifests_pushed += 1
            self._mark(dest, str(manifest.digest))
        return len(todo)

    def manifest(self, source: Repository, dest: Repository, manifest: Manifest) -> bool:
        """One child manifest and its blobs; True when it was (or would be) pushed."""
        return self.manifests(dest, [(source, manifest)]) == 1

    def _blobs(self, dest: Repository, blobs: list[tuple[Repository, Descriptor]]) -> None:
        # Largest first, so the long transfers start early and the pool drains evenly.
        blobs.sort(key=lambda item: -item[1].size)
        # The first failure ends the operation: blobs not started are not started and the
        # ones in flight do not start over, so the error is reported without waiting for
        # every other blob to exhaust its own retries. An interrupt ends it at once
        # (content/pool.py): the repositories give up what they started.
        repos = {id(r): r for r in (dest, *(source for source, _ in blobs))}
        pool = WorkerPool(
            self.jobs,
            on_failure=self._failed.set,
            on_interrupt=lambda grace: self.interrupt(list(repos.values()), grace),
        )
        pool.run([_task(self.blob, source, dest, blob) for source, blob in blobs])

    def interrupt(self, repos: Sequence[Repository], timeout: float) -> None:
        """Stop: no blob starts, none in flight is committed, and each of ``repos`` gives up
        what it started (upload sessions cancelled), all within ``timeout`` seconds."""
        self._stopped.set()
        deadline = time.monotonic() + timeout
        for repo in repos:
            repo.interrupt(max(0.0, deadline - time.monotonic()))


def _task(
    move: Callable[[Repository, Repository, Descriptor], BlobAction],
    source: Repository,
    dest: Repository,
    blob: Descriptor,
) -> Callable[[], BlobAction]:
    return lambda: move(source, dest, blob)
