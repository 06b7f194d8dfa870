"""Storage backends behind one interface (:class:`Repository`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyarch._lazy import lazy_exports

if TYPE_CHECKING:
    from polyarch.storage.base import (
        BlobReader,
        Repository,
        VerifyingStream,
    )
    from polyarch.storage.layout import (
        LayoutRepository,
    )
    from polyarch.storage.registry import (
        RegistryRepository,
    )

__all__ = [
    "BlobReader",
    "LayoutRepository",
    "RegistryRepository",
    "Repository",
    "VerifyingStream",
]

# Imported on first use (see polyarch._lazy): a command loads only what it needs.
__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "polyarch.storage.base": ("BlobReader", "Repository", "VerifyingStream"),
        "polyarch.storage.layout": ("LayoutRepository",),
        "polyarch.storage.registry": ("RegistryRepository",),
    },
)
