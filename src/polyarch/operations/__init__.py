"""Operations, written only against the storage interface."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyarch._lazy import lazy_exports

if TYPE_CHECKING:
    from polyarch.operations.attestation_links import (
        link_problem,
    )
    from polyarch.operations.context import (
        Context,
    )
    from polyarch.operations.copy import (
        CopyRequest,
        CopyResult,
        copy_image,
    )
    from polyarch.operations.create import (
        CreateRequest,
        CreateResult,
        LostUpdate,
        PlatformChange,
        TargetResult,
        create_index,
    )
    from polyarch.operations.inspect import (
        InspectEntry,
        InspectResult,
        inspect,
    )
    from polyarch.operations.record_evidence import (
        record_sources,
        resolve_record,
    )
    from polyarch.operations.records import (
        Record,
        load_records,
    )
    from polyarch.operations.referrers import (
        Referrer,
        discover_referrers,
    )
    from polyarch.operations.referrers_carry import (
        CarriedReferrer,
        ReferrersLostUpdate,
    )
    from polyarch.operations.resolve import (
        Resolution,
        resolve,
    )
    from polyarch.operations.sources import (
        Source,
    )
    from polyarch.operations.verify import (
        Check,
        Status,
        VerifyReport,
        VerifyRequest,
        verify,
    )

__all__ = [
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
]

# Imported on first use (see polyarch._lazy): a command loads only what it needs.
__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "polyarch.operations.attestation_links": ("link_problem",),
        "polyarch.operations.context": ("Context",),
        "polyarch.operations.copy": ("CopyRequest", "CopyResult", "copy_image"),
        "polyarch.operations.create": (
            "CreateRequest",
            "CreateResult",
            "LostUpdate",
            "PlatformChange",
            "TargetResult",
            "create_index",
        ),
        "polyarch.operations.inspect": ("InspectEntry", "InspectResult", "inspect"),
        "polyarch.operations.record_evidence": ("record_sources", "resolve_record"),
        "polyarch.operations.records": ("Record", "load_records"),
        "polyarch.operations.referrers": ("Referrer", "discover_referrers"),
        "polyarch.operations.referrers_carry": ("CarriedReferrer", "ReferrersLostUpdate"),
        "polyarch.operations.resolve": ("Resolution", "resolve"),
        "polyarch.operations.sources": ("Source",),
        "polyarch.operations.verify": (
            "Check",
            "Status",
            "VerifyReport",
            "VerifyRequest",
            "verify",
        ),
    },
)
