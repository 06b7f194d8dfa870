"""Every manifest an OCI image layout holds, tagged or not (what ``prune`` looks at).

A registry cannot list the manifests of a repository (the distribution spec lists tags
only); a layout can: its ``index.json`` entries, and every blob under ``blobs/<alg>/``
that is a manifest. A blob is read only when it is small enough to be one
(:data:`~polyarch.domain.manifest.MAX_MANIFEST_SIZE`) and starts like JSON, so layers are never
read; configs and other JSON blobs are read and left out (they are not manifests).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable

from polyarch.domain.digest import ALGORITHMS, Digest
from polyarch.domain.manifest import MAX_MANIFEST_SIZE, Manifest
from polyarch.errors import ContentError, InvalidDigest, ManifestUnknown

__all__ = ["manifest_digests"]

_JSON_START = (b"{", b" ", b"\n", b"\r", b"\t")


def _looks_like_json(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(1) in _JSON_START
    except OSError:
        return False


def manifest_digests(
    path: str, entries: Iterable[Digest], get_manifest: Callable[[str], Manifest]
) -> list[Digest]:
    """The digests of every manifest in the layout at ``path``: its ``index.json``
    ``entries`` first, then the manifest blobs nothing in ``index.json`` names, sorted.

    ``get_manifest`` is the layout's reader (it verifies what it reads). Links and other
    non-regular files under ``blobs/`` are skipped, as the layout backend refuses them.
    """
    found = dict.fromkeys(entries)
    blobs = os.path.join(path, "blobs")
    extra: set[Digest] = set()
    for algorithm in ALGORITHMS:
        folder = os.path.join(blobs, algorithm)
        try:
            files = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in files:
            try:
                digest = Digest(f"{algorithm}:{entry.name}")
                st = entry.stat(follow_symlinks=False)
            except (InvalidDigest, OSError):
                continue
            if digest in found or not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MANIFEST_SIZE:
                continue
            if not _looks_like_json(entry.path):
                continue
            try:
                get_manifest(str(digest))
            except (ContentError, ManifestUnknown):
                continue  # a config, an in-toto statement, a corrupt blob: not a manifest
            extra.add(digest)
    return [*found, *sorted(extra, key=str)]
