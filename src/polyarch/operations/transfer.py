"""The one transfer engine: make content of one repository present in another.

``create`` uses it to bring child manifests and their blobs into each target before
any tag moves; ``copy`` will use the same machinery. For each blob, in order of
preference: it is already there (HEAD: skipped), it can be mounted from the source
repository of the same registry (no bytes move), or it is streamed from source to
destination while being hashed (constant memory, nothing unverified committed).

A dry run asks the same HEAD questions and records what it *would* do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from polyarch.descriptor import Descriptor
from polyarch.manifest import ImageManifest, Manifest
from polyarch.storage.base import Repository

__all__ = ["BlobAction", "Transfer", "TransferStats"]

log = logging.getLogger("polyarch.transfer")


class BlobAction(StrEnum):
    """What happened (or would happen) to one blob."""

    SKIPPED = "skipped"
    MOUNTED = "mounted"
    COPIED = "copied"


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

    def to_json(self) -> dict[str, Any]:
        """Counts and bytes per action (the documented ``plan`` / ``transfer`` object)."""
        return {
            "blobs": {
                a.value: {"count": self.blobs[a], "bytes": self.bytes[a]} for a in BlobAction
            },
            "manifests": {"pushed": self.manifests_pushed, "present": self.manifests_present},
        }


class Transfer:
    """Copies blobs and manifests into one destination repository.

    >>> from polyarch.operations.transfer import Transfer
    >>> Transfer(dry_run=True).stats.manifests_pushed
    0
    """

    def __init__(self, *, dry_run: bool = False) -> None:
        self.dry_run = dry_run
        self.stats = TransferStats()
        # Digests known present in the destination during this transfer (saves HEADs).
        self._present: set[str] = set()

    def blob(self, source: Repository, dest: Repository, descriptor: Descriptor) -> BlobAction:
        """Make one blob present in ``dest``: skip, mount, or stream it."""
        digest = str(descriptor.digest)
        if digest in self._present:
            return BlobAction.SKIPPED
        if dest.same_as(source) or dest.blob_size(descriptor.digest) is not None:
            action = BlobAction.SKIPPED
        elif self.dry_run:
            action = BlobAction.MOUNTED if dest.can_mount_from(source) else BlobAction.COPIED
        elif dest.mount_blob(descriptor, source):
            action = BlobAction.MOUNTED
        else:
            with source.open_blob(descriptor) as reader:
                dest.put_blob(descriptor, reader)
            action = BlobAction.COPIED
        log.info("%s %s -> %s (%s)", action.value, descriptor.digest, dest.name, descriptor.size)
        self.stats.add(action, descriptor.size)
        self._present.add(digest)
        return action

    def manifest(self, source: Repository, dest: Repository, manifest: Manifest) -> bool:
        """Make a child manifest (and every blob it references) present in ``dest`` by digest.

        Returns True when the manifest was (or, in a dry run, would be) pushed. A manifest
        already in ``dest`` is trusted to have its blobs: registries refuse a manifest
        whose blobs are missing.
        """
        digest = str(manifest.digest)
        if digest in self._present:
            return False
        if dest.same_as(source) or dest.head_manifest(digest) is not None:
            self.stats.manifests_present += 1
            self._present.add(digest)
            return False
        # An index has no blobs of its own; its children are transferred one by one.
        blobs = manifest.blobs if isinstance(manifest, ImageManifest) else ()
        for blob in blobs:
            self.blob(source, dest, blob)
        if not self.dry_run:
            dest.put_manifest(manifest)
        self.stats.manifests_pushed += 1
        self._present.add(digest)
        return True
