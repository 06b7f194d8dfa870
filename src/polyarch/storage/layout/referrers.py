"""Referrers in an OCI image layout: the tag schema, and ``index.json`` itself.

A layout has no referrers API. Writers keep one of two records: the referrers tag
schema index (``sha256-<hex>``, what polyarch writes, as for a registry without the
API), or, as ``oras attach --oci-layout`` does, the referrer as an untagged entry of
``index.json`` (image-spec "image layout": index.json may list any manifest). Both are
read; a manifest found in either counts once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Manifest
from polyarch.storage.referrers_tag import read_tag_schema

__all__ = ["list_referrers"]


def list_referrers(
    get_manifest: Callable[[str], Manifest],
    entries: Iterable[Descriptor],
    digest: Digest,
    artifact_type: str | None = None,
) -> list[Descriptor]:
    """The tag schema entries of ``digest``, then those of ``entries`` whose subject it is.

    ``entries`` are the layout's ``index.json`` entries, ``get_manifest`` its reader.

    Descriptors found in index.json get the artifact type the referrers API would give
    (``artifactType``, else the config media type) and the manifest's annotations.
    Raises what reading the layout raises.
    """
    found = read_tag_schema(get_manifest, digest, artifact_type)
    seen = {d.digest for d in found}
    for entry in entries:
        if entry.digest in seen or not mediatype.is_manifest(entry.media_type):
            continue
        manifest = get_manifest(str(entry.digest))
        if manifest.subject is None or manifest.subject.digest != digest:
            continue
        kind = manifest.artifact_type
        if kind is None and isinstance(manifest, ImageManifest):
            kind = manifest.config.media_type
        if artifact_type is not None and kind != artifact_type:
            continue
        seen.add(manifest.digest)
        found.append(
            Descriptor(
                manifest.media_type,
                manifest.digest,
                manifest.size,
                annotations=manifest.annotations,
                artifact_type=kind,
            )
        )
    return found
