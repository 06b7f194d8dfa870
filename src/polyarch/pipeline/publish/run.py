"""``publish``: one multi-platform index from the variants' records, published and verified.

The records (one per spec variant, written by each variant's build, possibly on
different CI runners, or buildx ``--metadata-file`` outputs) say which platform image
manifest each build pushed. ``publish``:

1. checks there is exactly one record per spec variant (:class:`RecordMismatch`, exit
   code 2, names what is missing or extra, by platform);
2. assembles the index from ``REPO@DIGEST`` of every record and publishes it to every
   tag of every image of the spec (:func:`~polyarch.create_index`: blobs and children
   first, tags last);
3. verifies each image's first tag against the records (:func:`~polyarch.verify`:
   ``exact``, ``strict`` and, when the spec asks, ``run`` with its command and
   ``expect-output``);
4. with ``cleanup``, removes the per-platform tags the plain-Docker builder pushed, when
   the registry can delete a tag without deleting the image (OCI 1.1); otherwise each
   one is reported as not deleted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from polyarch.content.context import Context, borrowed
from polyarch.content.record_evidence import record_source, resolve_record
from polyarch.content.records import Record, load_records
from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.engine.runner import DockerRunner
from polyarch.errors import ContentError, InvalidInput, PolyarchError
from polyarch.operations.create import CreateRequest, CreateResult, create_index
from polyarch.operations.verify import verify
from polyarch.operations.verify.request import VerifyReport, VerifyRequest
from polyarch.pipeline.publish.result import (
    CleanupOutcome,
    PublishedVariant,
    PublishResult,
)
from polyarch.pipeline.specfile.model import Spec

__all__ = ["EngineUnavailable", "PublishRequest", "RecordMismatch", "match_records", "publish"]

#: What a registry that can only delete by digest leaves in place.
NOT_DELETED: Final = "not deleted: registry cannot delete a tag without deleting the image"


class RecordMismatch(InvalidInput):
    """The records are not exactly one per spec variant; bring every variant's record."""


class EngineUnavailable(PolyarchError):
    """The spec asks to run each platform, but no Docker engine answers: start one, or
    publish without running the images (``run=False``; the CLI's ``--no-run``)."""


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """What to publish: the spec, the records, and what to do around it."""

    spec: Spec
    records: tuple[Record, ...]
    cleanup: bool = False
    verify: bool = True
    #: Run each platform when the spec's ``verify.run`` asks (``False``: ``--no-run``).
    run: bool = True

    @classmethod
    def build(
        cls,
        spec: Spec,
        records: Sequence[str | Path | Record],
        *,
        cleanup: bool = False,
        verify: bool = True,
        run: bool = True,
    ) -> PublishRequest:
        """Read the record files and directories (records given as objects are kept)."""
        if not records:
            raise InvalidInput(
                "no records given (the record files each build wrote)", parameter="records"
            )
        loaded = [r for r in records if isinstance(r, Record)]
        loaded += load_records([r for r in records if not isinstance(r, Record)])
        return cls(spec, tuple(loaded), cleanup, verify, run)

    @property
    def runs(self) -> bool:
        """Whether verification starts each platform's image."""
        return self.verify and self.run and self.spec.verify.run is not None


def _checked(record: Record, spec: Spec, ctx: Context) -> Record:
    """The record resolved: the platform image's digest, its platform, where it was found.

    Resolved once (:func:`~polyarch.content.record_evidence.resolve_record`): the
    wrapper is read where the record says it was pushed (``image.name``), else in the
    spec's first image; the image's digest is carried from then on (verification of
    every image of the spec compares it, whatever registry each image lives in). A
    record without a platform (a buildx metadata file of a wrapper) takes the image's;
    the image must be of the platform the record says.
    """
    resolved = resolve_record(record, ctx, str(spec.images[0]))
    if resolved.platform is None:
        raise InvalidInput(f"{record.origin}: {record_source(resolved)} names no platform")
    return resolved


def match_records(spec: Spec, records: Sequence[Record]) -> tuple[PublishedVariant, ...]:
    """Pair each spec variant with its record; :class:`RecordMismatch` unless one each.

    Every record must have its platform (see :func:`publish` for buildx metadata). The
    same digest recorded twice for a platform (an artifact downloaded twice) is kept once.
    """
    by_variant: dict[Platform, list[Record]] = {v.platform: [] for v in spec.variants}
    extra: list[Record] = []
    for record in records:
        assert record.platform is not None
        variant = spec.variant(record.platform)
        if variant is None:
            extra.append(record)
        elif all(r.digest != record.digest for r in by_variant[variant.platform]):
            by_variant[variant.platform].append(record)
    problems = [f"missing {p} (no record for it)" for p, found in by_variant.items() if not found]
    problems += [
        f"{p} more than once ({', '.join(f'{r.origin} {r.digest.short}' for r in found)})"
        for p, found in by_variant.items()
        if len(found) > 1
    ]
    problems += [f"extra {r.platform} ({r.origin}: not a variant of the spec)" for r in extra]
    if problems:
        raise RecordMismatch(
            "records do not match the spec's variants: " + "; ".join(problems),
            hint="each variant's build writes one record; bring every build's records",
        )
    return tuple(PublishedVariant(v, by_variant[v.platform][0]) for v in spec.variants)


def _verify_request(
    request: PublishRequest, target: Reference, records: tuple[Record, ...]
) -> VerifyRequest:
    spec = request.spec.verify
    runs = request.runs
    return VerifyRequest(
        target,
        records=records,
        exact=spec.exact,
        run=runs,
        command=(spec.run or None) if runs else None,
        expect_output=(
            tuple((p, re.compile(rx)) for p, rx in spec.expect_output.items()) if runs else ()
        ),
        strict=spec.strict,
    )


def _cleanup(
    ctx: Context, variants: Sequence[PublishedVariant], result: CreateResult
) -> tuple[CleanupOutcome, ...]:
    outcomes = []
    for item in variants:
        tag = item.record.extra.get("tag")
        if not isinstance(tag, str) or not item.record.repository:
            continue  # buildx pushed by digest: no tag to remove
        ref = Reference.parse(item.record.repository).with_tag(tag)
        try:
            deleted = ctx.repository(ref).delete_tag(tag)
        except PolyarchError as exc:
            outcomes.append(CleanupOutcome(str(ref), False, f"not deleted: {exc.one_line()}"))
            continue
        outcomes.append(CleanupOutcome(str(ref), deleted, "deleted" if deleted else NOT_DELETED))
    if any(o.deleted for o in outcomes):
        # A registry that deleted the manifest behind a tag would break the index: check.
        for target in result.targets:
            repo = ctx.repository(target.reference)
            for entry in result.entries:
                if repo.head_manifest(str(entry.descriptor.digest)) is None:
                    raise ContentError(
                        f"cleanup: {target.reference} lost its {entry.platform} image "
                        f"{entry.descriptor.digest}: the registry deleted it with its tag",
                        hint="publish again, without cleanup, to restore it",
                    )
    return tuple(outcomes)


def publish(
    request: PublishRequest,
    context: Context | None = None,
    *,
    runner: DockerRunner | None = None,
) -> PublishResult:
    """Check the records, publish the index to every tag, verify it, clean up.

    Raises :class:`RecordMismatch` (bad input) before anything is published when the
    records are not exactly one per variant, and :class:`EngineUnavailable` when the
    spec asks to run each platform and no engine answers. A failed verification is no
    exception: :attr:`PublishResult.ok` is False (and ``cleanup`` is then skipped, so
    that the per-platform tags stay for inspection).

    For example, after both CI runners uploaded their records::

        spec = load_spec(find_spec())
        request = PublishRequest.build(spec, ["artifacts/"], cleanup=True)
        with Context() as ctx:
            result = publish(request, ctx)
        result.ok, result.digest, result.tags
        # (True, 'sha256:3c5e…', ['registry.example.com/metrics-api:v2.0.0', …])
        print(result.github_outputs(), end="")
        # digest=sha256:3c5e…
        # tags=registry.example.com/metrics-api:v2.0.0,registry.example.com/metrics-api:latest
    """
    spec = request.spec
    runner = runner or DockerRunner()
    with borrowed(context) as ctx:
        # Records without a platform or not resolved (buildx metadata) are resolved first;
        # then the set is matched to the variants (no registry access), then each chosen
        # record is checked. Each record is resolved once: the image digest is carried on.
        done: set[int] = set()

        def once(record: Record) -> Record:
            resolved = _checked(record, spec, ctx)
            done.add(id(resolved))
            return resolved

        records = tuple(
            r if r.platform is not None and r.resolved else once(r) for r in request.records
        )
        variants = tuple(
            PublishedVariant(v.variant, v.record if id(v.record) in done else once(v.record))
            for v in match_records(spec, records)
        )
        if request.runs:
            reason = runner.engine_available()
            if reason is not None:
                raise EngineUnavailable(
                    f"{spec.path.name} asks verify.run, but it cannot run: {reason}",
                    hint="start an engine (scripts/engine.sh start), or publish without running "
                    "the images",
                    parameter="run",
                )
        create = create_index(
            CreateRequest.build(
                spec.targets(),
                [v.source for v in variants],
                attestations=spec.attestations,
            ),
            ctx,
        )
        chosen = tuple(v.record for v in variants)
        reports: tuple[VerifyReport, ...] = ()
        if request.verify:
            reports = tuple(
                verify(
                    _verify_request(request, image.with_tag(spec.tags[0]), chosen),
                    ctx,
                    runner=runner,
                )
                for image in spec.images
            )
        cleanup: tuple[CleanupOutcome, ...] = ()
        if request.cleanup:
            if all(r.ok for r in reports):
                cleanup = _cleanup(ctx, variants, create)
            else:
                cleanup = tuple(
                    CleanupOutcome(
                        str(Reference.parse(v.record.repository or "").with_tag(tag)),
                        False,
                        "kept: verification failed",
                    )
                    for v in variants
                    if isinstance(tag := v.record.extra.get("tag"), str) and v.record.repository
                )
    return PublishResult(spec, variants, create, reports, cleanup)
