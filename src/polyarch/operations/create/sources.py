"""Turn ``SOURCE[=PLATFORM]`` arguments into index entries, with the platform from the config.

A source may be a single image manifest, a BuildKit / Docker 29 wrapper (one image
plus attestations: unwrapped, its attestations travel with it), or a multi-platform
index (every image taken, optionally filtered). The platform of every entry is the one
its config blob states; an override may only add what a config cannot say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from polyarch.content.context import Context
from polyarch.content.graph import attestations_by_subject, fetch_config
from polyarch.content.selection import PlatformKey, matches_filter, platform_key
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location, parse_location
from polyarch.domain.manifest import ImageManifest, Index
from polyarch.domain.platform import Platform
from polyarch.domain.platform.agreement import config_agreement
from polyarch.errors import (
    InvalidInput,
    InvalidManifest,
    InvalidPlatform,
    InvalidReference,
    NotFound,
)
from polyarch.storage.repository import Repository

__all__ = ["Attestation", "Entry", "Source", "collect_entries", "image_entry"]


@dataclass(frozen=True, slots=True)
class Source:
    """A ``SOURCE[=PLATFORM]`` argument: a reference and an optional platform override.

    >>> s = Source.parse("127.0.0.1:5000/app:v1-arm=linux/arm/v6")
    >>> str(s.ref), str(s.platform)
    ('127.0.0.1:5000/app:v1-arm', 'linux/arm/v6')
    """

    text: str
    ref: Location
    platform: Platform | None = None

    @classmethod
    def parse(cls, text: str) -> Source:
        """Parse the argument (``=`` never occurs in a reference, so it splits unambiguously)."""
        ref_text, sep, platform_text = text.rpartition("=")
        if not sep:
            ref_text, platform_text = text, ""
        try:
            ref = parse_location(ref_text)
        except InvalidReference as exc:
            raise InvalidReference(f"source {text!r}: {exc}") from None
        platform = None
        if sep:
            try:
                platform = Platform.parse(platform_text)
            except InvalidPlatform as exc:
                raise InvalidPlatform(f"source {text!r}: {exc}") from None
        return cls(text, ref, platform)


@dataclass(frozen=True, slots=True)
class Attestation:
    """An attestation manifest travelling with its image (loaded lazily when copied)."""

    descriptor: Descriptor
    repository: Repository


@dataclass(frozen=True, slots=True)
class Entry:
    """One image of the index being assembled, and where its content lives."""

    descriptor: Descriptor
    repository: Repository
    #: The argument it came from (or ``existing <tag>`` for an entry kept by ``--append``).
    source: str
    manifest: ImageManifest | None = None
    attestations: tuple[Attestation, ...] = field(default=())

    @property
    def platform(self) -> Platform:
        """The entry's platform (always set for assembled entries)."""
        assert self.descriptor.platform is not None
        return self.descriptor.platform

    @property
    def image(self) -> tuple[Repository, Digest]:
        """``(repository, digest)`` of the image: where its referrers are read."""
        return (self.repository, self.descriptor.digest)

    @property
    def key(self) -> PlatformKey:
        """The normalized platform: two entries with the same key may not share an index."""
        return platform_key(self.platform)


def _final_platform(
    source: str,
    config: Platform | None,
    claimed: Platform | None,
    override: Platform | None,
) -> Platform:
    """Merge the config's platform (the truth) with what a descriptor or override adds."""
    if config is None:
        if override is None:
            raise InvalidInput(
                f"source {source}: its image config names no platform",
                hint=f"give it as {source}=os/arch",
            )
        config = override
    for what, other in (("its index entry claims", claimed), ("the override says", override)):
        # The one rule verify judges by too (domain/platform/agreement.py).
        if other is None or config_agreement(other, config).agrees:
            continue
        shown = other.format_all() if other.os_version else str(other)
        said = config.format_all() if config.os_version else str(config)
        message = f"source {source}: {what} {shown} but its image config says {said}"
        if other is override:
            raise InvalidInput(message, hint="the config is the truth; fix or drop the override")
        raise InvalidManifest(message, hint="the index lies about its entry; rebuild it")
    extras = [p for p in (override, claimed) if p is not None]
    merged = replace(
        config,
        variant=config.variant or next((p.variant for p in extras if p.variant), ""),
        os_version=config.os_version or next((p.os_version for p in extras if p.os_version), ""),
        os_features=config.os_features
        or next((p.os_features for p in extras if p.os_features), ()),
    )
    return merged.normalized()


def _check_image(manifest: ImageManifest, source: str) -> None:
    if manifest.is_attestation:
        raise InvalidInput(
            f"source {source} is an attestation manifest, not an image",
            hint="name the image (or its wrapper) instead",
        )
    if manifest.artifact_type or manifest.config.media_type not in (
        mediatype.OCI_CONFIG,
        mediatype.DOCKER_CONFIG,
    ):
        kind = manifest.artifact_type or manifest.config.media_type
        raise InvalidInput(f"source {source} is an artifact ({kind}), not a runnable image")


def image_entry(
    repo: Repository,
    source: Source,
    manifest: ImageManifest,
    claimed: Platform | None = None,
    attestations: tuple[Descriptor, ...] = (),
) -> Entry:
    """The entry for one image manifest stored in ``repo``; its platform from its config."""
    _check_image(manifest, source.text)
    config = fetch_config(repo, manifest)
    platform = _final_platform(source.text, config.platform, claimed, source.platform)
    return Entry(
        descriptor=manifest.descriptor(platform),
        repository=repo,
        source=source.text,
        manifest=manifest,
        attestations=tuple(Attestation(a, repo) for a in attestations),
    )


def collect_entries(
    context: Context, source: Source, filters: Sequence[Platform] = ()
) -> list[Entry]:
    """The entries one source contributes (filters apply to multi-platform indexes only).

    Index entries without a ``platform`` are candidates like any other: their config
    says their platform, and the filter applies to that (containerd's rule, see
    :mod:`polyarch.content.selection`). Each distinct child manifest is read once.
    """
    repo = context.repository(source.ref)
    try:
        top = repo.get_manifest(source.ref.identifier)
    except NotFound as exc:
        raise type(exc)(f"source {source.text}: {exc.message}", hint=exc.hint) from None
    if isinstance(top, ImageManifest):
        return [image_entry(repo, source, top, None, ())]
    if not top.is_wrapper and source.platform is not None:
        raise InvalidInput(
            f"source {source.text}: a platform override applies to a single image, "
            "but this is a multi-platform index",
            hint="pick entries of an index by their platform instead",
            parameter="platforms",
        )
    chosen = _index_images(top, source, filters)
    attestations = attestations_by_subject(top)
    entries = []
    for descriptor in chosen:
        child = repo.get_manifest(descriptor.digest)
        if not isinstance(child, ImageManifest):
            raise InvalidInput(f"source {source.text}: entry {descriptor.digest} is not an image")
        entry = image_entry(
            repo, source, child, descriptor.platform, attestations.get(child.digest, ())
        )
        if descriptor.annotations and not top.is_wrapper:
            # Kept as the index has them (e.g. containers/image's zstd-instance mark).
            entry = replace(
                entry, descriptor=entry.descriptor.with_annotations(descriptor.annotations)
            )
        if top.is_wrapper or matches_filter(entry.platform, filters):
            entries.append(entry)
    return entries


def _index_images(index: Index, source: Source, filters: Sequence[Platform]) -> list[Descriptor]:
    images = list(index.images)
    nested = [d for d in images if d.is_index]
    if nested:
        raise InvalidInput(
            f"source {source.text}: nested indexes are not supported ({nested[0].digest})"
        )
    if index.is_wrapper:
        return images
    return [d for d in images if d.platform is None or matches_filter(d.platform, filters)]
