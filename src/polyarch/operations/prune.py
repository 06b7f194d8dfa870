"""``prune``: delete the untagged manifests that no tag reaches, and nothing else.

Generic clean-ups delete every untagged manifest, and with it the platform images of
every release (each pushed by digest only), the members of nested indexes, signatures
and SBOMs (snok/container-retention-policy#97, vlaurin/action-ghcr-prune#76,
distribution/distribution#3178). ``prune`` walks what the tags reach first
(:mod:`polyarch.content.reach`: indexes, nested indexes, their children, referrers) and
deletes only candidates outside it, parents before children, so that no index is ever
left naming a deleted manifest even for a moment. Referrer tags (the referrers tag
schema, cosign's ``.sig``/``.att``/``.sbom``) are no roots: a signature whose subject no
tag reaches is pruned, one whose subject is reached is kept.

**Candidates** (what may be deleted) depend on what the backend can list:

* an OCI layout (:class:`~polyarch.storage.repository.ManifestListing`): every manifest
  it holds (``index.json`` entries and manifest blobs). Its unnamed ``index.json``
  entries are roots like tags (``crane pull`` and ``buildx --output type=oci`` write
  images that way), except referrers;
* a registry: the distribution spec lists tags, never manifests, so polyarch finds only
  the manifests that hang off referrer tags (the tag schema indexes and cosign's tags,
  and what they list) whose subject no tag reaches. More are named by the caller
  (``candidates``): the untagged digests of the registry's own listing (ECR
  ``ListImages``, the GitHub packages API), an earlier ``inspect --json``, a record.

**Kept**: every candidate a tag reaches (with the route, for the plan), and with
``keep_newer_than`` every candidate created within that window (the manifest's
``org.opencontainers.image.created`` annotation, else its config's ``created``, else
for an index its newest child's); a candidate whose age cannot be told is kept then.
A candidate the repository does not hold is reported as absent.

The walk must be complete: when the tag list is refused or a tagged manifest cannot be
read, nothing is deleted (:class:`~polyarch.content.reach.ReachUnknown`) unless
``force``.

>>> from polyarch import Context
>>> from polyarch.operations.prune import plan_prune, prune
>>> with Context() as ctx:                                    # doctest: +SKIP
...     plan = plan_prune("oci:./out", ctx)
...     print(len(plan.delete), "to delete")
...     prune(plan, ctx)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from polyarch.content.context import Context, borrowed
from polyarch.content.graph import fetch_config
from polyarch.content.reach import Reach, ReachUnknown, Route, is_referrer_tag, walk
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location, parse_location
from polyarch.domain.manifest import ImageManifest, Index, Manifest
from polyarch.errors import (
    InvalidDigest,
    InvalidInput,
    ManifestUnknown,
    PolyarchError,
    Unsupported,
)
from polyarch.storage.repository import ManifestListing, Repository

__all__ = [
    "PRUNE_SCHEMA",
    "Kept",
    "PrunePlan",
    "parse_candidates",
    "parse_duration",
    "plan_prune",
    "prune",
]

#: Version tag of the ``--json`` schema.
PRUNE_SCHEMA = "polyarch.prune/v1"
_ANNOTATION_CREATED = "org.opencontainers.image.created"
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w`` as a :class:`datetime.timedelta`.

    Raises :class:`InvalidInput` for anything else.

    >>> parse_duration("7d").days, parse_duration("12h").seconds
    (7, 43200)
    """
    found = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise InvalidInput(
            f"invalid duration {text!r}",
            hint="write a number and a unit: 30m, 12h, 7d or 2w",
            parameter="keep_newer_than",
        )
    return dt.timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def parse_candidates(text: str, *, source: str = "candidates") -> list[Digest]:
    """The digests in ``text``: one per line or separated by blanks, ``#`` comments and
    blank lines skipped, each once (the first occurrence keeps its place).

    What vendors' listings print: ``aws ecr list-images --filter tagStatus=UNTAGGED
    --query 'imageIds[].imageDigest' --output text`` (tab-separated), ``gh api
    .../packages/container/NAME/versions --jq '.[] | select(.metadata.container.tags ==
    []) | .name'`` (one per line). ``source`` names the input in messages. Raises
    :class:`~polyarch.errors.InvalidInput` naming the line of a word that is not a digest.

    >>> parse_candidates("sha256:" + "a" * 64 + "\\t# untagged\\n")[0].short
    'sha256:aaaaaaaaaaaa'
    """
    found: dict[Digest, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for word in line.partition("#")[0].split():
            try:
                found[Digest(word)] = None
            except InvalidDigest as exc:
                raise InvalidInput(
                    f"{source}, line {number}: {exc.message}",
                    hint="give one digest (sha256:...) per line",
                    parameter="candidates",
                ) from None
    return list(found)


KeptReason = Literal["reached", "newer", "age unknown"]


@dataclass(frozen=True, slots=True)
class Kept:
    """A candidate ``prune`` keeps, and why."""

    digest: Digest
    reason: KeptReason
    #: For ``reached``: the shortest route from each tag that reaches it.
    routes: tuple[Route, ...] = ()
    created: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"digest", "reason", "reachedBy", "created"}``."""
        return {
            "digest": str(self.digest),
            "reason": self.reason,
            "reachedBy": [r.to_json() for r in self.routes],
            "created": self.created,
        }


@dataclass(frozen=True, slots=True)
class PrunePlan:
    """What pruning ``repository`` deletes and keeps (from :func:`plan_prune`)."""

    repository: str
    #: Every candidate looked at, in the order found.
    candidates: tuple[Digest, ...]
    #: What is deleted, parents before children.
    delete: tuple[Digest, ...]
    kept: tuple[Kept, ...]
    #: False when the walk could not see everything (then nothing is deleted unless forced).
    complete: bool = True
    problems: tuple[str, ...] = ()
    #: Candidates the repository does not hold (deleted already, or never there).
    absent: tuple[Digest, ...] = ()
    #: True when the backend listed every manifest it holds (a layout); False for a
    #: registry, where only referrer tags and the given candidates were looked at.
    listed: bool = False
    #: Set by :func:`prune`.
    deleted: tuple[Digest, ...] = ()
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (``polyarch.prune/v1``)."""
        return {
            "schema": PRUNE_SCHEMA,
            "repository": self.repository,
            "candidates": [str(d) for d in self.candidates],
            "delete": [str(d) for d in self.delete],
            "kept": [k.to_json() for k in self.kept],
            "absent": [str(d) for d in self.absent],
            "everyManifestListed": self.listed,
            "complete": self.complete,
            "problems": list(self.problems),
            "deleted": len(self.deleted),
            "dryRun": not self.done,
        }


def _repository_location(repository: Location | str) -> Location:
    ref = parse_location(repository) if isinstance(repository, str) else repository
    if ref.digest is not None or ref.tag is not None:
        raise InvalidInput(f"{ref}: name a repository, not an image", hint=f"prune {ref.name}")
    return ref


def _found_candidates(repo: Repository, reach: Reach) -> list[Digest]:
    """What the backend can enumerate: a layout everything, a registry its referrer tags."""
    if isinstance(repo, ManifestListing):
        return repo.list_manifests()
    found: list[Digest] = []
    for tag in sorted(reach.tags or ()):
        if not is_referrer_tag(tag):
            continue
        try:
            manifest = repo.get_manifest(tag)
        except ManifestUnknown:
            continue
        found.append(manifest.digest)
        if isinstance(manifest, Index):
            found += [d.digest for d in manifest.manifests]
    return found


def _created(repo: Repository, manifest: Manifest, depth: int = 0) -> str | None:
    """When ``manifest`` was made, as its annotation, its config or its children say."""
    stamp = manifest.annotations.get(_ANNOTATION_CREATED)
    if stamp:
        return stamp
    if isinstance(manifest, ImageManifest):
        try:
            return fetch_config(repo, manifest).created
        except PolyarchError:
            return None
    if depth >= 2:
        return None
    stamps = []
    for d in manifest.manifests:
        try:
            child = repo.get_manifest(str(d.digest))
        except PolyarchError:
            continue
        found = _created(repo, child, depth + 1)
        if found:
            stamps.append(found)
    return max(stamps, key=_parse_time, default=None)


def _parse_time(stamp: str) -> dt.datetime:
    text = stamp.strip().replace("Z", "+00:00")
    # RFC 3339 allows nanoseconds; datetime keeps microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _delete_order(repo: Repository, digests: Sequence[Digest]) -> tuple[Digest, ...]:
    """``digests`` with every manifest before those it names (children, subjects)."""
    wanted = set(digests)
    names: dict[Digest, list[Digest]] = {}
    for d in digests:
        try:
            manifest = repo.get_manifest(str(d))
        except PolyarchError:
            names[d] = []
            continue
        pointed = [e.digest for e in manifest.manifests] if isinstance(manifest, Index) else []
        if manifest.subject is not None:
            pointed.append(manifest.subject.digest)
        names[d] = [p for p in pointed if p in wanted]
    pointed_at: dict[Digest, int] = {d: 0 for d in digests}
    for d in digests:
        for p in names[d]:
            pointed_at[p] += 1
    # Kahn's algorithm: what nothing left points at goes first; ties keep the given order.
    order: list[Digest] = []
    ready = [d for d in digests if pointed_at[d] == 0]
    while ready:
        d = ready.pop(0)
        order.append(d)
        for p in names[d]:
            pointed_at[p] -= 1
            if pointed_at[p] == 0:
                ready.append(p)
    # Content addressing rules out cycles; anything left over goes last, as given.
    order += [d for d in digests if d not in order]
    return tuple(order)


def plan_prune(
    repository: Location | str,
    context: Context | None = None,
    *,
    candidates: Iterable[Digest | str] = (),
    keep_newer_than: dt.timedelta | None = None,
    now: dt.datetime | None = None,
    referrers: bool = True,
) -> PrunePlan:
    """Say what :func:`prune` would delete from ``repository`` (``host/name`` or ``oci:DIR``).

    Parameters: ``candidates`` (digests to consider, besides what the backend enumerates;
    see the module docstring), ``keep_newer_than`` (keep candidates created within it),
    ``now`` (the time that window ends; default: the current UTC time), ``referrers``
    (follow referrers when walking; default True).

    Reads only. Returns a :class:`PrunePlan`. Raises :class:`InvalidInput` for a reference
    naming an image, or a candidate that is not a digest.
    """
    ref = _repository_location(repository)
    wanted = [Digest(str(c)) for c in candidates]
    moment = now or dt.datetime.now(dt.UTC)
    with borrowed(context) as ctx:
        repo = ctx.repository(ref)
        listing = isinstance(repo, ManifestListing)
        entries = repo.untagged_entries() if isinstance(repo, ManifestListing) else ()
        reach = walk(repo, referrers=referrers, entries=entries)
        found = list(dict.fromkeys([*wanted, *_found_candidates(repo, reach)]))
        kept: list[Kept] = []
        doomed: list[Digest] = []
        absent: list[Digest] = []
        for digest in found:
            if reach.is_reached(digest):
                kept.append(Kept(digest, "reached", reach.routes_to(digest)))
                continue
            try:
                manifest = repo.get_manifest(str(digest))
            except ManifestUnknown:
                absent.append(digest)  # gone already, or never here: nothing to do
                continue
            if keep_newer_than is not None:
                stamp = _created(repo, manifest)
                if stamp is None:
                    kept.append(Kept(digest, "age unknown"))
                    continue
                try:
                    young = moment - _parse_time(stamp) < keep_newer_than
                except ValueError:
                    kept.append(Kept(digest, "age unknown", created=stamp))
                    continue
                if young:
                    kept.append(Kept(digest, "newer", created=stamp))
                    continue
            doomed.append(digest)
        order = _delete_order(repo, doomed)
    return PrunePlan(
        repository=ref.name,
        candidates=tuple(found),
        delete=order,
        kept=tuple(kept),
        complete=reach.complete,
        problems=reach.problems,
        absent=tuple(absent),
        listed=listing,
    )


def prune(
    plan: PrunePlan,
    context: Context | None = None,
    *,
    force: bool = False,
    progress: Callable[[Digest], None] | None = None,
) -> PrunePlan:
    """Delete what ``plan`` (from :func:`plan_prune`) says, parents first.

    ``force``: delete even when the plan's walk was incomplete. ``progress`` is called
    with each digest once it is deleted. Returns the plan with ``deleted`` and ``done``
    set. Raises :class:`~polyarch.content.reach.ReachUnknown` (nothing deleted) when the
    plan is incomplete and ``force`` is not set; :class:`~polyarch.errors.Unsupported`
    naming the registry when it does not allow deletes (``405 UNSUPPORTED``:
    distribution's ``storage.delete.enabled: false``), saying how many were deleted
    before; and what the backend raises otherwise.
    """
    if not plan.complete and not force:
        raise ReachUnknown(
            f"{plan.repository}: cannot tell what the tags reach ({'; '.join(plan.problems)}); "
            "nothing was deleted",
            hint="give credentials that may list the tags, or force the deletion",
            parameter="force",
        )
    deleted: list[Digest] = []
    with borrowed(context) as ctx:
        repo = ctx.repository(parse_location(plan.repository))
        for digest in plan.delete:
            try:
                repo.delete_manifest(digest)
            except ManifestUnknown:
                pass  # deleted meanwhile: what we wanted
            except Unsupported as exc:
                raise Unsupported(
                    f"{exc.message}; {len(deleted)} of {len(plan.delete)} deleted",
                    code=exc.code,
                    status=exc.status,
                    hint=exc.hint,
                ) from None
            deleted.append(digest)
            if progress is not None:
                progress(digest)
    return replace(plan, deleted=tuple(deleted), done=True)
