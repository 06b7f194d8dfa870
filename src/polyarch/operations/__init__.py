"""Operations, written only against the storage interface."""

from polyarch.operations.attestation_links import link_problem
from polyarch.operations.context import Context
from polyarch.operations.copy import CopyRequest, CopyResult, copy_image
from polyarch.operations.create import (
    CreateRequest,
    CreateResult,
    LostUpdate,
    PlatformChange,
    TargetResult,
    create_index,
)
from polyarch.operations.inspect import InspectEntry, InspectResult, inspect
from polyarch.operations.record_evidence import record_sources, resolve_record
from polyarch.operations.records import Record, load_records
from polyarch.operations.referrers import Referrer, discover_referrers
from polyarch.operations.referrers_carry import CarriedReferrer, ReferrersLostUpdate
from polyarch.operations.resolve import Resolution, resolve
from polyarch.operations.sources import Source
from polyarch.operations.verify import Check, Status, VerifyReport, VerifyRequest, verify

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
