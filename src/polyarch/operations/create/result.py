"""What ``create`` reports: per-target status, per-platform changes, the ``--json`` schema."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from polyarch.content.referrers.carry import CarriedReferrer
from polyarch.content.transfer import TransferStats
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location
from polyarch.domain.manifest import Index, Manifest
from polyarch.domain.platform import Platform
from polyarch.errors import PolyarchError
from polyarch.operations.create.plan import Conversion, entry_key, is_zstd
from polyarch.operations.create.sources import Entry

__all__ = [
    "CREATE_SCHEMA",
    "CreateResult",
    "LostUpdate",
    "PlatformChange",
    "TargetResult",
    "plan_changes",
    "platform_json",
]

CREATE_SCHEMA = "polyarch.create/v1"


class LostUpdate(PolyarchError):
    """Concurrent writers kept overwriting the tag; run the command again, or serialize the jobs."""


def platform_json(platform: Platform) -> dict[str, Any]:
    """``platform`` (os/arch[/variant]) plus ``osVersion``/``osFeatures`` when set, as inspect."""
    out: dict[str, Any] = {"platform": str(platform)}
    if platform.os_version:
        out["osVersion"] = platform.os_version
    if platform.os_features:
        out["osFeatures"] = list(platform.os_features)
    return out


@dataclass(frozen=True, slots=True)
class PlatformChange:
    """How one platform of a target's index changes.

    ``platform`` is the full normalized platform (containerd's ``FormatAll``: the OS
    version and features in parentheses), ``compression`` is ``"zstd"`` for the zstd
    instance of a gzip/zstd pair; ``before``/``after`` are the entry digests (None: absent).
    """

    platform: str
    before: Digest | None
    after: Digest | None
    compression: str | None = None
    parsed: Platform | None = None

    @property
    def change(self) -> Literal["added", "removed", "replaced", "unchanged"]:
        """``added``, ``removed``, ``replaced`` or ``unchanged``."""
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "unchanged" if self.before == self.after else "replaced"

    @property
    def label(self) -> str:
        """The platform as the human view shows it (``+zstd`` for a pair's zstd instance)."""
        return self.platform + (f" ({self.compression})" if self.compression else "")

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object."""
        out: dict[str, Any] = (
            platform_json(self.parsed) if self.parsed else {"platform": self.platform}
        )
        if self.compression:
            out["compression"] = self.compression
        out.update(
            {
                "change": self.change,
                "before": str(self.before) if self.before else None,
                "after": str(self.after) if self.after else None,
            }
        )
        return out


def plan_changes(
    before: Manifest | None,
    after: Index,
    platform_of: Callable[[Descriptor], Platform | None] | None = None,
) -> tuple[PlatformChange, ...]:
    """Per platform (full normalized, compression role): the digest before and after.

    ``platform_of`` gives the platform of an entry without one (its config's, as
    :class:`~polyarch.content.selection.EntryPlatforms` reads it); without it such
    entries are left out of the comparison.
    """

    def table(m: Manifest | None) -> dict[tuple[Any, ...], tuple[Digest, Platform, bool]]:
        out: dict[tuple[Any, ...], tuple[Digest, Platform, bool]] = {}
        if isinstance(m, Index):
            for d in m.images:
                platform = d.platform or _config_platform(platform_of, d)
                if platform is not None:
                    known = d.with_platform(platform)
                    out.setdefault(entry_key(known), (d.digest, platform.normalized(), is_zstd(d)))
        return out

    old, new = table(before), table(after)
    changes = []
    for key in sorted(set(old) | set(new), key=str):
        _, platform, zstd = new.get(key) or old[key]
        changes.append(
            PlatformChange(
                platform.format_all(),
                old[key][0] if key in old else None,
                new[key][0] if key in new else None,
                "zstd" if zstd else None,
                platform,
            )
        )
    return tuple(changes)


def _config_platform(
    platform_of: Callable[[Descriptor], Platform | None] | None, d: Descriptor
) -> Platform | None:
    """The platform of an entry without one, for the report only: unreadable is unknown.

    (In a dry run, entries of the new index are not yet in every target.)
    """
    if platform_of is None:
        return None
    try:
        return platform_of(d)
    except PolyarchError:
        return None


@dataclass(frozen=True, slots=True)
class TargetResult:
    """What happened (or, in a dry run, would happen) at one target tag."""

    reference: Location
    previous: Digest | None
    digest: Digest
    transfer: TransferStats
    changes: tuple[PlatformChange, ...]
    #: Referrers of the source images written (or, in a dry run, to write) here.
    referrers: tuple[CarriedReferrer, ...] = ()

    @property
    def status(self) -> Literal["created", "updated", "unchanged"]:
        """``created`` (the tag was new), ``updated`` or ``unchanged``."""
        if self.previous is None:
            return "created"
        return "unchanged" if self.previous == self.digest else "updated"

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object."""
        return {
            "reference": str(self.reference),
            "previous": str(self.previous) if self.previous else None,
            "status": self.status,
            "transfer": self.transfer.to_json(),
            "changes": [c.to_json() for c in self.changes],
            "referrers": [r.to_json() for r in self.referrers],
        }


@dataclass(frozen=True, slots=True)
class CreateResult:
    """The index assembled, its entries, and what happened at each target.

    ``entries`` are the images in index order, each with its attestations; ``rounds``
    counts ``--append`` assemble-write-check rounds (more than 1 when a concurrent
    writer's write had to be repaired).
    """

    index: Index
    entries: tuple[Entry, ...]
    targets: tuple[TargetResult, ...]
    dry_run: bool
    rounds: int = 1
    #: How the media type of the index edited changed (``--append``), when it did.
    conversion: Conversion | None = None

    @property
    def digest(self) -> Digest:
        """The index digest, the same at every target."""
        return self.index.digest

    @property
    def unchanged(self) -> bool:
        """True when every target already pointed at this exact index."""
        return all(t.status == "unchanged" for t in self.targets)

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        return {
            "schema": CREATE_SCHEMA,
            "digest": str(self.index.digest),
            "mediaType": self.index.media_type,
            "size": self.index.size,
            "dryRun": self.dry_run,
            "unchanged": self.unchanged,
            "rounds": self.rounds,
            "conversion": self.conversion.to_json() if self.conversion else None,
            "targets": [t.to_json() for t in self.targets],
            "entries": [
                {
                    **platform_json(e.platform),
                    "digest": str(e.descriptor.digest),
                    "mediaType": e.descriptor.media_type,
                    "size": e.descriptor.size,
                    "source": e.source,
                    "attestations": [str(a.descriptor.digest) for a in e.attestations],
                }
                for e in self.entries
            ],
        }
