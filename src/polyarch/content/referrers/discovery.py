"""Referrers: signatures, SBOMs and attestations attached to an image, found.

Three forms are read, as registries hold them today:

* ``subject``: a manifest whose ``subject`` names the image (OCI 1.1), listed by the
  registry's referrers API or, without one, by the referrers tag schema index
  (``sha256-<hex>``; distribution spec "Listing Referrers", "Referrers Tag Schema").
  ``oras attach`` and notation write this form.
* ``cosign``: a manifest tagged ``sha256-<hex>.sig`` / ``.att`` / ``.sbom``, the tag
  scheme cosign 2 uses by default (no ``subject``: the tag names the image).

Discovery is recursive (a signature of an SBOM is a referrer of the SBOM). Writing them
elsewhere is :mod:`polyarch.content.referrers.carry`; everything goes through
:class:`~polyarch.storage.Repository`.

>>> cosign_tag("sha256:" + "ab" * 32, "sig") == "sha256-" + "ab" * 32 + ".sig"
True
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index, Manifest
from polyarch.errors import ContentError, ManifestUnknown, NameUnknown, PolyarchError
from polyarch.storage.repository import Repository

__all__ = [
    "COSIGN_SUFFIXES",
    "Referrer",
    "ReferrerDiscovery",
    "artifact_type_of",
    "cosign_tag",
    "discover_referrers",
    "listing_descriptor",
]

log = logging.getLogger("polyarch.referrers")

#: The tag suffixes of cosign's tag scheme: signatures, attestations, attached SBOMs.
COSIGN_SUFFIXES: Final = ("sig", "att", "sbom")
#: How deep referrers of referrers are followed (content addressing rules out cycles;
#: this bounds a hostile repository).
MAX_DEPTH: Final = 8

Form = Literal["subject", "cosign"]


def cosign_tag(digest: Digest | str, suffix: str) -> str:
    """The tag cosign gives the ``suffix`` (``sig``, ``att``, ``sbom``) of ``digest``."""
    algorithm, _, encoded = str(digest).partition(":")
    return f"{algorithm}-{encoded}.{suffix}"


def artifact_type_of(manifest: Manifest) -> str | None:
    """The artifact type a referrers list gives ``manifest``.

    Its ``artifactType``; else, for an image manifest, its config media type (the
    distribution spec's rule for the referrers API). A cosign manifest has neither of
    interest (an OCI config), so when every layer has the same media type (cosign's
    ``application/vnd.dev.cosign.simplesigning.v1+json`` for signatures,
    ``application/vnd.dsse.envelope.v1+json`` for attestations) that is used instead.
    """
    if manifest.artifact_type:
        return manifest.artifact_type
    if isinstance(manifest, Index):
        return None
    kinds = {layer.media_type for layer in manifest.layers}
    if len(kinds) == 1 and manifest.config.media_type in (
        mediatype.OCI_CONFIG,
        mediatype.DOCKER_CONFIG,
    ):
        return next(iter(kinds))
    return manifest.config.media_type


def listing_descriptor(manifest: Manifest) -> Descriptor:
    """The descriptor a referrers list holds for ``manifest`` (spec: type, annotations)."""
    return Descriptor(
        manifest.media_type,
        manifest.digest,
        manifest.size,
        annotations=manifest.annotations,
        artifact_type=artifact_type_of(manifest),
    )


@dataclass(frozen=True, slots=True)
class Referrer:
    """One manifest that refers to ``subject``, and (recursively) what refers to it.

    ``form`` is ``subject`` (OCI 1.1: API or tag schema) or ``cosign`` (``tag`` is
    then the cosign tag). ``manifest`` holds the exact bytes, verified.
    """

    subject: Digest
    manifest: Manifest = field(repr=False)
    form: Form
    tag: str | None = None
    referrers: tuple[Referrer, ...] = ()

    @property
    def digest(self) -> Digest:
        """The referrer's own digest (never changed by a copy)."""
        return self.manifest.digest

    @property
    def descriptor(self) -> Descriptor:
        """Media type, digest, size, artifact type and annotations."""
        return listing_descriptor(self.manifest)

    @property
    def artifact_type(self) -> str | None:
        """See :func:`artifact_type_of`."""
        return artifact_type_of(self.manifest)

    def walk(self) -> Iterator[Referrer]:
        """This referrer, then its referrers, depth first (each after its subject)."""
        yield self
        for child in self.referrers:
            yield from child.walk()

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/referrers.md)."""
        return {
            "form": self.form,
            "tag": self.tag,
            "artifactType": self.artifact_type,
            "mediaType": self.manifest.media_type,
            "digest": str(self.digest),
            "size": self.manifest.size,
            "annotations": dict(self.manifest.annotations),
            "referrers": [r.to_json() for r in self.referrers],
        }


class ReferrerDiscovery:
    """Finds the referrers of manifests in one repository; reads its tag list once."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._tags: frozenset[str] | None = None
        self._tags_read = False

    def tags(self) -> frozenset[str] | None:
        """The repository's tags; None when the registry will not list them.

        One request (or a few pages) instead of three HEADs per manifest. Registries
        may refuse the tag list (a policy, a missing ``catalog``-like permission):
        cosign's tags are then asked for one by one.
        """
        if not self._tags_read:
            self._tags_read = True
            try:
                self._tags = frozenset(self.repo.list_tags())
            except (NameUnknown, ManifestUnknown):
                self._tags = frozenset()
            except PolyarchError as exc:
                log.info("cannot list the tags of %s (%s)", self.repo.name, exc.one_line())
                self._tags = None
        return self._tags

    def direct(self, subject: Digest, *, keep_unlinked: bool = False) -> list[Referrer]:
        """The referrers of ``subject`` in every form, without their own referrers.

        A listed manifest whose ``subject`` is not ``subject`` (a stale tag schema
        entry) is left out, unless ``keep_unlinked`` (``verify`` reports it); so is a
        listed manifest that no longer exists (deleted, its tag schema entry left
        behind). One that cannot be read raises its :class:`~polyarch.errors.ContentError`,
        naming the referrer: carrying everything else would lose it silently.
        """
        found: list[Referrer] = []
        for d in self.repo.list_referrers(subject):
            try:
                manifest = self.repo.get_manifest(str(d.digest))
            except ManifestUnknown:
                log.warning(
                    "%s@%s is listed as a referrer of %s but is gone; ignored",
                    self.repo.name,
                    d.digest,
                    subject,
                )
                continue
            except ContentError as exc:
                raise type(exc)(
                    f"referrer {d.digest} of {self.repo.name}@{subject}: {exc.message}",
                    hint="leave the referrers behind to copy the rest",
                    parameter="referrers",
                ) from None
            unlinked = manifest.subject is None or manifest.subject.digest != subject
            if unlinked and not keep_unlinked:
                # A stale tag schema entry, or a lying API: not linked to this subject.
                log.warning(
                    "%s@%s is listed as a referrer of %s but its subject is %s; ignored",
                    self.repo.name,
                    d.digest,
                    subject,
                    manifest.subject.digest if manifest.subject else "absent",
                )
                continue
            found.append(Referrer(subject, manifest, "subject"))
        tags = self.tags()
        for suffix in COSIGN_SUFFIXES:
            tag = cosign_tag(subject, suffix)
            if tag in tags if tags is not None else self.repo.head_manifest(tag) is not None:
                try:
                    manifest = self.repo.get_manifest(tag)
                except ManifestUnknown:  # deleted since the tag list was read
                    continue
                found.append(Referrer(subject, manifest, "cosign", tag))
        return found

    def tree(self, subject: Digest, depth: int = MAX_DEPTH) -> tuple[Referrer, ...]:
        """The referrers of ``subject``, each with its own referrers, ``depth`` levels."""
        if depth <= 0:
            return ()
        out = []
        for r in self.direct(subject):
            out.append(
                Referrer(r.subject, r.manifest, r.form, r.tag, self.tree(r.digest, depth - 1))
            )
        return tuple(out)


def discover_referrers(
    repo: Repository, subjects: Sequence[Digest]
) -> dict[Digest, tuple[Referrer, ...]]:
    """The referrer trees of each of ``subjects`` in ``repo`` (empty tuples included).

    Raises :class:`~polyarch.errors.PolyarchError` when a listed referrer cannot be read.
    """
    discovery = ReferrerDiscovery(repo)
    return {s: discovery.tree(s) for s in dict.fromkeys(subjects)}
