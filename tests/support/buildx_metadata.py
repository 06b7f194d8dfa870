"""Write ``--metadata-file`` outputs exactly as docker/buildx writes them.

buildx decodes BuildKit's exporter response (``decodeExporterResponse``: JSON values
decoded, the rest kept as strings) and writes it with Go's ``json.MarshalIndent(dt, "",
"  ")``: two-space indent, keys sorted (a Go map), no trailing newline. With attestations
on (the default provenance of buildx >= 0.10 on a registry push) ``containerimage.digest``
and ``containerimage.descriptor`` name the *wrapper* index and the descriptor has no
platform; ``containerimage.config.digest`` and a descriptor ``platform`` appear only when
there is no wrapper. Measured on the real engines (tests/e2e/test_buildkit_versions.py): buildx
0.13 on the ``docker`` driver writes ``containerimage.config.digest`` with a wrapper too, naming
the wrapper (not a config); buildx 0.29 does not, and adds ``buildx.build.provenance`` (the
min-mode provenance predicate). polyarch reads only ``containerimage.digest``.
``docker buildx bake --metadata-file`` writes one such object per
target, keyed by target name, plus ``buildx.build.warnings`` when there are warnings.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from support.images import PushedImage, PushedWrapper


def _ref() -> str:
    # builder/node/build-id, as buildx records it ("default/default/<25 base36 chars>").
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "default/default/" + "".join(secrets.choice(alphabet) for _ in range(25))


def metadata(pushed: PushedWrapper | PushedImage, name: str) -> dict[str, Any]:
    """The metadata object of one build that pushed ``pushed`` as ``name`` (``image.name``)."""
    if isinstance(pushed, PushedWrapper):
        index = pushed.index
        return {
            "buildx.build.ref": _ref(),
            "containerimage.descriptor": {
                "mediaType": index.media_type,
                "digest": str(index.digest),
                "size": index.size,
            },
            "containerimage.digest": str(index.digest),
            "image.name": name,
        }
    manifest = pushed.manifest
    return {
        "buildx.build.ref": _ref(),
        "containerimage.config.digest": str(manifest.config.digest),
        "containerimage.descriptor": {
            "annotations": {
                "config.digest": str(manifest.config.digest),
                "org.opencontainers.image.created": "2026-01-01T00:00:00Z",
            },
            "digest": str(manifest.digest),
            "mediaType": manifest.media_type,
            "platform": pushed.platform.to_oci(),
            "size": manifest.size,
        },
        "containerimage.digest": str(manifest.digest),
        "image.name": name,
    }


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    return path


def write_build_metadata(path: Path, pushed: PushedWrapper | PushedImage, name: str) -> Path:
    """``docker buildx build --push --metadata-file PATH``'s file."""
    return _write(path, metadata(pushed, name))


def write_bake_metadata(
    path: Path, targets: dict[str, tuple[PushedWrapper | PushedImage, str]], *, warnings: bool
) -> Path:
    """``docker buildx bake --push --metadata-file PATH``'s file: one object per target."""
    data: dict[str, Any] = {t: metadata(p, name) for t, (p, name) in targets.items()}
    if warnings:
        data["buildx.build.warnings"] = [
            {
                "vertex": "sha256:" + "0" * 64,
                "level": 1,
                "short": "U3RhZ2VOYW1lQ2FzaW5nOiBTdGFnZSBuYW1lICdCQVNFJyBzaG91bGQgYmUgbG93ZXJjYXNl",
                "detail": None,
                "url": "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/",
                "sourceInfo": {"filename": "Dockerfile", "language": "Dockerfile"},
                "range": [{"start": {"line": 1}, "end": {"line": 1}}],
            }
        ]
    return _write(path, data)
