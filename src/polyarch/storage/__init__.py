"""Storage backends behind one interface (:class:`Repository`)."""

from polyarch.storage.base import BlobReader, Repository, VerifyingStream
from polyarch.storage.layout import LayoutRepository
from polyarch.storage.registry import RegistryRepository

__all__ = [
    "BlobReader",
    "LayoutRepository",
    "RegistryRepository",
    "Repository",
    "VerifyingStream",
]
