"""Media types of the OCI image spec and the Docker image manifest v2 formats.

Only the names and the small questions asked about them live here ("is this an
index?"), so every layer above speaks of them the same way.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACCEPT_MANIFESTS",
    "DOCKER_ATTESTATION_ARTIFACT",
    "DOCKER_CONFIG",
    "DOCKER_FOREIGN_LAYER",
    "DOCKER_FOREIGN_LAYER_TAR",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "DOCKER_SCHEMA1_MANIFEST",
    "DOCKER_SCHEMA1_SIGNED",
    "IMAGE_MANIFESTS",
    "INDEXES",
    "IN_TOTO",
    "MANIFESTS",
    "NON_DISTRIBUTABLE_LAYERS",
    "OCI_CONFIG",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_NONDISTRIBUTABLE",
    "OCI_LAYER_NONDISTRIBUTABLE_GZIP",
    "OCI_LAYER_NONDISTRIBUTABLE_ZSTD",
    "OCI_LAYER_ZSTD",
    "OCI_MANIFEST",
    "is_docker",
    "is_image_manifest",
    "is_index",
    "is_manifest",
    "is_non_distributable",
]

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"
#: Non-distributable layers (deprecated by image-spec 1.1 but still served): their
#: blobs live elsewhere (``urls``) and registries need not hold them.
OCI_LAYER_NONDISTRIBUTABLE: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP: Final = OCI_LAYER_NONDISTRIBUTABLE + "+gzip"
OCI_LAYER_NONDISTRIBUTABLE_ZSTD: Final = OCI_LAYER_NONDISTRIBUTABLE + "+zstd"

DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#: Docker's uncompressed foreign layer type (rare; the gzip one is what Windows bases use).
DOCKER_FOREIGN_LAYER_TAR: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_SCHEMA1_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED: Final = "application/vnd.docker.distribution.manifest.v1+prettyjws"

#: In-toto statements, the layers of BuildKit attestation manifests.
IN_TOTO: Final = "application/vnd.in-toto+json"
#: ``artifactType`` of the newer, OCI-artifact form of BuildKit attestation manifests.
DOCKER_ATTESTATION_ARTIFACT: Final = "application/vnd.docker.attestation.manifest.v1+json"

INDEXES: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFESTS: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFESTS: Final = INDEXES | IMAGE_MANIFESTS
#: Layer types whose content is not distributed with the image (Docker "foreign" layers,
#: OCI non-distributable layers): Windows base layers are the common case.
NON_DISTRIBUTABLE_LAYERS: Final = frozenset(
    {
        DOCKER_FOREIGN_LAYER,
        DOCKER_FOREIGN_LAYER_TAR,
        OCI_LAYER_NONDISTRIBUTABLE,
        OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
    }
)

#: The ``Accept`` header for manifest requests: all four types we understand.
ACCEPT_MANIFESTS: Final = ", ".join(
    (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
)


def is_index(media_type: str | None) -> bool:
    """True for an OCI image index or a Docker manifest list."""
    return media_type in INDEXES


def is_image_manifest(media_type: str | None) -> bool:
    """True for an OCI image manifest or a Docker schema2 manifest."""
    return media_type in IMAGE_MANIFESTS


def is_manifest(media_type: str | None) -> bool:
    """True for any of the four manifest media types polyarch reads."""
    return media_type in MANIFESTS


def is_docker(media_type: str | None) -> bool:
    """True for a Docker (``vnd.docker``) media type."""
    return bool(media_type) and "vnd.docker." in str(media_type)


def is_non_distributable(media_type: str | None) -> bool:
    """True for a layer type whose blob is not distributed with the image.

    The Docker foreign layer types (image manifest v2 schema 2) and the OCI
    ``application/vnd.oci.image.layer.nondistributable.*`` types (image-spec
    ``layer.md``); containerd's ``images.IsNonDistributable`` answers the same question.
    """
    return media_type in NON_DISTRIBUTABLE_LAYERS
