"""Which entries of an index a platform selects: the one place every command asks.

Two questions, two functions, used by resolve, inspect, copy, create and verify alike:

* :meth:`EntryPlatforms.select`: the image a host of a platform pulls. This is
  containerd's rule (``core/images/image.go`` ``Manifest`` and ``handlers.go``
  ``FilterPlatforms`` / ``LimitManifests``): an entry whose descriptor carries a
  ``platform`` is a candidate when that platform matches the host (ranked as
  ``platforms.Only(host)`` orders them, :func:`polyarch.domain.platform.select`); an entry
  *without* a ``platform`` (the field is optional in the OCI image spec) is always a
  candidate, ranked after every entry that has one, and the ``os`` / ``architecture`` /
  ``variant`` of its image config decide whether it matches (containerd's
  ``ConfigPlatform``). A nested index is walked the same way. One difference, on
  purpose: containerd limits the walk to the first candidate (``limit = 1``), so an
  index whose entries all lack platforms only ever yields its first entry; here every
  platform-less candidate is tried in index order until one's config matches, which is
  what the image spec's "platform is optional" means for a multi-platform index.
* :func:`matches_filter`: whether an image is one of the platforms a ``--platform``
  filter names (``create`` and ``copy``): the same normalized OS, architecture and
  variant, and the same ``os.version`` when the filter gives one.

Every child manifest and config is read at most once per :class:`EntryPlatforms`, and
configs only when an entry has no platform, so the work stays linear in the entries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from polyarch.content.graph import MAX_NESTING, fetch_config
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location
from polyarch.domain.manifest import ImageManifest, Index, Manifest
from polyarch.domain.platform import Platform, compatible, select
from polyarch.errors import InvalidManifest, PlatformNotFound
from polyarch.storage.repository import Repository

__all__ = [
    "EntryPlatforms",
    "PlatformKey",
    "Selected",
    "check_runnable",
    "matches_filter",
    "platform_key",
    "platform_list",
    "select_entry",
]

PlatformKey = tuple[str, str, str, str, tuple[str, ...]]


def platform_key(platform: Platform) -> PlatformKey:
    """What makes two platforms the same to a host: the normalized fields.

    >>> platform_key(Platform.parse("linux/aarch64"))
    ('linux', 'arm64', '', '', ())
    """
    p = platform.normalized()
    return (p.os, p.architecture, p.variant, p.os_version, tuple(sorted(p.os_features)))


def matches_filter(platform: Platform, filters: Sequence[Platform]) -> bool:
    """Whether ``platform`` is one of ``filters`` (no filters: every platform is).

    Normalized OS, architecture and variant must be equal; a filter with an
    ``os.version`` also needs that version (``windows/amd64`` takes every Windows
    release, ``--platform`` with ``os.version`` one of them).

    >>> matches_filter(Platform.parse("linux/arm64/v8"), [Platform.parse("linux/arm64")])
    True
    """
    if not filters:
        return True
    key = platform_key(platform)
    for wanted in filters:
        w = platform_key(wanted)
        if w[:3] == key[:3] and (not w[3] or w[3] == key[3]):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Selected:
    """The image entry a selection picked, and what it knows about it."""

    #: The entry pointing at the image manifest (as written in its index).
    descriptor: Descriptor
    #: Its platform: the descriptor's, or its config's when the descriptor has none.
    platform: Platform | None
    #: The digests of the nested indexes walked to reach it (empty: a top-level entry).
    path: tuple[Digest, ...] = ()

    @property
    def from_config(self) -> bool:
        """True when the index entry has no platform and the config supplied it."""
        return self.descriptor.platform is None and self.platform is not None


class EntryPlatforms:
    """The platforms of an index's entries in one repository, each child read at most once.

    >>> from polyarch.storage.layout.repository import LayoutRepository   # doctest: +SKIP
    >>> EntryPlatforms(repo).select(index, Platform.parse("linux/arm64"))  # doctest: +SKIP
    Selected(descriptor=..., platform=Platform(os='linux', architecture='arm64', ...))
    """

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._manifests: dict[Digest, Manifest] = {}
        self._platforms: dict[Digest, Platform | None] = {}

    def manifest(self, descriptor: Descriptor) -> Manifest:
        """The child manifest behind ``descriptor`` (read once, size checked).

        Raises :class:`polyarch.NotFound` when it is missing, :class:`InvalidManifest`
        when its size contradicts the descriptor, and content errors from the storage.
        """
        found = self._manifests.get(descriptor.digest)
        if found is None:
            found = self.repo.get_manifest(descriptor.digest)
            if found.size != descriptor.size:
                raise InvalidManifest(
                    f"{self.repo.name}@{descriptor.digest}: {found.size} bytes, "
                    f"the index says {descriptor.size}"
                )
            self._manifests[descriptor.digest] = found
        return found

    def platform_of(self, descriptor: Descriptor) -> Platform | None:
        """The entry's platform; for an image entry without one, its config's (or None).

        Raises what :meth:`manifest` and :func:`fetch_config` raise.
        """
        if descriptor.platform is not None:
            return descriptor.platform
        if descriptor.digest in self._platforms:
            return self._platforms[descriptor.digest]
        platform: Platform | None = None
        if descriptor.is_image_manifest:
            child = self.manifest(descriptor)
            if isinstance(child, ImageManifest) and not child.is_attestation:
                platform = fetch_config(self.repo, child).platform
        self._platforms[descriptor.digest] = platform
        return platform

    def select(self, index: Index, host: Platform, *, depth: int = 0) -> Selected | None:
        """The image entry a host of platform ``host`` pulls from ``index``, or None.

        Entries with a matching ``platform`` first (best match first), then entries
        without one in index order (matched by their config); nested indexes are
        walked in the same order, at most :data:`MAX_NESTING` deep. Attestations and
        ``unknown/unknown`` entries are never candidates.
        """
        entries = index.images
        with_platform = [(d, d.platform) for d in entries if d.platform is not None]
        while with_platform:
            best = select(host, [p for _, p in with_platform])
            if best is None:
                break
            # Usually the first pick is the answer; only a nested index that yields nothing
            # for this host sends the search on to the next best.
            d, _ = with_platform.pop(best)
            found = self._take(d, host, depth, need_match=False)
            if found is not None:
                return found
        for d in entries:
            if d.platform is None:
                found = self._take(d, host, depth, need_match=True)
                if found is not None:
                    return found
        return None

    def _take(
        self, d: Descriptor, host: Platform, depth: int, *, need_match: bool
    ) -> Selected | None:
        if d.is_index:
            if depth >= MAX_NESTING:
                raise InvalidManifest(
                    f"{self.repo.name}: indexes nested more than {MAX_NESTING} deep ({d.digest})"
                )
            child = self.manifest(d)
            if not isinstance(child, Index):
                raise InvalidManifest(f"{self.repo.name}@{d.digest}: not an index")
            found = self.select(child, host, depth=depth + 1)
            if found is None:
                return None
            return Selected(found.descriptor, found.platform, (d.digest, *found.path))
        platform = self.platform_of(d)
        if need_match and (platform is None or not compatible(host, platform)):
            return None
        return Selected(d, platform)

    def images(self, index: Index) -> Iterator[Selected]:
        """Every top-level image entry of ``index`` with its platform (config's if absent).

        Nested index entries are not images and are skipped (see
        :func:`polyarch.content.graph.manifest_tree` for the whole graph).
        """
        for d in index.images:
            if not d.is_index:
                yield Selected(d, self.platform_of(d))


def platform_list(index: Index) -> str:
    """The platforms of ``index``'s images, for messages (at most 20 named)."""
    names = [
        str(d.platform) if d.platform else ("(nested index)" if d.is_index else "(no platform)")
        for d in index.images
    ]
    if len(names) > 20:  # an index of thousands of entries: one line, not a page
        names = [*names[:20], f"... {len(names) - 20} more"]
    return ", ".join(names) or "none"


def select_entry(repo: Repository, index: Index, host: Platform, ref: Location) -> Selected:
    """The image entry of ``index`` (stored in ``repo``) a host of platform ``host`` pulls.

    containerd's rule, through :meth:`EntryPlatforms.select`: entries with a matching
    platform first, then entries without a platform whose config matches, nested
    indexes walked. Attestations are never candidates. Raises
    :class:`PlatformNotFound` naming the platforms on offer when none is compatible,
    and what reading a child manifest or config raises.
    """
    chosen = EntryPlatforms(repo).select(index, host)
    if chosen is None:
        raise PlatformNotFound(
            f"{ref} has no image for {host} (it has: {platform_list(index)})",
            hint="pick one of the platforms it has",
        )
    return chosen


def check_runnable(ref: Location, image: Platform | None, host: Platform) -> None:
    """Refuse a single image a host of platform ``host`` would not pull.

    The one rule for a single image asked for with a platform (``resolve`` and
    ``inspect``): containerd's matcher for the host (:func:`~polyarch.domain.platform.compatible`)
    must accept the platform in the image's config. Raises :class:`PlatformNotFound`.
    """
    if image is None or not compatible(host, image):
        raise PlatformNotFound(
            f"{ref} is a single image for {image or 'no platform'}; "
            f"a {host} host would not pull it",
            parameter="platform",
        )
