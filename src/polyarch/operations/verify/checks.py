"""The checks behind ``verify``, in their documented order (docs/verify.md).

Passing checks are summarized; every failure is its own line, naming the platform and
the digest concerned, so a person reads the report at a glance. :func:`run_checks` runs
them over one :class:`~polyarch.operations.verify.state.VerifyState`. The checks
themselves live by meaning: the index's structure in :mod:`.index`, the content's shape
in :mod:`.shapes`, expectations and evidence in :mod:`.evidence`, a host's side (pull,
run) in :mod:`.host`, required referrers in :mod:`.referrers`, signatures in
:mod:`.signatures`.
"""

from __future__ import annotations

from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index
from polyarch.operations.verify.evidence import (
    check_attestations,
    check_digests,
    check_provenance,
    expected_platforms,
)
from polyarch.operations.verify.host import check_pull, check_run
from polyarch.operations.verify.index import (
    check_blobs,
    check_children,
    check_configs,
    check_platforms,
    not_an_index,
)
from polyarch.operations.verify.referrers import check_required_referrers
from polyarch.operations.verify.request import Status, VerifyReport
from polyarch.operations.verify.shapes import effective_index, mixed_media_types
from polyarch.operations.verify.signatures import check_signatures
from polyarch.operations.verify.state import VerifyState

__all__ = ["run_checks"]


def run_checks(state: VerifyState) -> VerifyReport:
    """Every check of ``state``'s request, in the documented order; the report."""
    top = state.repo.get_manifest(state.request.target.identifier)
    if not isinstance(top, Index):
        not_an_index(state, top)
        return _report(state, top.digest, top.media_type)
    kind = "BuildKit wrapper (one image)" if top.is_wrapper else "multi-platform index"
    state.add(
        "kind",
        Status.PASS,
        f"{kind}: {len(top.images)} image(s), {len(top.attestations)} attestation(s)",
        mediaType=top.media_type,
    )
    mixed_media_types(state, top)
    state.original = top
    top = effective_index(state, top, state.entry_platforms)
    expected = expected_platforms(state, top)
    check_platforms(state, top, expected)
    check_digests(state, top, expected)
    children = check_children(state, top)
    check_configs(state, top, children)
    check_blobs(state, children)
    check_attestations(state, top, children)
    check_pull(state, top, expected)
    check_provenance(state, top, children)
    if state.request.require_referrers:  # operations/verify/referrers.py
        check_required_referrers(state, top)
    if state.request.checks_signatures:  # operations/verify/signatures.py
        check_signatures(state, top)
    if state.request.run:
        check_run(state, top, expected)
    return _report(state, top.digest, top.media_type)


def _report(state: VerifyState, digest: Digest, media_type: str) -> VerifyReport:
    return VerifyReport(
        state.request.target, digest, media_type, tuple(state.checks), state.request.strict
    )
