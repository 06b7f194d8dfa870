"""Image manifests, indexes and image configs as immutable models over their exact bytes.

A manifest is content: its digest names the bytes the registry served, not a
re-serialization. Every model here keeps ``raw`` (those bytes) and ``digest`` (their
hash); the parsed fields are a read-only view of them.

>>> raw = b'{"schemaVersion":2,"manifests":[]}'
>>> index = parse_manifest(raw)
>>> isinstance(index, Index), index.raw == raw, index.digest == Digest.of(raw)
(True, True, True)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.document import load_json
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidManifest, InvalidPlatform, ManifestTooLarge

__all__ = [
    "MAX_MANIFEST_SIZE",
    "ImageConfig",
    "ImageManifest",
    "Index",
    "Manifest",
    "build_index",
    "parse_config",
    "parse_manifest",
]

#: Registries and runtimes refuse manifests above 4 MiB; so do we.
MAX_MANIFEST_SIZE: Final = 4 * 1024 * 1024

_EMPTY: Mapping[str, str] = MappingProxyType({})


def _load_json(
    raw: bytes, what: str, surrogates: Literal["refuse", "escape"] = "refuse"
) -> dict[str, Any]:
    if len(raw) > MAX_MANIFEST_SIZE:
        raise ManifestTooLarge(f"{what} is {len(raw)} bytes, over the 4 MiB limit")
    data = load_json(raw, what=what, surrogates=surrogates)
    if not isinstance(data, dict):
        raise InvalidManifest(f"{what} is not a JSON object")
    return data


def _annotations(data: Mapping[str, Any], what: str) -> Mapping[str, str]:
    value = data.get("annotations") or {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidManifest(f"{what}: annotations must map strings to strings")
    return MappingProxyType(dict(value))


def _optional_descriptor(data: Mapping[str, Any], key: str, what: str) -> Descriptor | None:
    if data.get(key) is None:
        return None
    return Descriptor.from_json(data[key], where=f"{what} {key}", text_checked=True)


@dataclass(frozen=True, slots=True)
class ImageManifest:
    """A single image manifest (OCI or Docker schema2), attestation manifests included."""

    raw: bytes = field(repr=False)
    digest: Digest
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @property
    def size(self) -> int:
        """Size of the manifest's own bytes."""
        return len(self.raw)

    @property
    def is_attestation(self) -> bool:
        """True for a BuildKit attestation manifest, in either of its two forms.

        The older form is an image manifest with a dummy ``unknown/unknown`` config whose
        layers are in-toto statements; the newer one is an OCI artifact with
        ``artifactType: application/vnd.docker.attestation.manifest.v1+json``.
        """
        if self.artifact_type == mediatype.DOCKER_ATTESTATION_ARTIFACT:
            return True
        return bool(self.layers) and all(
            layer.media_type == mediatype.IN_TOTO for layer in self.layers
        )

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """The config followed by the layers: every blob a pull needs."""
        return (self.config, *self.layers)

    @property
    def layers_size(self) -> int:
        """Sum of the layer sizes (compressed, as stored)."""
        return sum(layer.size for layer in self.layers)

    def descriptor(self, platform: Platform | None = None) -> Descriptor:
        """A descriptor pointing at this manifest."""
        return Descriptor(self.media_type, self.digest, self.size, platform=platform)


@dataclass(frozen=True, slots=True)
class Index:
    """An OCI image index or Docker manifest list."""

    raw: bytes = field(repr=False)
    digest: Digest
    media_type: str
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @property
    def size(self) -> int:
        """Size of the index's own bytes."""
        return len(self.raw)

    @property
    def images(self) -> tuple[Descriptor, ...]:
        """The entries that are images (not attestations, not unknown/unknown)."""
        return tuple(d for d in self.manifests if not _is_attestation_entry(d))

    @property
    def attestations(self) -> tuple[Descriptor, ...]:
        """The BuildKit attestation entries."""
        return tuple(d for d in self.manifests if _is_attestation_entry(d))

    def attestations_for(self, digest: str) -> tuple[Descriptor, ...]:
        """The attestation entries whose subject is ``digest``."""
        return tuple(d for d in self.attestations if d.attestation_subject == digest)

    @property
    def is_wrapper(self) -> bool:
        """True for what BuildKit / Docker 29 push for one platform: one image plus attestations.

        ``docker push`` prints the digest of this wrapper, not of the platform image
        inside it.
        """
        images = self.images
        return (
            len(images) == 1
            and images[0].is_image_manifest
            and len(self.attestations) >= 1
            and all(a.attestation_subject == images[0].digest for a in self.attestations)
        )

    def descriptor(self) -> Descriptor:
        """A descriptor pointing at this index."""
        return Descriptor(self.media_type, self.digest, self.size)


#: Either kind of manifest.
Manifest = ImageManifest | Index


def _is_attestation_entry(d: Descriptor) -> bool:
    if d.is_attestation:
        return True
    # Entries without the annotation but with BuildKit's unknown/unknown platform are never
    # runnable images either; treat them as attestations so no host ever "pulls" them.
    return d.platform is not None and d.platform.is_unknown


def parse_manifest(
    raw: bytes,
    media_type: str | None = None,
    *,
    digest: str | None = None,
    what: str = "manifest",
) -> Manifest:
    """Parse manifest bytes into an :class:`ImageManifest` or :class:`Index`.

    ``media_type`` is the ``Content-Type`` it was served with; the ``mediaType`` field
    inside wins when present (the two must not contradict). When ``digest`` is given the
    bytes are verified against it first (:class:`polyarch.DigestMismatch`).
    """
    if digest is not None:
        Digest(digest).verify(raw, what=what)
    data = _load_json(raw, what)
    computed = Digest.of(raw, Digest(digest).algorithm if digest else "sha256")
    inner = data.get("mediaType")
    if inner is not None and not isinstance(inner, str):
        raise InvalidManifest(f"{what}: mediaType must be a string")
    if data.get("schemaVersion") == 1 or media_type in (
        mediatype.DOCKER_SCHEMA1_MANIFEST,
        mediatype.DOCKER_SCHEMA1_SIGNED,
    ):
        raise InvalidManifest(
            f"{what} is a Docker schema1 manifest, which is deprecated and unsupported",
            hint="rebuild and push the image with a current Docker or BuildKit",
        )
    if data.get("schemaVersion") != 2:
        raise InvalidManifest(f"{what}: schemaVersion must be 2")
    kind = inner or (media_type if mediatype.is_manifest(media_type) else None)
    if kind is None:
        # OCI allows omitting mediaType; tell the two shapes apart by their fields.
        if "manifests" in data:
            kind = mediatype.OCI_INDEX
        elif "config" in data:
            kind = mediatype.OCI_MANIFEST
        else:
            raise InvalidManifest(f"{what}: neither an index nor an image manifest")
    if not mediatype.is_manifest(kind):
        raise InvalidManifest(f"{what}: unsupported media type {kind!r}")
    artifact_type = data.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise InvalidManifest(f"{what}: artifactType must be a string")
    subject = _optional_descriptor(data, "subject", what)
    annotations = _annotations(data, what)
    if mediatype.is_index(kind):
        entries = data.get("manifests")
        if not isinstance(entries, list):
            raise InvalidManifest(f"{what}: manifests must be a list")
        manifests = tuple(
            Descriptor.from_json(e, where=f"{what} manifests[{i}]", text_checked=True)
            for i, e in enumerate(entries)
        )
        return Index(raw, computed, kind, manifests, subject, artifact_type, annotations)
    config = _optional_descriptor(data, "config", what)
    if config is None:
        raise InvalidManifest(f"{what}: missing config")
    layers_data = data.get("layers")
    if not isinstance(layers_data, list):
        raise InvalidManifest(f"{what}: layers must be a list")
    layers = tuple(
        Descriptor.from_json(e, where=f"{what} layers[{i}]", text_checked=True)
        for i, e in enumerate(layers_data)
    )
    return ImageManifest(raw, computed, kind, config, layers, subject, artifact_type, annotations)


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an image config blob polyarch reads: the platform (the truth) and metadata."""

    raw: bytes = field(repr=False)
    digest: Digest
    platform: Platform | None
    created: str | None = None
    author: str | None = None
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


def parse_config(raw: bytes, *, what: str = "image config") -> ImageConfig:
    """Parse an image config blob (OCI or Docker); ``platform`` is None if it names none.

    A lone surrogate (a ``\\udXXX`` escape that is not half of a pair) in a config is kept
    as that visible text in the parsed fields, not refused: the configs of real images must
    stay usable (:func:`~polyarch.domain.document.load_json`).
    """
    data = _load_json(raw, what, surrogates="escape")
    platform: Platform | None = None
    if data.get("os") or data.get("architecture"):
        try:
            platform = Platform.from_oci(data)
        except InvalidPlatform as exc:
            raise InvalidManifest(f"{what}: {exc}") from None
    inner = data.get("config") if isinstance(data.get("config"), Mapping) else {}
    assert isinstance(inner, Mapping)

    def _strings(value: object) -> tuple[str, ...] | None:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        return None

    labels = inner.get("Labels") if isinstance(inner.get("Labels"), Mapping) else {}
    assert isinstance(labels, Mapping)
    created = data.get("created")
    author = data.get("author")
    return ImageConfig(
        raw=raw,
        digest=Digest.of(raw),
        platform=platform,
        created=created if isinstance(created, str) else None,
        author=author if isinstance(author, str) else None,
        entrypoint=_strings(inner.get("Entrypoint")),
        cmd=_strings(inner.get("Cmd")),
        labels=MappingProxyType({k: v for k, v in labels.items() if isinstance(v, str)}),
    )


def build_index(
    manifests: Iterable[Descriptor],
    *,
    media_type: str = mediatype.OCI_INDEX,
    annotations: Mapping[str, str] | None = None,
) -> Index:
    """Serialize an index deterministically and return it parsed, with its digest.

    The entries are written in the order given; the JSON is compact with a fixed key
    order, so the same entries always give the same bytes and digest.
    """
    if not mediatype.is_index(media_type):
        raise InvalidManifest(f"not an index media type: {media_type!r}")
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    doc["manifests"] = [d.to_json() for d in manifests]
    if annotations:
        if media_type == mediatype.DOCKER_MANIFEST_LIST:
            raise InvalidManifest("a Docker manifest list cannot carry annotations")
        doc["annotations"] = dict(sorted(annotations.items()))
    try:
        raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        # A lone surrogate: a JSON "\udcxx" escape in a manifest read, or argv bytes that
        # were not UTF-8. It has no UTF-8 encoding, so it cannot be written.
        raise InvalidManifest("the index would hold text that is not valid Unicode") from None
    result = parse_manifest(raw, media_type)
    assert isinstance(result, Index)
    return result
