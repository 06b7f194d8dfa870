"""``verify --require-referrer``: each image has a referrer of a type, linked to it.

Presence and linkage only, never cryptography: a signature is *there* and *names this
image*, not *valid*. Checking it is cosign's or notation's job (``cosign verify --key``,
``notation verify``; docs/referrers.md shows both). Linkage means: for the OCI 1.1 form,
the referrer's ``subject`` is the image's digest; for cosign's tag scheme, the tag is
derived from the image's digest and, for signatures (simple signing payloads), a
payload names that digest (``critical.image.docker-manifest-digest``).
"""

from __future__ import annotations

import json
from typing import Any, Final

from polyarch.content.referrers.discovery import Referrer, ReferrerDiscovery
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index
from polyarch.errors import PolyarchError
from polyarch.operations.verify.request import Status
from polyarch.operations.verify.state import VerifyState

__all__ = ["check_required_referrers"]

#: cosign's signature payload (Red Hat "simple signing" format).
SIMPLE_SIGNING: Final = "application/vnd.dev.cosign.simplesigning.v1+json"
_PAYLOAD_LIMIT = 64 * 1024


def _payload_names(state: VerifyState, manifest: ImageManifest, digest: Digest) -> bool:
    """Whether a simple signing payload of a cosign signature names ``digest``."""
    for layer in manifest.layers:
        if layer.media_type != SIMPLE_SIGNING or layer.size > _PAYLOAD_LIMIT:
            continue
        try:
            payload: Any = json.loads(state.read_blob(layer))
        except (PolyarchError, ValueError, RecursionError):
            continue
        critical = payload.get("critical") if isinstance(payload, dict) else None
        image = critical.get("image") if isinstance(critical, dict) else None
        named = image.get("docker-manifest-digest") if isinstance(image, dict) else None
        if named == str(digest):
            return True
    return False


def _linked(state: VerifyState, r: Referrer, digest: Digest) -> bool:
    if r.form == "subject":
        return r.manifest.subject is not None and r.manifest.subject.digest == digest
    if isinstance(r.manifest, ImageManifest) and any(
        layer.media_type == SIMPLE_SIGNING for layer in r.manifest.layers
    ):
        return _payload_names(state, r.manifest, digest)
    return r.subject == digest  # other cosign tags: the tag is derived from the digest


def check_required_referrers(state: VerifyState, top: Index) -> None:
    """One ``referrers`` report line per required type and image (or the index)."""
    discovery = ReferrerDiscovery(state.repo)
    found: dict[Digest, list[Referrer]] = {}
    for artifact_type, on_index in state.request.require_referrers:
        subjects: list[tuple[Digest, object]] = (
            [(top.digest, "index")]
            if on_index
            else [(d.digest, d.platform or d.digest.short) for d in top.images]
        )
        for digest, label in subjects:
            if digest not in found:
                try:
                    found[digest] = discovery.direct(digest, keep_unlinked=True)
                except PolyarchError as exc:
                    state.add(
                        "referrers",
                        Status.FAIL,
                        f"cannot list referrers of {digest}: {exc.one_line()}",
                        label,
                    )
                    found[digest] = []
                    continue
            typed = [r for r in found[digest] if r.artifact_type == artifact_type]
            linked = [r for r in typed if _linked(state, r, digest)]
            details = {"artifactType": artifact_type, "referrers": [str(r.digest) for r in linked]}
            if linked:
                forms = ", ".join(sorted({r.form for r in linked}))
                state.add(
                    "referrers",
                    Status.PASS,
                    f"{len(linked)} {artifact_type} referrer(s) ({forms}) name {digest.short}",
                    label,
                    **details,
                )
            elif typed:
                state.add(
                    "referrers",
                    Status.FAIL,
                    f"{artifact_type}: {', '.join(r.digest.short for r in typed)} listed, but "
                    f"none names {digest.short} as its subject",
                    label,
                    **details,
                )
            else:
                state.add(
                    "referrers",
                    Status.FAIL,
                    f"no {artifact_type} referrer of {digest.short} in {state.repo.name}",
                    label,
                    **details,
                )
