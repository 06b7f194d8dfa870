"""The bridge between callers (the CLI, scripts) and operations.

A :class:`Context` holds the settings and the one shared HTTP client, and hands out
repositories for references. Tests and scripts build one directly; the CLI builds one
from its flags. Operations never read flags or the environment themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING

from polyarch.domain.location import LayoutReference, Location
from polyarch.storage.registry.repository import RegistryRepository
from polyarch.storage.repository import Repository
from polyarch.transport.client import RegistryClient
from polyarch.transport.settings import TransportSettings

if TYPE_CHECKING:
    from polyarch.content.blobinfo import BlobInfoCache

__all__ = ["Context", "borrowed"]


class Context:
    """Settings plus a shared client; the source of :class:`Repository` objects.

    >>> from polyarch import Context, Reference
    >>> with Context() as ctx:
    ...     repo = ctx.repository(Reference.parse("127.0.0.1:5000/app:v1"))
    >>> repo.name
    '127.0.0.1:5000/app'
    """

    def __init__(
        self,
        settings: TransportSettings | None = None,
        *,
        client: RegistryClient | None = None,
        blob_cache: BlobInfoCache | None = None,
    ) -> None:
        self.settings = settings or TransportSettings.from_env()
        #: Where blobs were seen before, to mount rather than stream them (None: not used).
        self.blob_cache = blob_cache
        self._owns_client = client is None
        self.client = client or RegistryClient(self.settings)
        self._repositories: dict[tuple[str, str], Repository] = {}

    def repository(self, ref: Location) -> Repository:
        """The repository a reference points into (cached per registry and name).

        ``oci:PATH`` references get an OCI image layout directory; the rest a registry.
        """
        key = (ref.registry, ref.repository)
        repo = self._repositories.get(key)
        if repo is None and isinstance(ref, LayoutReference):
            # Imported here: a registry-only run (most CLI calls) never loads the layout code.
            from polyarch.storage.layout.repository import LayoutRepository

            repo = LayoutRepository(ref.path, implicit_tag=ref.implicit_tag)
        if repo is None:
            repo = RegistryRepository(self.client, ref.registry, ref.repository)
            self._repositories[key] = repo
        return repo

    def close(self) -> None:
        """Close the client if this context created it."""
        if self._owns_client:
            self.client.close()
        if self.blob_cache is not None:
            self.blob_cache.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@contextmanager
def borrowed(context: Context | None) -> Iterator[Context]:
    """The caller's context, or a fresh one that is closed afterwards.

    Operations accept ``context=None`` for one-off calls; a caller doing several
    operations passes one Context so they share connections and auth tokens.
    """
    if context is not None:
        yield context
        return
    with Context() as ctx:
        yield ctx
