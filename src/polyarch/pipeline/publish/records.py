"""The build records of a release, matched to the spec's variants: one record per variant.

Each variant's build writes a record of the platform image it pushed (a polyarch record,
or buildx's ``--metadata-file``, possibly on another CI runner:
:mod:`polyarch.content.records.formats`). Before anything is published, each record is
resolved to its platform image (a BuildKit wrapper read where the record says it was
pushed: :func:`resolve_variant_record`), and the records are paired with the spec's
variants, exactly one each (:func:`match_records`, :class:`RecordMismatch`).
"""

from __future__ import annotations

from collections.abc import Sequence

from polyarch.content.context import Context
from polyarch.content.records.evidence import record_source, resolve_record
from polyarch.content.records.formats import Record
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidInput
from polyarch.pipeline.publish.result import PublishedVariant
from polyarch.pipeline.specfile.model import Spec

__all__ = ["RecordMismatch", "match_records", "resolve_variant_record"]


class RecordMismatch(InvalidInput):
    """The records are not exactly one per spec variant; bring every variant's record."""


def resolve_variant_record(record: Record, spec: Spec, ctx: Context) -> Record:
    """The record resolved: the platform image's digest, its platform, where it was found.

    Resolved once (:func:`~polyarch.content.records.evidence.resolve_record`): the
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
