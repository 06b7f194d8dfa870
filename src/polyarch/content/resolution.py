"""Resolution: from a reference to the platform image manifest a host pulls.

A single image manifest is itself; a Docker 29 / BuildKit wrapper (one image plus
attestations) is its image, never the wrapper or the attestation; a multi-platform index
is the entry a host of the given platform pulls (:mod:`polyarch.content.selection`).
The ``resolve`` verb (:mod:`polyarch.operations.resolve`), ``config``, build records and
the build pipeline all ask this one question here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from polyarch.content.graph import fetch_config
from polyarch.content.selection import (
    Selected,
    check_runnable,
    platform_list,
    select_entry,
)
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location
from polyarch.domain.manifest import ImageManifest
from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.errors import InvalidInput
from polyarch.storage.repository import Repository

__all__ = ["RESOLVE_SCHEMA", "Resolution", "resolve_in", "shown_reference"]

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


def resolve_in(repo: Repository, ref: Location, platform: Platform | None) -> Resolution:
    """Resolve ``ref`` (stored in ``repo``) to its platform image manifest.

    * a single image manifest: its own digest (with ``platform``, it must be compatible);
    * a BuildKit / Docker 29 wrapper (one image plus attestations): the image's digest;
    * a multi-platform index: ``platform`` is required; the entry a host of that platform
      would pull (containerd's matching, :mod:`polyarch.content.selection`: entries
      without a platform are matched by their config, nested indexes are walked).

    Raises :class:`~polyarch.errors.InvalidInput` for an attestation or an index without
    ``platform``, :class:`~polyarch.errors.PlatformNotFound` when no entry fits, and what
    reading the repository raises.
    """
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
            f"(one of: {platform_list(manifest)})",
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
