"""The one storage interface every backend implements, and the abilities only some have.

Everything above the storage floor is written against :class:`Repository`: a registry
repository and an OCI image layout directory look the same to it, so copying is "read
from one, write to another" with no special case per pair (regclient's ``scheme.API``).

What only some backends can do is not an optional hook of :class:`Repository` but a
small interface of its own that a backend also implements, asked for with
``isinstance`` (regclient asks its schemes the same way, with Go interface assertions):

* :class:`BlobMounting`: blobs appear in a repository without moving bytes, from a
  sibling repository of the same registry (distribution spec, "Mounting a blob from
  another repository");
* :class:`ReferrersIndexing`: the backend indexes ``subject`` itself (the OCI 1.1
  referrers API), so writers need not maintain the referrers tag schema;
* :class:`TagPaging`: the tag list comes in pages whose size the caller may ask for;
* :class:`ManifestListing`: the backend can list every manifest it holds, tagged or not
  (an OCI layout; the distribution spec has no such request: a registry lists tags only).
* :class:`TagIndexing`: every tag's digest is known from one read (a layout's
  ``index.json``), where a registry needs a request per tag;
* :class:`CheckedStore`: the backend checks what is stored in it (a registry), so a
  manifest present there has its blobs, and a blob present there is its digest's.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Manifest
from polyarch.errors import SizeMismatch
from polyarch.storage.referrers_tag import read_tag_schema
from polyarch.storage.stream import BlobReader

__all__ = [
    "MAX_SMALL_BLOB",
    "BlobMounting",
    "CheckedStore",
    "ManifestListing",
    "ReferrersIndexing",
    "Repository",
    "TagIndexing",
    "TagPaging",
]

#: The largest blob :meth:`Repository.read_blob` reads whole by default (a config).
MAX_SMALL_BLOB = 16 * 1024 * 1024


class Repository(abc.ABC):
    """One repository of one backend: a registry repository or an OCI layout.

    ``identifier`` arguments are a tag or a digest. Every manifest returned has been
    verified against the digest it was asked by and the digest the backend announced.
    """

    #: Human-readable name, e.g. ``127.0.0.1:5000/metrics-api``.
    name: str

    # Manifests -----------------------------------------------------------------------

    @abc.abstractmethod
    def get_manifest(self, identifier: str) -> Manifest:
        """Fetch and verify a manifest or index by tag or digest."""

    @abc.abstractmethod
    def head_manifest(self, identifier: str) -> Descriptor | None:
        """The descriptor of a manifest by tag or digest, or None when absent."""

    @abc.abstractmethod
    def put_manifest(self, manifest: Manifest, tag: str | None = None) -> None:
        """Store a manifest's exact bytes, under ``tag`` or (when None) by digest."""

    @abc.abstractmethod
    def delete_manifest(self, digest: Digest) -> None:
        """Delete a manifest by digest."""

    # Blobs ---------------------------------------------------------------------------

    @abc.abstractmethod
    def blob_size(self, digest: Digest) -> int | None:
        """The size of a blob when the repository holds it, else None (a HEAD)."""

    @abc.abstractmethod
    def open_blob(self, descriptor: Descriptor) -> BlobReader:
        """Open a blob for streaming; its chunks verify against ``descriptor``."""

    @abc.abstractmethod
    def put_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> None:
        """Store a blob from a stream of chunks, verifying it before it is committed."""

    @abc.abstractmethod
    def delete_blob(self, digest: Digest) -> None:
        """Delete a blob by digest."""

    def read_blob(self, descriptor: Descriptor, *, max_size: int = MAX_SMALL_BLOB) -> bytes:
        """Read a small blob (a config) whole, verified; refuses anything over ``max_size``."""
        if descriptor.size > max_size:
            raise SizeMismatch(
                f"{self.name}@{descriptor.digest}: {descriptor.size} bytes, too large to read whole"
            )
        with self.open_blob(descriptor) as reader:
            return b"".join(reader)

    def put_blob_bytes(self, descriptor: Descriptor, data: bytes) -> None:
        """Store a small blob given as bytes."""
        self.put_blob(descriptor, [data])

    # Tags ----------------------------------------------------------------------------

    @abc.abstractmethod
    def list_tags(self) -> list[str]:
        """All tags of the repository."""

    @abc.abstractmethod
    def delete_tag(self, tag: str) -> bool:
        """Remove ``tag`` alone, leaving the manifest it points at in place.

        True when the tag is gone (deleted now, or absent already); False when the
        backend cannot delete a tag without deleting the manifest (then nothing was
        changed).
        """

    # Referrers (OCI distribution spec 1.1, "Listing Referrers") -----------------------

    def list_referrers(self, digest: Digest, artifact_type: str | None = None) -> list[Descriptor]:
        """The descriptors of the manifests whose ``subject`` is ``digest``.

        ``artifact_type`` keeps only those of that artifact type. This default reads
        the referrers tag schema index (tag ``<alg>-<encoded>``, distribution spec
        "Referrers Tag Schema"); no such tag means no referrers. Backends that know
        more (the referrers API, a layout's ``index.json``) override it. Raises
        :class:`~polyarch.errors.PolyarchError` when the tag exists but cannot be read.
        """
        return read_tag_schema(self.get_manifest, digest, artifact_type)

    # Identity ------------------------------------------------------------------------

    @abc.abstractmethod
    def same_as(self, other: Repository) -> bool:
        """True when ``other`` is this very repository (content there is content here)."""

    # Stopping --------------------------------------------------------------------------

    def interrupt(self, timeout: float) -> None:
        """The operation using this repository is being stopped (Ctrl-C, SIGTERM).

        From now on nothing more is committed here (no blob, no manifest, no tag), and
        what is half-done is given up: a registry's open upload sessions are cancelled
        (``DELETE``, best effort, within ``timeout`` seconds). Writes under way in other
        threads fail with :class:`~polyarch.errors.Interrupted` at their next chunk. The
        default does nothing.
        """
        del timeout


class CheckedStore(Repository):
    """A backend that checks what is stored in it, so presence there can be trusted.

    A registry verifies every blob against its digest when it is uploaded and refuses a
    manifest while a blob it names is missing (distribution spec, "Pushing Manifests":
    ``MANIFEST_BLOB_UNKNOWN``): a manifest present there has its blobs, a blob present
    there is its digest's. A layout is a directory anyone can write, damage or half-copy,
    so it is no checked store: what it holds is checked when it is used.
    """


class BlobMounting(Repository):
    """A repository whose registry makes blobs of a sibling repository appear in it.

    The distribution spec's cross-repository mount (``POST /blobs/uploads/?mount=&from=``):
    no bytes move.
    """

    @abc.abstractmethod
    def can_mount_from(self, source: Repository) -> bool:
        """True when :meth:`mount_blob` may succeed from ``source`` (to plan dry runs)."""

    @abc.abstractmethod
    def mount_blob(self, descriptor: Descriptor, source: Repository) -> bool:
        """Make a blob of ``source`` appear here without moving bytes.

        Returns False when it cannot (another registry, or the registry declined); the
        caller then streams the blob.
        """

    @abc.abstractmethod
    def blob_home(self) -> tuple[str, str]:
        """``(registry, repository)``: where blobs here can be mounted from."""

    @abc.abstractmethod
    def sibling(self, repository: str) -> Repository:
        """Another repository of the same registry, sharing this one's client."""


class ReferrersIndexing(Repository):
    """A backend that may index ``subject`` itself: the OCI 1.1 referrers API."""

    @abc.abstractmethod
    def referrers_api(self) -> bool:
        """True when this backend answers the referrers API (asked once, remembered).

        Then a manifest with a ``subject`` is found by its subject once it is pushed;
        otherwise writers maintain the referrers tag schema index.
        """


class TagPaging(Repository):
    """A backend whose tag list comes in pages (a registry's ``?n=`` and ``Link``)."""

    #: Tags asked for per page of the tag list (the backend may return fewer).
    tag_page_size: int


class ManifestListing(Repository):
    """A backend that can list every manifest it holds, tagged or not: an OCI layout.

    The distribution spec lists a repository's tags, never its manifests, so a registry
    cannot be this (vendors' own APIs can: ECR ``ListImages``, the GitHub packages API).
    """

    @abc.abstractmethod
    def list_manifests(self) -> list[Digest]:
        """The digest of every manifest held, each once."""

    @abc.abstractmethod
    def untagged_entries(self) -> list[Digest]:
        """Manifests the backend holds by an entry of their own but without a tag (a
        layout's unnamed ``index.json`` entries): what ``crane pull`` and ``buildx
        --output type=oci`` write, as much a root as a tag."""


class TagIndexing(Repository):
    """A backend that knows every tag's digest from one read (a layout's ``index.json``).

    A registry answers that one ``HEAD`` per tag; a backend with this ability answers it
    for all its tags at once, so a question about every tag costs one read.
    """

    @abc.abstractmethod
    def tag_digests(self) -> dict[str, Digest]:
        """Every tag and the digest of the manifest it points at."""
