"""``resolve``: the digest of the platform-specific image manifest behind a reference.

This replaces the manual "docker manifest inspect, pick the entry whose platform
matches, skip unknown/unknown" step: for a Docker 29 / BuildKit wrapper it answers the
image's digest, never the wrapper's or the attestation's.

>>> from polyarch import Context, resolve
>>> with Context() as ctx:                                    # doctest: +SKIP
...     print(resolve("127.0.0.1:5000/metrics-api:v2.0.0-arm64", ctx).digest)
sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from polyarch.digest import Digest
from polyarch.errors import InvalidInput, PlatformNotFound
from polyarch.location import Location, parse_location
from polyarch.manifest import ImageManifest, Index
from polyarch.operations.context import Context, borrowed
from polyarch.operations.images import fetch_config
from polyarch.operations.matching import EntryPlatforms, Selected
from polyarch.platform import Platform, compatible
from polyarch.reference import Reference
from polyarch.storage.base import Repository

__all__ = ["Resolution", "resolve", "select_entry"]

RESOLVE_SCHEMA = "polyarch.resolve/v1"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The platform image manifest a reference resolves to."""

    reference: Location
    #: Digest of the platform-specific image manifest.
    digest: Digest
    media_type: str
    size: int
    platform: Platform | None
    #: What the reference points at: a single image, a BuildKit wrapper, or an index.
    source: Literal["image", "wrapper", "index"]
    #: Digest of what the reference points at (equal to ``digest`` for a single image).
    source_digest: Digest
    #: Digests of the nested indexes walked between ``source_digest`` and ``digest``.
    path: tuple[Digest, ...] = ()

    @property
    def pinned(self) -> Location:
        """The reference pinned to the platform manifest: ``registry/repo@digest``."""
        return self.reference.untagged().with_digest(self.digest)

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        return {
            "schema": RESOLVE_SCHEMA,
            "reference": shown_reference(self.reference),
            "digest": str(self.digest),
            "mediaType": self.media_type,
            "size": self.size,
            "platform": str(self.platform) if self.platform else None,
            "source": self.source,
            "sourceDigest": str(self.source_digest),
            "pinned": str(self.pinned),
        }


def shown_reference(ref: Location) -> str:
    """``ref`` as the JSON ``reference`` field shows it: what was read, fully normalized.

    Docker's normalization (:meth:`Reference.parse`), and the tag that was read filled
    in: ``127.0.0.1:5000/base`` is ``127.0.0.1:5000/base:latest``. A reference with a
    digest, or an ``oci:`` layout, is shown as it is.
    """
    if isinstance(ref, Reference) and ref.tag is None and ref.digest is None:
        return str(ref.with_tag(ref.identifier))
    return str(ref)


def _platform_list(index: Index) -> str:
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
            f"{ref} has no image for {host} (it has: {_platform_list(index)})",
            hint="pick one of the platforms it has",
        )
    return chosen


def check_runnable(ref: Location, image: Platform | None, host: Platform) -> None:
    """Refuse a single image a host of platform ``host`` would not pull.

    The one rule for a single image asked for with a platform (``resolve`` and
    ``inspect``): containerd's matcher for the host (:func:`~polyarch.platform.compatible`)
    must accept the platform in the image's config. Raises :class:`PlatformNotFound`.
    """
    if image is None or not compatible(host, image):
        raise PlatformNotFound(
            f"{ref} is a single image for {image or 'no platform'}; "
            f"a {host} host would not pull it",
            parameter="platform",
        )


def resolve(
    ref: Location | str,
    context: Context | None = None,
    *,
    platform: Platform | str | None = None,
) -> Resolution:
    """Resolve ``ref`` to the digest of its platform-specific image manifest.

    * a single image manifest: its own digest (with ``platform``, it must be compatible);
    * a BuildKit / Docker 29 wrapper (one image plus attestations): the image's digest;
    * a multi-platform index: ``platform`` is required; the entry a host of that platform
      would pull (containerd's matching, :mod:`polyarch.operations.matching`: entries
      without a platform are matched by their config, nested indexes are walked).
    """
    if isinstance(ref, str):
        ref = parse_location(ref)
    if isinstance(platform, str):
        platform = Platform.parse(platform)
    with borrowed(context) as ctx:
        repo = ctx.repository(ref)
        manifest = repo.get_manifest(ref.identifier)
        if isinstance(manifest, ImageManifest):
            if manifest.is_attestation:
                raise InvalidInput(
                    f"{ref} is an attestation manifest, not an image",
                    hint="resolve the image it attests instead",
                )
            config = fetch_config(repo, manifest)
            if platform is not None:
                check_runnable(ref, config.platform, platform)
            return Resolution(
                ref,
                manifest.digest,
                manifest.media_type,
                manifest.size,
                config.platform,
                "image",
                manifest.digest,
            )
        if manifest.is_wrapper and platform is None:
            image = manifest.images[0]
            chosen = Selected(image, image.platform)
        elif platform is None:
            raise InvalidInput(
                f"{ref} is a multi-platform index; name the platform to resolve "
                f"(one of: {_platform_list(manifest)})",
                parameter="platform",
            )
        else:
            chosen = select_entry(repo, manifest, platform, ref)
        entry = chosen.descriptor
        return Resolution(
            ref,
            entry.digest,
            entry.media_type,
            entry.size,
            chosen.platform,
            "wrapper" if manifest.is_wrapper else "index",
            manifest.digest,
            chosen.path,
        )
