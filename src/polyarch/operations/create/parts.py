"""Parts: how parallel ``--append`` writers keep each other's platforms without compare-and-swap.

The distribution API has no conditional tag write, so a writer whose tag PUT is slow can
land a stale index after another writer finished. Instead of guarding the tag, each
writer first publishes its own contribution where nobody else writes, a *part*, then
assembles the tag from the index there plus every part present, writes it, and checks
again until the tag is a fixed point of that assembly. The last tag write to land is
always followed by its writer's check, and that writer sees every part published
before the check, so a writer that exits 0 has its entries at the tag once all writers
have finished.

A part is a small OCI index (the writer's entries, their attestations, its index
annotations) tagged ``polyarch-part-<hash of the tag>-<milliseconds>-<writer id>`` in
the target repository, annotated with the tag it belongs to, its creation time and its
state (``running``, then ``done`` once its writer saw the tag hold every part). A state
changes by rewriting the part's tag where the registry allows it, else (immutable tags:
ECR, Harbor refuse any rewrite) by a new tag (``...-done``) and a delete of the running
one. Parts are applied oldest first, so a later
writer's entry for a platform wins. When every part of a tag is ``done`` and the tag
holds them all, the writer that sees it deletes them (by digest, where the registry
allows deletes): no writer can be in flight then. A part whose writer never finished
(killed) is ignored after ``horizon`` seconds and removed.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index, Manifest, build_index
from polyarch.errors import (
    AuthError,
    ImmutableTag,
    ManifestUnknown,
    NameUnknown,
    PolyarchError,
    Unsupported,
)
from polyarch.operations.create.plan import Contribution
from polyarch.operations.create.sources import Attestation, Entry
from polyarch.storage.repository import Repository

__all__ = ["PART_TAG_PREFIX", "AppendParts", "Part"]

log = logging.getLogger("polyarch.create")

PART_TAG_PREFIX = "polyarch-part-"
_KEY_TAG = "io.github.polyarch.append.tag"
_KEY_CREATED = "io.github.polyarch.append.created"
_KEY_STATE = "io.github.polyarch.append.state"
_KEY_WRITER = "io.github.polyarch.append.writer"
_KEY_RESET = "io.github.polyarch.append.reset"
_MARKERS = (_KEY_TAG, _KEY_CREATED, _KEY_STATE, _KEY_WRITER, _KEY_RESET)
#: The tag of a part that is done: the running part's tag and this (a new tag, see above).
DONE_SUFFIX = "-done"


@dataclass(frozen=True, slots=True)
class Part:
    """One writer's published contribution."""

    tag: str
    index: Index
    created: float
    done: bool
    #: A reset mark: a plain ``create`` replaced the tag; older parts no longer apply.
    reset: bool = False

    @property
    def writer(self) -> str:
        """The id of the writer that published it (its running and done parts share it)."""
        return self.index.annotations.get(_KEY_WRITER, self.tag)

    def contribution(self, repo: Repository) -> Contribution:
        """The entries (content in ``repo``) and index annotations the part holds."""
        source = f"part {self.tag}"
        entries = tuple(
            Entry(
                d,
                repo,
                source,
                None,
                tuple(Attestation(a, repo) for a in self.index.attestations_for(d.digest)),
            )
            for d in self.index.images
        )
        notes = {k: v for k, v in self.index.annotations.items() if k not in _MARKERS}
        return Contribution(entries, notes)


def _read(repo: Repository, tag: str) -> Manifest | None:
    try:
        return repo.get_manifest(tag)
    except (ManifestUnknown, NameUnknown):
        return None


class AppendParts:
    """The parts of one tag in one repository, and this writer's own part."""

    def __init__(
        self,
        repo: Repository,
        tag: str,
        *,
        horizon: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.tag = tag
        self.horizon = horizon
        self.clock = clock
        self.prefix = PART_TAG_PREFIX + hashlib.sha256(tag.encode()).hexdigest()[:12] + "-"
        self.own: Part | None = None
        self._cache: dict[str, Part] = {}
        #: Every part this writer pushed (running, done): see :meth:`_sweep_ghosts`.
        self._mine: list[Part] = []

    def publish(self, contribution: Contribution, attestations: Sequence[Descriptor]) -> Part:
        """Push this writer's part (its content must already be in the repository)."""
        created = self.clock()
        writer = uuid.uuid4().hex[:16]
        tag = f"{self.prefix}{int(created * 1000):013d}-{writer}"
        part = self._push(tag, contribution, attestations, created, writer, "running")
        self.own = part
        return part

    def _push(
        self,
        tag: str,
        contribution: Contribution,
        attestations: Sequence[Descriptor],
        created: float,
        writer: str,
        state: str,
        *,
        reset: bool = False,
    ) -> Part:
        notes = {
            **contribution.annotations,
            _KEY_TAG: self.tag,
            _KEY_CREATED: f"{created:.6f}",
            _KEY_STATE: state,
            _KEY_WRITER: writer,
        }
        if reset:
            notes[_KEY_RESET] = "true"
        descriptors = [e.descriptor for e in contribution.entries] + list(attestations)
        index = build_index(descriptors, annotations=notes)
        self.repo.put_manifest(index, tag)
        part = Part(tag, index, created, state == "done", reset)
        self._cache[tag] = part
        self._mine.append(part)
        return part

    def reset(self) -> None:
        """After a plain ``create`` replaced the tag: its parts no longer apply.

        They are deleted; where the registry refuses, a reset mark is published instead,
        so that appends ignore every part older than it.
        """
        leftovers = self._listed()
        if not leftovers:
            return
        kept = sorted(
            (p for p in leftovers if not self._delete(p, "replaced")),
            key=lambda p: (p.created, p.tag),
        )
        resets = [i for i, p in enumerate(kept) if p.reset]
        if kept[resets[-1] + 1 :] if resets else kept:
            created = self.clock()
            writer = uuid.uuid4().hex[:16]
            tag = f"{self.prefix}{int(created * 1000):013d}-{writer}"
            self._push(tag, Contribution(()), (), created, writer, "done", reset=True)

    def parts(self) -> list[Part]:
        """Every live part of the tag, oldest first (the own part included even if unlisted).

        Parts older than the newest reset mark, and parts older than the horizon, are left
        out (the latter are deleted where the registry allows).
        """
        found = self._listed()
        if self.own is not None and all(p.writer != self.own.writer for p in found):
            found.append(self.own)
        found.sort(key=lambda p: (p.created, p.tag))
        resets = [i for i, p in enumerate(found) if p.reset]
        if resets:
            found = found[resets[-1] + 1 :]
        return found

    def _listed(self) -> list[Part]:
        now = self.clock()
        found: list[Part] = []
        try:
            tags = [t for t in self.repo.list_tags() if t.startswith(self.prefix)]
        except (ManifestUnknown, NameUnknown):
            tags = []
        except (AuthError, Unsupported) as exc:
            # A registry (or a robot account) that serves pushes but not the tag list:
            # other writers' parts cannot be found, so this writer appends alone.
            log.warning(
                "cannot list the tags of %s (%s): parallel --append writers to %s cannot "
                "be merged; appending as the only writer",
                self.repo.name,
                exc.one_line(),
                self.tag,
            )
            tags = []
        for tag in tags:
            part = self._cache.get(tag) or self._load(tag)
            if part is None:
                continue
            if now - part.created > self.horizon:
                self._delete(part, "abandoned")
                continue
            found.append(part)
        # A writer's running part and its done part: the done one counts.
        newest: dict[str, Part] = {}
        for part in found:
            if part.writer not in newest or part.done:
                newest[part.writer] = part
        return list(newest.values())

    def _load(self, tag: str) -> Part | None:
        manifest = _read(self.repo, tag)
        if not isinstance(manifest, Index) or manifest.annotations.get(_KEY_TAG) != self.tag:
            return None
        try:
            created = float(manifest.annotations.get(_KEY_CREATED, ""))
        except ValueError:
            return None
        part = Part(
            tag,
            manifest,
            created,
            manifest.annotations.get(_KEY_STATE) == "done",
            manifest.annotations.get(_KEY_RESET) == "true",
        )
        if not part.done:
            return part  # not cached: its state changes when its writer finishes
        self._cache[tag] = part
        return part

    def finish(self, holds: Callable[[Sequence[Part]], bool]) -> None:
        """Mark the own part done; then, if every part is done and held, delete them all.

        ``holds(parts)`` says whether the tag holds every part given. Cleaning is best
        effort: a registry that refuses deletes keeps the parts (they are ignored after
        the horizon).
        """
        own = self.own
        if own is None:
            return
        contribution = own.contribution(self.repo)
        attestations = own.index.attestations
        try:
            # Where the registry lets a tag change, the part is marked done in place: no
            # second tag, and no delete of the running one racing other writers' deletes
            # (distribution's filesystem storage answers 500 to such races, and can leave
            # a tag listed that no request removes any more).
            done = self._push(own.tag, contribution, attestations, own.created, own.writer, "done")
        except ImmutableTag:
            done = self._push(
                own.tag + DONE_SUFFIX, contribution, attestations, own.created, own.writer, "done"
            )
            self._delete(own, "superseded")
        self.own = done
        self._clean(holds)
        self._sweep_ghosts()

    def abandon(self, holds: Callable[[Sequence[Part]], bool] | None = None) -> None:
        """Remove the own part: after a failure (this writer makes no promise then), or once
        the tag can take no more parts (an immutable tag, written).

        With ``holds``, then also the other parts, when all are done and the tag holds them.
        """
        if self.own is not None:
            self._delete(self.own, "finished" if holds is not None else "failed writer")
            self.own = None
        if holds is not None:
            self._clean(holds)
        self._sweep_ghosts()

    def _sweep_ghosts(self) -> None:
        """Remove this writer's part tags that are listed but no longer readable.

        distribution answers 500 to a manifest DELETE that races other deletes, and may have
        removed the manifest while its tag stays listed: no DELETE removes that tag any more
        (measured on distribution 2.8.2 with 16 parallel writers). Pushing the part's own
        bytes to its tag again restores it, and a DELETE then removes both. Only the writer
        that pushed a part does this (no other writer can read such a tag anyway), so no
        two writers resurrect one part.
        """
        if not self._mine:
            return
        try:
            listed = set(self.repo.list_tags())
        except PolyarchError:
            return
        for part in self._mine:
            if part.tag not in listed:
                continue
            try:
                if self.repo.head_manifest(part.tag) is not None:
                    continue  # a live part, kept for the writer that cleans them all
                self.repo.put_manifest(part.index, part.tag)
            except PolyarchError as exc:
                log.info("could not restore part %s in %s: %s", part.tag, self.repo.name, exc)
                continue
            self._try_delete_digest(part.index.digest, f"unreadable part {part.tag}")
        self._mine.clear()

    def _clean(self, holds: Callable[[Sequence[Part]], bool]) -> None:
        live = [self._load(p.tag) or p for p in self.parts()]
        if all(p.done for p in live) and holds(live):
            for part in live:
                self._delete(part, "merged")

    def _delete(self, part: Part, why: str) -> bool:
        self._cache.pop(part.tag, None)
        return self._try_delete_digest(part.index.digest, f"{why} part {part.tag}")

    def _try_delete_digest(self, digest: Digest, why: str) -> bool:
        try:
            self.repo.delete_manifest(digest)
        except PolyarchError as exc:
            # Deleting keeps the tag list clean; a registry may refuse it.
            log.info("could not remove %s from %s: %s", why, self.repo.name, exc.one_line())
            return False
        log.info("removed %s from %s", why, self.repo.name)
        return True
