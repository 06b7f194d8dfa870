"""polyarch: assemble, publish and verify multi-platform container images.

Multi-platform images (OCI image indexes, Docker manifest lists) built from
separately built single-platform variants: inspect what is in a registry, resolve the
platform manifest behind a tag (even behind a BuildKit wrapper), and more.

>>> import polyarch
>>> ref = polyarch.Reference.parse("ubuntu:22.04")
>>> str(ref), ref.repository
('docker.io/library/ubuntu:22.04', 'library/ubuntu')
>>> str(polyarch.Platform.parse("linux/aarch64"))
'linux/arm64'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyarch._lazy import lazy_exports
from polyarch._version import __version__

if TYPE_CHECKING:
    from polyarch.descriptor import (
        Descriptor,
    )
    from polyarch.digest import (
        Digest,
    )
    from polyarch.errors import (
        AuthError,
        BlobUnknown,
        ContentError,
        CredentialError,
        Denied,
        DigestMismatch,
        InvalidDigest,
        InvalidInput,
        InvalidManifest,
        InvalidPlatform,
        InvalidReference,
        ManifestTooLarge,
        ManifestUnknown,
        NameUnknown,
        NotFound,
        PlatformNotFound,
        PolyarchError,
        RegistryError,
        SizeMismatch,
        TooManyRequests,
        TransportError,
        Unauthorized,
        Unsupported,
    )
    from polyarch.location import (
        LayoutReference,
        Location,
        parse_location,
    )
    from polyarch.manifest import (
        ImageConfig,
        ImageManifest,
        Index,
        Manifest,
        build_index,
        parse_config,
        parse_manifest,
    )
    from polyarch.operations import (
        CarriedReferrer,
        Check,
        Context,
        CopyRequest,
        CopyResult,
        CreateRequest,
        CreateResult,
        InspectEntry,
        InspectResult,
        LostUpdate,
        PlatformChange,
        Record,
        Referrer,
        ReferrersLostUpdate,
        Resolution,
        Source,
        Status,
        TargetResult,
        VerifyReport,
        VerifyRequest,
        copy_image,
        create_index,
        discover_referrers,
        inspect,
        link_problem,
        load_records,
        record_sources,
        resolve,
        resolve_record,
        verify,
    )
    from polyarch.operations.config import (
        ImageConfigResult,
        image_config,
    )
    from polyarch.operations.delete import (
        DeletePlan,
        TagDeleteUnsupported,
        delete,
        plan_delete,
    )
    from polyarch.operations.login import (
        LoginResult,
        login,
        logout,
    )
    from polyarch.operations.tags import (
        TagList,
        list_tags,
    )
    from polyarch.platform import (
        Platform,
    )
    from polyarch.reference import (
        Reference,
    )
    from polyarch.storage import (
        LayoutRepository,
        RegistryRepository,
        Repository,
    )
    from polyarch.storage.layout import (
        LayoutNotFound,
    )
    from polyarch.transport import (
        CredentialResolver,
        RegistryClient,
        TransportSettings,
    )

__all__ = [
    "AuthError",
    "BlobUnknown",
    "CarriedReferrer",
    "Check",
    "ContentError",
    "Context",
    "CopyRequest",
    "CopyResult",
    "CreateRequest",
    "CreateResult",
    "CredentialError",
    "CredentialResolver",
    "DeletePlan",
    "Denied",
    "Descriptor",
    "Digest",
    "DigestMismatch",
    "ImageConfig",
    "ImageConfigResult",
    "ImageManifest",
    "Index",
    "InspectEntry",
    "InspectResult",
    "InvalidDigest",
    "InvalidInput",
    "InvalidManifest",
    "InvalidPlatform",
    "InvalidReference",
    "LayoutNotFound",
    "LayoutReference",
    "LayoutRepository",
    "Location",
    "LoginResult",
    "LostUpdate",
    "Manifest",
    "ManifestTooLarge",
    "ManifestUnknown",
    "NameUnknown",
    "NotFound",
    "Platform",
    "PlatformChange",
    "PlatformNotFound",
    "PolyarchError",
    "Record",
    "Reference",
    "Referrer",
    "ReferrersLostUpdate",
    "RegistryClient",
    "RegistryError",
    "RegistryRepository",
    "Repository",
    "Resolution",
    "SizeMismatch",
    "Source",
    "Status",
    "TagDeleteUnsupported",
    "TagList",
    "TargetResult",
    "TooManyRequests",
    "TransportError",
    "TransportSettings",
    "Unauthorized",
    "Unsupported",
    "VerifyReport",
    "VerifyRequest",
    "__version__",
    "build_index",
    "copy_image",
    "create_index",
    "delete",
    "discover_referrers",
    "image_config",
    "inspect",
    "link_problem",
    "list_tags",
    "load_records",
    "login",
    "logout",
    "parse_config",
    "parse_location",
    "parse_manifest",
    "plan_delete",
    "record_sources",
    "resolve",
    "resolve_record",
    "verify",
]

# Imported on first use (see polyarch._lazy): a command loads only what it needs.
__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "polyarch.descriptor": ("Descriptor",),
        "polyarch.digest": ("Digest",),
        "polyarch.errors": (
            "AuthError",
            "BlobUnknown",
            "ContentError",
            "CredentialError",
            "Denied",
            "DigestMismatch",
            "InvalidDigest",
            "InvalidInput",
            "InvalidManifest",
            "InvalidPlatform",
            "InvalidReference",
            "ManifestTooLarge",
            "ManifestUnknown",
            "NameUnknown",
            "NotFound",
            "PlatformNotFound",
            "PolyarchError",
            "RegistryError",
            "SizeMismatch",
            "TooManyRequests",
            "TransportError",
            "Unauthorized",
            "Unsupported",
        ),
        "polyarch.location": ("LayoutReference", "Location", "parse_location"),
        "polyarch.manifest": (
            "ImageConfig",
            "ImageManifest",
            "Index",
            "Manifest",
            "build_index",
            "parse_config",
            "parse_manifest",
        ),
        "polyarch.operations": (
            "CarriedReferrer",
            "Check",
            "Context",
            "CopyRequest",
            "CopyResult",
            "CreateRequest",
            "CreateResult",
            "InspectEntry",
            "InspectResult",
            "LostUpdate",
            "PlatformChange",
            "Record",
            "Referrer",
            "ReferrersLostUpdate",
            "Resolution",
            "Source",
            "Status",
            "TargetResult",
            "VerifyReport",
            "VerifyRequest",
            "copy_image",
            "create_index",
            "discover_referrers",
            "inspect",
            "link_problem",
            "load_records",
            "record_sources",
            "resolve",
            "resolve_record",
            "verify",
        ),
        "polyarch.operations.config": ("ImageConfigResult", "image_config"),
        "polyarch.operations.delete": (
            "DeletePlan",
            "TagDeleteUnsupported",
            "delete",
            "plan_delete",
        ),
        "polyarch.operations.login": ("LoginResult", "login", "logout"),
        "polyarch.operations.tags": ("TagList", "list_tags"),
        "polyarch.platform": ("Platform",),
        "polyarch.reference": ("Reference",),
        "polyarch.storage": ("LayoutRepository", "RegistryRepository", "Repository"),
        "polyarch.storage.layout": ("LayoutNotFound",),
        "polyarch.transport": ("CredentialResolver", "RegistryClient", "TransportSettings"),
    },
)
