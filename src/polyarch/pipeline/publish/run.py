"""``publish``: one multi-platform index from the variants' records, published and verified.

The records (one per spec variant, written by each variant's build, possibly on
different CI runners, or buildx ``--metadata-file`` outputs) say which platform image
manifest each build pushed. ``publish``:

1. checks there is exactly one record per spec variant
   (:mod:`polyarch.pipeline.publish.records`; exit code 2, naming what is missing or
   extra, by platform);
2. names the targets (:func:`~polyarch.pipeline.naming.name_release`: the spec's tags,
   or its tag rules evaluated for the version, or ``--tag``, or metadata-action's output)
   and the index annotations (metadata-action's defaults for that version and commit,
   then the spec's);
3. assembles the index from ``REPO@DIGEST`` of every record and publishes it to every
   target (:func:`~polyarch.create_index`: blobs and children first, tags last), unless a
   target tag would lose a platform it serves now
   (:class:`~polyarch.operations.create.guard.PlatformDropRefused`, nothing written;
   ``allow_platform_drop`` accepts it); ``dry_run`` stops before writing anything;
4. verifies each repository's first tag against the records (:func:`~polyarch.verify`:
   ``exact``, ``strict`` and, when the spec asks, ``run`` with its command and
   ``expect-output``);
5. with ``cleanup``, removes the per-platform tags the plain-Docker builder pushed, when
   the registry can delete a tag without deleting the image (OCI 1.1); otherwise each
   one is reported as not deleted.

With a signing key (``--sign-key``), every image of the spec is signed right after its
tags are written, the index and each platform image (:mod:`polyarch.operations.sign`),
and step 3 then checks those signatures too. A signature that cannot be written is a
failed release (:class:`~polyarch.operations.sign.SigningFailed`, exit code 1) naming
what was published unsigned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from polyarch.content.context import Context, borrowed
from polyarch.content.records.formats import Record, load_records
from polyarch.content.selection import EntryPlatforms
from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.domain.signing.keys import PrivateKey
from polyarch.engine.runner import DockerRunner
from polyarch.errors import ContentError, InvalidInput, PolyarchError
from polyarch.operations.create import CreateRequest, CreateResult, create_index
from polyarch.operations.create.guard import check_served, served_platforms
from polyarch.operations.create.publish import read_tag
from polyarch.operations.sign import (
    SignatureFormat,
    SigningFailed,
    SignRequest,
    SignResult,
    parse_signature_format,
    sign,
)
from polyarch.operations.verify import verify
from polyarch.operations.verify.request import VerifyReport, VerifyRequest
from polyarch.pipeline.metadata import ActionMetadata
from polyarch.pipeline.naming import name_release
from polyarch.pipeline.publish.records import match_records, resolve_variant_record
from polyarch.pipeline.publish.result import (
    CleanupOutcome,
    PublishedVariant,
    PublishResult,
)
from polyarch.pipeline.specfile.model import Spec

__all__ = [
    "EngineUnavailable",
    "PublishRequest",
    "check_release_targets",
    "publish",
]

#: What a registry that can only delete by digest leaves in place.
NOT_DELETED: Final = "not deleted: registry cannot delete a tag without deleting the image"


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
    #: The tags to publish instead of the spec's (``--tag``).
    tags: tuple[str, ...] = ()
    #: The version the spec's tag rules are evaluated for (``--version``; else CI or git).
    version: str | None = None
    #: docker/metadata-action's output: its tags and index annotations (``--metadata``).
    metadata: ActionMetadata | None = None
    #: Move a tag even when it would no longer serve a platform it serves now.
    allow_platform_drop: bool = False
    #: Compute the index and the targets, refuse what would be refused, write nothing.
    dry_run: bool = False
    #: The environment versions, commits and ``SOURCE_DATE_EPOCH`` are read from (``None``:
    #: this process's).
    env: Mapping[str, str] | None = None
    #: Sign what is published with this key (``--sign-key``), in this form.
    sign_key: PrivateKey | None = field(default=None, repr=False)
    signature_format: SignatureFormat = "bundle"

    @classmethod
    def build(
        cls,
        spec: Spec,
        records: Sequence[str | Path | Record],
        *,
        cleanup: bool = False,
        verify: bool = True,
        run: bool = True,
        tags: Sequence[str] = (),
        version: str | None = None,
        metadata: ActionMetadata | None = None,
        allow_platform_drop: bool = False,
        dry_run: bool = False,
        env: Mapping[str, str] | None = None,
        sign_key: str | Path | PrivateKey | None = None,
        password: bytes | None = None,
        signature_format: str = "bundle",
    ) -> PublishRequest:
        """Read the record files and directories (records given as objects are kept).

        ``tags``, ``version`` and ``metadata`` say what the index is published to (see
        :mod:`polyarch.pipeline.naming`; at most one of ``tags`` and ``metadata``).
        ``sign_key``: a cosign private key (file) to sign with (``password``: its
        password, the CLI's ``COSIGN_PASSWORD``); a file is read and decrypted here,
        before anything is published, so a wrong password publishes nothing.
        Raises :class:`~polyarch.errors.InvalidInput` without records, or for both
        ``tags`` and ``metadata``.
        """
        if not records:
            raise InvalidInput(
                "no records given (the record files each build wrote)", parameter="records"
            )
        if tags and metadata is not None:
            raise InvalidInput(
                "give the tags or metadata-action's output, not both", parameter="tags"
            )
        loaded = [r for r in records if isinstance(r, Record)]
        loaded += load_records([r for r in records if not isinstance(r, Record)])
        key = (
            PrivateKey.from_file(sign_key, password)
            if isinstance(sign_key, str | Path)
            else sign_key
        )
        return cls(
            spec,
            tuple(loaded),
            cleanup,
            verify,
            run,
            tags=tuple(tags),
            version=version,
            metadata=metadata,
            allow_platform_drop=allow_platform_drop,
            dry_run=dry_run,
            env=env,
            sign_key=key,
            signature_format=parse_signature_format(signature_format),
        )

    @property
    def runs(self) -> bool:
        """Whether verification starts each platform's image."""
        return self.verify and not self.dry_run and self.run and self.spec.verify.run is not None


def check_release_targets(
    targets: Sequence[Reference],
    platforms: Sequence[Platform],
    ctx: Context,
    *,
    allow: bool = False,
) -> dict[Reference, tuple[str, ...]]:
    """Before building: would an index of ``platforms`` take one away from a target tag?

    ``release`` asks this first, so that a refused release builds and pushes nothing.
    Raises :class:`~polyarch.operations.create.guard.PlatformDropRefused` for the first
    tag that would lose one (unless ``allow``); returns what each target would drop.
    """
    dropped: dict[Reference, tuple[str, ...]] = {}
    for target in targets:
        repo = ctx.repository(target)
        served = served_platforms(
            read_tag(repo, target.tag or "latest"), EntryPlatforms(repo).platform_of
        )
        lost = check_served(str(target), served, platforms, allow=allow)
        if lost:
            dropped[target] = lost
    return dropped


def _first_tags(targets: Sequence[Reference]) -> list[Reference]:
    """The first target of each repository, in order: what is verified."""
    seen: dict[str, Reference] = {}
    for target in targets:
        seen.setdefault(target.name, target)
    return list(seen.values())


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
        keys=(request.sign_key.public_key,) if request.sign_key else (),
    )


def _sign(request: PublishRequest, ctx: Context, create: CreateResult) -> tuple[SignResult, ...]:
    """Sign each image of the spec at its first tag (its repository holds the signatures).

    Raises :class:`~polyarch.operations.sign.SigningFailed` naming what is published
    unsigned when a signature cannot be written.
    """
    key = request.sign_key
    assert key is not None
    done: list[SignResult] = []
    for image in request.spec.images:
        target = image.with_tag(request.spec.tags[0])
        try:
            done.append(sign(SignRequest(target, key, request.signature_format), ctx))
        except PolyarchError as exc:
            unsigned = [str(i) for i in request.spec.images[len(done) :]]
            raise SigningFailed(
                f"published {create.digest} to {len(request.spec.targets())} tag(s), but "
                f"{', '.join(unsigned)} {'is' if len(unsigned) == 1 else 'are'} not signed: "
                f"{exc.message}",
                hint=f"fix the cause, then sign {target} with the same key (what is signed stays)",
                signed=getattr(exc, "signed", ()),
                unsigned=getattr(exc, "unsigned", ()),
            ) from exc
    return tuple(done)


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

    Raises :class:`~polyarch.pipeline.publish.records.RecordMismatch` (bad input) before
    anything is published when the records are not exactly one per variant,
    :class:`EngineUnavailable` when the spec asks to run each platform and no engine
    answers, and
    :class:`~polyarch.operations.create.guard.PlatformDropRefused` (nothing written)
    when a target tag would lose a platform. A failed verification is no
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
            resolved = resolve_variant_record(record, spec, ctx)
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
        naming = name_release(
            spec,
            ctx,
            tags=request.tags,
            version=request.version,
            metadata=request.metadata,
            env=request.env,
        )
        create = create_index(
            CreateRequest.build(
                naming.targets,
                [v.source for v in variants],
                attestations=spec.attestations,
                annotations=naming.annotations,
                dry_run=request.dry_run,
                allow_platform_drop=request.allow_platform_drop,
            ),
            ctx,
        )
        # Signed right after the tags are written, before anything reads them as a release.
        signed = _sign(request, ctx, create) if request.sign_key and not request.dry_run else ()
        chosen = tuple(v.record for v in variants)
        reports: tuple[VerifyReport, ...] = ()
        if request.verify and not request.dry_run:
            reports = tuple(
                verify(_verify_request(request, target, chosen), ctx, runner=runner)
                for target in _first_tags(naming.targets)
            )
        cleanup: tuple[CleanupOutcome, ...] = ()
        if request.cleanup and not request.dry_run:
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
    return PublishResult(spec, variants, create, reports, cleanup, signed, naming)
