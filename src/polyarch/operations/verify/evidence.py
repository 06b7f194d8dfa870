"""``verify`` checks against evidence: what was expected and what the attestations say.

Holds the expected platforms (``--platform``, ``--expect`` and build records, with the
``records`` check), the ``digests`` check (each expected platform's entry is the
recorded digest), the ``attestations`` check (every attestation linked to an image of
the index, the kinds each image has) and the ``provenance`` check (the source revisions
named by SLSA provenance). Each function reports through
:meth:`~polyarch.operations.verify.state.VerifyState.add` and is called from
:func:`~polyarch.operations.verify.checks.run_checks`; which evidence a record gives
lives in :mod:`polyarch.content.record_evidence`, the attestation links in
:mod:`polyarch.content.attestations`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from polyarch.content.attestations import link_problem
from polyarch.content.graph import attestations_by_subject
from polyarch.content.record_evidence import compare_evidence, record_evidence
from polyarch.domain import mediatype
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index
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
    predicate = statement.get("predicate")
    if not isinstance(predicate, Mapping):
        return None, []
    revision: str | None = None
    materials: list[str] = []
    metadata = predicate.get("metadata")
    if isinstance(metadata, Mapping):  # SLSA v0.2, BuildKit's own metadata
        bk = metadata.get("https://mobyproject.org/buildkit@v1#metadata")
        vcs = bk.get("vcs") if isinstance(bk, Mapping) else None
        if isinstance(vcs, Mapping) and isinstance(vcs.get("revision"), str):
            revision = vcs["revision"]
    for item in predicate.get("materials") or []:
        if isinstance(item, Mapping) and isinstance(item.get("uri"), str):
            materials.append(item["uri"])
    build = predicate.get("buildDefinition")
    if isinstance(build, Mapping):  # SLSA v1
        deps = build.get("resolvedDependencies") or []
        materials += [
            d["uri"] for d in deps if isinstance(d, Mapping) and isinstance(d.get("uri"), str)
        ]
        run = predicate.get("runDetails")
        meta = run.get("metadata") if isinstance(run, Mapping) else None
        bk = meta.get("buildkit_metadata") if isinstance(meta, Mapping) else None
        vcs = bk.get("vcs") if isinstance(bk, Mapping) else None
        if isinstance(vcs, Mapping) and isinstance(vcs.get("revision"), str):
            revision = revision or vcs["revision"]
    return revision, sorted(set(materials))


# 2, 3: what was expected ----------------------------------------------------------------


def expected_platforms(state: VerifyState, top: Index) -> list[Expected]:
    """The expected platforms of ``state.request``; adds a ``records`` line per bad record.

    ``--platform`` entries expect no digest, ``--expect`` entries their digest, build records
    whatever evidence :func:`~polyarch.content.record_evidence.record_evidence` finds
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
    :func:`~polyarch.content.attestations.link_problem`; the kinds come from the
    ``in-toto.io/predicate-type`` annotation of BuildKit's attestation manifests.
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
    for d in top.images:
        kinds: set[str] = set()
        for a in by_subject.get(d.digest, ()):
            child = children.get(a.digest)
            for predicate in _predicate_types(child) if child else []:
                if PROVENANCE in predicate:
                    kinds.add("provenance")
                elif any(m in predicate for m in SBOM_MARKERS):
                    kinds.add("sbom")
                elif predicate:
                    kinds.add(predicate.rsplit("/", 1)[-1])
        text = ", ".join(sorted(kinds)) if kinds else "no attestations"
        state.add("attestations", Status.PASS, text, d.platform, kinds=sorted(kinds))


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
    for d in top.images:
        for a in by_subject.get(d.digest, ()):
            child = children.get(a.digest)
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
