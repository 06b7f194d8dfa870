"""What a release names: the target references, the tag family, the index annotations.

``publish``, ``release`` and ``create`` publish one index to a *family* of tags in every
repository. Where the family comes from, in this order:

1. ``tags=`` (``--tag``, repeatable): exactly those tags;
2. ``metadata=`` (``--metadata FILE``): docker/metadata-action's JSON output: its full
   references (or its tag names, in the spec's images) and its ``index:`` /
   ``manifest-descriptor:`` annotations (:mod:`polyarch.pipeline.metadata`);
3. the spec's ``tags``: plain tags as written (``flavor`` applies to rules only);
   metadata-action's tag rules evaluated for the
   version (:func:`~polyarch.pipeline.version.detect_ref_context`: ``version=``
   (``--version``), else GitHub Actions' environment, else git in the spec's directory)
   against the tags the repositories already hold, so that no floating tag moves backwards
   (:mod:`polyarch.pipeline.tags.evaluate`).

Unless the family came from metadata-action (which made its own), the index gets the
default ``org.opencontainers.image.*`` annotations of that version and commit
(:mod:`polyarch.pipeline.annotations`), then the spec's ``annotations``.

For builds (:func:`build_tag`), the family's first tag names the per-platform tags, with
the same version detection; when no rule makes a tag (no version, no branch), the
fallback is ``sha-<short commit>``, as ``type=sha`` makes it.

>>> from polyarch.domain.reference import Reference
>>> family = family_targets([Reference.parse("ghcr.io/seeds/api")], ("3.14.1", "3"))
>>> [str(t) for t in family]
['ghcr.io/seeds/api:3.14.1', 'ghcr.io/seeds/api:3']
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from polyarch.content.context import Context
from polyarch.domain.reference import Reference
from polyarch.engine.process import run_process
from polyarch.errors import InvalidInput, NotFound
from polyarch.operations.tags import list_tags
from polyarch.pipeline.annotations import default_annotations, render_annotations
from polyarch.pipeline.metadata import ActionMetadata
from polyarch.pipeline.specfile.model import Spec
from polyarch.pipeline.tags.evaluate import TagFamily, evaluate_tags
from polyarch.pipeline.tags.rules import Flavor, TagRule, parse_rule
from polyarch.pipeline.version import RefContext, Run, detect_ref_context

__all__ = [
    "VERSION_FAMILY",
    "Naming",
    "NamingSource",
    "build_tag",
    "existing_tags",
    "family_targets",
    "name_release",
    "name_targets",
]

#: The family ``create --version`` gives a repository named without a tag (and the
#: docs' recommended spec ``tags``): metadata-action's semver trio, ``latest=auto``.
VERSION_FAMILY: Final = (
    "type=semver,pattern={{version}}",
    "type=semver,pattern={{major}}.{{minor}}",
    "type=semver,pattern={{major}}",
)
_TAG: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

NamingSource = Literal["spec", "tags", "metadata", "version"]


@dataclass(frozen=True, slots=True)
class Naming:
    """Where an index goes and what it says about itself.

    ``targets`` are full references (repository and tag), in publishing order;
    ``version`` the family's version (its first tag, the index's
    ``org.opencontainers.image.version``); ``annotations`` the index annotations in
    buildx syntax (what :meth:`~polyarch.operations.create.CreateRequest.build` takes);
    ``source`` where the tags came from; ``context`` the ref and commit they were made
    for; ``warnings`` metadata-action's (a tag that is no version...); ``held`` the
    floating tags kept where a higher release put them, each with that release.
    """

    targets: tuple[Reference, ...]
    version: str | None
    annotations: tuple[str, ...] = ()
    source: NamingSource = "spec"
    context: RefContext = field(default_factory=RefContext)
    warnings: tuple[str, ...] = ()
    held: tuple[tuple[str, str], ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        """The tag names, in order, each once."""
        return tuple(dict.fromkeys(t.tag or "latest" for t in self.targets))


def family_targets(images: Sequence[Reference], tags: Sequence[str]) -> tuple[Reference, ...]:
    """Every image with every tag: image by image, tags in order."""
    return tuple(image.with_tag(tag) for image in images for tag in tags)


def existing_tags(repositories: Iterable[Reference], ctx: Context) -> tuple[str, ...]:
    """The tags the repositories hold now (their union; a repository not there holds none).

    Raises what listing raises otherwise (:class:`~polyarch.errors.Unauthorized`...): a
    family judged against tags it could not read could move a tag backwards.
    """
    found: set[str] = set()
    for repository in dict.fromkeys(Reference.parse(r.name) for r in repositories):
        try:
            found.update(list_tags(repository, ctx).tags)
        except NotFound:
            continue
    return tuple(sorted(found))


def _check_tags(tags: Sequence[str]) -> tuple[str, ...]:
    for tag in tags:
        if not _TAG.fullmatch(tag):
            raise InvalidInput(
                f"tag {tag!r} is not a valid tag",
                hint='a tag is 1 to 128 letters, digits, "_", "." or "-", not starting with '
                '"." or "-"',
                parameter="tags",
            )
    return tuple(dict.fromkeys(tags))


def _annotations(
    ctx: RefContext,
    version: str | None,
    custom: Mapping[str, str],
    env: Mapping[str, str],
    *,
    defaults: bool = True,
) -> tuple[str, ...]:
    base = default_annotations(ctx, version, env=env) if defaults else {}
    rendered = render_annotations(base, custom, ctx)
    return tuple(f"{key}={value}" for key, value in rendered.items())


def _evaluate(
    rules: Sequence[TagRule],
    flavor: Flavor,
    context: RefContext,
    existing: Sequence[str] | None,
    what: str,
) -> TagFamily:
    family = evaluate_tags(rules, context, flavor, existing=existing)
    if not family.tags:
        ref = context.ref or "no ref"
        raise InvalidInput(
            f"{what}: the tag rules make no tag for {ref} (source: {context.source})",
            hint="give the version (v3.14.1) or the tags, run it in CI, or tag the commit",
            parameter="version",
        )
    return family


def name_release(
    spec: Spec,
    ctx: Context,
    *,
    tags: Sequence[str] = (),
    version: str | None = None,
    metadata: ActionMetadata | None = None,
    env: Mapping[str, str] | None = None,
    run: Run = run_process,
) -> Naming:
    """The targets, version and annotations of publishing ``spec`` (see the module docstring).

    ``env`` defaults to ``os.environ`` (GitHub's ``GITHUB_*``, ``SOURCE_DATE_EPOCH``);
    ``run`` runs git. The repositories' tags are listed only when the spec's tags are
    rules. Raises :class:`~polyarch.errors.InvalidInput` for a bad tag, a version that
    makes no tag, or metadata-action output without references and no spec images, and
    what listing the tags raises.
    """
    environ = os.environ if env is None else env
    context = detect_ref_context(version=version, env=environ, directory=spec.path.parent, run=run)
    if tags:
        chosen = _check_tags(tags)
        return Naming(
            family_targets(spec.images, chosen),
            chosen[0],
            _annotations(context, chosen[0], spec.annotations, environ),
            "tags",
            context,
        )
    if metadata is not None:
        targets = metadata.references or family_targets(spec.images, metadata.tag_names)
        if not targets:
            raise InvalidInput(
                f"{metadata.origin}: metadata-action made no tag", parameter="metadata"
            )
        own = _annotations(context, None, spec.annotations, environ, defaults=False)
        return Naming(
            tuple(targets),
            metadata.version,
            (*metadata.index_annotations, *own),
            "metadata",
            context,
        )
    if not spec.has_rules:
        chosen = spec.tags  # plain tags are published as written
        return Naming(
            family_targets(spec.images, chosen),
            chosen[0],
            _annotations(context, chosen[0], spec.annotations, environ),
            "spec",
            context,
        )
    existing = existing_tags(spec.images, ctx)
    family = _evaluate(spec.tag_rules, spec.flavor, context, existing, spec.path.name)
    return Naming(
        family_targets(spec.images, family.tags),
        family.version,
        _annotations(context, family.version, spec.annotations, environ),
        "spec",
        context,
        family.warnings,
        family.held,
    )


def name_targets(
    targets: Sequence[str],
    ctx: Context,
    *,
    version: str | None = None,
    metadata: ActionMetadata | None = None,
    env: Mapping[str, str] | None = None,
    directory: Path | None = None,
    run: Run = run_process,
) -> Naming:
    """``create``'s targets with ``--version`` or ``--metadata``.

    With ``version``, a target named without a tag (a repository) gets the
    :data:`VERSION_FAMILY` of that version (judged against the tags it holds: no
    floating tag moves backwards), a target with a tag keeps it; with ``metadata``, its
    references are targets too, and a repository named without a tag gets each of its tag
    names (a mirror of the same family). The annotations are the defaults of the version
    (``version``) or metadata-action's (``metadata``). ``directory`` is where git is asked
    (default: the current directory).
    """
    environ = os.environ if env is None else env
    context = detect_ref_context(
        version=version, env=environ, directory=directory or Path.cwd(), run=run
    )
    parsed = [Reference.parse(t) for t in targets]
    bare = [r for r in parsed if r.tag is None and r.digest is None]
    if metadata is not None:
        named = [r for r in parsed if r not in bare]
        refs = [*named, *metadata.references, *family_targets(bare, metadata.tag_names)]
        return Naming(
            tuple(dict.fromkeys(refs)),
            metadata.version,
            metadata.index_annotations,
            "metadata",
            context,
        )
    family: TagFamily | None = None
    if bare:
        rules = [parse_rule(text) for text in VERSION_FAMILY]
        existing = existing_tags(bare, ctx)
        family = _evaluate(rules, Flavor(), context, existing, "--version")
    out: list[Reference] = []
    for ref in parsed:
        if ref in bare and family is not None:
            out += family_targets([ref], family.tags)
        else:
            out.append(ref)
    first = family.version if family is not None else next((r.tag for r in out if r.tag), None)
    return Naming(
        tuple(dict.fromkeys(out)),
        first,
        _annotations(context, first, {}, environ),
        "version",
        context,
        family.warnings if family is not None else (),
        family.held if family is not None else (),
    )


def build_tag(
    spec: Spec,
    *,
    version: str | None = None,
    env: Mapping[str, str] | None = None,
    run: Run = run_process,
) -> Spec:
    """``spec`` with tags known, for naming per-platform tags: as they are when plain; when
    they are rules, the first tag the rules make for the detected version (no registry is
    asked: the family's first tag is the version, which no held tag changes), else
    ``sha-<short commit>``.

    Raises :class:`~polyarch.errors.InvalidInput` when there is neither (no version, no
    commit): the per-platform tag needs a name.
    """
    if not spec.has_rules:
        return spec
    environ = os.environ if env is None else env
    context = detect_ref_context(version=version, env=environ, directory=spec.path.parent, run=run)
    family = evaluate_tags(spec.tag_rules, context, spec.flavor)
    if family.version is not None:
        return spec.with_tags((family.version,))
    if context.sha:
        return spec.with_tags((f"sha-{context.short_sha}",))
    raise InvalidInput(
        f"{spec.path.name}: the tag rules make no tag and there is no commit to name the "
        "per-platform tags after",
        hint="give the version (v3.14.1), run it in CI, or build from a git checkout",
        parameter="version",
    )
