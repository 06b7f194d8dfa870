"""The checks behind ``verify``, each producing one or more report lines.

Passing checks are summarized; every failure is its own line, naming the platform and
the digest concerned, so a person reads the report at a glance.

This module holds the :class:`Verifier`: the state of one run and the order of the
checks. The checks themselves live by meaning: the index's structure in
:mod:`polyarch.operations.checks_index`, the content's shape in
:mod:`polyarch.operations.checks_content`, expectations and evidence in
:mod:`polyarch.operations.checks_evidence`, a host's side (pull, run) in
:mod:`polyarch.operations.checks_host`, required referrers in
:mod:`polyarch.operations.referrer_checks`.
"""

from __future__ import annotations

from typing import Any

from polyarch.descriptor import Descriptor
from polyarch.digest import Digest
from polyarch.errors import PolyarchError
from polyarch.manifest import Index
from polyarch.operations.checks_content import effective_index, mixed_media_types
from polyarch.operations.checks_evidence import (
    check_attestations,
    check_digests,
    check_provenance,
    expected_platforms,
)
from polyarch.operations.checks_host import COMMON_HOSTS, check_pull, check_run
from polyarch.operations.checks_index import (
    check_blobs,
    check_children,
    check_configs,
    check_platforms,
    not_an_index,
)
from polyarch.operations.context import Context
from polyarch.operations.matching import EntryPlatforms, Selected
from polyarch.operations.referrer_checks import check_required_referrers
from polyarch.operations.runner import DockerRunner
from polyarch.operations.verification import Check, Status, VerifyReport, VerifyRequest
from polyarch.platform import Platform

__all__ = ["COMMON_HOSTS", "Verifier"]


class Verifier:
    """Runs every check for one request and collects the report lines."""

    def __init__(self, request: VerifyRequest, ctx: Context, runner: DockerRunner) -> None:
        self.request = request
        self.ctx = ctx
        self.runner = runner
        self.repo = ctx.repository(request.target)
        self.checks: list[Check] = []
        #: The one platform rule (containerd's), children read once: see operations/matching.
        self.entry_platforms = EntryPlatforms(self.repo)
        self._original: Index | None = None
        self._labels: dict[Digest, str] = {}
        # Small blobs (in-toto statements) read by several checks: read once per run.
        self._blobs: dict[Digest, bytes] = {}

    def add(
        self, check: str, status: Status, message: str, platform: object = None, **details: Any
    ) -> None:
        """Record one report line."""
        self.checks.append(
            Check(check, status, message, str(platform) if platform else None, details)
        )

    def run(self) -> VerifyReport:
        """Every check, in the documented order."""
        top = self.repo.get_manifest(self.request.target.identifier)
        if not isinstance(top, Index):
            not_an_index(self, top)
            return self._report(top.digest, top.media_type)
        kind = "BuildKit wrapper (one image)" if top.is_wrapper else "multi-platform index"
        self.add(
            "kind",
            Status.PASS,
            f"{kind}: {len(top.images)} image(s), {len(top.attestations)} attestation(s)",
            mediaType=top.media_type,
        )
        mixed_media_types(self, top)
        self._original = top
        top = effective_index(self, top, self.entry_platforms)
        expected = expected_platforms(self, top)
        check_platforms(self, top, expected)
        check_digests(self, top, expected)
        children = check_children(self, top)
        check_configs(self, top, children)
        check_blobs(self, children)
        check_attestations(self, top, children)
        check_pull(self, top, expected)
        check_provenance(self, top, children)
        if self.request.require_referrers:  # operations/referrer_checks.py
            check_required_referrers(self, top)
        if self.request.run:
            check_run(self, top, expected)
        return self._report(top.digest, top.media_type)

    def _report(self, digest: Digest, media_type: str) -> VerifyReport:
        return VerifyReport(
            self.request.target, digest, media_type, tuple(self.checks), self.request.strict
        )

    def read_blob(self, descriptor: Descriptor, *, max_size: int = 16 * 1024 * 1024) -> bytes:
        """A small blob of the target repository, verified, read at most once per run.

        Several checks read the same in-toto statements (attestation links, provenance);
        an index whose 1,000 entries name a few attestations must not read them 1,000 times.
        """
        data = self._blobs.get(descriptor.digest)
        if data is None:
            data = self.repo.read_blob(descriptor, max_size=max_size)
            self._blobs[descriptor.digest] = data
        return data

    def label(self, top: Index, d: Descriptor) -> str:
        """How a report line names entry ``d`` of ``top``: its platform, else its digest.

        An attestation is named after the image it is attached to.
        """
        if d.attestation_subject:
            if not self._labels:  # one pass, not one scan of the index per attestation
                self._labels = {
                    i.digest: str(i.platform) if i.platform else i.digest.short
                    for i in reversed(top.images)
                }
            owner = self._labels.get(d.attestation_subject, d.attestation_subject.short)
            return f"attestation of {owner}"
        return str(d.platform) if d.platform else d.digest.short

    def pick(self, host: Platform) -> Selected | None:
        """What a host pulls: the one rule (containerd's), as resolve and inspect apply it."""
        top = self._original
        assert top is not None
        try:
            return self.entry_platforms.select(top, host)
        except PolyarchError:
            return None  # an unreadable child: the children check reports it
