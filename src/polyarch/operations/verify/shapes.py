"""``verify`` checks about the shape of the content: nesting, platform-less entries, external
layers and media-type mixes.

Each function reports through :meth:`~polyarch.operations.verify.state.VerifyState.add`
and is called from :func:`~polyarch.operations.verify.checks.run_checks`; the rules
themselves live in one place each (:mod:`polyarch.content.selection` for platforms,
:func:`required_blobs` for blobs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from polyarch.content.graph import MAX_NESTING, external_blobs
from polyarch.content.selection import EntryPlatforms
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index
from polyarch.errors import ContentError, NotFound, PolyarchError
from polyarch.operations.verify.request import Status
from polyarch.operations.verify.state import VerifyState

__all__ = [
    "effective_index",
    "external_layers",
    "mixed_media_types",
    "nested_children",
]


def effective_index(state: VerifyState, top: Index, platforms: EntryPlatforms) -> Index:
    """``top`` with each platform-less image entry given its config's platform.

    The OCI image spec makes an entry's ``platform`` optional, and containerd matches
    such an entry by its config (:mod:`polyarch.content.selection`); the platform,
    digest and configs checks then see it as the platform it is. Each such entry gets a
    warning: clients that read only the index (scripts over ``docker manifest inspect``,
    some registries' UIs) do not see its platform. The returned index keeps ``top``'s
    digest and bytes; only its parsed entries differ.
    """
    entries = []
    for d in top.manifests:
        if d.platform is not None or d.is_index or d.is_attestation or not d.is_image_manifest:
            entries.append(d)
            continue
        try:
            platform = platforms.platform_of(d)
        except PolyarchError:
            entries.append(d)  # missing or unreadable: the children check reports it
            continue
        if platform is not None:
            state.add(
                "platforms",
                Status.WARN,
                f"entry {d.digest} has no platform in the index; its config says {platform} "
                "(containerd and Docker match it by its config, tools that read only the "
                "index do not see its platform)",
                platform,
            )
            entries.append(d.with_platform(platform))
            continue
        entries.append(d)
    return replace(top, manifests=tuple(entries))


def nested_children(
    state: VerifyState,
    label: str,
    index: Index,
    found: dict[Digest, ImageManifest],
    depth: int = 1,
) -> int:
    """Check every manifest of a nested ``index`` (recursively) as the top-level ones are.

    Children go into ``found`` so the blobs check covers them too; the platform,
    digest and configs checks apply to the top-level entries only (a nested index's own
    platforms are listed in one line), while the pull simulation walks nested indexes
    as containerd does. Returns the number of failures.
    """
    failures = 0
    if depth > MAX_NESTING:
        state.add(
            "children", Status.FAIL, f"{index.digest}: nested more than {MAX_NESTING} deep", label
        )
        return 1
    platforms = ", ".join(str(d.platform) for d in index.images if d.platform) or "none"
    state.add(
        "children",
        Status.PASS,
        f"nested index {index.digest.short}: {len(index.manifests)} entries "
        f"(platforms {platforms}); its content is checked; the platform and digest checks "
        "cover the top level only, the pull check walks it as containerd does",
        label,
    )
    for d in index.manifests:
        if d.digest in found:
            continue
        try:
            child = state.repo.get_manifest(d.digest)
        except (NotFound, ContentError) as exc:
            state.broken[d.digest] = (
                f"is missing from {state.repo.name}"
                if isinstance(exc, NotFound)
                else f"cannot be read: {exc.one_line()}"
            )
            state.add("children", Status.FAIL, f"manifest {d.digest}: {exc.one_line()}", label)
            failures += 1
            continue
        if child.size != d.size or child.media_type != d.media_type:
            state.add(
                "children",
                Status.FAIL,
                f"manifest {d.digest} is {child.size} bytes of {child.media_type}, "
                f"nested index {index.digest.short} says {d.size} bytes of {d.media_type}",
                label,
            )
            failures += 1
        elif isinstance(child, ImageManifest):
            found[d.digest] = child
        else:
            failures += nested_children(state, label, child, found, depth + 1)
    return failures


def external_layers(
    add: Callable[..., None], children: Mapping[Digest, ImageManifest], repo_name: str
) -> None:
    """One line naming the external layers (never required in the repository), if any."""
    seen: dict[Digest, Descriptor] = {}
    for child in children.values():
        for blob in external_blobs(child):
            seen.setdefault(blob.digest, blob)
    if not seen:
        return
    urls = sorted({u for b in seen.values() for u in b.urls})
    add(
        "blobs",
        Status.PASS,
        f"{len(seen)} external layer(s) (foreign / non-distributable) not required in "
        f"{repo_name}: clients fetch them from their URLs",
        external=[str(d) for d in seen],
        urls=urls[:20],
    )


def mixed_media_types(state: VerifyState, top: Index) -> None:
    """Warn when a Docker manifest list names OCI manifests or indexes.

    Docker and containerd pull such a list, but the Docker image manifest v2 schema 2
    spec allows only Docker manifests in a manifest list, and stricter clients and
    registries (older Docker engines, some registries' manifest validation) reject the
    mix: an OCI image index is the portable form.
    """
    if top.media_type != mediatype.DOCKER_MANIFEST_LIST:
        return
    oci_types = (mediatype.OCI_MANIFEST, mediatype.OCI_INDEX)
    oci = [d for d in top.manifests if d.media_type in oci_types]
    if oci:
        state.add(
            "kind",
            Status.WARN,
            f"a Docker manifest list naming {len(oci)} OCI manifest(s): some clients reject "
            "that mix (an OCI image index is the portable form: create --format oci)",
            oci=[str(d.digest) for d in oci[:20]],
        )
