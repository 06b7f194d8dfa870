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

:func:`plan_delete` says what would happen (for confirmations and ``--dry-run``);
:func:`delete` does it.

>>> from polyarch import Context
>>> from polyarch.operations.delete import delete, plan_delete
>>> with Context() as ctx:                                    # doctest: +SKIP
...     plan = plan_delete("127.0.0.1:5000/app@sha256:9f86...", ctx)
...     print(plan.tags)
...     delete(plan, ctx)
('v1', 'latest')
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from polyarch.content.context import Context, borrowed
from polyarch.content.graph import ManifestKind, manifest_kind
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location, parse_location
from polyarch.domain.manifest import Index
from polyarch.errors import InvalidInput, ManifestUnknown, Unsupported
from polyarch.storage.repository import Repository, TagIndexing

__all__ = ["DELETE_SCHEMA", "DeletePlan", "TagDeleteUnsupported", "delete", "plan_delete"]

#: Version tag of the ``--json`` schema.
DELETE_SCHEMA = "polyarch.delete/v1"
#: Tags looked at to say which ones point at a digest (one HEAD each on a registry).
MAX_TAGS_CHECKED = 500


class TagDeleteUnsupported(Unsupported):
    """The registry cannot delete a tag alone (CNCF distribution 2.8: only by digest).

    Nothing was changed. Deleting the manifest by digest removes it and every tag
    pointing at it; the message names them. Or push something else to the tag.
    """


@dataclass(frozen=True, slots=True)
class DeletePlan:
    """What deleting ``reference`` removes."""

    reference: Location
    #: ``"tag"``: the tag alone; ``"manifest"``: the manifest by digest, with its tags.
    target: Literal["tag", "manifest"]
    #: The manifest the reference points at.
    digest: Digest
    kind: ManifestKind
    #: Tags pointing at ``digest`` (all that are removed with a manifest delete).
    tags: tuple[str, ...]
    #: False when the repository has more than :data:`MAX_TAGS_CHECKED` tags.
    tags_complete: bool = True
    #: Manifests an index names: never deleted, listed so the user knows they stay.
    children: tuple[Digest, ...] = ()
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
            "deleted": self.done,
        }


def _tags_of(repo: Repository, digest: Digest) -> tuple[tuple[str, ...], bool]:
    """The tags pointing at ``digest``: all of them where one read tells (a layout's
    index.json), else at most MAX_TAGS_CHECKED looked at (one HEAD each)."""
    if isinstance(repo, TagIndexing):
        return tuple(sorted(t for t, d in repo.tag_digests().items() if d == digest)), True
    try:
        tags = repo.list_tags()
    except ManifestUnknown:
        return (), True
    found = []
    for tag in sorted(tags)[:MAX_TAGS_CHECKED]:
        head = repo.head_manifest(tag)
        if head is not None and head.digest == digest:
            found.append(tag)
    return tuple(sorted(found)), len(tags) <= MAX_TAGS_CHECKED


def plan_delete(ref: Location | str, context: Context | None = None) -> DeletePlan:
    """Say what deleting ``ref`` (``REPO:TAG`` or ``REPO@DIGEST``) would remove.

    Reads only. Returns a :class:`DeletePlan`. Raises :class:`InvalidInput` for a
    reference with neither tag nor digest (nothing implicit is deleted),
    :class:`~polyarch.errors.ManifestUnknown` when there is nothing there.
    """
    if isinstance(ref, str):
        ref = parse_location(ref)
    if ref.tag is None and ref.digest is None:
        raise InvalidInput(
            f"{ref}: name a tag or a digest to delete",
            hint="write REPO:TAG or REPO@sha256:...",
        )
    with borrowed(context) as ctx:
        repo = ctx.repository(ref)
        manifest = repo.get_manifest(ref.identifier)
        tags, complete = _tags_of(repo, manifest.digest)
    children = tuple(d.digest for d in manifest.manifests) if isinstance(manifest, Index) else ()
    return DeletePlan(
        reference=ref,
        target="manifest" if ref.digest is not None else "tag",
        digest=manifest.digest,
        kind=manifest_kind(manifest),
        tags=tags,
        tags_complete=complete,
        children=children,
    )


def delete(plan: DeletePlan, context: Context | None = None) -> DeletePlan:
    """Carry out ``plan`` (from :func:`plan_delete`); return it with ``done`` set.

    Raises :class:`TagDeleteUnsupported` (nothing changed) when the registry cannot
    delete a tag alone, and what the registry answers otherwise
    (:class:`~polyarch.errors.Unsupported` when deletes are disabled,
    :class:`~polyarch.errors.Denied` without the delete right).
    """
    ref = plan.reference
    with borrowed(context) as ctx:
        repo = ctx.repository(ref)
        if plan.target == "manifest":
            repo.delete_manifest(plan.digest)
        else:
            assert ref.tag is not None
            if not repo.delete_tag(ref.tag):
                raise _tag_unsupported(plan)
    return replace(plan, done=True)


def _tag_unsupported(plan: DeletePlan) -> TagDeleteUnsupported:
    ref = plan.reference
    shown = ", ".join(plan.tags) + ("" if plan.tags_complete else ", ...")
    return TagDeleteUnsupported(
        f"{ref.name} cannot delete the tag {ref.tag} alone (the registry deletes only by "
        f"digest); nothing was deleted. Deleting {ref.name}@{plan.digest} would remove that "
        f"{plan.kind} and every tag pointing at it: {shown}",
        hint=f"to remove them all, delete {ref.name}@{plan.digest}",
    )
