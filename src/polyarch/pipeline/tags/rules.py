"""docker/metadata-action's tag rules and flavor, read with its syntax and defaults.

A rule is one line of metadata-action's ``tags`` input (``src/tag.ts``): comma-separated
``key=value`` fields in CSV (a field holding a comma is quoted: ``"pattern=\\d{1,3}"``),
the key before the first ``=``, keys case-insensitive, values trimmed; a field without
``=`` is the ``value``. The types and their defaults are metadata-action's:

========== ================================================ ========
type       attributes (defaults)                            priority
========== ================================================ ========
schedule   ``pattern`` (``nightly``)                        1000
semver     ``pattern`` (required), ``value``, ``match``     900
pep440     ``pattern`` (required), ``value``, ``match``     900
match      ``pattern`` (required), ``group`` (0), ``value`` 800
edge       ``branch`` (the default branch)                  700
ref        ``event`` (required: branch, tag or pr;          600
           ``pr`` gets ``prefix=pr-``)
raw        ``value`` (required)                             200
sha        ``format`` (short or long), ``prefix`` (sha-)    100
========== ================================================ ========

Every type also takes ``enable`` (``true``), ``priority``, ``prefix`` and ``suffix``; no
``type`` is ``raw``. Rules are evaluated by descending priority (a stable sort: equal
priorities keep their order); the first tag made is the version.

``flavor`` entries (``src/flavor.ts``): ``latest=auto|true|false`` (``auto``),
``prefix=P[,onlatest=true]``, ``suffix=S[,onlatest=true]``.

Where polyarch differs: an attribute the type does not take (``type=sha,formt=long``), a
non-numeric ``priority`` and an expression the attribute does not offer are errors
(metadata-action ignores the first, sorts the second arbitrarily and renders the third
empty); in ``flavor`` a value may hold ``=`` (metadata-action cuts it there).

>>> rule = parse_rule("type=semver,pattern={{major}}.{{minor}}")
>>> rule.type, rule.priority, rule.pattern.source
('semver', 900, '{{major}}.{{minor}}')
>>> parse_rule("type=ref,event=pr").prefix.source
'pr-'
>>> parse_rule("acustomtag").value.source
'acustomtag'
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

from polyarch.errors import InvalidInput
from polyarch.pipeline.tags.template import Template, TemplateError

__all__ = [
    "DEFAULT_PRIORITIES",
    "GLOBAL_NAMES",
    "RULE_TYPES",
    "Flavor",
    "LatestMode",
    "TagRule",
    "TagRuleError",
    "parse_flavor",
    "parse_rule",
    "sort_rules",
]

RuleType = Literal["schedule", "semver", "pep440", "match", "edge", "ref", "raw", "sha"]
LatestMode = Literal["auto", "true", "false"]

#: metadata-action's ``DefaultPriorities``.
DEFAULT_PRIORITIES: Final[dict[str, int]] = {
    "schedule": 1000,
    "semver": 900,
    "pep440": 900,
    "match": 800,
    "edge": 700,
    "ref": 600,
    "raw": 200,
    "sha": 100,
}
RULE_TYPES: Final = tuple(DEFAULT_PRIORITIES)

#: The expressions any value, prefix, suffix or ``enable`` may use (metadata-action's
#: ``setGlobalExp``).
GLOBAL_NAMES: Final = (
    "branch",
    "tag",
    "sha",
    "base_ref",
    "commit_date",
    "date",
    "is_default_branch",
    "is_not_default_branch",
)
#: What a semver pattern may name: node-semver's parsed version.
SEMVER_NAMES: Final = ("version", "major", "minor", "patch", "raw", "prerelease", "build")
#: What a pep440 pattern may name (``@renovate/pep440``'s helpers).
PEP440_NAMES: Final = ("version", "major", "minor", "patch", "raw")
#: What a schedule pattern may name.
SCHEDULE_NAMES: Final = ("date", "commit_date")

_COMMON: Final = ("type", "enable", "priority", "prefix", "suffix")
_ATTRIBUTES: Final[dict[str, tuple[str, ...]]] = {
    "schedule": ("pattern",),
    "semver": ("pattern", "value", "match"),
    "pep440": ("pattern", "value", "match"),
    "match": ("pattern", "group", "value"),
    "edge": ("branch",),
    "ref": ("event",),
    "raw": ("value",),
    "sha": ("format",),
}
_EVENTS: Final = ("branch", "tag", "pr")
_PRIORITY: Final = re.compile(r"-?\d{1,9}")


class TagRuleError(InvalidInput):
    """A tag rule or flavor entry is not metadata-action's syntax; fix the rule it names."""


@dataclass(frozen=True, slots=True)
class TagRule:
    """One parsed rule; the attributes a type does not take are ``None``.

    ``source`` is the text as written. ``prefix`` is ``None`` when the rule sets none
    (then the flavor's applies); an explicit empty prefix (``prefix=``) keeps the
    flavor's off, as in metadata-action. ``match`` is the regular expression text,
    ``group`` the match group (``type=match``).
    """

    source: str
    type: RuleType
    priority: int
    enable: Template
    prefix: Template | None = None
    suffix: Template | None = None
    value: Template | None = None
    pattern: Template | None = None
    match: str | None = None
    group: int = 0
    event: Literal["branch", "tag", "pr"] | None = None
    branch: Template | None = None
    format: Literal["short", "long"] = "short"


def _fields(text: str) -> list[str]:
    rows = [row for row in csv.reader([text], strict=True) if row]
    return rows[0] if rows else []


def _template(rule: str, key: str, value: str, names: Sequence[str]) -> Template:
    try:
        template = Template.parse(value)
        template.check(names, f"tag rule {rule!r}: {key}")
    except TemplateError as exc:
        raise TagRuleError(exc.message, hint=exc.hint, parameter="tags") from None
    return template


def _regex(rule: str, key: str, value: str, *, slashes: bool) -> str:
    """Check a regular expression; with ``slashes``, ``/body/flags`` is a literal (as
    metadata-action reads ``type=match``'s pattern, but not semver's ``match``)."""
    body = value
    literal = re.fullmatch(r"/(.+)/([a-z]*)", value, re.S) if slashes else None
    if literal:
        body = literal[1]
        unsupported = set(literal[2]) - set("gims")
        if unsupported:
            raise TagRuleError(
                f"tag rule {rule!r}: {key}: regular expression flag "
                f"{''.join(sorted(unsupported))!r} is not supported (g, i, m, s are)",
                parameter="tags",
            )
    try:
        re.compile(body)
    except re.error as exc:
        raise TagRuleError(
            f"tag rule {rule!r}: {key}: bad regular expression {value!r}: {exc}", parameter="tags"
        ) from None
    return value


def parse_rule(text: str) -> TagRule:
    """Read one rule; raises :class:`TagRuleError` naming it for anything wrong.

    See the module docstring for the syntax; the errors are metadata-action's (unknown
    type, missing ``pattern``/``event``/``value``, invalid event, format or group) plus
    polyarch's stricter ones.
    """
    try:
        fields = _fields(text)
    except csv.Error as exc:
        raise TagRuleError(f"tag rule {text!r}: not CSV fields: {exc}", parameter="tags") from None
    attrs: dict[str, str] = {}
    kind: str | None = None
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep:
            attrs["value"] = item.strip()
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "type":
            if value not in DEFAULT_PRIORITIES:
                raise TagRuleError(
                    f"tag rule {text!r}: unknown type {value!r}",
                    hint=f"one of {', '.join(RULE_TYPES)}",
                    parameter="tags",
                )
            kind = value
            continue
        attrs[key] = value
    rule_type: RuleType = kind or "raw"  # type: ignore[assignment]
    allowed = _COMMON + _ATTRIBUTES[rule_type]
    for key in attrs:
        if key not in allowed:
            raise TagRuleError(
                f"tag rule {text!r}: type={rule_type} takes no {key!r}",
                hint=f"it takes {', '.join(a for a in allowed if a != 'type')}",
                parameter="tags",
            )
    return _build(text, rule_type, attrs)


def _build(text: str, rule_type: RuleType, attrs: dict[str, str]) -> TagRule:
    def need(key: str) -> str:
        if key not in attrs:
            raise TagRuleError(f"tag rule {text!r}: missing {key} attribute", parameter="tags")
        return attrs[key]

    def glob(key: str) -> Template | None:
        return _template(text, key, attrs[key], GLOBAL_NAMES) if key in attrs else None

    priority = DEFAULT_PRIORITIES[rule_type]
    if "priority" in attrs:
        if not _PRIORITY.fullmatch(attrs["priority"]):
            raise TagRuleError(
                f"tag rule {text!r}: priority {attrs['priority']!r} is not a whole number",
                parameter="tags",
            )
        priority = int(attrs["priority"])
    enable = _template(text, "enable", attrs.get("enable", "true"), GLOBAL_NAMES)
    prefix, suffix = glob("prefix"), glob("suffix")
    rule = TagRule(text, rule_type, priority, enable, prefix, suffix)
    if rule_type == "schedule":
        pattern = _template(text, "pattern", attrs.get("pattern", "nightly"), SCHEDULE_NAMES)
        return _with(rule, pattern=pattern)
    if rule_type in ("semver", "pep440"):
        names = SEMVER_NAMES if rule_type == "semver" else PEP440_NAMES
        pattern = _template(text, "pattern", need("pattern"), names)
        match = _regex(text, "match", attrs["match"], slashes=False) if attrs.get("match") else None
        return _with(rule, pattern=pattern, value=glob("value"), match=match)
    if rule_type == "match":
        group = attrs.get("group", "0")
        if not group.isdigit():
            raise TagRuleError(
                f"tag rule {text!r}: invalid match group {group!r}", parameter="tags"
            )
        regex = _regex(text, "pattern", need("pattern"), slashes=True)
        return _with(rule, match=regex, group=int(group), value=glob("value"))
    if rule_type == "edge":
        return _with(rule, branch=glob("branch"))
    if rule_type == "ref":
        event = need("event")
        if event not in _EVENTS:
            raise TagRuleError(
                f"tag rule {text!r}: invalid event {event!r}",
                hint="branch, tag or pr",
                parameter="tags",
            )
        if event == "pr" and prefix is None:
            rule = _with(rule, prefix=Template.parse("pr-"))
        return _with(rule, event=event)
    if rule_type == "raw":
        return _with(rule, value=_template(text, "value", need("value"), GLOBAL_NAMES))
    # sha
    fmt = attrs.get("format", "short")
    if fmt not in ("short", "long"):
        raise TagRuleError(
            f"tag rule {text!r}: invalid format {fmt!r}", hint="short or long", parameter="tags"
        )
    if prefix is None:
        rule = _with(rule, prefix=Template.parse("sha-"))
    return _with(rule, format=fmt)


def _with(rule: TagRule, **changes: object) -> TagRule:
    return replace(rule, **changes)  # type: ignore[arg-type]


def sort_rules(rules: Iterable[TagRule]) -> list[TagRule]:
    """By descending priority, equal priorities in their order (metadata-action's sort)."""
    return sorted(rules, key=lambda rule: -rule.priority)


@dataclass(frozen=True, slots=True)
class Flavor:
    """metadata-action's ``flavor``: the ``latest`` mode and a global prefix and suffix.

    ``prefix_latest``/``suffix_latest`` (``onlatest=true``) put them on ``latest`` too.
    """

    latest: LatestMode = "auto"
    prefix: str = ""
    prefix_latest: bool = False
    suffix: str = ""
    suffix_latest: bool = False


def parse_flavor(entries: Sequence[str]) -> Flavor:
    """Read ``flavor`` entries; raises :class:`TagRuleError` for an unknown or bad entry.

    >>> parse_flavor(["latest=false", "suffix=-alpine,onlatest=true"])
    Flavor(latest='false', prefix='', prefix_latest=False, suffix='-alpine', suffix_latest=True)
    """
    latest: LatestMode = "auto"
    prefix = suffix = ""
    prefix_latest = suffix_latest = False
    for entry in entries:
        try:
            fields = _fields(entry)
        except csv.Error as exc:
            raise TagRuleError(f"flavor {entry!r}: not CSV fields: {exc}") from None
        last = ""
        for item in fields:
            key, sep, value = item.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not sep:
                raise TagRuleError(f"invalid flavor entry {entry!r}", hint="key=value")
            if key == "latest":
                if value not in ("auto", "true", "false"):
                    raise TagRuleError(
                        f"invalid latest flavor entry {entry!r}", hint="auto, true or false"
                    )
                latest = value  # type: ignore[assignment]
            elif key in ("prefix", "suffix"):
                if key == "prefix":
                    prefix = value
                else:
                    suffix = value
                last = key
            elif key == "onlatest":
                if value not in ("true", "false"):
                    raise TagRuleError(f"invalid value for onlatest attribute: {value!r}")
                if last == "prefix":
                    prefix_latest = value == "true"
                elif last == "suffix":
                    suffix_latest = value == "true"
            else:
                raise TagRuleError(
                    f"unknown flavor entry {entry!r}", hint="latest=, prefix=, suffix=, onlatest="
                )
    return Flavor(latest, prefix, prefix_latest, suffix, suffix_latest)
