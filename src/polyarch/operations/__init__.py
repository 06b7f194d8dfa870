"""Operations, written only against the storage interface."""

from polyarch.operations.context import Context
from polyarch.operations.inspect import InspectEntry, InspectResult, inspect
from polyarch.operations.resolve import Resolution, resolve

__all__ = ["Context", "InspectEntry", "InspectResult", "Resolution", "inspect", "resolve"]
