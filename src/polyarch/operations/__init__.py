"""Operations, written only against the storage interface."""

from polyarch.operations.context import Context
from polyarch.operations.create import (
    CreateRequest,
    CreateResult,
    LostUpdate,
    PlatformChange,
    TargetResult,
    create_index,
)
from polyarch.operations.inspect import InspectEntry, InspectResult, inspect
from polyarch.operations.resolve import Resolution, resolve
from polyarch.operations.sources import Source

__all__ = [
    "Context",
    "CreateRequest",
    "CreateResult",
    "InspectEntry",
    "InspectResult",
    "LostUpdate",
    "PlatformChange",
    "Resolution",
    "Source",
    "TargetResult",
    "create_index",
    "inspect",
    "resolve",
]
