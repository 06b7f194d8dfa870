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

from collections.abc import Sequence

from polyarch.errors import PolyarchError
from polyarch.operations.create.result import PlatformChange

__all__ = ["PlatformDropRefused", "check_platform_drop", "dropped_platforms"]


class PlatformDropRefused(PolyarchError):
    """Publishing would take platforms away from a tag that serves them; nothing was written.

    Publish every variant (bring the missing records), or accept the drop explicitly
    (``--allow-platform-drop``). ``tag`` is the reference, ``platforms`` what it would lose.
    """

    def __init__(self, tag: str, platforms: Sequence[str], remaining: Sequence[str]) -> None:
        lost = ", ".join(platforms)
        kept = ", ".join(remaining) or "nothing"
        super().__init__(
            f"refusing to move {tag}: it would no longer serve {lost} (the new index has {kept})",
            hint="publish every variant, or pass --allow-platform-drop to drop "
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
