"""Referrers in an OCI image layout: the tag schema, and ``index.json`` itself.

A layout has no referrers API. Writers keep one of two records: the referrers tag
schema index (``sha256-<hex>``, what polyarch writes, as for a registry without the
API), or, as ``oras attach --oci-layout`` does, the referrer as an untagged entry of
``index.json`` (image-spec "image layout": index.json may list any manifest). Both are
read; a manifest found in either counts once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Manifest
from polyarch.storage.layout.index import referrer_descriptor
from polyarch.storage.referrers_tag import read_tag_schema

__all__ = ["list_referrers"]


def list_referrers(
    get_manifest: Callable[[str], Manifest],
    by_subject: Mapping[Digest, Sequence[Manifest]],
    digest: Digest,
    artifact_type: str | None = None,
) -> list[Descriptor]:
    """The tag schema entries of ``digest``, then the ``index.json`` manifests whose subject it is.

    ``by_subject`` groups the manifests among the layout's ``index.json`` entries by their
    subject (:meth:`~polyarch.storage.layout.index.LayoutIndex.manifests_by_subject`: each
    read once per version of the file), ``get_manifest`` is the layout's reader.

    Descriptors found in index.json get the artifact type the referrers API would give
    (``artifactType``, else the config media type) and the manifest's annotations.
    Raises what reading the layout raises.
    """
    found = read_tag_schema(get_manifest, digest, artifact_type)
    seen = {d.digest for d in found}
    for manifest in by_subject.get(digest, ()):
        descriptor = referrer_descriptor(manifest)
        if manifest.digest in seen:
            continue
        if artifact_type is not None and descriptor.artifact_type != artifact_type:
            continue
        seen.add(manifest.digest)
        found.append(descriptor)
    return found
