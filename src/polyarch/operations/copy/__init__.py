"""``copy``: promote an image or a whole index between repositories, registries and layouts.

The index bytes, and so its digest, are kept unless a ``platforms`` filter,
``attestations="drop"`` or ``attestations="referrers"`` asks for a sub-index (with
``referrers``, each attestation manifest is written as an OCI 1.1 referrer of the image it
attests instead: :mod:`polyarch.content.attestations.referrers`). Indexes nested in the
index (CNAB / porter bundles) are copied recursively, children before the index naming
them. External layers (foreign / non-distributable, any with ``urls``) are not copied: the
manifests naming them are, byte for byte. Blobs are mounted within a registry, skipped
when present, otherwise streamed while hashed, several at a time; the tag moves last,
after every child and blob is in place. :func:`copy_images` promotes one source to several
destinations (a release's tags, several registries): the source read once, the content
moved once per repository, every tag moved only once every destination has it.

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
from dataclasses import dataclass

from polyarch.content.attestations.links import require_link
from polyarch.content.attestations.referrers import move_attestations
from polyarch.content.context import Context, borrowed
from polyarch.content.graph import manifest_tree
from polyarch.content.referrers.carry import CarriedReferrer, carry_referrers
from polyarch.content.referrers.discovery import Referrer, discover_referrers
from polyarch.content.selection import EntryPlatforms, matches_filter
from polyarch.content.transfer import ProgressCallback, Transfer, TransferStats
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, Manifest, build_index
from polyarch.errors import InvalidInput
from polyarch.operations.copy.request import CopyRequest, CopyResult
from polyarch.storage.repository import Repository

__all__ = ["copy_image", "copy_images"]


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
    return copy_images([request], context, progress=progress)[0]


def copy_images(
    requests: Sequence[CopyRequest],
    context: Context | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> tuple[CopyResult, ...]:
    """Copy one source to several destinations: a release promoted, its tags into each registry.

    ``requests`` share their source and options (:meth:`CopyRequest.build` once per
    destination; the CLI's ``copy SRC DST...``). The source is read once; each destination
    repository receives the content once (blobs, child manifests, attestations moved,
    referrers carried), in the order given; a further destination in a repository
    already written (another tag of the same release) moves nothing. Only when every
    destination's content is in place do the tags move, in the order given: no tag of the
    release points at content another destination lacks, and a failure part way moves no
    tag at all (what ``docker buildx imagetools create -t A -t B`` does with its targets).

    Returns a :class:`CopyResult` per request, in order; a destination in a repository
    written before it in this call has empty ``stats`` and ``referrers``. Raises what
    :func:`copy_image` raises, and :class:`~polyarch.errors.InvalidInput` for no request
    or requests that differ in source or options.
    """
    if not requests:
        raise InvalidInput("copy needs at least one destination")
    first = requests[0]
    shared = (first.source, first.platforms, first.attestations, first.jobs, first.referrers)
    for other in requests[1:]:
        if (other.source, other.platforms, other.attestations, other.jobs, other.referrers) != (
            shared
        ):
            raise InvalidInput(
                f"destination {other.destination}: one copy reads one source with one set of "
                "options",
                hint="run one copy per source",
            )
    started = time.monotonic()
    with borrowed(context) as ctx:
        src = ctx.repository(first.source)
        source = _read_source(src, first)
        for request in requests:  # before anything moves
            _check_digest(request, source.written)
        placed: list[tuple[CopyRequest, Repository, _Placed]] = []
        for request in requests:
            dst = ctx.repository(request.destination)
            done = next((p for _, repo, p in placed if repo.same_as(dst)), None)
            if done is None:
                done = _place(request, ctx, src, dst, source, progress)
            else:
                done = _Placed(done.written)  # the repository has it: nothing moves for this tag
            placed.append((request, dst, done))
        results = []
        for request, dst, done in placed:  # every destination's content is in place
            written = done.written
            tag = request.destination.tag
            current = dst.head_manifest(tag) if tag else None
            if current is None or current.digest != written.digest:
                # Children and blobs are all in place: storing under the tag is the last step.
                dst.put_manifest(written, tag)
            results.append(
                CopyResult(
                    request.source,
                    request.destination,
                    source.top.digest,
                    written.digest,
                    written.media_type,
                    done.stats or TransferStats(),
                    time.monotonic() - started,
                    _platforms(written),
                    done.referrers,
                )
            )
        return tuple(results)


@dataclass(frozen=True, slots=True)
class _Placed:
    """What one destination repository received: the manifest to tag, counts, referrers."""

    written: Manifest
    stats: TransferStats | None = None
    referrers: tuple[CarriedReferrer, ...] = ()


@dataclass(slots=True)
class _Source:
    """The source, read once for every destination: what is written and every manifest."""

    top: Manifest
    written: Manifest
    #: Every distinct manifest to place, children before the index naming them.
    manifests: tuple[Manifest, ...]
    _referrers: dict[Digest, tuple[Referrer, ...]] | None = None

    def referrers(self, src: Repository) -> dict[Digest, tuple[Referrer, ...]]:
        """The referrer trees of what is written (content/referrers.py), listed once."""
        if self._referrers is None:
            written = self.written
            # A sub-index is new: nothing refers to it yet.
            subjects = [written.digest] if written.digest == self.top.digest else []
            if isinstance(written, Index):
                subjects += [d.digest for d in written.manifests]
            self._referrers = discover_referrers(src, subjects)
        return self._referrers


def _read_source(src: Repository, request: CopyRequest) -> _Source:
    """Read ``request.source``: the index (or sub-index) to write and all its manifests."""
    top = src.get_manifest(request.source.identifier)
    if not isinstance(top, Index):
        if request.platforms or request.attestations != "keep":
            raise InvalidInput(
                f"{request.source} is a single image: choosing platforms or moving "
                "attestations applies to indexes",
                parameter="platforms" if request.platforms else "attestations",
            )
        return _Source(top, top, (top,))
    written = _select(src, top, request)
    # Every distinct child once, nested indexes after their own children.
    tree = manifest_tree(src, top, written.manifests)
    if request.platforms:  # a sub-index must not carry another image's attestation
        for d, child in tree:
            subject = d.attestation_subject
            if subject is not None and isinstance(child, ImageManifest):
                require_link(src, d, subject, str(request.source), child)
    return _Source(top, written, tuple(child for _, child in tree))


def _place(
    request: CopyRequest,
    ctx: Context,
    src: Repository,
    dst: Repository,
    source: _Source,
    progress: ProgressCallback | None,
) -> _Placed:
    """Everything ``source.written`` needs in ``dst``, in the spec's order; no tag moved."""
    transfer = Transfer(
        jobs=request.jobs,
        progress=progress,
        retry=ctx.settings.retry,
        blob_cache=ctx.blob_cache,
    )
    top, written = source.top, source.written
    transfer.manifests(dst, [(src, m) for m in source.manifests])
    moved: tuple[CarriedReferrer, ...] = ()
    if request.attestations == "referrers" and isinstance(top, Index):
        assert isinstance(written, Index)  # a sub-index of an index
        # After the images, before the tag.
        moved = move_attestations(transfer, dst, _moves(src, top, written, request))
    carried = _referrers(transfer, src, dst, source) if request.referrers else ()
    return _Placed(written, transfer.stats, moved + carried)


def _check_digest(request: CopyRequest, written: Manifest) -> None:
    """A destination naming a digest must name the content's (no tag moved otherwise)."""
    wanted = request.destination.digest
    if wanted is not None and wanted != written.digest:
        raise InvalidInput(
            f"destination {request.destination} names {wanted}, but the content is {written.digest}"
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
    transfer: Transfer, src: Repository, dst: Repository, source: _Source
) -> tuple[CarriedReferrer, ...]:
    """Referrers of what was written (content/referrers.py), after it, before the tag."""
    if dst.same_as(src):
        return ()
    trees = source.referrers(src)
    if not any(trees.values()):
        return ()
    if trees.get(source.written.digest):
        dst.put_manifest(source.written)  # by digest: the index is content its referrers follow
    return carry_referrers(transfer, src, dst, trees)


def _platforms(manifest: Manifest) -> tuple[str, ...]:
    if isinstance(manifest, ImageManifest):
        return ()
    return tuple(str(d.platform) for d in manifest.images if d.platform is not None)
