"""``create``: assemble a multi-platform index from separately built variants and publish it.

Publishing is ordered so that no tag ever points at something incomplete: every blob
and child manifest is made present in every target repository first (HEAD, mount
within a registry, or stream across registries), then the index by digest, then the
tags. The same set of entries always gives the same bytes and digest. ``--append``
keeps what it does not change (:mod:`.plan`) and survives parallel writers
(:mod:`.parts`).

>>> from polyarch import Context, CreateRequest, create_index
>>> request = CreateRequest.build(                            # doctest: +SKIP
...     targets=["127.0.0.1:5000/metrics-api:v2.0.0"],
...     sources=["127.0.0.1:5000/metrics-api:v2.0.0-amd64",
...              "127.0.0.1:5000/metrics-api:v2.0.0-arm64"])
>>> with Context() as ctx:                                    # doctest: +SKIP
...     result = create_index(request, ctx)
>>> result.digest, [str(e.platform) for e in result.entries]  # doctest: +SKIP
('sha256:…', ['linux/amd64', 'linux/arm64'])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from functools import partial

from polyarch.content.attestations.links import require_link
from polyarch.content.attestations.referrers import move_attestations
from polyarch.content.context import Context, borrowed
from polyarch.content.pool import READS_IN_FLIGHT, WorkerPool
from polyarch.content.referrers.carry import carry_image_referrers
from polyarch.content.selection import EntryPlatforms, platform_key
from polyarch.content.transfer import Transfer
from polyarch.domain.location import Location
from polyarch.domain.manifest import Index, Manifest
from polyarch.errors import ImmutableTag, InvalidInput, PolyarchError
from polyarch.operations.create.guard import check_targets
from polyarch.operations.create.parts import AppendParts, Part
from polyarch.operations.create.plan import (
    Contribution,
    Conversion,
    Item,
    annotate,
    assemble,
    attestation_descriptor,
    check_new_duplicates,
    conversion,
    entries_of,
    existing_items,
)
from polyarch.operations.create.publish import (
    digest_of,
    ensure_content,
    move_to_referrers,
    publish,
    read_tag,
)
from polyarch.operations.create.request import TUNABLES, CreateRequest
from polyarch.operations.create.result import (
    CreateResult,
    LostUpdate,
    PlatformChange,
    TargetResult,
    plan_changes,
)
from polyarch.operations.create.sources import Entry, collect_entries
from polyarch.storage.repository import Repository

__all__ = [
    "TUNABLES",
    "CreateRequest",
    "CreateResult",
    "LostUpdate",
    "PlatformChange",
    "TargetResult",
    "create_index",
]

#: Sources read at once by ``create`` (manifest and config of each, concurrently).
SOURCE_READERS = READS_IN_FLIGHT

log = logging.getLogger("polyarch.create")


def create_index(request: CreateRequest, context: Context | None = None) -> CreateResult:
    """Assemble the index from ``request.sources`` and publish it to every target.

    Parameters: ``request`` (built with :meth:`CreateRequest.build`), ``context`` (a
    :class:`polyarch.Context`; a default one is opened and closed when None).

    Returns a :class:`CreateResult`: ``index`` (the parsed index, its exact bytes in
    ``index.raw``), ``digest``, ``entries`` (images in index order with their
    attestations), ``targets`` (per tag: ``previous`` digest, ``status``
    created/updated/unchanged, blob ``transfer`` counts, per-platform ``changes``),
    ``dry_run`` and ``rounds``; ``to_json()`` gives the documented ``polyarch.create/v1``
    object (docs/json.md).

    Raises :class:`polyarch.InvalidInput` for bad input or an index it cannot append to
    without changing what a host pulls (nothing is published);
    :class:`~polyarch.operations.create.guard.PlatformDropRefused` when a target tag
    would no longer serve a platform it serves now (nothing is published; a dry run
    raises it too; ``allow_platform_drop`` accepts it, ``append`` never drops one); a
    :class:`polyarch.PolyarchError` when an operation fails (no tag moved before all
    content was in place); :class:`LostUpdate` when ``--append`` found no stable index
    within ``request.guard_attempts`` rounds. Semantics: docs/create.md (the index
    format is the OCI image-spec's image index or Docker's manifest list; attestations
    are BuildKit's).

    >>> from polyarch import Context, CreateRequest, create_index
    >>> request = CreateRequest.build("127.0.0.1:5000/api:v1",         # doctest: +SKIP
    ...     ["127.0.0.1:5000/api:v1-amd64", "127.0.0.1:5000/api:v1-arm64"])
    >>> with Context() as ctx:                                          # doctest: +SKIP
    ...     result = create_index(request, ctx)
    >>> result.targets[0].status, len(result.entries)                   # doctest: +SKIP
    ('created', 2)
    """
    with borrowed(context) as ctx:
        return _create(request, ctx)


def _new_entries(request: CreateRequest, ctx: Context) -> tuple[Entry, ...]:
    # Sources are read concurrently (a bounded pool, results in argument order): each costs
    # a manifest and a config round trip, and 32 variants read one after the other wait for
    # 64 of them in a row. The client's connection pool and token cache are thread-safe.
    # An interrupt does not wait for a stalled read: the client sends nothing more.
    pool = WorkerPool(SOURCE_READERS, on_interrupt=lambda _: ctx.client.cancel())
    found = pool.run(
        [partial(collect_entries, ctx, source, request.platforms) for source in request.sources]
    )
    new: list[Entry] = [entry for entries in found for entry in entries]
    for wanted in request.platforms:
        if not any(platform_key(wanted)[:3] == e.key[:3] for e in new):
            raise InvalidInput(
                f"platform {wanted} matched no image of the sources", parameter="platforms"
            )
    checked = check_new_duplicates(new)
    if request.attestations != "drop":  # never spread an attestation filed under another image
        for entry in checked:
            for att in entry.attestations:
                require_link(att.repository, att.descriptor, entry.descriptor.digest, entry.source)
    entries = annotate(checked, request.annotations)
    if request.attestations == "drop":
        entries = tuple(Entry(e.descriptor, e.repository, e.source, e.manifest) for e in entries)
    return entries


def _create(request: CreateRequest, ctx: Context) -> CreateResult:
    own = Contribution(_new_entries(request, ctx), dict(request.annotations.index))
    base = request.targets[0]
    assert base.tag is not None
    repos = {t: ctx.repository(t) for t in request.targets}
    base_repo = repos[base]
    previous: dict[Location, Manifest | None] = {
        t: read_tag(repos[t], t.tag or "latest") for t in request.targets
    }
    index, items = _assemble(request, base_repo, base, previous[base], [own])
    if not items:
        raise InvalidInput(f"nothing to publish: no source and no index at {base}")
    entries = entries_of(items)
    changed = conversion(previous[base], index, items, request.format) if request.append else None
    if not request.append:
        # Before anything is written anywhere: no tag silently loses a platform.
        check_targets(
            index,
            previous,
            {t: EntryPlatforms(r).platform_of for t, r in repos.items()},
            allow=request.allow_platform_drop,
        )
    if not request.append or request.dry_run or index.digest == digest_of(previous[base]):
        results = publish(
            index,
            entries,
            repos,
            previous,
            dry_run=request.dry_run,
            retry=ctx.settings.retry,
            referrers=request.referrers,
            blob_cache=ctx.blob_cache,
            attestations_as_referrers=request.attestations == "referrers",
        )
        if not request.append and not request.dry_run:
            for target in request.targets:
                _reset_parts(repos[target], target.tag or "latest", request.part_horizon)
        return CreateResult(index, entries, results, request.dry_run, conversion=changed)
    return _append(request, ctx, own, repos, previous, changed)


def _reset_parts(repo: Repository, tag: str, horizon: float) -> None:
    """A plain create replaced the tag: parts of earlier appends to it no longer apply."""
    try:
        AppendParts(repo, tag, horizon=horizon).reset()
    except PolyarchError as exc:  # housekeeping: the index is published already
        log.info("could not check %s for append parts: %s", repo.name, exc.one_line())


def _assemble(
    request: CreateRequest,
    repo: Repository,
    base: Location,
    current: Manifest | None,
    contributions: Sequence[Contribution],
) -> tuple[Index, list[Item]]:
    start = existing_items(repo, base, current) if request.append else (None, [])
    return assemble(
        start,
        contributions,
        attestations=request.attestations,
        index_format=request.format,
        existing=current if isinstance(current, Index) else None,
    )


def _append(
    request: CreateRequest,
    ctx: Context,
    own: Contribution,
    repos: dict[Location, Repository],
    previous: dict[Location, Manifest | None],
    planned: Conversion | None,
) -> CreateResult:
    """Publish a part, assemble the tag from it and every other part until stable.

    ``planned`` is the conversion the first assembly made (it names the source that did
    not fit: once written, that source is part of the index at the tag).
    """
    base = request.targets[0]
    tag = base.tag or "latest"
    repo = repos[base]
    transfer = Transfer(retry=ctx.settings.retry, blob_cache=ctx.blob_cache)
    as_referrers = request.attestations == "referrers"
    # A part's children (and their referrers) must be there first.
    ensure_content(transfer, repo, own.entries, attestations=not as_referrers)
    carried = move_to_referrers(transfer, repo, own.entries) if as_referrers else ()
    current = previous[base]
    if as_referrers and isinstance(current, Index):  # those in the index leave it too
        images = {d.digest: d for d in current.images}
        moves = [
            (repo, a, images[a.attestation_subject])
            for a in current.attestations
            if a.attestation_subject in images
        ]
        carried += move_attestations(transfer, repo, moves)
    if request.referrers:
        carried += carry_image_referrers(transfer, repo, [e.image for e in own.entries])
    parts = AppendParts(repo, tag, horizon=request.part_horizon)
    attestations = [
        attestation_descriptor(a.descriptor, e.descriptor)
        for e in own.entries
        for a in e.attestations
        if not as_referrers
    ]
    parts.publish(own, attestations)

    def stable(live: Sequence[Part]) -> bool:
        return _stable(request, repo, base, live)

    try:
        index, items, writes, final = _converge(request, repo, base, parts, previous[base])
        if final:
            parts.abandon(stable)  # the tag takes no more parts: ours need no "done" state
        else:
            parts.finish(stable)
    except ImmutableTag:
        # The tag was written once, by another writer, without our entries: it takes no
        # more, so the other writers' done parts can go too once it holds them.
        parts.abandon(stable)
        raise
    except BaseException:
        parts.abandon()
        raise
    # The tag now holds our entries: name them by their SOURCE, not as "existing".
    ours = {e.descriptor.digest: e.source for e in own.entries}
    entries = tuple(
        replace(e, source=ours.get(e.descriptor.digest, e.source)) for e in entries_of(items)
    )
    results = [
        TargetResult(
            base,
            digest_of(previous[base]),
            index.digest,
            transfer.stats,
            plan_changes(previous[base], index, EntryPlatforms(repo).platform_of),
            carried,
        )
    ]
    others = {t: r for t, r in repos.items() if t != base}
    if others:
        results += publish(
            index,
            entries,
            others,
            {t: previous[t] for t in others},
            dry_run=False,
            retry=ctx.settings.retry,
            referrers=request.referrers,
            blob_cache=ctx.blob_cache,
            attestations_as_referrers=as_referrers,
        )
    changed = conversion(previous[base], index, items, request.format)
    if changed is not None and planned is not None and planned.to_type == changed.to_type:
        changed = planned
    return CreateResult(index, entries, tuple(results), False, max(writes, 1), changed)


def _converge(
    request: CreateRequest,
    repo: Repository,
    base: Location,
    parts: AppendParts,
    first: Manifest | None,
) -> tuple[Index, list[Item], int, bool]:
    """Write the tag until it is what the index there plus every part assembles to.

    Returns the index, its items, the writes made and whether the tag turned out
    immutable (written once, by this writer or another, holding this writer's entries).
    Raises :class:`~polyarch.errors.ImmutableTag` when it is immutable and lacks them.
    """
    tag = base.tag or "latest"
    # Every write is followed by a check, the last one included.
    for writes in range(request.guard_attempts + 1):
        current = read_tag(repo, tag)
        live = parts.parts()
        index, items = _assemble(request, repo, base, current, [p.contribution(repo) for p in live])
        if index.digest == digest_of(current):
            return index, items, writes, False
        if writes == request.guard_attempts:
            break
        if writes:
            log.info("%s lacks another writer's part; assembling again", base)
        try:
            repo.put_manifest(index, tag)
        except ImmutableTag as refused:
            held = _held(request, repo, base, parts, first, refused)
            return held[0], held[1], writes, True
    raise LostUpdate(
        f"gave up after {request.guard_attempts} writes: concurrent writers kept rewriting "
        f"{base} (our platforms: {', '.join(str(e.platform) for e in _own_entries(parts))})",
        hint="run the command again, or serialize the jobs that append to this tag",
    )


def _held(
    request: CreateRequest,
    repo: Repository,
    base: Location,
    parts: AppendParts,
    first: Manifest | None,
    refused: ImmutableTag,
) -> tuple[Index, list[Item]]:
    """The immutable tag as it is, when it holds this writer's entries; else the refusal.

    Parallel ``--append`` to an immutable tag (docs/create.md): the first write of the
    tag is final, so a writer whose entries it holds has succeeded (another writer may
    have written them), and one whose entries it lacks fails, saying so.
    """
    current = read_tag(repo, base.tag or "latest")
    own = _own_entries(parts)
    if isinstance(current, Index):
        present = {d.digest for d in current.manifests}
        if all(e.descriptor.digest in present for e in own):
            return current, existing_items(repo, base, current)[1]
    if digest_of(current) == digest_of(first):
        raise refused  # nobody else wrote it: the tag existed and is immutable
    platforms = ", ".join(str(e.platform) for e in own)
    raise ImmutableTag(
        f"{base} is an immutable tag and another writer wrote it first, without the entries "
        f"of this one ({platforms}); nothing of this writer was added",
        code=refused.code,
        status=refused.status,
        hint="publish under a new tag, or let one job create the tag from every variant",
    ) from None


def _own_entries(parts: AppendParts) -> tuple[Entry, ...]:
    """The entries of this writer's part (for messages)."""
    own = parts.own
    return own.contribution(parts.repo).entries if own is not None else ()


def _stable(request: CreateRequest, repo: Repository, base: Location, live: Sequence[Part]) -> bool:
    current = read_tag(repo, base.tag or "latest")
    index, _ = _assemble(request, repo, base, current, [p.contribution(repo) for p in live])
    return index.digest == digest_of(current)
