"""``--metadata-file FILE``: what ``docker buildx imagetools create --metadata-file`` writes.

buildx 0.32 added the option (docker/buildx commit a2f3c6a1b, ``commands/imagetools/
create.go``, ``writeMetadataFile``): a JSON object, indented by two spaces, written
atomically with mode 0644, into a directory that must exist::

    {
      "containerimage.descriptor": {"mediaType": "...", "digest": "sha256:...", "size": 4654},
      "image.name": "docker.io/user/app"
    }

``image.name`` is every target repository (normalized: ``docker.io/user/app``), without
tag, sorted and comma-joined. polyarch also writes ``containerimage.digest``, the key
``docker buildx build --metadata-file`` writes and that CI scripts read
(``jq -r '."containerimage.digest"'``), so one script serves both.

>>> from polyarch.domain.reference import Reference
>>> content = metadata_file_content(
...     "application/vnd.oci.image.index.v1+json", "sha256:" + "ab" * 32, 4654,
...     [Reference.parse("ghcr.io/seeds/api:3.14.1"), Reference.parse("seeds/api:3")])
>>> content["image.name"], content["containerimage.digest"][:13]
('docker.io/seeds/api,ghcr.io/seeds/api', 'sha256:ababab')
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from polyarch.domain.location import Location
from polyarch.errors import InvalidInput

__all__ = [
    "DESCRIPTOR_KEY",
    "DIGEST_KEY",
    "NAME_KEY",
    "metadata_file_content",
    "write_metadata_file",
]

#: buildx's ``exptypes.ExporterImageDescriptorKey``.
DESCRIPTOR_KEY: Final = "containerimage.descriptor"
#: buildx's ``exptypes.ExporterImageDigestKey`` (written by ``buildx build``).
DIGEST_KEY: Final = "containerimage.digest"
#: buildx's ``exptypes.ExporterImageNameKey``.
NAME_KEY: Final = "image.name"


def metadata_file_content(
    media_type: str, digest: str, size: int, targets: Iterable[Location]
) -> dict[str, Any]:
    """The object ``--metadata-file`` holds for an index published to ``targets``
    (registry references, or ``oci:`` layouts, named as ``create`` names them)."""
    names = sorted({target.name for target in targets})
    return {
        DESCRIPTOR_KEY: {"mediaType": media_type, "digest": digest, "size": size},
        DIGEST_KEY: digest,
        NAME_KEY: ",".join(names),
    }


def write_metadata_file(path: str | Path, content: dict[str, Any]) -> None:
    """Write ``content`` to ``path`` as buildx does: indented JSON, atomically, mode 0644.

    The directory must exist (as with buildx). Raises
    :class:`~polyarch.errors.InvalidInput` when it does not or cannot be written.
    """
    target = Path(path)
    directory = target.parent
    if not directory.is_dir():
        raise InvalidInput(
            f"metadata file {str(target)!r}: directory {str(directory)!r} does not exist",
            parameter="metadata_file",
        )
    data = json.dumps(content, indent=2).encode()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InvalidInput(
            f"metadata file {str(target)!r}: cannot write it: {exc.strerror or exc}",
            parameter="metadata_file",
        ) from None
