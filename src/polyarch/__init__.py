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

The public names are imported on first use (PEP 562 module ``__getattr__``): a CLI call
imports only what its command uses, so ``polyarch --version`` loads no httpx and
``polyarch inspect`` no build pipeline. This is the only lazy package face; the
sub-packages are plain. ``tests/unit/test_startup.py`` checks that the table below and the
``TYPE_CHECKING`` imports (which type checkers read) name the same things. ``__all__`` stays
a literal list: mypy takes a package's public names from a literal ``__all__`` only (one
computed from the table leaves ``from polyarch import Context`` an error under
``--strict``), and the ``TYPE_CHECKING`` imports are all a type checker sees of the table.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from polyarch._version import __version__

if TYPE_CHECKING:
    from polyarch.content.attestations.links import (
        link_problem,
    )
    from polyarch.content.context import (
        Context,
    )
    from polyarch.content.reach import (
        ReachUnknown,
    )
    from polyarch.content.records.evidence import (
        record_sources,
        resolve_record,
    )
    from polyarch.content.records.formats import (
        Record,
        load_records,
    )
    from polyarch.content.referrers.carry import (
        CarriedReferrer,
        ReferrersLostUpdate,
    )
    from polyarch.content.referrers.discovery import (
        Referrer,
        discover_referrers,
    )
    from polyarch.content.resolution import (
        Resolution,
    )
    from polyarch.domain.descriptor import (
        Descriptor,
    )
    from polyarch.domain.digest import (
        Digest,
    )
    from polyarch.domain.location import (
        LayoutReference,
        Location,
        parse_location,
    )
    from polyarch.domain.manifest import (
        ImageConfig,
        ImageManifest,
        Index,
        Manifest,
        build_index,
        parse_config,
        parse_manifest,
    )
    from polyarch.domain.platform import (
        Platform,
    )
    from polyarch.domain.reference import (
        Reference,
    )
    from polyarch.engine.builders import (
        BuilderChoice,
        BuilderUnsuitable,
    )
    from polyarch.engine.endpoint import (
        EngineChoice,
    )
    from polyarch.errors import (
        AuthError,
        BlobUnknown,
        BodyTooLarge,
        ContentError,
        CredentialError,
        Denied,
        DigestMismatch,
        ImmutableTag,
        Interrupted,
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
        StorageError,
        TooManyRequests,
        TransportError,
        Unauthorized,
        Unsupported,
    )
    from polyarch.operations.config import (
        ImageConfigResult,
        image_config,
    )
    from polyarch.operations.copy import copy_image, copy_images
    from polyarch.operations.copy.request import CopyRequest, CopyResult
    from polyarch.operations.create import (
        CreateRequest,
        CreateResult,
        LostUpdate,
        PlatformChange,
        TargetResult,
        create_index,
    )
    from polyarch.operations.create.guard import (
        PlatformDropRefused,
    )
    from polyarch.operations.create.sources import (
        Source,
    )
    from polyarch.operations.delete import (
        DeletePlan,
        ReachedManifest,
        TagDeleteUnsupported,
        delete,
        plan_delete,
    )
    from polyarch.operations.inspect import (
        InspectEntry,
        InspectResult,
        inspect,
    )
    from polyarch.operations.login import (
        LoginResult,
        login,
        logout,
    )
    from polyarch.operations.prune import (
        PrunePlan,
        plan_prune,
        prune,
    )
    from polyarch.operations.resolve import (
        resolve,
    )
    from polyarch.operations.sign import (
        SigningFailed,
        SignRequest,
        SignResult,
        sign,
    )
    from polyarch.operations.tags import (
        TagList,
        list_tags,
    )
    from polyarch.operations.verify import (
        verify,
    )
    from polyarch.operations.verify.request import (
        Check,
        Status,
        VerifyReport,
        VerifyRequest,
    )
    from polyarch.pipeline.builds.request import (
        BuildFailed,
        BuildFailure,
        BuildRequest,
        BuildResult,
    )
    from polyarch.pipeline.builds.variants import (
        build_variants,
    )
    from polyarch.pipeline.matrix import (
        build_matrix,
    )
    from polyarch.pipeline.naming import (
        Naming,
        name_release,
    )
    from polyarch.pipeline.publish.records import (
        RecordMismatch,
    )
    from polyarch.pipeline.publish.result import (
        CleanupOutcome,
        PublishedVariant,
        PublishFailed,
        PublishResult,
    )
    from polyarch.pipeline.publish.run import (
        EngineUnavailable,
        PublishRequest,
        publish,
    )
    from polyarch.pipeline.specfile import find_spec, load_spec
    from polyarch.pipeline.specfile.model import Spec, SpecError, Variant, VerifySpec
    from polyarch.storage.layout.repository import (
        LayoutNotFound,
        LayoutRepository,
    )
    from polyarch.storage.registry.repository import (
        RegistryRepository,
    )
    from polyarch.storage.repository import (
        Repository,
    )
    from polyarch.transport.auth.credentials import (
        CredentialResolver,
    )
    from polyarch.transport.client import (
        RegistryClient,
    )
    from polyarch.transport.settings import (
        TransportSettings,
    )

__all__ = [
    "AuthError",
    "BlobUnknown",
    "BodyTooLarge",
    "BuildFailed",
    "BuildFailure",
    "BuildRequest",
    "BuildResult",
    "BuilderChoice",
    "BuilderUnsuitable",
    "CarriedReferrer",
    "Check",
    "CleanupOutcome",
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
    "EngineChoice",
    "EngineUnavailable",
    "ImageConfig",
    "ImageConfigResult",
    "ImageManifest",
    "ImmutableTag",
    "Index",
    "InspectEntry",
    "InspectResult",
    "Interrupted",
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
    "Naming",
    "NotFound",
    "Platform",
    "PlatformChange",
    "PlatformDropRefused",
    "PlatformNotFound",
    "PolyarchError",
    "PrunePlan",
    "PublishFailed",
    "PublishRequest",
    "PublishResult",
    "PublishedVariant",
    "ReachUnknown",
    "ReachedManifest",
    "Record",
    "RecordMismatch",
    "Reference",
    "Referrer",
    "ReferrersLostUpdate",
    "RegistryClient",
    "RegistryError",
    "RegistryRepository",
    "Repository",
    "Resolution",
    "SignRequest",
    "SignResult",
    "SigningFailed",
    "SizeMismatch",
    "Source",
    "Spec",
    "SpecError",
    "Status",
    "StorageError",
    "TagDeleteUnsupported",
    "TagList",
    "TargetResult",
    "TooManyRequests",
    "TransportError",
    "TransportSettings",
    "Unauthorized",
    "Unsupported",
    "Variant",
    "VerifyReport",
    "VerifyRequest",
    "VerifySpec",
    "__version__",
    "build_index",
    "build_matrix",
    "build_variants",
    "copy_image",
    "copy_images",
    "create_index",
    "delete",
    "discover_referrers",
    "find_spec",
    "image_config",
    "inspect",
    "link_problem",
    "list_tags",
    "load_records",
    "load_spec",
    "login",
    "logout",
    "name_release",
    "parse_config",
    "parse_location",
    "parse_manifest",
    "plan_delete",
    "plan_prune",
    "prune",
    "publish",
    "record_sources",
    "resolve",
    "resolve_record",
    "sign",
    "verify",
]

#: Module -> the public names it defines, imported on first attribute access.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "polyarch.content.attestations.links": ("link_problem",),
    "polyarch.content.context": ("Context",),
    "polyarch.content.reach": ("ReachUnknown",),
    "polyarch.content.records.evidence": ("record_sources", "resolve_record"),
    "polyarch.content.records.formats": ("Record", "load_records"),
    "polyarch.content.referrers.discovery": ("Referrer", "discover_referrers"),
    "polyarch.content.referrers.carry": ("CarriedReferrer", "ReferrersLostUpdate"),
    "polyarch.content.resolution": ("Resolution",),
    "polyarch.domain.descriptor": ("Descriptor",),
    "polyarch.domain.digest": ("Digest",),
    "polyarch.domain.location": ("LayoutReference", "Location", "parse_location"),
    "polyarch.domain.manifest": (
        "ImageConfig",
        "ImageManifest",
        "Index",
        "Manifest",
        "build_index",
        "parse_config",
        "parse_manifest",
    ),
    "polyarch.domain.platform": ("Platform",),
    "polyarch.domain.reference": ("Reference",),
    "polyarch.engine.builders": ("BuilderChoice", "BuilderUnsuitable"),
    "polyarch.engine.endpoint": ("EngineChoice",),
    "polyarch.errors": (
        "AuthError",
        "BlobUnknown",
        "BodyTooLarge",
        "ContentError",
        "CredentialError",
        "Denied",
        "DigestMismatch",
        "ImmutableTag",
        "InvalidDigest",
        "InvalidInput",
        "InvalidManifest",
        "InvalidPlatform",
        "InvalidReference",
        "Interrupted",
        "ManifestTooLarge",
        "ManifestUnknown",
        "NameUnknown",
        "NotFound",
        "PlatformNotFound",
        "PolyarchError",
        "RegistryError",
        "SizeMismatch",
        "StorageError",
        "TooManyRequests",
        "TransportError",
        "Unauthorized",
        "Unsupported",
    ),
    "polyarch.operations.config": ("ImageConfigResult", "image_config"),
    "polyarch.operations.copy": ("copy_image", "copy_images"),
    "polyarch.operations.copy.request": ("CopyRequest", "CopyResult"),
    "polyarch.operations.create": (
        "CreateRequest",
        "CreateResult",
        "LostUpdate",
        "PlatformChange",
        "TargetResult",
        "create_index",
    ),
    "polyarch.operations.create.guard": ("PlatformDropRefused",),
    "polyarch.operations.create.sources": ("Source",),
    "polyarch.operations.delete": (
        "DeletePlan",
        "ReachedManifest",
        "TagDeleteUnsupported",
        "delete",
        "plan_delete",
    ),
    "polyarch.operations.inspect": ("InspectEntry", "InspectResult", "inspect"),
    "polyarch.operations.login": ("LoginResult", "login", "logout"),
    "polyarch.operations.prune": ("PrunePlan", "plan_prune", "prune"),
    "polyarch.operations.resolve": ("resolve",),
    "polyarch.operations.sign": ("SignRequest", "SignResult", "SigningFailed", "sign"),
    "polyarch.operations.tags": ("TagList", "list_tags"),
    "polyarch.operations.verify": ("verify",),
    "polyarch.operations.verify.request": ("Check", "Status", "VerifyReport", "VerifyRequest"),
    "polyarch.pipeline.builds.request": (
        "BuildFailed",
        "BuildFailure",
        "BuildRequest",
        "BuildResult",
    ),
    "polyarch.pipeline.builds.variants": ("build_variants",),
    "polyarch.pipeline.matrix": ("build_matrix",),
    "polyarch.pipeline.naming": ("Naming", "name_release"),
    "polyarch.pipeline.publish.records": ("RecordMismatch",),
    "polyarch.pipeline.publish.result": (
        "CleanupOutcome",
        "PublishFailed",
        "PublishResult",
        "PublishedVariant",
    ),
    "polyarch.pipeline.publish.run": (
        "EngineUnavailable",
        "PublishRequest",
        "publish",
    ),
    "polyarch.pipeline.specfile": ("find_spec", "load_spec"),
    "polyarch.pipeline.specfile.model": ("Spec", "SpecError", "Variant", "VerifySpec"),
    "polyarch.storage.layout.repository": ("LayoutNotFound", "LayoutRepository"),
    "polyarch.storage.registry.repository": ("RegistryRepository",),
    "polyarch.storage.repository": ("Repository",),
    "polyarch.transport.auth.credentials": ("CredentialResolver",),
    "polyarch.transport.client": ("RegistryClient",),
    "polyarch.transport.settings": ("TransportSettings",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'polyarch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
