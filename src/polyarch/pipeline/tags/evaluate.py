"""Tag rules and a ref in, the family of tags out: docker/metadata-action's ``getVersion``.

The rules are taken by descending priority; each enabled rule that applies to the ref
makes at most one tag (prefix and suffix added, the rule's own before the flavor's, then
sanitized: every run of characters outside ``[a-zA-Z0-9._-]`` becomes ``-``). The first
tag made is the *version* (``org.opencontainers.image.version``), the others follow in
order without repeats, and ``latest`` is added when the flavor says so:

* ``latest=auto`` (the default): the first rule that made a tag decides: a
  ``type=semver``/``pep440`` release (not a prerelease), ``type=ref,event=tag`` and
  ``type=match`` say yes; every other type says no;
* ``latest=true`` / ``latest=false``: always / never (when any tag was made).

What each type makes (``src/meta.ts``):

* ``semver``: for a ``refs/tags/`` ref (or its ``value``), the tag name (``match``'s
  first group when set, ``/`` as ``-``) read as node-semver; the pattern rendered with
  ``version``/``major``/``minor``/``patch``/``raw``. A **prerelease gets ``{{version}}``
  only** (whatever the pattern, unless the pattern is ``{{raw}}``) and no ``latest``. Not
  a version: no tag and a warning;
* ``pep440``: alike with PEP 440 versions (post and dev releases count as prereleases);
* ``match``: the regular expression's ``group`` in the tag name (or ``value``);
* ``ref``: the branch (``refs/heads/``), the tag (``refs/tags/``) or the pull request's
  number (``refs/pull/N/merge``, prefix ``pr-``);
* ``edge``: ``edge`` on the named branch (default: the repository's default branch);
* ``raw``: its value; ``sha``: ``sha-`` and the commit (7 characters, or ``format=long``);
* ``schedule``: its pattern (``nightly``) on a scheduled run.

Where polyarch differs: a tag that is still invalid after sanitizing (it starts with
``.`` or ``-``, or is longer than 128 characters) is an error instead of a failed push;
``latest`` made by a rule *and* by the flavor appears once; and, given the tags the
repository already has (``existing``), **no floating tag moves backwards**:
``latest=auto`` does not move ``latest`` to a version lower than the highest release
there, and a ``type=semver`` tag that a higher release there renders too (``3`` from
``{{major}}`` after ``3.14.1``, ``3.13`` from ``{{major}}.{{minor}}`` after ``3.13.10``)
is not made (metadata-action moves them; its maintainers call that expected,
docker/metadata-action#80 and #326: a patch of an older line would take ``latest`` and
``3`` from the newest). The version tag itself (``{{version}}``) is always made.

>>> from polyarch.pipeline.version import from_version
>>> from polyarch.pipeline.tags.rules import parse_rule
>>> rules = [parse_rule(f"type=semver,pattern={p}")
...          for p in ("{{version}}", "{{major}}.{{minor}}", "{{major}}")]
>>> evaluate_tags(rules, from_version("v3.14.1")).tags
('3.14.1', '3.14', '3', 'latest')
>>> evaluate_tags(rules, from_version("v3.15.0-rc.1")).tags
('3.15.0-rc.1',)
>>> evaluate_tags(rules, from_version("v3.13.9"), existing=["3.14.1", "latest"]).tags
('3.13.9', '3.13')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from polyarch.errors import InvalidInput
from polyarch.pipeline.tags.rules import Flavor, TagRule, sort_rules
from polyarch.pipeline.tags.semver import SemVer
from polyarch.pipeline.tags.template import Template, TemplateError, Value, date_helper
from polyarch.pipeline.version import RefContext

__all__ = ["TagFamily", "evaluate_tags", "global_scope", "sanitize_tag"]

_UNSAFE: Final = re.compile(r"[^a-zA-Z0-9._-]+")
_TAG: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def sanitize_tag(text: str) -> str:
    """metadata-action's ``sanitizeTag``: every run of other characters becomes ``-``.

    >>> sanitize_tag("my/feature#1245")
    'my-feature-1245'
    """
    return _UNSAFE.sub("-", text)


@dataclass(frozen=True, slots=True)
class TagFamily:
    """The tags the rules made, in publishing order.

    ``version`` is the first tag (metadata-action's ``version`` output, the index's
    ``org.opencontainers.image.version``), or ``None`` when no rule made a tag; ``tags``
    is ``version``, the other tags, then ``latest`` when it applies; ``latest`` says
    whether it does. ``warnings`` are metadata-action's (a tag name that is no version,
    a ``match`` that did not match), one line each; ``held_latest`` names the higher
    release that kept ``latest`` where it was; ``held`` lists every floating tag not
    moved, each with the higher release already there (``("3", "3.14.1")``).
    """

    version: str | None
    tags: tuple[str, ...]
    latest: bool
    warnings: tuple[str, ...] = ()
    held_latest: str | None = None
    held: tuple[tuple[str, str], ...] = ()


def global_scope(ctx: RefContext) -> dict[str, Value]:
    """The expressions every value, prefix, suffix and ``enable`` may use (``setGlobalExp``)."""
    commit = ctx.commit_date or ctx.now
    return {
        "branch": ctx.branch,
        "tag": ctx.tag,
        "sha": ctx.short_sha,
        "base_ref": ctx.base_ref,
        "is_default_branch": "true" if ctx.is_default_branch else "false",
        "is_not_default_branch": "false" if ctx.is_default_branch else "true",
        "date": date_helper(ctx.now),
        "commit_date": date_helper(commit),
    }


class _Evaluator:
    def __init__(self, ctx: RefContext, flavor: Flavor) -> None:
        self.ctx = ctx
        self.flavor = flavor
        self.scope = global_scope(ctx)
        self.warnings: list[str] = []
        #: The version text the last rule read (``latest`` is compared by it).
        self.read = ""
        #: The semver release the last ``type=semver`` rule made a tag of (else ``None``).
        self.release: SemVer | None = None

    def render(self, template: Template, scope: Mapping[str, Value] | None = None) -> str:
        try:
            return template.render(self.scope if scope is None else scope)
        except TemplateError as exc:
            raise InvalidInput(exc.message, hint=exc.hint, parameter="tags") from None

    def affixes(self, rule: TagRule) -> tuple[str, str]:
        """The rule's prefix and suffix as rendered, else the flavor's."""
        prefix = suffix = ""
        if rule.prefix is not None:
            prefix = self.render(rule.prefix)
        elif self.flavor.prefix:
            prefix = self.render(Template.parse(self.flavor.prefix))
        if rule.suffix is not None:
            suffix = self.render(rule.suffix)
        elif self.flavor.suffix:
            suffix = self.render(Template.parse(self.flavor.suffix))
        return prefix, suffix

    def decorate(self, rule: TagRule, value: str) -> str:
        """metadata-action's ``setValue``: the rule's prefix/suffix, else the flavor's."""
        prefix, suffix = self.affixes(rule)
        return prefix + value + suffix

    def semver_tag(self, rule: TagRule, version: SemVer) -> str:
        """The tag a ``type=semver`` rule makes of the release ``version`` (sanitized)."""
        assert rule.pattern is not None
        return sanitize_tag(self.decorate(rule, self.render(rule.pattern, _semver_scope(version))))

    def higher_release(self, rule: TagRule, tag: str, existing: Iterable[str]) -> str | None:
        """An existing release above the one this rule just read that renders ``tag`` too.

        ``existing`` are the repository's tags; each is read as a version once the rule's
        prefix and suffix are taken off. ``None`` when no such release is there.
        """
        mine = self.release
        if mine is None:
            return None
        prefix, suffix = self.affixes(rule)
        best: SemVer | None = None
        for name in existing:
            if not (name.startswith(prefix) and name.endswith(suffix)):
                continue
            core = name[len(prefix) : len(name) - len(suffix)] if suffix else name[len(prefix) :]
            other = SemVer.parse(core)
            if other is None or other.is_prerelease or not mine < other:
                continue
            if self.semver_tag(rule, other) == tag and (best is None or best < other):
                best = other
        return None if best is None else best.raw

    def enabled(self, rule: TagRule) -> bool:
        text = self.render(rule.enable)
        if text not in ("true", "false"):
            raise InvalidInput(
                f"tag rule {rule.source!r}: invalid value for enable attribute: {text!r}",
                hint="it must render as true or false",
                parameter="tags",
            )
        return text == "true"

    def tag_text(self, rule: TagRule) -> str | None:
        """The text a version rule reads: its ``value``, else the tag of a tag ref.

        What a rule earning ``latest`` read is kept in ``read`` (the highest-release check).
        """
        if rule.value is not None and rule.value.source:
            return self.render(rule.value)
        if not self.ctx.ref.startswith("refs/tags/"):
            return None
        return self.ctx.tag

    def one(self, rule: TagRule) -> tuple[str, bool] | None:
        """The tag ``rule`` makes (before sanitizing) and whether it earns ``latest``."""
        ctx = self.ctx
        self.read = ctx.tag
        self.release = None
        if rule.type in ("semver", "pep440"):
            return self.version_rule(rule)
        if rule.type == "match":
            return self.match_rule(rule)
        if rule.type == "ref":
            if rule.event == "branch" and ctx.ref.startswith("refs/heads/"):
                return self.decorate(rule, ctx.branch), False
            if rule.event == "tag" and ctx.ref.startswith("refs/tags/"):
                return self.decorate(rule, ctx.tag), True
            if rule.event == "pr" and ctx.ref.startswith("refs/pull/"):
                number = ctx.ref.removeprefix("refs/pull/").removesuffix("/merge")
                return self.decorate(rule, number), False
            return None
        if rule.type == "edge":
            if not ctx.ref.startswith("refs/heads/"):
                return None
            wanted = self.render(rule.branch) if rule.branch is not None else ""
            if not wanted:
                if ctx.default_branch is None:
                    self.warnings.append(
                        f"tag rule {rule.source!r}: the default branch is unknown; "
                        "name it (type=edge,branch=main)"
                    )
                    return None
                wanted = ctx.default_branch
            return (self.decorate(rule, "edge"), False) if ctx.branch == wanted else None
        if rule.type == "raw":
            assert rule.value is not None
            return self.decorate(rule, self.render(rule.value)), False
        if rule.type == "sha":
            if not ctx.sha:
                return None
            sha = ctx.short_sha if rule.format == "short" else ctx.sha
            return self.decorate(rule, sha), False
        # schedule
        if "schedule" not in ctx.event_name:
            return None
        assert rule.pattern is not None
        scope = {"date": self.scope["date"], "commit_date": self.scope["commit_date"]}
        return self.decorate(rule, self.render(rule.pattern, scope)), False

    def version_rule(self, rule: TagRule) -> tuple[str, bool] | None:
        text = self.tag_text(rule)
        if text is None:
            return None
        if rule.match:
            found = re.search(rule.match, text)
            if found is None:
                self.warnings.append(f"{rule.match} does not match {text}.")
            elif found.re.groups < 1 or found.group(1) is None:
                raise InvalidInput(
                    f"tag rule {rule.source!r}: match {rule.match!r} has no first group",
                    hint="put the version in parentheses: match=v(\\d.\\d.\\d)$",
                    parameter="tags",
                )
            else:
                text = found.group(1)
        text = text.replace("/", "-")
        self.read = text
        assert rule.pattern is not None
        if rule.type == "pep440":
            return self.pep440(rule, text)
        version = SemVer.parse(text)
        if version is None:
            self.warnings.append(f"{text} is not a valid semver. More info: https://semver.org/")
            return None
        scope = _semver_scope(version)
        if version.is_prerelease:
            pattern = (
                rule.pattern if rule.pattern.is_only == "raw" else Template.parse("{{version}}")
            )
            return self.decorate(rule, self.render(pattern, scope)), False
        self.release = version
        return self.decorate(rule, self.render(rule.pattern, scope)), True

    def pep440(self, rule: TagRule, text: str) -> tuple[str, bool] | None:
        # Imported here: only type=pep440 rules need PyPA's PEP 440 implementation.
        from packaging.version import InvalidVersion
        from packaging.version import Version as Pep440

        try:
            version = Pep440(text)
        except InvalidVersion:
            self.warnings.append(
                f"{text} does not conform to PEP 440. More info: "
                "https://www.python.org/dev/peps/pep-0440"
            )
            return None
        assert rule.pattern is not None
        release = (*version.release, 0, 0)
        if version.is_prerelease or version.is_postrelease or version.is_devrelease:
            value = text if rule.pattern.is_only == "raw" else str(version)
            return self.decorate(rule, value), False
        scope: dict[str, Value] = {
            "raw": text,
            "version": str(version),
            "major": str(release[0]),
            "minor": str(release[1]),
            "patch": str(release[2]),
        }
        return self.decorate(rule, self.render(rule.pattern, scope)), True

    def match_rule(self, rule: TagRule) -> tuple[str, bool] | None:
        text = self.tag_text(rule)
        if text is None:
            return None
        assert rule.match is not None
        body, flags, global_flag = rule.match, 0, False
        literal = re.fullmatch(r"/(.+)/([gims]*)", rule.match, re.S)
        if literal:
            body = literal[1]
            global_flag = "g" in literal[2]
            for letter, flag in (("i", re.I), ("m", re.M), ("s", re.S)):
                if letter in literal[2]:
                    flags |= flag
        if global_flag:
            # JavaScript's String.match with /g returns the whole matches, not groups.
            groups: list[str | None] = [m.group(0) for m in re.finditer(body, text, flags)]
            if not groups:
                self.warnings.append(f"{rule.match} does not match {text}.")
                return None
        else:
            found = re.search(body, text, flags)
            if found is None:
                self.warnings.append(f"{rule.match} does not match {text}.")
                return None
            groups = [found.group(0), *found.groups()]
        if rule.group >= len(groups) or groups[rule.group] is None:
            self.warnings.append(f"Group {rule.group} does not exist for {rule.match} pattern.")
            return None
        value = groups[rule.group]
        assert value is not None
        self.read = value
        return self.decorate(rule, value), True


def _semver_scope(version: SemVer) -> dict[str, Value]:
    """What a semver pattern may name, for ``version`` (node-semver's parsed fields)."""
    return {
        "version": version.version,
        "major": str(version.major),
        "minor": str(version.minor),
        "patch": str(version.patch),
        "raw": version.raw,
        # Handlebars writes an array as its elements joined by ",".
        "prerelease": ",".join(str(p) for p in version.prerelease),
        "build": ",".join(version.build),
    }


def _highest_release(existing: Iterable[str], affixes: tuple[str, str]) -> SemVer | None:
    """The highest release among ``existing``, read as they are or without ``affixes``."""
    prefix, suffix = affixes
    releases = []
    for name in existing:
        version = SemVer.parse(name)
        if version is None and name.startswith(prefix) and name.endswith(suffix):
            version = SemVer.parse(name[len(prefix) : len(name) - len(suffix)])
        if version is not None and not version.is_prerelease:
            releases.append(version)
    return max(releases, default=None)


def evaluate_tags(
    rules: Sequence[TagRule],
    ctx: RefContext,
    flavor: Flavor | None = None,
    *,
    existing: Iterable[str] | None = None,
) -> TagFamily:
    """Evaluate ``rules`` for ``ctx``: metadata-action's ``getVersion`` and ``getTags``.

    ``existing`` (the repository's tags, when known) keeps every floating tag where a
    higher release put it: ``latest=auto``'s ``latest`` and a ``type=semver`` tag that a
    higher release already there renders too (see the module docstring).
    Raises :class:`~polyarch.errors.InvalidInput` when ``enable`` does not render as
    ``true``/``false``, a semver ``match`` has no group, or a tag made is not a valid tag.
    """
    flavor = flavor or Flavor()
    evaluator = _Evaluator(ctx, flavor)
    known = None if existing is None else tuple(existing)
    main: str | None = None
    partial: list[str] = []
    held_back: list[tuple[str, str]] = []
    latest: bool | None = None
    read = ""
    affixes = ("", "")
    for rule in sort_rules(rules):
        if not evaluator.enabled(rule):
            continue
        made = evaluator.one(rule)
        if made is None or not made[0]:
            continue
        tag = sanitize_tag(made[0])
        if not _TAG.fullmatch(tag):
            raise InvalidInput(
                f"tag rule {rule.source!r} makes {tag!r}, which is not a valid tag",
                hint='a tag is 1 to 128 letters, digits, "_", "." or "-", not starting with '
                '"." or "-"',
                parameter="tags",
            )
        higher = (
            evaluator.higher_release(rule, tag, known)
            if known is not None and rule.type == "semver" and main is not None
            else None
        )
        if higher is not None:
            # A floating tag (3, 3.14) already on a higher release stays there.
            if tag not in (t for t, _ in held_back):
                held_back.append((tag, higher))
        elif main is None:
            main = tag
        elif tag != main and tag not in partial:
            partial.append(tag)
        if latest is None:
            latest = made[1] if flavor.latest == "auto" else flavor.latest == "true"
            read = evaluator.read
            affixes = evaluator.affixes(rule)
    held: str | None = None
    if latest and flavor.latest == "auto" and known is not None and main is not None:
        highest = _highest_release(known, affixes)
        mine = SemVer.parse(read)
        if highest is not None and mine is not None and mine < highest:
            latest, held = False, highest.raw
    tags = [] if main is None else [main, *partial]
    if latest and main is not None:
        name = sanitize_tag(
            (flavor.prefix if flavor.prefix_latest else "")
            + "latest"
            + (flavor.suffix if flavor.suffix_latest else "")
        )
        if name not in tags:
            tags.append(name)
    if held is not None:
        held_back.append(("latest", held))
    return TagFamily(
        main, tuple(tags), bool(latest), tuple(evaluator.warnings), held, tuple(held_back)
    )
