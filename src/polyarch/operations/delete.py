"""``delete``: remove a tag, or a manifest by digest, and nothing the user did not name.

Two requests, as crane delete and regctl tag/manifest delete have them:

* **a tag** (``REPO:TAG``): the tag alone goes, the manifest stays. The OCI
  distribution spec (1.1, "Deleting tags") allows ``DELETE /v2/NAME/manifests/TAG``;
  CNCF distribution 2.8 refuses it (it deletes by digest only). Then nothing is
  changed: :class:`TagDeleteUnsupported` says so and names what deleting the manifest
  by digest would remove (the manifest and every tag pointing at it), for the user to
  decide. An OCI layout always deletes a tag alone.
* **a digest** (``REPO@DIGEST``): the manifest goes, and with it every tag pointing at
  it (the registry removes them; a layout drops their ``index.json`` entries). The
  children of an index, its blobs and other manifests are never deleted: no cascade.

A manifest without a tag of its own is rarely garbage: it is the platform image of a
release (children are pushed by digest only), a member of a nested index, or a
signature or SBOM of a released image. Deleting it breaks every pull of that release
(snok/container-retention-policy#97, vlaurin/action-ghcr-prune#76). So the plan walks
what the repository's tags reach (:func:`polyarch.content.reach.walk`: indexes, nested
indexes, referrers) and names every other tag that reaches the manifest
(:attr:`DeletePlan.reached_by`); :func:`delete` then refuses (:class:`ReachedManifest`)
unless forced, and refuses too when the walk could not see everything
(:class:`~polyarch.content.reach.ReachUnknown`: a refused tag list).

:func:`plan_delete` says what would happen (for confirmations and ``--dry-run``);
:func:`delete` does it.

>>> from polyarch import Context
>>> from polyarch.operations.delete import delete, plan_delete
>>> with Context() as ctx:                                    # doctest: +SKIP
...     plan = plan_delete("127.0.0.1:5000/app@sha256:9f86...", ctx)
...     print(plan.tags, [r.tag for r in plan.reached_by])
...     delete(plan, ctx)
('v1', 'latest') []
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from polyarch.content.context import Context, borrowed
from polyarch.content.graph import ManifestKind, manifest_kind
from polyarch.content.reach import Reach, ReachUnknown, Route, is_referrer_tag, walk
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location, parse_location
from polyarch.domain.manifest import Index
from polyarch.errors import InvalidInput, PolyarchError, Unsupported
from polyarch.storage.repository import ManifestListing, Repository

__all__ = [
    "DELETE_SCHEMA",
    "DeletePlan",
    "ReachedManifest",
    "TagDeleteUnsupported",
    "delete",
    "plan_delete",
]

#: Version tag of the ``--json`` schema.
DELETE_SCHEMA = "polyarch.delete/v1"
#: Routes a refusal names before it says "and N more".
_ROUTES_SHOWN = 5


class TagDeleteUnsupported(Unsupported):
    """The registry cannot delete a tag alone (CNCF distribution 2.8: only by digest).

    Nothing was changed. Deleting the manifest by digest removes it and every tag
    pointing at it; the message names them. Or push something else to the tag.
    """


class ReachedManifest(InvalidInput):
    """Another tag reaches the manifest to delete (through an index, a nested index or as
    a referrer of what it reaches): deleting it would break that tag. Nothing was
    deleted; delete or move that tag first, or force the deletion.
    """


@dataclass(frozen=True, slots=True)
class DeletePlan:
    """What deleting ``reference`` removes, and what it would break."""

    reference: Location
    #: ``"tag"``: the tag alone; ``"manifest"``: the manifest by digest, with its tags.
    target: Literal["tag", "manifest"]
    #: The manifest the reference points at.
    digest: Digest
    kind: ManifestKind
    #: Tags pointing at ``digest`` (all that are removed with a manifest delete).
    tags: tuple[str, ...]
    #: False when the walk could not see everything (:attr:`problems` says why).
    tags_complete: bool = True
    #: Manifests an index names: never deleted, listed so the user knows they stay.
    children: tuple[Digest, ...] = ()
    #: For a manifest: the shortest route from every *other* tag that reaches it.
    reached_by: tuple[Route, ...] = ()
    #: Manifests no tag reaches any more once this delete is done (children, members of
    #: nested indexes, referrers): they stay, and ``prune`` may remove them later.
    children_unreached: tuple[Digest, ...] = ()
    #: Why the walk is incomplete, one line each.
    problems: tuple[str, ...] = ()
    #: Set by :func:`delete`.
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        return {
            "schema": DELETE_SCHEMA,
            "reference": str(self.reference),
            "target": self.target,
            "digest": str(self.digest),
            "kind": self.kind,
            "tags": list(self.tags),
            "tagsComplete": self.tags_complete,
            "childrenKept": [str(c) for c in self.children],
            "reachedBy": [r.to_json() for r in self.reached_by],
            "childrenUnreached": [str(d) for d in self.children_unreached],
            "problems": list(self.problems),
            "deleted": self.done,
        }


def _walk(repo: Repository, target: Literal["tag", "manifest"]) -> Reach:
    # A layout holds unnamed entries as much as tags (crane, buildx): they reach too.
    entries = repo.untagged_entries() if isinstance(repo, ManifestListing) else ()
    # Only a manifest delete can break what referrers hang on.
    return walk(repo, referrers=target == "manifest", entries=entries)


def _tags_of(repo: Repository, reach: Reach, digest: Digest) -> tuple[str, ...]:
    """Every tag pointing at ``digest``: release tags from the walk, then referrer tags."""
    tags = [t for t, d in reach.roots.items() if d == digest]
    for tag in sorted(t for t in reach.tags or () if is_referrer_tag(t)):
        try:
            head = repo.head_manifest(tag)
        except PolyarchError:
            continue
        if head is not None and head.digest == digest:
            tags.append(tag)
    return tuple(sorted(tags))


def plan_delete(ref: Location | str, context: Context | None = None) -> DeletePlan:
    """Say what deleting ``ref`` (``REPO:TAG`` or ``REPO@DIGEST``) would remove.

    Reads only: the manifest, then everything the repository's tags reach (one read
    of each tag and of each manifest they reach; see :mod:`polyarch.content.reach`).
    Returns a :class:`DeletePlan`. Raises :class:`InvalidInput` for a reference with
    neither tag nor digest (nothing implicit is deleted),
    :class:`~polyarch.errors.ManifestUnknown` when there is nothing there. A walk that
    cannot see everything does not raise: the plan says so (``tags_complete``,
    ``problems``) and :func:`delete` refuses it unless forced.
    """
    if isinstance(ref, str):
        ref = parse_location(ref)
    if ref.tag is None and ref.digest is None:
        raise InvalidInput(
            f"{ref}: name a tag or a digest to delete",
            hint="write REPO:TAG or REPO@sha256:...",
        )
    target: Literal["tag", "manifest"] = "manifest" if ref.digest is not None else "tag"
    with borrowed(context) as ctx:
        repo = ctx.repository(ref)
        manifest = repo.get_manifest(ref.identifier)
        reach = _walk(repo, target)
        tags = _tags_of(repo, reach, manifest.digest)
    digest = manifest.digest
    children = tuple(d.digest for d in manifest.manifests) if isinstance(manifest, Index) else ()
    reached_by: tuple[Route, ...] = ()
    unreached: tuple[Digest, ...] = ()
    if target == "manifest":
        reached_by = reach.routes_to(digest, excluding=[digest])
        left = reach.reached_without([digest])
        unreached = tuple(
            sorted((d for d in reach.reached if d not in left and d != digest), key=str)
        )
    return DeletePlan(
        reference=ref,
        target=target,
        digest=digest,
        kind=manifest_kind(manifest),
        tags=tags,
        tags_complete=reach.complete,
        children=children,
        reached_by=reached_by,
        children_unreached=unreached,
        problems=reach.problems,
    )


def delete(plan: DeletePlan, context: Context | None = None, *, force: bool = False) -> DeletePlan:
    """Carry out ``plan`` (from :func:`plan_delete`); return it with ``done`` set.

    ``force``: delete a manifest even when another tag reaches it, or when the walk
    could not tell (a refused tag list).

    Raises, with nothing deleted: :class:`ReachedManifest` (exit 2) when another tag
    reaches the manifest, :class:`~polyarch.content.reach.ReachUnknown` when the walk
    was incomplete, :class:`TagDeleteUnsupported` when the registry cannot delete a tag
    alone; and what the registry answers otherwise
    (:class:`~polyarch.errors.Unsupported` when deletes are disabled,
    :class:`~polyarch.errors.Denied` without the delete right).
    """
    ref = plan.reference
    if plan.target == "manifest" and not force:
        _check_safe(plan)
    with borrowed(context) as ctx:
        repo = ctx.repository(ref)
        if plan.target == "manifest":
            repo.delete_manifest(plan.digest)
        else:
            assert ref.tag is not None
            if not repo.delete_tag(ref.tag):
                raise _tag_unsupported(plan)
    return replace(plan, done=True)


def _check_safe(plan: DeletePlan) -> None:
    where = f"{plan.reference.name}@{plan.digest}"
    if plan.reached_by:
        routes = plan.reached_by
        shown = "; ".join(r.describe() for r in routes[:_ROUTES_SHOWN])
        if len(routes) > _ROUTES_SHOWN:
            shown += f"; and {len(routes) - _ROUTES_SHOWN} more"
        names = sorted({r.tag or "an index.json entry" for r in routes})
        raise ReachedManifest(
            f"{where} is reached by {', '.join(names)} ({shown}); deleting it would break "
            f"{'that tag' if len(names) == 1 else 'those tags'}, so nothing was deleted",
            hint="delete or move those tags first, or force the deletion",
            parameter="force",
        )
    if not plan.tags_complete:
        raise ReachUnknown(
            f"cannot tell whether a tag reaches {where} ({'; '.join(plan.problems)}); "
            "nothing was deleted",
            hint="give credentials that may list the tags, or force the deletion",
            parameter="force",
        )


def _tag_unsupported(plan: DeletePlan) -> TagDeleteUnsupported:
    ref = plan.reference
    shown = ", ".join(plan.tags) + ("" if plan.tags_complete else ", ...")
    return TagDeleteUnsupported(
        f"{ref.name} cannot delete the tag {ref.tag} alone (the registry deletes only by "
        f"digest); nothing was deleted. Deleting {ref.name}@{plan.digest} would remove that "
        f"{plan.kind} and every tag pointing at it: {shown}",
        hint=f"to remove them all, delete {ref.name}@{plan.digest}",
    )
