"""The state one ``verify`` run shares between its checks, and their common vocabulary.

:class:`VerifyState` holds the request, the repository, the platform rule (children read
once), small blobs read once, and the report lines so far; each family of checks
(:mod:`.index`, :mod:`.shapes`, :mod:`.evidence`, :mod:`.host`, :mod:`.referrers`) is a
set of functions of it. :class:`Expected` is one platform the run expects.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from polyarch.content.context import Context
from polyarch.content.pool import read_each
from polyarch.content.records.evidence import Evidence
from polyarch.content.selection import EntryPlatforms, Selected, platform_key
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index
from polyarch.domain.platform import Platform
from polyarch.engine.runner import DockerRunner
from polyarch.errors import PolyarchError
from polyarch.operations.verify.request import Check, Status, VerifyRequest
from polyarch.storage.repository import MAX_SMALL_BLOB

__all__ = ["Expected", "VerifyState", "same_platform"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Expected:
    """One expected platform: its ``digest`` when known, ``origin`` the flag or record."""

    platform: Platform
    digest: Digest | None
    origin: str
    evidence: Evidence | None = None


def same_platform(a: Platform, b: Platform) -> bool:
    """Whether ``a`` and ``b`` name the same platform (a missing OS version matches any).

    Compares :func:`~polyarch.content.selection.platform_key` (os, architecture,
    normalized variant, OS version): the first three must agree; the OS version only when
    both name one.
    """
    ka, kb = platform_key(a), platform_key(b)
    return ka[:3] == kb[:3] and (not ka[3] or not kb[3] or ka[3] == kb[3])


class VerifyState:
    """What the checks of one ``verify`` run share: its request, repository and report lines.

    Every check is a function of this state (and of what earlier checks found); none
    imports another family of checks or the order they run in (:mod:`.checks`).
    """

    def __init__(self, request: VerifyRequest, ctx: Context, runner: DockerRunner) -> None:
        self.request = request
        self.ctx = ctx
        self.runner = runner
        self.repo = ctx.repository(request.target)
        self.checks: list[Check] = []
        #: The one platform rule (containerd's), children read once: see content/selection.py.
        self.entry_platforms = EntryPlatforms(self.repo)
        #: The index as read, before nested indexes are flattened (what a host pulls from).
        self.original: Index | None = None
        #: Manifests the index names that a host cannot pull, and why ("is missing from
        #: REPO"): recorded by the children check, judged by the pull and run checks.
        self.broken: dict[Digest, str] = {}
        self._labels: dict[Digest, str] = {}
        # Small blobs (in-toto statements) read by several checks: read once per run.
        self._blobs: dict[Digest, bytes] = {}
        #: Each image's attestation manifests found as its referrers (read once, evidence.py).
        self.referred: dict[Digest, tuple[ImageManifest, ...]] | None = None

    def add(
        self, check: str, status: Status, message: str, platform: object = None, **details: Any
    ) -> None:
        """Record one report line."""
        self.checks.append(
            Check(check, status, message, str(platform) if platform else None, details)
        )

    def read_each(self, keys: Iterable[K], read: Callable[[K], V]) -> dict[K, V | PolyarchError]:
        """``read(key)`` for each distinct key, several at once (content/pool.py), by key.

        A read that fails the way a user can cause (missing, corrupt, refused) is a report
        line for the check, never the end of the run: its PolyarchError comes back in its
        place. Judged in the order of ``keys``, the report does not depend on which answer
        came first.
        """
        return read_each(keys, read, on_interrupt=lambda _: self.ctx.client.cancel())

    def read_blob(self, descriptor: Descriptor, *, max_size: int = MAX_SMALL_BLOB) -> bytes:
        """A small blob of the target repository, verified, read at most once per run.

        Several checks read the same in-toto statements (attestation links, provenance);
        an index whose 1,000 entries name a few attestations must not read them 1,000 times.
        """
        data = self._blobs.get(descriptor.digest)
        if data is None:
            data = self.repo.read_blob(descriptor, max_size=max_size)
            self._blobs[descriptor.digest] = data
        return data

    def label(self, top: Index, d: Descriptor) -> str:
        """How a report line names entry ``d`` of ``top``: its platform, else its digest.

        An attestation is named after the image it is attached to.
        """
        if d.attestation_subject:
            if not self._labels:  # one pass, not one scan of the index per attestation
                self._labels = {
                    i.digest: str(i.platform) if i.platform else i.digest.short
                    for i in reversed(top.images)
                }
            owner = self._labels.get(d.attestation_subject, d.attestation_subject.short)
            return f"attestation of {owner}"
        return str(d.platform) if d.platform else d.digest.short

    def pick(self, host: Platform) -> Selected | None:
        """What a host pulls: the one rule (containerd's), as resolve and inspect apply it."""
        top = self.original
        assert top is not None
        try:
            return self.entry_platforms.select(top, host)
        except PolyarchError:
            return None  # an unreadable child: the children check reports it
