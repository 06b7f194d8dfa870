"""``copy``: promote an image or a whole index between repositories, registries and layouts.

The index bytes, and so its digest, are kept unless a ``platforms`` filter,
``attestations="drop"`` or ``attestations="referrers"`` asks for a sub-index (with
``referrers``, each attestation manifest is written as an OCI 1.1 referrer of the image it
attests instead: :mod:`polyarch.content.attestations.referrers`). Indexes nested in the
index (CNAB / porter bundles) are copied recursively, children before the index naming
them. External layers (foreign / non-distributable, any with ``urls``) are not copied: the
manifests naming them are, byte for byte. Blobs are mounted within a registry, skipped
when present, otherwise streamed while hashed, several at a time; the tag moves last,
after every child and blob is in place.

>>> from polyarch import Context, CopyRequest, copy_image
>>> request = CopyRequest.build("127.0.0.1:5000/staging/app:v1",   # doctest: +SKIP
...                             "127.0.0.1:5001/prod/app:v1")
>>> with Context() as ctx:                                        # doctest: +SKIP
...     result = copy_image(request, ctx)
>>> result.digest == result.source_digest                        # doctest: +SKIP
True
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from polyarch.content.attestations.links import AttestationMode, attestation_mode, require_link
from polyarch.content.attestations.referrers import move_attestations
from polyarch.content.context import Context, borrowed
from polyarch.content.graph import manifest_tree
from polyarch.content.referrers.carry import CarriedReferrer, carry_referrers
from polyarch.content.referrers.discovery import discover_referrers
from polyarch.content.selection import EntryPlatforms, matches_filter
from polyarch.content.transfer import DEFAULT_JOBS, ProgressCallback, Transfer, TransferStats
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.location import DEFAULT_TAG, LayoutReference, Location, parse_location
from polyarch.domain.manifest import ImageManifest, Index, Manifest, build_index
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidInput
from polyarch.storage.repository import Repository

__all__ = ["CopyRequest", "CopyResult", "copy_image"]

COPY_SCHEMA = "polyarch.copy/v1"


@dataclass(frozen=True, slots=True)
class CopyRequest:
    """What to copy where (the bridge between the CLI and :func:`copy_image`)."""

    source: Location
    destination: Location
    platforms: tuple[Platform, ...] = ()
    attestations: AttestationMode = "keep"
    jobs: int = DEFAULT_JOBS
    #: Carry signatures, SBOMs and attestations attached to the image (docs/referrers.md).
    referrers: bool = True

    @classmethod
    def build(
        cls,
        source: str | Location,
        destination: str | Location,
        *,
        platforms: Sequence[str | Platform] = (),
        attestations: str = "keep",
        jobs: int = DEFAULT_JOBS,
        referrers: bool = True,
    ) -> CopyRequest:
        """Validate strings into a request; the destination tag defaults to the source's."""
        src = parse_location(source) if isinstance(source, str) else source
        dst = parse_location(destination) if isinstance(destination, str) else destination
        mode = attestation_mode(attestations)
        if jobs < 1 or jobs > 64:
            raise InvalidInput(f"jobs must be between 1 and 64, not {jobs}", parameter="jobs")
        if dst.digest is not None and (platforms or mode != "keep"):
            raise InvalidInput(
                f"destination {dst} names a digest, but a filtered copy makes a new index"
            )
        if dst.tag is None and dst.digest is None and src.tag is not None:
            dst = dst.with_tag(src.tag)
        if isinstance(dst, LayoutReference) and dst.implicit_tag:
            # A layout entry without a tag is out of reach of oci:DIR[:TAG]: docs/layouts.md.
            dst = dst.with_tag(DEFAULT_TAG)
        plats = tuple(p if isinstance(p, Platform) else Platform.parse(p) for p in platforms)
        return cls(src, dst, plats, mode, jobs, referrers)


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What was copied and how."""

    source: Location
    destination: Location
    source_digest: Digest
    digest: Digest
    media_type: str
    stats: TransferStats
    seconds: float
    platforms: tuple[str, ...] = field(default=())
    referrers: tuple[CarriedReferrer, ...] = ()

    @property
    def filtered(self) -> bool:
        """True when the destination holds a sub-index (new digest)."""
        return self.digest != self.source_digest

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        return {
            "schema": COPY_SCHEMA,
            "source": str(self.source),
            "destination": str(self.destination),
            "sourceDigest": str(self.source_digest),
            "digest": str(self.digest),
            "mediaType": self.media_type,
            "platforms": list(self.platforms),
            "transfer": self.stats.to_json(),
            "seconds": round(self.seconds, 3),
            "referrers": [r.to_json() for r in self.referrers],
        }


def _select(src: Repository, index: Index, request: CopyRequest) -> Index:
    """The index to write: the original bytes, or a sub-index when filtering.

    ``--platform`` keeps the image entries whose platform is one of the filters
    (:func:`~polyarch.content.selection.matches_filter`); an entry without a platform
    is judged by its config's (containerd's rule), and kept as written.
    """
    if not request.platforms and request.attestations == "keep":
        return index
    if request.platforms and any(d.is_index for d in index.images):
        raise InvalidInput(
            f"{request.source} holds nested indexes; "
            "a copy filtered by platform of a nested index is not supported",
            hint="copy it whole, or copy the nested index by digest",
            parameter="platforms",
        )
    if request.platforms:
        resolver = EntryPlatforms(src)
        images = [
            s.descriptor
            for s in resolver.images(index)
            if s.platform is not None and matches_filter(s.platform, request.platforms)
        ]
        for wanted in request.platforms:
            if not any(
                (p := resolver.platform_of(d)) is not None and matches_filter(p, [wanted])
                for d in images
            ):
                raise InvalidInput(
                    f"platform {wanted}: {request.source} has no such image",
                    parameter="platforms",
                )
    else:  # --attestations drop/referrers: every image entry (nested indexes, artifacts) stays
        images = list(index.images)
    keep = {d.digest for d in images}
    chosen = [
        d
        for d in index.manifests
        if d.digest in keep or (request.attestations == "keep" and d.attestation_subject in keep)
    ]
    return build_index(chosen, media_type=index.media_type, annotations=dict(index.annotations))


def copy_image(
    request: CopyRequest,
    context: Context | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> CopyResult:
    """Copy an image or a whole index from ``request.source`` to ``request.destination``.

    ``request`` is a :class:`CopyRequest` (build one with :meth:`CopyRequest.build`):
    source and destination are registry references or ``oci:DIR[:TAG]`` layouts; its
    ``platforms`` and ``attestations="drop"`` ask for a sub-index of an index.
    ``context`` (a :class:`~polyarch.content.context.Context`; default: one made from
    the environment and closed afterwards) holds the registry connections and
    credentials. ``progress``, when given, is called with each
    :class:`~polyarch.content.transfer.ProgressEvent` (blob started, bytes moved,
    done), from worker threads.

    In the order the distribution spec needs (blobs, child manifests, the index, then the
    tag): blobs already at the destination are skipped, blobs in another repository of
    the same registry are mounted (``POST /v2/<name>/blobs/uploads/?mount=``), the others
    are streamed while hashed, ``request.jobs`` at once. Manifests keep their bytes, so
    the index digest is the source's unless a sub-index was asked for.

    Returns a :class:`CopyResult`: ``digest`` written and ``source_digest`` read (equal
    unless filtered), ``media_type``, ``platforms`` of the index written, ``stats``
    (blobs copied / mounted / skipped with their bytes, manifests pushed / present) and
    ``seconds``. Raises :class:`~polyarch.errors.InvalidInput` (platform filters on a
    single image, a platform the index lacks, a destination digest that is not the
    content's), :class:`~polyarch.errors.NotFound` subclasses when the source is not
    there, and :class:`~polyarch.errors.RegistryError` / ``TransportError`` /
    :class:`~polyarch.errors.ContentError` when a registry fails or serves bad content;
    no tag is moved then.

    >>> from polyarch import Context
    >>> request = CopyRequest.build(
    ...     "127.0.0.1:5000/app:1.0", "127.0.0.1:5001/team/app", platforms=["linux/arm64"]
    ... )
    >>> str(request.destination)  # the tag comes from the source
    '127.0.0.1:5001/team/app:1.0'
    >>> with Context() as ctx:                                    # doctest: +SKIP
    ...     result = copy_image(request, ctx)
    ...     print(result.platforms, result.filtered)
    ('linux/arm64',) True
    """
    started = time.monotonic()
    with borrowed(context) as ctx:
        src = ctx.repository(request.source)
        dst = ctx.repository(request.destination)
        top = src.get_manifest(request.source.identifier)
        transfer = Transfer(
            jobs=request.jobs,
            progress=progress,
            retry=ctx.settings.retry,
            blob_cache=ctx.blob_cache,
        )
        written: Manifest = top
        moved: tuple[CarriedReferrer, ...] = ()
        if isinstance(top, Index):
            written = _select(src, top, request)
            # Every distinct child once, nested indexes after their own children.
            tree = manifest_tree(src, top, written.manifests)
            if request.platforms:  # a sub-index must not carry another image's attestation
                for d, child in tree:
                    subject = d.attestation_subject
                    if subject is not None and isinstance(child, ImageManifest):
                        require_link(src, d, subject, str(request.source), child)
            transfer.manifests(dst, [(src, child) for _, child in tree])
            if request.attestations == "referrers":  # after the images, before the tag
                moved = move_attestations(transfer, dst, _moves(src, top, written, request))
        else:
            if request.platforms or request.attestations != "keep":
                raise InvalidInput(
                    f"{request.source} is a single image: choosing platforms or moving "
                    "attestations applies to indexes",
                    parameter="platforms" if request.platforms else "attestations",
                )
            transfer.manifests(dst, [(src, top)])
        if request.destination.digest is not None and request.destination.digest != written.digest:
            raise InvalidInput(
                f"destination {request.destination} names {request.destination.digest}, "
                f"but the content is {written.digest}"
            )
        tag = request.destination.tag
        current = dst.head_manifest(tag) if tag else None
        carried = _referrers(request, transfer, src, dst, top, written) if request.referrers else ()
        if current is None or current.digest != written.digest:
            # Children and blobs are all in place: storing under the tag now is the last step.
            dst.put_manifest(written, tag)
        platforms = _platforms(written)
        return CopyResult(
            request.source,
            request.destination,
            top.digest,
            written.digest,
            written.media_type,
            transfer.stats,
            time.monotonic() - started,
            platforms,
            moved + carried,
        )


def _moves(
    src: Repository, top: Index, written: Index, request: CopyRequest
) -> list[tuple[Repository, Descriptor, Descriptor]]:
    """The attestations of ``top`` whose image ``written`` keeps, each link checked first."""
    images = {d.digest: d for d in written.manifests}
    out = []
    for a in top.attestations:
        subject = a.attestation_subject
        if subject is None or subject not in images:
            continue
        require_link(src, a, subject, str(request.source))
        out.append((src, a, images[subject]))
    return out


def _referrers(
    request: CopyRequest,
    transfer: Transfer,
    src: Repository,
    dst: Repository,
    top: Manifest,
    written: Manifest,
) -> tuple[CarriedReferrer, ...]:
    """Referrers of what was written (content/referrers.py), after it, before the tag."""
    if dst.same_as(src):
        return ()
    subjects = [written.digest] if written.digest == top.digest else []  # a sub-index is new
    if isinstance(written, Index):
        subjects += [d.digest for d in written.manifests]
    trees = discover_referrers(src, subjects)
    if not any(trees.values()):
        return ()
    if trees.get(written.digest):
        dst.put_manifest(written)  # by digest: the index is content its referrers follow
    return carry_referrers(transfer, src, dst, trees)


def _platforms(manifest: Manifest) -> tuple[str, ...]:
    if isinstance(manifest, ImageManifest):
        return ()
    return tuple(str(d.platform) for d in manifest.images if d.platform is not None)
