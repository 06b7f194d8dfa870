"""``verify`` checks against evidence: what was expected and what the attestations say.

Holds the expected platforms (``--platform``, ``--expect`` and build records, with the
``records`` check), the ``digests`` check (each expected platform's entry is the
recorded digest), the ``attestations`` check (every attestation linked to an image of
the index, whether listed in the index or as a referrer of the image, and the kinds each
image has) and the ``provenance`` check (the source revisions named by SLSA provenance,
from either place). Each function reports through
:meth:`~polyarch.operations.verify.state.VerifyState.add` and is called from
:func:`~polyarch.operations.verify.checks.run_checks`; which evidence a record gives
lives in :mod:`polyarch.content.records.evidence`, the attestation links in
:mod:`polyarch.content.attestations.links`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from polyarch.content.attestations.links import link_problem, referrer_link_problem
from polyarch.content.attestations.referrers import referrer_attestations
from polyarch.content.graph import attestations_by_subject
from polyarch.content.records.evidence import compare_evidence, record_evidence
from polyarch.domain import mediatype
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index
from polyarch.domain.statements import read_provenance
from polyarch.errors import PolyarchError
from polyarch.operations.verify.request import Status
from polyarch.operations.verify.state import Expected, VerifyState, same_platform

__all__ = [
    "PROVENANCE",
    "SBOM_MARKERS",
    "check_attestations",
    "check_digests",
    "check_provenance",
    "expected_platforms",
]

PROVENANCE = "slsa.dev/provenance"
SBOM_MARKERS = ("spdx", "cyclonedx")


def _predicate_types(manifest: ImageManifest) -> list[str]:
    return [
        layer.annotations.get("in-toto.io/predicate-type", "")
        for layer in manifest.layers
        if layer.media_type == mediatype.IN_TOTO
    ]


def _revision(statement: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """Source revision and materials of an SLSA provenance statement (v0.2 or v1)."""
    provenance = read_provenance(statement)
    return provenance.source_revision, sorted({m.uri for m in provenance.materials})


def _referred(state: VerifyState, top: Index) -> Mapping[Digest, tuple[ImageManifest, ...]]:
    """Each image's attestation manifests listed as its referrers (read once per run).

    A repository whose referrers cannot be listed gives a warning and none.
    """
    if state.referred is None:
        digests = [d.digest for d in top.images if d.is_image_manifest]
        try:
            state.referred = referrer_attestations(state.repo, digests)
        except PolyarchError as exc:
            state.add(
                "attestations",
                Status.WARN,
                f"cannot list the images' referrers: {exc.one_line()}",
            )
            state.referred = {}
    return state.referred


# 2, 3: what was expected ----------------------------------------------------------------


def expected_platforms(state: VerifyState, top: Index) -> list[Expected]:
    """The expected platforms of ``state.request``; adds a ``records`` line per bad record.

    ``--platform`` entries expect no digest, ``--expect`` entries their digest, build records
    whatever evidence :func:`~polyarch.content.records.evidence.record_evidence` finds
    against the images of ``top``. Returns them in that order; never raises for a record.
    """
    out = [Expected(p, None, "--platform") for p in state.request.platforms]
    out += [Expected(p, d, "--expect") for p, d in state.request.expect]
    images = frozenset(d.digest for d in top.images)
    for record in state.request.records:
        # Which evidence survives (resolved record, wrapper, config digest): its own module.
        evidence = record_evidence(record, state.ctx, state.repo, images)
        if evidence.problem is not None:
            state.add("records", Status.FAIL, f"{record.origin}: {evidence.problem}",
                     evidence.platform, evidence=evidence.kind)  # fmt: skip
        if evidence.platform is None:
            continue
        out.append(Expected(evidence.platform, evidence.digest, record.origin, evidence))
    return out


def check_digests(state: VerifyState, top: Index, expected: list[Expected]) -> None:
    """The ``digests`` check: each expected digest (or record evidence) against ``top``.

    An expected platform with no entry in ``top`` is skipped (``platforms`` reported it).
    Returns nothing; reports through ``state.add``.
    """
    for e in expected:
        if e.digest is None and (e.evidence is None or e.evidence.config is None):
            continue
        entries = [
            d
            for d in top.images
            if d.platform is not None and same_platform(d.platform, e.platform)
        ]
        if not entries:
            continue  # already reported missing
        if e.evidence is not None:  # a record: the comparison says which evidence it used
            ok, message, details = compare_evidence(e.evidence, entries, state.repo)
            state.add("digests", Status.PASS if ok else Status.FAIL, message, e.platform,
                     **details)  # fmt: skip
        elif any(d.digest == e.digest for d in entries):
            state.add(
                "digests", Status.PASS, f"matches {e.origin}", e.platform, digest=str(e.digest)
            )
        else:
            state.add(
                "digests",
                Status.FAIL,
                f"index has {entries[0].digest}, {e.origin} recorded {e.digest}",
                e.platform,
                expected=str(e.digest),
                actual=str(entries[0].digest),
            )


# 7, 9: attestations, provenance ---------------------------------------------------------


def check_attestations(
    state: VerifyState, top: Index, children: Mapping[Digest, ImageManifest]
) -> None:
    """The ``attestations`` check: orphans and broken links fail, each image's kinds listed.

    ``children`` are the manifests read by the ``children`` check, by digest. The links
    (annotation, subject, in-toto statement) are checked by
    :func:`~polyarch.content.attestations.links.link_problem`; an attestation found as a
    referrer of an image (``--attestations referrers``) by
    :func:`~polyarch.content.attestations.links.referrer_link_problem` (subject, statement). The
    kinds come from the ``in-toto.io/predicate-type`` annotation of BuildKit's
    attestation manifests.
    """
    images = {d.digest: d for d in top.images}
    by_subject = attestations_by_subject(top)
    checked: set[tuple[Digest, Digest]] = set()
    for a in top.attestations:
        subject = a.attestation_subject
        if subject is None or subject not in images:
            state.add(
                "attestations",
                Status.FAIL,
                f"orphan attestation {a.digest}: its subject {subject or '(none)'} "
                "is not an image of the index",
            )
        elif (a.digest, subject) not in checked:  # the same entry twice: one answer
            checked.add((a.digest, subject))
            # The three links must agree (annotation, subject, in-toto statement).
            problem = link_problem(
                state.repo, a, subject, children.get(a.digest), read=state.read_blob
            )
            if problem is not None:
                state.add("attestations", Status.FAIL, problem, images[subject].platform)
    referred = _referred(state, top)
    for d in top.images:
        manifests = [
            children[a.digest] for a in by_subject.get(d.digest, ()) if a.digest in children
        ]
        listed = {m.digest for m in manifests}
        as_referrers = [m for m in referred.get(d.digest, ()) if m.digest not in listed]
        for m in as_referrers:  # linked by subject: its statements must name the image too
            problem = referrer_link_problem(state.repo, m, d.digest, read=state.read_blob)
            if problem is not None:
                state.add("attestations", Status.FAIL, problem, d.platform)
        kinds: set[str] = set()
        for predicate in (p for m in manifests + as_referrers for p in _predicate_types(m)):
            if PROVENANCE in predicate:
                kinds.add("provenance")
            elif any(m in predicate for m in SBOM_MARKERS):
                kinds.add("sbom")
            elif predicate:
                kinds.add(predicate.rsplit("/", 1)[-1])
        text = ", ".join(sorted(kinds)) if kinds else "no attestations"
        if as_referrers:
            text += f" ({len(as_referrers)} as referrers)"
        state.add(
            "attestations",
            Status.PASS,
            text,
            d.platform,
            kinds=sorted(kinds),
            referrers=[str(m.digest) for m in as_referrers],
        )


def check_provenance(
    state: VerifyState, top: Index, children: Mapping[Digest, ImageManifest]
) -> None:
    """The ``provenance`` check: whether every variant was built from one source revision.

    Reads each SLSA provenance statement (v0.2 or v1, as BuildKit writes them) attached to
    an image of ``top``; an unreadable one is a warning, different revisions are a warning.
    """
    revisions: dict[str, str] = {}
    materials: dict[str, list[str]] = {}
    statements: dict[Digest, Any] = {}
    by_subject = attestations_by_subject(top)
    referred = _referred(state, top)
    for d in top.images:
        in_index = [children.get(a.digest) for a in by_subject.get(d.digest, ())]
        listed = {m.digest for m in in_index if m is not None}
        extra = [m for m in referred.get(d.digest, ()) if m.digest not in listed]
        for child in [*in_index, *extra]:
            if child is None:
                continue
            for layer in child.layers:
                if PROVENANCE not in layer.annotations.get("in-toto.io/predicate-type", ""):
                    continue
                try:
                    if layer.digest not in statements:  # each distinct statement read once
                        statements[layer.digest] = json.loads(state.read_blob(layer))
                    statement = statements[layer.digest]
                except (PolyarchError, ValueError, RecursionError) as exc:
                    state.add(
                        "provenance",
                        Status.WARN,
                        f"provenance {layer.digest} unreadable: {exc}",
                        d.platform,
                    )
                    continue
                revision, mats = (
                    _revision(statement) if isinstance(statement, Mapping) else (None, [])
                )
                if revision:
                    revisions[str(d.platform)] = revision
                materials[str(d.platform)] = mats
    if not materials:
        state.add("provenance", Status.PASS, "no provenance to compare")
        return
    distinct = set(revisions.values())
    if len(distinct) > 1:
        listing = ", ".join(f"{p} {r[:12]}" for p, r in sorted(revisions.items()))
        state.add(
            "provenance",
            Status.WARN,
            f"variants built from different source revisions: {listing}",
            revisions=revisions,
            materials=materials,
        )
    elif distinct:
        state.add(
            "provenance",
            Status.PASS,
            f"{len(revisions)} variant(s) built from revision {next(iter(distinct))[:12]}",
            revisions=revisions,
            materials=materials,
        )
    else:
        state.add(
            "provenance",
            Status.PASS,
            "provenance names no source revision",
            materials=materials,
        )
