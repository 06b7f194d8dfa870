"""The referrers tag schema of the OCI distribution spec (1.1), for every backend.

A registry without the referrers API (distribution 2.8, an OCI layout) lists the
manifests whose ``subject`` is a digest in an image index tagged ``<alg>-<encoded>``
(distribution spec, "Referrers Tag Schema"): clients that push such manifests keep
that index up to date. This module names the tag and reads the index; writing it
(a merge with lost-update care) lives in :mod:`polyarch.content.referrers.discovery`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index, Manifest
from polyarch.errors import ManifestUnknown, NameUnknown

__all__ = ["read_tag_schema", "referrers_tag"]

_NOT_IN_TAG = re.compile(r"[^a-zA-Z0-9._-]")


def referrers_tag(digest: Digest | str) -> str:
    """The referrers tag schema tag of ``digest``.

    The algorithm truncated to 32 characters, ``-``, the encoded part truncated to 64
    characters; characters a tag may not hold become ``-`` (distribution spec 1.1).

    >>> referrers_tag("sha256:" + "a" * 64) == "sha256-" + "a" * 64
    True
    """
    algorithm, _, encoded = str(digest).partition(":")
    return _NOT_IN_TAG.sub("-", f"{algorithm[:32]}-{encoded[:64]}")


def read_tag_schema(
    get_manifest: Callable[[str], Manifest], digest: Digest, artifact_type: str | None = None
) -> list[Descriptor]:
    """The entries of the referrers tag schema index of ``digest``, read by ``get_manifest``.

    ``get_manifest`` is a repository's
    (:meth:`~polyarch.storage.repository.Repository.get_manifest`). No tag, or a tag
    that is not an image index, means no referrers (the spec's "SHOULD assume that no
    referrers exist"). ``artifact_type`` filters client-side. Raises what
    ``get_manifest`` raises for other failures.
    """
    try:
        found = get_manifest(referrers_tag(digest))
    except (ManifestUnknown, NameUnknown):
        return []
    if not isinstance(found, Index):
        return []
    return [d for d in found.manifests if artifact_type is None or d.artifact_type == artifact_type]
