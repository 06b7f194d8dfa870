"""Publishing in order: content (blobs, child manifests) in every target, the index, the tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from polyarch.content.attestations.referrers import move_attestations
from polyarch.content.blobinfo import BlobInfoCache
from polyarch.content.referrers.carry import CarriedReferrer, carry_image_referrers
from polyarch.content.selection import EntryPlatforms
from polyarch.content.transfer import Transfer
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location
from polyarch.domain.manifest import Index, Manifest
from polyarch.errors import ManifestUnknown, NameUnknown
from polyarch.operations.create.result import TargetResult, plan_changes
from polyarch.operations.create.sources import Entry
from polyarch.storage.repository import CheckedStore, Repository
from polyarch.transport.retry import RetryPolicy

__all__ = ["digest_of", "ensure_content", "move_to_referrers", "publish", "read_tag"]


def read_tag(repo: Repository, tag: str) -> Manifest | None:
    """The manifest at ``tag``, or None when the tag (or the repository) does not exist."""
    try:
        return repo.get_manifest(tag)
    except (ManifestUnknown, NameUnknown):
        return None


def digest_of(manifest: Manifest | None) -> Digest | None:
    """The manifest's digest, None for None."""
    return manifest.digest if manifest is not None else None


def ensure_content(
    transfer: Transfer, dest: Repository, entries: Sequence[Entry], *, attestations: bool = True
) -> None:
    """Make every child manifest (images and, unless ``attestations`` is False, their
    attestations) and its blobs present in ``dest``."""
    items: list[tuple[Repository, Manifest]] = []
    for entry in entries:
        pairs: list[tuple[Repository, Descriptor, Manifest | None]] = [
            (entry.repository, entry.descriptor, entry.manifest)
        ]
        if attestations:
            pairs += [(a.repository, a.descriptor, None) for a in entry.attestations]
        for source, descriptor, manifest in pairs:
            if dest.same_as(source) and isinstance(dest, CheckedStore):
                continue  # a registry's own content: its blobs are there (a layout's are checked)
            items.append((source, manifest or source.get_manifest(descriptor.digest)))
    transfer.manifests(dest, items)


def move_to_referrers(
    transfer: Transfer, dest: Repository, entries: Sequence[Entry]
) -> tuple[CarriedReferrer, ...]:
    """Write each entry's attestations as referrers of its image in ``dest`` (whose images
    are there already): :func:`~polyarch.content.attestations.referrers.move_attestations`."""
    moves = [(a.repository, a.descriptor, e.descriptor) for e in entries for a in e.attestations]
    return move_attestations(transfer, dest, moves)


def publish(
    index: Index,
    entries: Sequence[Entry],
    repos: Mapping[Location, Repository],
    previous: Mapping[Location, Manifest | None],
    *,
    dry_run: bool,
    move_tags: bool = True,
    retry: RetryPolicy | None = None,
    referrers: bool = True,
    blob_cache: BlobInfoCache | None = None,
    attestations_as_referrers: bool = False,
) -> tuple[TargetResult, ...]:
    """Content first (every target), then the index by digest, then the tags.

    ``previous`` is what each target tag held before; a target already at ``index`` is
    left alone. ``move_tags=False`` stops before the tags (the caller moves them).
    ``retry`` paces the restarts of a blob whose move failed for a transient reason.
    ``referrers`` carries the source images' referrers after their content, before tags.
    ``blob_cache`` lets a blob be mounted from where it was seen before (content/blobinfo.py).
    ``attestations_as_referrers`` writes the entries' attestations as OCI 1.1 referrers of
    their images (after the images, before the tags; :func:`move_to_referrers`) instead of
    as children of the index. Returns one :class:`TargetResult` per target, in ``repos``
    order.
    """
    transfers: dict[str, Transfer] = {}
    carried: dict[str, tuple[CarriedReferrer, ...]] = {}
    needs_tag: list[Location] = []
    for target, repo in repos.items():
        if digest_of(previous[target]) == index.digest:
            transfers.setdefault(repo.name, Transfer(dry_run=True))
            continue
        needs_tag.append(target)
        if repo.name not in transfers:
            transfer = Transfer(dry_run=dry_run, retry=retry, blob_cache=blob_cache)
            transfers[repo.name] = transfer
            ensure_content(transfer, repo, entries, attestations=not attestations_as_referrers)
            moved = move_to_referrers(transfer, repo, entries) if attestations_as_referrers else ()
            if referrers:  # after the images they refer to, before any tag
                moved += carry_image_referrers(transfer, repo, [e.image for e in entries])
            carried[repo.name] = moved
    if not dry_run and needs_tag:
        tagged_repos = {repos[t].name: repos[t] for t in needs_tag}
        if len(repos) > 1:
            for repo in tagged_repos.values():
                repo.put_manifest(index)
        if move_tags:
            for target in needs_tag:
                repos[target].put_manifest(index, target.tag)
    return tuple(
        TargetResult(
            target,
            digest_of(previous[target]),
            index.digest,
            transfers[repos[target].name].stats,
            plan_changes(previous[target], index, EntryPlatforms(repos[target]).platform_of),
            carried.get(repos[target].name, ()),
        )
        for target in repos
    )
