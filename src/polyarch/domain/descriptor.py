"""Content descriptors: what an index or manifest says about a piece of content.

>>> d = Descriptor.from_json({
...     "mediaType": "application/vnd.oci.image.manifest.v1+json",
...     "digest": "sha256:" + "a" * 64, "size": 528,
...     "platform": {"architecture": "arm64", "os": "linux"}})
>>> str(d.platform), d.size
('linux/arm64', 528)
>>> d.to_json()["platform"]
{'architecture': 'arm64', 'os': 'linux'}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final

from polyarch.domain import mediatype
from polyarch.domain.digest import Digest
from polyarch.domain.document import refuse_lone_surrogates
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidDigest, InvalidManifest, InvalidPlatform

__all__ = [
    "ANNOTATION_REFERENCE_DIGEST",
    "ANNOTATION_REFERENCE_TYPE",
    "ATTESTATION_MANIFEST",
    "Descriptor",
]

#: BuildKit marks attestation entries of an index with this annotation...
ANNOTATION_REFERENCE_TYPE: Final = "vnd.docker.reference.type"
#: ...set to this value...
ATTESTATION_MANIFEST: Final = "attestation-manifest"
#: ...and names the image they attest (their subject) with this one.
ANNOTATION_REFERENCE_DIGEST: Final = "vnd.docker.reference.digest"

_EMPTY: Mapping[str, str] = MappingProxyType({})
#: The largest size a descriptor can state (an int64 in the OCI image spec).
MAX_SIZE: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A reference to content by media type, digest and size (OCI content descriptor).

    ``platform`` is set for index entries that carry one; ``annotations`` is read-only.
    """

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    artifact_type: str | None = None
    urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.annotations, MappingProxyType):
            object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))

    def __hash__(self) -> int:
        return hash((self.media_type, self.digest, self.size, self.platform))

    @classmethod
    def from_json(
        cls, data: object, *, where: str = "descriptor", text_checked: bool = False
    ) -> Descriptor:
        """Build a descriptor from its JSON object; :class:`InvalidManifest` if malformed.

        Text holding a lone surrogate is refused (:mod:`polyarch.domain.document`);
        ``text_checked`` says the caller's document was loaded by
        :func:`~polyarch.domain.document.load_json`, which refused it already.
        """
        if not isinstance(data, Mapping):
            raise InvalidManifest(f"{where}: expected a JSON object")
        if not text_checked:
            refuse_lone_surrogates(data, where)
        media_type = data.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            raise InvalidManifest(f"{where}: missing or invalid mediaType")
        try:
            digest = Digest(data.get("digest"))  # type: ignore[arg-type]
        except InvalidDigest as exc:
            raise InvalidManifest(f"{where}: {exc}") from None
        size = data.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidManifest(f"{where}: size must be a non-negative integer")
        if size > MAX_SIZE:
            # The OCI image spec makes size an int64; nothing larger can be stored or sent.
            raise InvalidManifest(
                f"{where}: size {size} is larger than any content can be "
                f"(the OCI descriptor's size is a 64-bit integer, at most {MAX_SIZE})"
            )
        platform = None
        if data.get("platform") is not None:
            try:
                platform = Platform.from_oci(data["platform"])
            except InvalidPlatform as exc:
                raise InvalidManifest(f"{where}: {exc}") from None
        annotations = data.get("annotations") or {}
        if not isinstance(annotations, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
        ):
            raise InvalidManifest(f"{where}: annotations must map strings to strings")
        artifact_type = data.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise InvalidManifest(f"{where}: artifactType must be a string")
        urls = data.get("urls") or ()
        if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
            raise InvalidManifest(f"{where}: urls must be a list of strings")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            platform=platform,
            annotations=annotations,
            artifact_type=artifact_type,
            urls=tuple(urls),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object, in the key order Docker and BuildKit write."""
        out: dict[str, Any] = {"mediaType": self.media_type}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["digest"] = str(self.digest)
        out["size"] = self.size
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_oci()
        return out

    def with_platform(self, platform: Platform | None) -> Descriptor:
        """A copy with ``platform`` replaced."""
        return replace(self, platform=platform)

    def with_annotations(self, annotations: Mapping[str, str]) -> Descriptor:
        """A copy with ``annotations`` replaced."""
        return replace(self, annotations=MappingProxyType(dict(annotations)))

    @property
    def is_attestation(self) -> bool:
        """True for a BuildKit attestation entry of an index."""
        return self.annotations.get(ANNOTATION_REFERENCE_TYPE) == ATTESTATION_MANIFEST

    @property
    def attestation_subject(self) -> Digest | None:
        """The digest of the image an attestation entry attests, if it names a valid one."""
        if not self.is_attestation:
            return None
        try:
            return Digest(self.annotations.get(ANNOTATION_REFERENCE_DIGEST, ""))
        except InvalidDigest:
            return None

    @property
    def is_external(self) -> bool:
        """True when the content lives outside the repository: never fetched, mounted or required.

        That is a non-distributable layer type (Docker "foreign" layers, OCI
        ``nondistributable`` layers: every Windows base layer) or any descriptor carrying
        ``urls``. Registries accept such manifests without the blob (distribution checks
        only the URLs, against ``validation.manifests.urls``), containerd and Docker fetch
        them from the URLs, and skopeo / containerd do not push them by default; the
        operations copy the manifest byte for byte and leave the blob where it is.

        >>> Descriptor(mediatype.DOCKER_FOREIGN_LAYER, Digest("sha256:" + "b" * 64), 5,
        ...            urls=("https://example.invalid/layer",)).is_external
        True
        """
        return bool(self.urls) or mediatype.is_non_distributable(self.media_type)

    @property
    def is_index(self) -> bool:
        """True when this descriptor points at an index or manifest list."""
        return mediatype.is_index(self.media_type)

    @property
    def is_image_manifest(self) -> bool:
        """True when this descriptor points at an image manifest (attestations included)."""
        return mediatype.is_image_manifest(self.media_type)
