"""Does this attestation manifest attest that image? The one place that decides.

A BuildKit attestation manifest names the image it attests in up to three places
(moby/buildkit docs/attestations/attestation-storage.md, OCI image-spec 1.1):

1. its index entry's annotation ``vnd.docker.reference.digest`` (with
   ``vnd.docker.reference.type: attestation-manifest``);
2. its own ``subject`` descriptor (the newer OCI-artifact form: ``artifactType``
   ``application/vnd.docker.attestation.manifest.v1+json``, the empty config, ``subject``);
3. inside each in-toto layer, the statement's ``subject[].digest.sha256`` (both forms).

Each place that is present must name the image. ``verify`` fails its attestations check
with :func:`link_problem`'s answer; ``create`` and ``copy --platform`` refuse such a source
(:func:`require_link`, exit code 2) instead of spreading a provenance under the wrong
image, unless told to leave the attestations out (``--attestations drop``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest
from polyarch.errors import InvalidInput, PolyarchError
from polyarch.storage.repository import Repository

__all__ = [
    "ATTESTATION_MODES",
    "MAX_STATEMENT",
    "AttestationLinks",
    "AttestationMode",
    "BlobRead",
    "attestation_mode",
    "link_problem",
    "read_links",
    "referrer_link_problem",
    "require_link",
]


class BlobRead(Protocol):
    """Reads a small blob whole, verified (:meth:`Repository.read_blob`'s signature)."""

    def __call__(self, descriptor: Descriptor, *, max_size: int = ...) -> bytes: ...


#: The largest in-toto statement read for its subject (bytes).
MAX_STATEMENT = 16 * 1024 * 1024

#: What ``create``, ``copy``, ``publish`` (and the spec's ``attestations:``) do with an
#: index's attestation manifests: ``keep`` them in the index, ``drop`` them, or move them to
#: ``referrers`` of their images (:mod:`polyarch.content.attestations.referrers`).
AttestationMode = Literal["keep", "drop", "referrers"]
ATTESTATION_MODES: Final[tuple[AttestationMode, ...]] = ("keep", "drop", "referrers")


def attestation_mode(value: str) -> AttestationMode:
    """``value`` as an :data:`AttestationMode`; :class:`~polyarch.errors.InvalidInput` else."""
    for mode in ATTESTATION_MODES:
        if value == mode:
            return mode
    raise InvalidInput(
        f"attestations must be 'keep', 'drop' or 'referrers', not {value!r}",
        parameter="attestations",
    )


@dataclass(frozen=True, slots=True)
class AttestationLinks:
    """Where one attestation manifest says which image it attests."""

    attestation: Digest
    #: The index entry's ``vnd.docker.reference.digest`` (None when absent or invalid).
    annotation: Digest | None
    #: The manifest's own ``subject`` digest (OCI-artifact form), if any.
    subject: Digest | None
    #: Per in-toto layer: its digest and the sha256 hex digests its statement's subject
    #: lists (``None``: the layer is no JSON in-toto statement).
    statements: tuple[tuple[Digest, tuple[str, ...] | None], ...]


def _statement_subjects(data: bytes) -> tuple[str, ...] | None:
    try:
        statement = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(statement, Mapping):
        return None
    found = []
    for item in statement.get("subject") or []:
        digest = item.get("digest") if isinstance(item, Mapping) else None
        value = digest.get("sha256") if isinstance(digest, Mapping) else None
        if isinstance(value, str):
            found.append(value.lower())
    return tuple(found)


def read_links(
    repo: Repository,
    entry: Descriptor,
    manifest: ImageManifest | None = None,
    *,
    read: BlobRead | None = None,
) -> AttestationLinks:
    """Read the three links of the attestation ``entry`` (an index entry) stored in ``repo``.

    ``manifest`` is the attestation manifest when already fetched; ``read`` reads a layer
    (default ``repo.read_blob``; verify passes its once-per-run reader). Raises what the
    repository raises when the manifest or an in-toto layer cannot be read.
    """
    reader: BlobRead = read or repo.read_blob
    if manifest is None:
        fetched = repo.get_manifest(str(entry.digest))
        if not isinstance(fetched, ImageManifest):
            raise InvalidInput(f"attestation {entry.digest} is an index, not a manifest")
        manifest = fetched
    statements = tuple(
        (layer.digest, _statement_subjects(reader(layer, max_size=MAX_STATEMENT)))
        for layer in manifest.layers
        # A statement too large to read here (a huge SBOM) is no evidence either way.
        if layer.media_type == mediatype.IN_TOTO and 0 <= layer.size <= MAX_STATEMENT
    )
    subject = manifest.subject.digest if manifest.subject is not None else None
    return AttestationLinks(entry.digest, entry.attestation_subject, subject, statements)


def _disagreements(links: AttestationLinks, image: Digest, *, in_index: bool = True) -> list[str]:
    said = []
    if in_index and links.annotation != image:
        said.append(f"its index annotation names {links.annotation or 'no image'}")
    if links.subject is not None and links.subject != image:
        said.append(f"its subject names {links.subject}")
    for layer, subjects in links.statements:
        if subjects is None:
            said.append(f"its in-toto layer {layer.short} is no JSON statement")
        elif subjects and image.hex.lower() not in subjects:
            names = ", ".join(f"sha256:{s[:12]}" for s in subjects)
            said.append(f"its in-toto statement {layer.short} names {names}")
    return said


def link_problem(
    repo: Repository,
    entry: Descriptor,
    image: Digest,
    manifest: ImageManifest | None = None,
    *,
    read: BlobRead | None = None,
) -> str | None:
    """``None`` when the attestation ``entry`` attests ``image`` everywhere it says so.

    Otherwise one line naming the disagreement, e.g. ``attestation sha256:ab12… is filed
    under sha256:cd34…, but its in-toto statement sha256:ef56… names sha256:0a1b…``.
    A manifest or layer that cannot be read is a problem too (named with its error).
    """
    try:
        links = read_links(repo, entry, manifest, read=read)
    except PolyarchError as exc:
        return f"attestation {entry.digest.short} cannot be read: {exc.one_line()}"
    said = _disagreements(links, image)
    if not said:
        return None
    return f"attestation {entry.digest.short} is filed under {image.short}, but " + "; ".join(said)


def referrer_link_problem(
    repo: Repository, manifest: ImageManifest, image: Digest, *, read: BlobRead | None = None
) -> str | None:
    """``None`` when the attestation ``manifest``, found as a referrer of ``image``, attests it.

    The same rule as :func:`link_problem` without the index annotation (a referrer is
    listed by its ``subject``, not by an index entry): its ``subject`` and every in-toto
    statement must name ``image``.
    """
    entry = manifest.descriptor()
    try:
        links = read_links(repo, entry, manifest, read=read)
    except PolyarchError as exc:
        return f"attestation referrer {entry.digest.short} cannot be read: {exc.one_line()}"
    if links.subject is None:
        return f"attestation referrer {entry.digest.short} of {image.short} names no subject"
    said = _disagreements(links, image, in_index=False)
    if not said:
        return None
    return f"attestation referrer {entry.digest.short} of {image.short}: " + "; ".join(said)


def require_link(
    repo: Repository,
    entry: Descriptor,
    image: Digest,
    source: str,
    manifest: ImageManifest | None = None,
) -> None:
    """Raise :class:`~polyarch.errors.InvalidInput` (exit 2) unless ``entry`` attests ``image``.

    ``source`` names the argument for the message (``create``'s SOURCE, ``copy``'s source).
    """
    problem = link_problem(repo, entry, image, manifest)
    if problem is not None:
        raise InvalidInput(
            f"source {source}: {problem}",
            hint="it would be published as another image's attestation; rebuild the source "
            "index, or leave the attestations out",
            parameter="attestations",
        )
