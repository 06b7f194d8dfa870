"""A tag never silently loses a platform: the check ``create``, ``publish`` and ``release`` run
before moving a tag.

Microsoft's Go images lost ``linux/amd64`` from their tags after a partial publish
(microsoft/go#2313): a job published an index built from fewer variants than the tag
served, and nothing said so. Before a tag moves, the platforms it serves now (every image
entry of the index there, or the platform of the single image there) are compared with
the new index's; when one would be gone, nothing is written to any target and
:class:`PlatformDropRefused` (exit code 1) names the platforms and the tag, unless the
caller allows it (``--allow-platform-drop``). ``--append`` never drops a platform, and a
tag that does not exist yet serves none.

A platform is os/architecture/variant plus ``os.version`` (containerd's ``FormatAll``,
as :class:`~polyarch.operations.create.result.PlatformChange` names it): two Windows
images of different versions are two platforms. The zstd twin of a gzip image is not a
platform of its own: dropping the twin alone drops nothing.

>>> from polyarch.operations.create.result import PlatformChange
>>> changes = [PlatformChange("linux/amd64", "sha256:aa", None),
...            PlatformChange("linux/arm64", "sha256:bb", "sha256:cc")]
>>> dropped_platforms(changes)
('linux/amd64',)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from polyarch.domain.descriptor import Descriptor
from polyarch.domain.location import Location
from polyarch.domain.manifest import ImageManifest, Index, Manifest
from polyarch.domain.platform import Platform
from polyarch.errors import PolyarchError
from polyarch.operations.create.result import PlatformChange, plan_changes

__all__ = [
    "PlatformDropRefused",
    "check_platform_drop",
    "check_served",
    "check_targets",
    "dropped_platforms",
    "served_platforms",
    "target_changes",
]

PlatformOf = Callable[[Descriptor], Platform | None]


class PlatformDropRefused(PolyarchError):
    """Publishing would take platforms away from a tag that serves them; nothing was written.

    Publish every variant (bring the missing records), or accept the drop explicitly
    (``allow_platform_drop``; the CLI's ``--allow-platform-drop``). ``tag`` is the
    reference, ``platforms`` what it would lose.
    """

    def __init__(self, tag: str, platforms: Sequence[str], remaining: Sequence[str]) -> None:
        lost = ", ".join(platforms)
        kept = ", ".join(remaining) or "nothing"
        super().__init__(
            f"refusing to move {tag}: it would no longer serve {lost} (the new index has {kept})",
            hint="publish every variant, or allow dropping "
            + ("it" if len(platforms) == 1 else "them"),
            parameter="allow_platform_drop",
        )
        self.tag = tag
        self.platforms = tuple(platforms)


def dropped_platforms(changes: Sequence[PlatformChange]) -> tuple[str, ...]:
    """The platforms served before and by no entry after, in the order ``changes`` gives."""
    after = {c.platform for c in changes if c.after is not None}
    lost = (c.platform for c in changes if c.before is not None and c.platform not in after)
    return tuple(dict.fromkeys(lost))


def check_platform_drop(
    tag: str, changes: Sequence[PlatformChange], *, allow: bool = False
) -> tuple[str, ...]:
    """Raise :class:`PlatformDropRefused` when ``changes`` drop a platform and ``allow`` is
    false; return the dropped platforms (empty when none, or allowed: for ``--dry-run`` and
    reports)."""
    dropped = dropped_platforms(changes)
    if dropped and not allow:
        remaining = sorted({c.platform for c in changes if c.after is not None})
        raise PlatformDropRefused(tag, dropped, remaining)
    return dropped


def target_changes(
    previous: Manifest | None, index: Index, platform_of: PlatformOf | None
) -> tuple[PlatformChange, ...]:
    """How the platforms at a tag change when it moves from ``previous`` to ``index``.

    :func:`~polyarch.operations.create.result.plan_changes`, plus a single image at the
    tag (a tag that never was an index serves one platform: its config's). An entry whose
    platform cannot be read is left out (unknown is not a platform to keep).
    """
    if not isinstance(previous, ImageManifest):
        return plan_changes(previous, index, platform_of)
    changes = list(plan_changes(None, index, platform_of))
    try:
        platform = platform_of(previous.descriptor()) if platform_of is not None else None
    except PolyarchError:
        platform = None
    if platform is not None:
        name = platform.normalized().format_all()
        after = next((c.after for c in changes if c.platform == name and not c.compression), None)
        changes = [c for c in changes if not (c.platform == name and not c.compression)]
        changes.append(PlatformChange(name, previous.digest, after, None, platform.normalized()))
    return tuple(changes)


def check_targets(
    index: Index,
    previous: Mapping[Location, Manifest | None],
    platform_of: Mapping[Location, PlatformOf],
    *,
    allow: bool = False,
) -> dict[Location, tuple[str, ...]]:
    """Check every target before any is written: :class:`PlatformDropRefused` for the first
    tag that would lose a platform (unless ``allow``); the platforms each target drops.

    ``previous`` is what each target tag holds now (``None``: no tag yet), ``platform_of``
    reads an entry's platform in that target's repository.
    """
    dropped: dict[Location, tuple[str, ...]] = {}
    for target, before in previous.items():
        if before is None or before.digest == index.digest:
            continue
        changes = target_changes(before, index, platform_of.get(target))
        lost = check_platform_drop(str(target), changes, allow=allow)
        if lost:
            dropped[target] = lost
    return dropped


def served_platforms(previous: Manifest | None, platform_of: PlatformOf) -> tuple[Platform, ...]:
    """The platforms a tag holding ``previous`` serves (normalized; none for no tag).

    An index serves each image entry's platform (its config's when the entry has none);
    a single image its config's. Unreadable platforms are left out.
    """
    if previous is None:
        return ()
    descriptors = previous.images if isinstance(previous, Index) else (previous.descriptor(),)
    found: list[Platform] = []
    for descriptor in descriptors:
        try:
            platform = platform_of(descriptor)
        except PolyarchError:
            platform = None
        if platform is not None and not platform.is_unknown:
            found.append(platform.normalized())
    return tuple(dict.fromkeys(found))


def check_served(
    tag: str, served: Sequence[Platform], new: Sequence[Platform], *, allow: bool = False
) -> tuple[str, ...]:
    """The check before anything is built: would an index of the ``new`` platforms drop one
    the tag ``served``? Raises :class:`PlatformDropRefused` (unless ``allow``); returns
    the platforms dropped (``os.version`` aside: a build names no Windows version)."""
    wanted = {(p.os, p.architecture, p.variant) for p in (q.normalized() for q in new)}
    lost = [p.format_all() for p in served if (p.os, p.architecture, p.variant) not in wanted]
    if lost and not allow:
        raise PlatformDropRefused(tag, lost, sorted(str(p.normalized()) for p in new))
    return tuple(lost)
