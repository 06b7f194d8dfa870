"""What the tags of a repository reach: indexes, nested indexes, their children, referrers.

A manifest without a tag is not garbage: it may be the child of a tagged index (every
platform image of a release is pushed by digest only), a member of a nested index
(CNAB / porter bundles), or a signature, SBOM or attestation attached to a released
image. Retention clean-ups that delete "untagged" manifests break releases exactly this
way (snok/container-retention-policy#97, vlaurin/action-ghcr-prune#76, and
distribution's own ``garbage-collect --delete-untagged``, distribution/distribution#3178).
``delete`` and ``prune`` ask this module first.

The walk, over the :class:`~polyarch.storage.repository.Repository` interface only:

* **roots** are the repository's tags, except the tags that exist to list referrers (the
  referrers tag schema ``<alg>-<encoded>`` of the OCI distribution spec 1.1, and cosign's
  ``<alg>-<encoded>.sig|.att|.sbom``): those keep their manifests only as long as the
  subject is reached, so a signature of a deleted image is not kept by its own tag. A
  backend may hold manifests without a tag too (an OCI layout's unnamed ``index.json``
  entries, as ``crane pull`` and ``buildx --output type=oci`` write them): the caller
  passes them as ``entries``, roots unless they are referrers (a ``subject``);
* **child** edges go from an index to every manifest it names, nested indexes included;
* **referrer** edges go from a manifest to the manifests whose ``subject`` it is (the
  referrers API, else the tag schema index) and to its cosign-tagged manifests, as
  :class:`~polyarch.content.referrers.discovery.ReferrerDiscovery` finds them, and to its tag
  schema index itself (deleting that index would hide the referrers it lists).

Every manifest is read once. A route to a manifest is a tag, then the digests from the
tag's manifest to it; :meth:`Reach.routes_to` gives the shortest route from each tag
that reaches a digest (a backwards search, so asking about one digest costs nothing
more than the walk). When the tag list is refused or a tagged manifest cannot be read,
the walk is incomplete (:attr:`Reach.complete`), and callers that delete must not trust
"unreached".
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from polyarch.content.pool import read_each
from polyarch.content.referrers.discovery import COSIGN_SUFFIXES, ReferrerDiscovery, cosign_tag
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index, Manifest
from polyarch.errors import ManifestUnknown, NameUnknown, PolyarchError
from polyarch.storage.referrers_tag import referrers_tag
from polyarch.storage.repository import ReferrersIndexing, Repository, TagIndexing

__all__ = [
    "Edge",
    "EdgeKind",
    "Reach",
    "ReachUnknown",
    "Route",
    "is_referrer_tag",
    "walk",
]

log = logging.getLogger("polyarch.reach")

#: How one manifest reaches another.
EdgeKind = Literal["child", "referrer"]

#: The referrers tag schema tag (distribution spec 1.1) and cosign's tags, for sha256 and
#: sha512 subjects. Such tags list referrers; they are not roots of their own.
_REFERRER_TAG = re.compile(r"^(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{64})(\.(sig|att|sbom))?$")


class ReachUnknown(PolyarchError):
    """What the tags reach could not be told (a refused tag list, a tagged manifest that
    cannot be read), so nothing was deleted: a manifest that looks unreached may be a
    child of a release. Fix what the message names, or force the deletion.
    """


def is_referrer_tag(tag: str) -> bool:
    """True for a tag that lists referrers (tag schema or cosign), not a release tag.

    >>> is_referrer_tag("sha256-" + "a" * 64), is_referrer_tag("sha256-" + "a" * 64 + ".sig")
    (True, True)
    >>> is_referrer_tag("v1.0"), is_referrer_tag("sha256-abc")
    (False, False)
    """
    return _REFERRER_TAG.match(tag) is not None


@dataclass(frozen=True, slots=True)
class Edge:
    """``target`` is reached from the manifest that holds this edge, as ``kind``."""

    target: Digest
    kind: EdgeKind


@dataclass(frozen=True, slots=True)
class Route:
    """How ``tag`` reaches ``path[-1]``: ``path`` runs from the tag's manifest to it.

    ``tag`` is None for a route from an unnamed entry of a layout's ``index.json``.
    """

    tag: str | None
    path: tuple[Digest, ...]
    #: The kind of each step (one fewer than ``path``).
    kinds: tuple[EdgeKind, ...] = ()

    @property
    def root(self) -> Digest:
        """The manifest the tag points at."""
        return self.path[0]

    def to_json(self) -> dict[str, Any]:
        """``{"tag", "digest" (the tag's manifest), "path"}``, as ``delete --json`` shows it."""
        return {"tag": self.tag, "digest": str(self.root), "path": [str(d) for d in self.path]}

    def describe(self) -> str:
        """One line: ``v1 -> sha256:ab12cd34ef56 -> referrer sha256:cd34ef56ab12``."""
        head = self.tag if self.tag is not None else "an index.json entry"
        steps = [self.path[0].short]
        steps += [
            f"referrer {d.short}" if kind == "referrer" else d.short
            for d, kind in zip(self.path[1:], self.kinds, strict=False)
        ]
        return " -> ".join([head, *steps])


@dataclass(frozen=True)
class Reach:
    """The result of :func:`walk`: what the tags of ``repository`` reach."""

    #: The repository's name (for messages).
    repository: str
    #: Release tags and the digest each points at (referrer tags left out).
    roots: Mapping[str, Digest]
    #: Every manifest read, by digest, with the edges leaving it.
    edges: Mapping[Digest, tuple[Edge, ...]]
    #: Every digest some tag reaches (present or not).
    reached: frozenset[Digest]
    #: Unnamed entries that are roots (a layout's ``index.json``), see :func:`walk`.
    anchors: frozenset[Digest] = frozenset()
    #: Reached digests whose manifest is absent (a broken release).
    missing: frozenset[Digest] = frozenset()
    #: False when some tag or tagged manifest could not be read: "unreached" is a guess.
    complete: bool = True
    #: Why the walk is incomplete, one line each.
    problems: tuple[str, ...] = ()
    #: Every tag listed, referrer tags included (None when the list was refused).
    tags: frozenset[str] | None = None
    _reverse: dict[Digest, list[tuple[Digest, EdgeKind]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def is_reached(self, digest: Digest | str) -> bool:
        """True when a tag reaches ``digest``."""
        return Digest(digest) in self.reached

    def routes_to(
        self, digest: Digest | str, *, excluding: Iterable[Digest] = ()
    ) -> tuple[Route, ...]:
        """The shortest route from each tag that reaches ``digest``, sorted by tag.

        ``excluding``: manifests treated as gone (a route through one does not count);
        deleting ``digest`` itself removes the tags pointing at it, so callers pass it
        to learn what *else* reaches it.
        """
        target = Digest(digest)
        gone = set(excluding)
        reverse = self._reverse_edges()
        # Backwards breadth-first search: the first time a root is met, its route is
        # among the shortest.
        previous: dict[Digest, tuple[Digest, EdgeKind] | None] = {target: None}
        queue = deque([target])
        while queue:
            node = queue.popleft()
            for parent, kind in reverse.get(node, ()):
                if parent in previous or parent in gone:
                    continue
                previous[parent] = (node, kind)
                queue.append(parent)
        named: list[tuple[str | None, Digest]] = sorted(self.roots.items())
        named += [(None, d) for d in sorted(self.anchors, key=str)]
        routes: list[Route] = []
        for tag, root in named:
            if root not in previous or root in gone:
                continue
            path = [root]
            kinds: list[EdgeKind] = []
            step = previous[root]
            while step is not None:
                node, kind = step
                path.append(node)
                kinds.append(kind)
                step = previous[node]
            routes.append(Route(tag, tuple(path), tuple(kinds)))
        return tuple(routes)

    def reached_without(self, gone: Iterable[Digest]) -> frozenset[Digest]:
        """What the tags would still reach once the manifests ``gone`` (and their tags) are."""
        removed = set(gone)
        seen: set[Digest] = set()
        queue = deque(d for d in (*self.roots.values(), *self.anchors) if d not in removed)
        while queue:
            node = queue.popleft()
            if node in seen or node in removed:
                continue
            seen.add(node)
            queue.extend(e.target for e in self.edges.get(node, ()))
        return frozenset(seen)

    def _reverse_edges(self) -> dict[Digest, list[tuple[Digest, EdgeKind]]]:
        if not self._reverse:
            for source, edges in self.edges.items():
                for edge in edges:
                    self._reverse.setdefault(edge.target, []).append((source, edge.kind))
        return self._reverse


class _ListedDiscovery(ReferrerDiscovery):
    """Referrer discovery that uses the tag list the walk read (not a second listing)."""

    def __init__(self, repo: Repository, tags: frozenset[str] | None) -> None:
        super().__init__(repo)
        self._listed = tags

    def tags(self) -> frozenset[str] | None:
        """The tags the walk listed (None: refused, so cosign tags are asked one by one)."""
        return self._listed


class _Walker:
    """One walk: manifests read once, referrers asked for only where they may exist."""

    def __init__(self, repo: Repository, *, referrers: bool, tags: frozenset[str] | None) -> None:
        self.repo = repo
        self.referrers = referrers
        self.tags = tags
        self.discovery = _ListedDiscovery(repo, tags)
        self.edges: dict[Digest, tuple[Edge, ...]] = {}
        self.missing: set[Digest] = set()
        self.problems: list[str] = []
        self.complete = True
        self._api: bool | None = None

    def fail(self, problem: str) -> None:
        self.complete = False
        self.problems.append(problem)

    def read(self, digest: Digest) -> Manifest | None:
        try:
            return self.repo.get_manifest(str(digest))
        except ManifestUnknown:
            self.missing.add(digest)
            return None

    def expand(self, digest: Digest, manifest: Manifest | None) -> None:
        edges: list[Edge] = []
        if isinstance(manifest, Index):
            edges += [Edge(d.digest, "child") for d in manifest.manifests]
        if self.referrers and manifest is not None and self._may_have_referrers(digest):
            try:
                found = self.discovery.direct(digest)
            except PolyarchError as exc:
                self.fail(f"referrers of {self.repo.name}@{digest}: {exc.one_line()}")
                found = []
            edges += [Edge(r.digest, "referrer") for r in found]
            edges += self._tag_schema_index(digest)
        # The same child under several entries is one edge.
        self.edges[digest] = tuple(dict.fromkeys(edges))

    def _tag_schema_index(self, digest: Digest) -> list[Edge]:
        """The referrers tag schema index of ``digest``: kept while its subject is."""
        tag = referrers_tag(digest)
        if self._api or self.tags is None or tag not in self.tags:
            return []
        try:
            head = self.repo.head_manifest(tag)
        except PolyarchError as exc:
            self.fail(f"{self.repo.name}:{tag} cannot be read: {exc.one_line()}")
            return []
        return [] if head is None else [Edge(head.digest, "referrer")]

    def _may_have_referrers(self, digest: Digest) -> bool:
        """On a registry without the referrers API, referrers exist only under tags we
        already listed; other backends (a layout's ``index.json``) are always asked."""
        repo = self.repo
        if not isinstance(repo, ReferrersIndexing):
            return True
        if self._api is None:
            try:
                self._api = repo.referrers_api()
            except PolyarchError:
                self._api = False
        tags = self.tags
        if self._api or tags is None:
            return True
        candidates = {referrers_tag(digest), *(cosign_tag(digest, s) for s in COSIGN_SUFFIXES)}
        return not candidates.isdisjoint(tags)


def walk(
    repo: Repository,
    *,
    tags: Iterable[str] | None = None,
    referrers: bool = True,
    entries: Iterable[Digest] = (),
) -> Reach:
    """Walk everything the tags of ``repo`` reach.

    Parameters: ``repo``; ``tags`` (default: the repository's tag list; referrer tags
    are never roots); ``referrers`` (follow referrer edges; default True); ``entries``
    (manifests the backend holds without a tag, such as a layout's unnamed
    ``index.json`` entries: roots too, except those with a ``subject``, which are
    referrers and kept only while their subject is reached).

    Returns a :class:`Reach`. Never raises for what it cannot read: a refused tag list, a
    tagged manifest that cannot be read (a schema1 image, a corrupt blob) or referrers
    that cannot be listed make it incomplete (:attr:`Reach.problems` says why); a child
    that is gone is recorded in :attr:`Reach.missing`. The tag list is read once (the
    distribution spec's "Listing Tags", every ``Link`` page).
    """
    listed: frozenset[str] | None
    refused: str | None = None
    if tags is not None:
        listed = frozenset(tags)
    else:
        try:
            listed = frozenset(repo.list_tags())
        except NameUnknown:
            listed = frozenset()
        except PolyarchError as exc:
            refused = f"the tag list of {repo.name} cannot be read: {exc.one_line()}"
            listed = None
    walker = _Walker(repo, referrers=referrers, tags=listed)
    if refused is not None:
        walker.fail(refused)
    roots: dict[str, Digest] = {}
    queue: deque[Digest] = deque()
    read: dict[Digest, Manifest | None] = {}
    anchors: set[Digest] = set()
    for entry in dict.fromkeys(entries):
        try:
            read[entry] = walker.read(entry)
        except PolyarchError as exc:
            walker.fail(f"{repo.name}@{entry} cannot be read: {exc.one_line()}")
            continue
        found = read[entry]
        if found is not None and found.subject is None:
            anchors.add(entry)
            queue.append(entry)
    # Where one read names every tag's digest (a layout's index.json), a tag costs no read
    # of its own: the manifests are read below, each distinct one once (issue 25).
    indexed = _tag_digests(repo, walker) if tags is None and listed is not None else None
    named = [tag for tag in sorted(listed or ()) if not is_referrer_tag(tag)]
    # Elsewhere each tag is one HEAD: several in flight at once (10,000 tags one after
    # the other took 28 s), judged in the tags' order.
    heads = read_each(named, repo.head_manifest) if indexed is None else {}
    for tag in named:
        if indexed is not None:
            if tag in indexed:
                roots[tag] = indexed[tag]
                queue.append(indexed[tag])
            continue
        head = heads[tag]
        if isinstance(head, PolyarchError):
            walker.fail(f"{repo.name}:{tag} cannot be read: {head.one_line()}")
            continue
        if head is None:  # deleted since the list was read
            continue
        roots[tag] = head.digest
        queue.append(head.digest)
    seen: set[Digest] = set()
    while queue:  # breadth first, each level's manifests read several at once
        level = [d for d in dict.fromkeys(queue) if d not in seen]
        queue.clear()
        seen.update(level)
        fetched = read_each((d for d in level if d not in read), walker.read)
        for digest in level:
            manifest = read.pop(digest) if digest in read else fetched[digest]
            if isinstance(manifest, PolyarchError):
                walker.fail(f"{repo.name}@{digest} cannot be read: {manifest.one_line()}")
                walker.edges[digest] = ()
                continue
            walker.expand(digest, manifest)
            queue.extend(e.target for e in walker.edges[digest] if e.target not in seen)
    return Reach(
        repository=repo.name,
        roots=roots,
        edges=walker.edges,
        reached=frozenset(seen),
        anchors=frozenset(anchors),
        missing=frozenset(walker.missing),
        complete=walker.complete,
        problems=tuple(walker.problems),
        tags=listed,
    )


def _tag_digests(repo: Repository, walker: _Walker) -> dict[str, Digest] | None:
    """Every tag's digest from one read, where the backend can (:class:`TagIndexing`)."""
    if not isinstance(repo, TagIndexing):
        return None
    try:
        return repo.tag_digests()
    except PolyarchError as exc:
        walker.fail(f"the tags of {repo.name} cannot be read: {exc.one_line()}")
        return {}
