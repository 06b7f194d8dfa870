"""``config``: the image config of one platform image, as crane config / regctl image config.

The config blob (image-spec ``config.md``; Docker's image JSON has the same fields) is
found through the manifest :func:`~polyarch.operations.resolve.resolve` picks: a single
image, the image of a BuildKit wrapper, or, for a multi-platform index, the entry a host
of ``platform`` would pull. It is read verified against its digest; the result keeps its
exact bytes (``raw``) and the fields a release engineer checks.

>>> from polyarch import Context
>>> from polyarch.operations.config import image_config
>>> with Context() as ctx:                                    # doctest: +SKIP
...     cfg = image_config("127.0.0.1:5000/app:v1", ctx, platform="linux/arm64")
...     print(cfg.platform, cfg.entrypoint, cfg.history_count)
linux/arm64 ('/app',) 7
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from polyarch.content.context import Context, borrowed
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location, parse_location
from polyarch.domain.manifest import ImageManifest, parse_config
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidInput
from polyarch.operations.resolve import resolve

__all__ = ["CONFIG_SCHEMA", "ImageConfigResult", "image_config"]

#: Version tag of the ``--json`` schema.
CONFIG_SCHEMA = "polyarch.config/v1"


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _keys(value: object) -> tuple[str, ...]:
    return tuple(str(k) for k in value) if isinstance(value, Mapping) else ()


@dataclass(frozen=True, slots=True)
class ImageConfigResult:
    """The config of one image: identity, the runtime fields, and the exact bytes."""

    reference: Location
    #: The platform image manifest whose config this is.
    manifest_digest: Digest
    #: The config blob's digest (the image ID docker shows).
    digest: Digest
    platform: Platform | None
    raw: bytes = field(repr=False)
    created: str | None = None
    author: str | None = None
    user: str | None = None
    working_dir: str | None = None
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str | None = None
    #: Entries of ``history`` (one per build step, including empty layers).
    history_count: int = 0
    #: Layers in ``rootfs.diff_ids``.
    layer_count: int = 0

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        return {
            "schema": CONFIG_SCHEMA,
            "reference": str(self.reference),
            "manifestDigest": str(self.manifest_digest),
            "digest": str(self.digest),
            "platform": str(self.platform) if self.platform else None,
            "created": self.created,
            "author": self.author,
            "user": self.user,
            "workingDir": self.working_dir,
            "entrypoint": list(self.entrypoint) if self.entrypoint is not None else None,
            "cmd": list(self.cmd) if self.cmd is not None else None,
            "env": list(self.env),
            "labels": dict(self.labels),
            "exposedPorts": list(self.exposed_ports),
            "volumes": list(self.volumes),
            "stopSignal": self.stop_signal,
            "historyCount": self.history_count,
            "layerCount": self.layer_count,
        }


def image_config(
    ref: Location | str,
    context: Context | None = None,
    *,
    platform: Platform | str | None = None,
) -> ImageConfigResult:
    """Read the image config of the platform image behind ``ref``.

    Parameters: ``ref`` (registry reference or ``oci:DIR[:TAG]``), ``platform``
    (required for a multi-platform index; for a single image it must be one a host of
    ``platform`` runs).

    Returns an :class:`ImageConfigResult`. Raises what
    :func:`~polyarch.operations.resolve.resolve` raises
    (:class:`~polyarch.errors.PlatformNotFound`, :class:`InvalidInput` for an index
    without ``platform``, ...), :class:`~polyarch.errors.ContentError` when the
    config does not verify or is not a JSON object.
    """
    if isinstance(ref, str):
        ref = parse_location(ref)
    with borrowed(context) as ctx:
        resolution = resolve(ref, ctx, platform=platform)
        repo = ctx.repository(ref)
        manifest = repo.get_manifest(str(resolution.digest))
        if not isinstance(manifest, ImageManifest):  # resolve() returns image manifests
            raise InvalidInput(f"{ref}: {resolution.digest} is not an image manifest")
        raw = repo.read_blob(manifest.config)
    what = f"config {manifest.config.digest} of {ref}"
    parsed = parse_config(raw, what=what)
    doc = _object(raw)
    inner = doc.get("config") if isinstance(doc.get("config"), Mapping) else {}
    assert isinstance(inner, Mapping)
    history = doc.get("history")
    rootfs = doc.get("rootfs") if isinstance(doc.get("rootfs"), Mapping) else {}
    assert isinstance(rootfs, Mapping)
    diff_ids = rootfs.get("diff_ids")
    return ImageConfigResult(
        reference=ref,
        manifest_digest=manifest.digest,
        digest=manifest.config.digest,
        platform=parsed.platform,
        raw=raw,
        created=parsed.created,
        author=parsed.author,
        user=_text(inner.get("User")),
        working_dir=_text(inner.get("WorkingDir")),
        entrypoint=parsed.entrypoint,
        cmd=parsed.cmd,
        env=_strings(inner.get("Env")) or (),
        labels=dict(parsed.labels),
        exposed_ports=_keys(inner.get("ExposedPorts")),
        volumes=_keys(inner.get("Volumes")),
        stop_signal=_text(inner.get("StopSignal")),
        history_count=len(history) if isinstance(history, list) else 0,
        layer_count=len(diff_ids) if isinstance(diff_ids, list) else 0,
    )


def _object(raw: bytes) -> Mapping[str, Any]:
    doc = json.loads(raw)  # parse_config has checked it is a JSON object
    assert isinstance(doc, Mapping)
    return doc
