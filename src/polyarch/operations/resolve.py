"""``resolve``: the digest of the platform-specific image manifest behind a reference.

This replaces the manual "docker manifest inspect, pick the entry whose platform
matches, skip unknown/unknown" step: for a Docker 29 / BuildKit wrapper it answers the
image's digest, never the wrapper's or the attestation's.

>>> from polyarch import Context, resolve
>>> with Context() as ctx:                                    # doctest: +SKIP
...     print(resolve("127.0.0.1:5000/metrics-api:v2.0.0-arm64", ctx).digest)
sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
"""

from __future__ import annotations

from polyarch.content.context import Context, borrowed
from polyarch.content.resolution import Resolution, resolve_in
from polyarch.domain.location import Location, parse_location
from polyarch.domain.platform import Platform

__all__ = ["resolve"]


def resolve(
    ref: Location | str,
    context: Context | None = None,
    *,
    platform: Platform | str | None = None,
) -> Resolution:
    """Resolve ``ref`` to the digest of its platform-specific image manifest.

    * a single image manifest: its own digest (with ``platform``, it must be compatible);
    * a BuildKit / Docker 29 wrapper (one image plus attestations): the image's digest;
    * a multi-platform index: ``platform`` is required; the entry a host of that platform
      would pull (containerd's matching, :mod:`polyarch.content.selection`: entries
      without a platform are matched by their config, nested indexes are walked).
    """
    if isinstance(ref, str):
        ref = parse_location(ref)
    if isinstance(platform, str):
        platform = Platform.parse(platform)
    with borrowed(context) as ctx:
        return resolve_in(ctx.repository(ref), ref, platform)
