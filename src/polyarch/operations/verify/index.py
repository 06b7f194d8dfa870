"""``verify`` checks of the index's structure: kind, platforms, children, configs, blobs.

Each function reports through :meth:`~polyarch.operations.verify.state.VerifyState.add`
and is called from :func:`~polyarch.operations.verify.checks.run_checks`; the checks of the
content's shape (nesting, platform-less entries, external layers, media-type mixes)
live in :mod:`polyarch.operations.verify.shapes`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, TypeVar, overload

from polyarch.content.graph import fetch_config, required_blobs
from polyarch.content.selection import platform_key
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, Manifest
from polyarch.domain.platform import Platform
from polyarch.domain.platform.agreement import config_agreement
from polyarch.errors import ContentError, NotFound, PolyarchError
from polyarch.operations.verify.request import Status
from polyarch.operations.verify.shapes import external_layers, nested_children
from polyarch.operations.verify.state import Expected, VerifyState, same_platform

__all__ = ["check_blobs", "check_children", "check_configs", "check_platforms", "not_an_index"]

T = TypeVar("T")


def not_an_index(state: VerifyState, manifest: ImageManifest) -> None:
    """The failing ``kind`` line for a target that is an image or attestation manifest.

    Names the image's platform when its config can be read; returns nothing.
    """
    what = "an attestation manifest" if manifest.is_attestation else "a single image manifest"
    platform = None
    if not manifest.is_attestation:
        try:
            platform = fetch_config(state.repo, manifest).platform
        except PolyarchError:
            platform = None
    state.add(
        "kind",
        Status.FAIL,
        f"{state.request.target} is {what}"
        + (f" ({platform})" if platform else "")
        + ", not an index or manifest list",
        mediaType=manifest.media_type,
    )


# 2: platforms -----------------------------------------------------------------------------


def check_platforms(state: VerifyState, top: Index, expected: list[Expected]) -> None:
    """The ``platforms`` check: entries without a platform, duplicates, missing, extra.

    ``expected`` comes from
    :func:`~polyarch.operations.verify.evidence.expected_platforms`; extra platforms fail
    only with ``--exact``. Returns nothing; reports through ``state.add``.
    """
    images = top.images
    for d in images:
        if d.platform is None and not d.is_index:
            state.add("platforms", Status.FAIL, f"image entry {d.digest} has no platform")
    keyed: dict[tuple[Any, ...], list[Descriptor]] = defaultdict(list)
    for d in images:
        if d.platform is not None:
            keyed[platform_key(d.platform)].append(d)
    for group in keyed.values():
        if len(group) > 1:
            names = ", ".join(f"{d.platform} ({d.digest.short})" for d in group)
            state.add("platforms", Status.FAIL, f"duplicate platform: {names}", group[0].platform)
    present = [d.platform for d in images if d.platform is not None]
    wanted: list[Platform] = []
    for e in expected:
        if not any(same_platform(e.platform, w) for w in wanted):
            wanted.append(e.platform)
    for w in wanted:
        if any(same_platform(w, p) for p in present):
            state.add("platforms", Status.PASS, "present", w)
        else:
            origins = sorted({e.origin for e in expected if same_platform(e.platform, w)})
            state.add("platforms", Status.FAIL, f"missing (expected by {', '.join(origins)})", w)
    extra = [p for p in present if not any(same_platform(p, w) for w in wanted)]
    if state.request.exact and wanted:
        for p in extra:
            state.add("platforms", Status.FAIL, "present but not expected (--exact)", p)
    elif not wanted:
        names = ", ".join(str(p) for p in present) or "none"
        state.add("platforms", Status.PASS, f"{len(present)} platform(s): {names} (none expected)")


# 4, 5, 6: content ---------------------------------------------------------------------------


def check_children(state: VerifyState, top: Index) -> dict[Digest, ImageManifest]:
    """The ``children`` check: every manifest of ``top`` present, hashing to its digest.

    Returns the image manifests read, by digest (nested indexes walked by
    :func:`~polyarch.operations.verify.shapes.nested_children`); a missing or mismatched
    child is a failure line, never an exception.
    """
    found: dict[Digest, ImageManifest] = {}
    failures = 0
    # Read concurrently, judged in the index's order (the same child under another entry:
    # read and checked once).
    read = state.read_each((d.digest for d in top.manifests), state.repo.get_manifest)
    judged: set[Digest] = set()
    for d in top.manifests:
        if d.digest in judged:
            continue
        judged.add(d.digest)
        label = state.label(top, d)
        try:
            child = _value(read[d.digest])
        except NotFound:
            state.broken[d.digest] = f"is missing from {state.repo.name}"
            state.add(
                "children",
                Status.FAIL,
                f"manifest {d.digest} missing from {state.repo.name}",
                label,
            )
            failures += 1
            continue
        except ContentError as exc:
            state.broken[d.digest] = f"cannot be read: {exc.one_line()}"
            state.add("children", Status.FAIL, f"manifest {d.digest}: {exc}", label)
            failures += 1
            continue
        if child.size != d.size or child.media_type != d.media_type:
            state.add(
                "children",
                Status.FAIL,
                f"manifest {d.digest} is {child.size} bytes of {child.media_type}, "
                f"the index says {d.size} bytes of {d.media_type}",
                label,
            )
            failures += 1
            continue
        if isinstance(child, ImageManifest):
            found[d.digest] = child
        else:
            failures += nested_children(state, label, child, found)
    if not failures:
        state.add(
            "children",
            Status.PASS,
            f"{len(found)} manifest(s) present; bytes hash to their digests, sizes match",
        )
    return found


def check_configs(state: VerifyState, top: Index, children: Mapping[Digest, ImageManifest]) -> None:
    """The ``configs`` check: each image's config names the platform the index claims.

    ``children`` are the manifests read by :func:`check_children`, by digest; each distinct
    config is read once.
    """
    readers: dict[Digest, ImageManifest] = {}  # each distinct config read once, concurrently
    for d in top.images:
        child = children.get(d.digest)
        if child is not None and d.platform is not None:
            readers.setdefault(child.config.digest, child)
    configs = state.read_each(readers, lambda g: fetch_config(state.repo, readers[g]))
    for d in top.images:
        child = children.get(d.digest)
        if child is None or d.platform is None:
            continue
        try:
            config = _value(configs[child.config.digest])
        except PolyarchError as exc:
            state.add(
                "configs",
                Status.FAIL,
                f"config {child.config.digest}: {exc.one_line()}",
                d.platform,
            )
            continue
        if config.platform is None:
            state.add("configs", Status.FAIL, "the image config names no platform", d.platform)
            continue
        # The one rule create decides by (domain/platform/agreement.py).
        agreement = config_agreement(d.platform, config.platform)
        said = config.platform.format_all() if config.platform.os_version else config.platform
        if not agreement.agrees:
            claims = d.platform.format_all() if d.platform.os_version else d.platform
            state.add(
                "configs",
                Status.FAIL,
                f"the index claims {claims} but the image config says {said} "
                f"({agreement.conflict} differs)",
                d.platform,
                config=str(config.platform),
            )
        else:
            note = f"; {agreement.note}" if agreement.note else ""
            state.add("configs", Status.PASS, f"config says {said}{note}", d.platform)


def check_blobs(state: VerifyState, children: Mapping[Digest, ImageManifest]) -> None:
    """The ``blobs`` check: every required blob of ``children`` present, of its size.

    External (non-distributable) layers are not in the repository and are reported by
    :func:`~polyarch.operations.verify.shapes.external_layers` instead.
    """
    # Each distinct blob asked once (a HEAD on a registry), concurrently; external layers
    # are not in the repository.
    sizes = state.read_each(
        (b.digest for child in children.values() for b in required_blobs(child)),
        state.repo.blob_size,
    )
    checked = {digest: _value(size) for digest, size in sizes.items()}
    missing: list[str] = []
    for child in children.values():
        for blob in required_blobs(child):
            size = checked[blob.digest]
            if size is None:
                missing.append(f"{blob.digest} ({blob.media_type}) of {child.digest.short}")
            elif size >= 0 and size != blob.size:
                missing.append(f"{blob.digest} is {size} bytes, expected {blob.size}")
    for item in missing:
        state.add("blobs", Status.FAIL, f"blob {item} not pullable from {state.repo.name}")
    if not missing:
        state.add("blobs", Status.PASS, f"all {len(checked)} blob(s) present in {state.repo.name}")
    external_layers(state.add, children, state.repo.name)


# The first overload because mypy solves no T from ``T | PolyarchError`` when T is itself a
# union (``Manifest``).
@overload
def _value(read: Manifest | PolyarchError) -> Manifest: ...
@overload
def _value(read: T | PolyarchError) -> T: ...
def _value(read: object) -> object:
    """What :meth:`VerifyState.read_each` read, or the failure it caught, raised here."""
    if isinstance(read, PolyarchError):
        raise read
    return read
