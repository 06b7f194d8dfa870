"""The Handlebars expressions of docker/metadata-action's tag rules, and moment's date formats.

metadata-action compiles every pattern, value, prefix, suffix and ``enable`` with
Handlebars (``src/meta.ts``): ``{{version}}`` in a semver pattern, ``{{branch}}``,
``{{tag}}``, ``{{sha}}``, ``{{base_ref}}``, ``{{is_default_branch}}`` in any value, and the
helpers ``{{date 'FORMAT' tz='ZONE'}}`` / ``{{commit_date 'FORMAT'}}`` whose formats are
moment.js's. This module reads that subset:

* text, ``{{name}}`` (``{{{name}}}`` alike), ``{{name 'arg' key='value'}}`` with quoted
  arguments, ``{{! comment}}``, and ``\\{{`` for a literal ``{{``;
* a name the place does not offer is an error when the rule is read (metadata-action
  renders it as empty text, so ``{{vesion}}`` silently makes no tag); block helpers
  (``{{#if}}``), partials and unquoted helper arguments are refused in one line;
* output is not HTML-escaped (Handlebars escapes ``&<>"'`=`` in ``{{ }}``, which then
  reach the tag as ``-x3D-``-like debris after sanitizing): polyarch writes the text.

>>> t = Template.parse("{{major}}.{{ minor }}")
>>> t.names, t.render({"major": "3", "minor": "14"})
(('major', 'minor'), '3.14')
>>> import datetime as dt
>>> when = dt.datetime(2020, 1, 10, 0, 30, tzinfo=dt.UTC)
>>> format_date(when, "YYYYMMDD-HHmmss", "Asia/Tokyo")
'20200110-093000'
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from polyarch.errors import InvalidInput

__all__ = [
    "Helper",
    "Template",
    "TemplateError",
    "Value",
    "date_helper",
    "format_date",
]

#: A helper: ``(positional arguments, key=value arguments) -> text``.
Helper = Callable[[Sequence[str], Mapping[str, str]], str]
#: What a name renders: text, or a helper called with the expression's arguments.
Value = str | Helper


class TemplateError(InvalidInput):
    """A tag rule's Handlebars expression cannot be read or rendered; fix its spelling."""


@dataclass(frozen=True, slots=True)
class _Expr:
    name: str
    args: tuple[str, ...]
    hash: tuple[tuple[str, str], ...]


_Part = str | _Expr

_OPEN: Final = re.compile(r"\\\{\{|\{\{\{?")
# One argument: 'single' or "double" quoted text, key='value', or a bare word.
_ARG: Final = re.compile(
    r"""\s*(?:(?P<key>[A-Za-z_][\w-]*)=)?(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<bare>[^\s'"=]+))"""
)
_NAME: Final = re.compile(r"[A-Za-z_][\w-]*")


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed expression: literal text and ``{{...}}`` expressions, in order."""

    source: str
    parts: tuple[_Part, ...]

    @classmethod
    def parse(cls, source: str) -> Template:
        """Read ``source``; raises :class:`TemplateError` for what this subset does not take."""
        parts: list[_Part] = []
        text: list[str] = []
        pos = 0
        while True:
            match = _OPEN.search(source, pos)
            if match is None:
                text.append(source[pos:])
                break
            text.append(source[pos : match.start()])
            if match.group() == "\\{{":
                text.append("{{")
                pos = match.end()
                continue
            triple = match.group() == "{{{"
            close = "}}}" if triple else "}}"
            end = source.find(close, match.end())
            if end < 0:
                raise TemplateError(f"{source!r}: {match.group()} is not closed by {close}")
            inner = source[match.end() : end]
            pos = end + len(close)
            if inner.startswith("!"):
                continue  # a comment
            if "".join(text):
                parts.append("".join(text))
            text = []
            parts.append(_expression(source, inner))
        if "".join(text):
            parts.append("".join(text))
        return cls(source, tuple(parts))

    @property
    def names(self) -> tuple[str, ...]:
        """The names the expression uses, in order of first use."""
        seen: dict[str, None] = {}
        for part in self.parts:
            if isinstance(part, _Expr):
                seen.setdefault(part.name)
        return tuple(seen)

    @property
    def is_only(self) -> str | None:
        """The name when the whole template is one bare ``{{name}}``, else ``None``.

        metadata-action's ``isRawStatement``: a semver pattern that is exactly ``{{raw}}``
        keeps the text of a prerelease as given.
        """
        if len(self.parts) == 1 and isinstance(self.parts[0], _Expr):
            expr = self.parts[0]
            if not expr.args and not expr.hash:
                return expr.name
        return None

    def check(self, offered: Sequence[str], where: str) -> None:
        """Refuse a name ``offered`` does not hold (``where`` names the rule's attribute)."""
        for name in self.names:
            if name not in offered:
                known = ", ".join(offered) or "none"
                raise TemplateError(
                    f"{where}: unknown expression {{{{{name}}}}} in {self.source!r}",
                    hint=f"known here: {known}",
                )

    def render(self, scope: Mapping[str, Value]) -> str:
        """The text, every expression replaced by its value in ``scope``."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = scope.get(part.name)
            if value is None:
                raise TemplateError(f"{self.source!r}: unknown expression {{{{{part.name}}}}}")
            if isinstance(value, str):
                if part.args or part.hash:
                    raise TemplateError(f"{self.source!r}: {part.name} takes no arguments")
                out.append(value)
            else:
                out.append(value(part.args, dict(part.hash)))
        return "".join(out)


def _expression(source: str, inner: str) -> _Expr:
    body = inner.strip()
    if not body:
        raise TemplateError(f"{source!r}: empty expression {{{{}}}}")
    if body[0] in "#/>^&~" or body.endswith("~"):
        raise TemplateError(
            f"{source!r}: {{{{{body}}}}} is not supported (no block helpers, partials "
            "or whitespace control in tag rules)"
        )
    name_match = _NAME.match(body)
    if name_match is None:
        raise TemplateError(f"{source!r}: {{{{{body}}}}} does not start with a name")
    name = name_match.group()
    rest = body[name_match.end() :]
    if rest and not rest[0].isspace():
        raise TemplateError(f"{source!r}: {{{{{body}}}}} is not a name (paths are not supported)")
    args: list[str] = []
    hash_args: list[tuple[str, str]] = []
    pos = 0
    while rest[pos:].strip():
        match = _ARG.match(rest, pos)
        if match is None:
            raise TemplateError(f"{source!r}: cannot read the arguments of {{{{{body}}}}}")
        pos = match.end()
        if match["bare"] is not None:
            if match["key"] is None:
                # Handlebars looks a bare word up as a path, finds nothing, and moment then
                # formats with its default: never what was meant.
                raise TemplateError(
                    f"{source!r}: argument {match['bare']!r} of {name} is not quoted",
                    hint=f"write {name} '{match['bare']}'",
                )
            value = match["bare"]
        else:
            value = match["sq"] if match["sq"] is not None else match["dq"]
        if match["key"] is None:
            if hash_args:
                raise TemplateError(f"{source!r}: positional argument after key=value in {name}")
            args.append(value)
        else:
            hash_args.append((match["key"], value))
    return _Expr(name, tuple(args), tuple(hash_args))


# --- dates: moment.js format tokens ------------------------------------------------------

# moment's formatting tokens (moment/src/lib/format/format.js), longest first; a letter
# that is no token is written as is, [text] is literal text.
_TOKENS: Final = re.compile(
    r"\[[^\]]*\]|Mo|MMMM|MMM|MM|M|DDDo|DDDD|DDD|Do|DD|D|dddd|ddd|dd|do|d|wo|ww|w|Wo|WW|W|"
    r"Qo|Q|N{1,5}|YYYYYY|YYYYY|YYYY|YY|y{2,4}|yo|y|gggg|ggggg|gg|GGGGG|GGGG|GG|e|E|a|A|"
    r"hh|h|HH|H|kk|k|mm|m|ss|s|S{1,9}|x|X|zz|z|ZZ|Z|LTS|LT|LLLL|LLL|LL|L|llll|lll|ll|l|.",
    re.S,
)
_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS: Final = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _offset(when: dt.datetime, sep: str) -> str:
    delta = when.utcoffset() or dt.timedelta(0)
    minutes = int(delta.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{sep}{mins:02d}"


def _token(when: dt.datetime, token: str) -> str | None:
    iso_year, iso_week, iso_day = when.isocalendar()
    hour12 = when.hour % 12 or 12
    simple: dict[str, Callable[[], str]] = {
        "YYYY": lambda: f"{when.year:04d}",
        "YY": lambda: f"{when.year % 100:02d}",
        "MMMM": lambda: _MONTHS[when.month - 1],
        "MMM": lambda: _MONTHS[when.month - 1][:3],
        "MM": lambda: f"{when.month:02d}",
        "M": lambda: str(when.month),
        "DDDD": lambda: f"{when.timetuple().tm_yday:03d}",
        "DDD": lambda: str(when.timetuple().tm_yday),
        "DD": lambda: f"{when.day:02d}",
        "D": lambda: str(when.day),
        "dddd": lambda: _DAYS[(when.weekday() + 1) % 7],
        "ddd": lambda: _DAYS[(when.weekday() + 1) % 7][:3],
        "dd": lambda: _DAYS[(when.weekday() + 1) % 7][:2],
        "d": lambda: str((when.weekday() + 1) % 7),
        "E": lambda: str(iso_day),
        "WW": lambda: f"{iso_week:02d}",
        "W": lambda: str(iso_week),
        "GGGG": lambda: f"{iso_year:04d}",
        "Q": lambda: str((when.month - 1) // 3 + 1),
        "HH": lambda: f"{when.hour:02d}",
        "H": lambda: str(when.hour),
        "hh": lambda: f"{hour12:02d}",
        "h": lambda: str(hour12),
        "kk": lambda: f"{when.hour or 24:02d}",
        "k": lambda: str(when.hour or 24),
        "mm": lambda: f"{when.minute:02d}",
        "m": lambda: str(when.minute),
        "ss": lambda: f"{when.second:02d}",
        "s": lambda: str(when.second),
        "A": lambda: "AM" if when.hour < 12 else "PM",
        "a": lambda: "am" if when.hour < 12 else "pm",
        "ZZ": lambda: _offset(when, ""),
        "Z": lambda: _offset(when, ":"),
        "X": lambda: str(int(when.timestamp())),
        "x": lambda: str(int(when.timestamp() * 1000)),
    }
    if token in simple:
        return simple[token]()
    if token.startswith("S"):  # fractional seconds, moment pads/truncates to the length
        return f"{when.microsecond:06d}000"[: len(token)]
    return None


def format_date(when: dt.datetime, pattern: str | None, tz: str = "UTC") -> str:
    """``when`` in time zone ``tz``, formatted with a moment.js ``pattern``.

    Without a pattern, moment's default (ISO 8601: ``2020-01-10T00:30:00Z`` in UTC,
    ``2020-01-10T09:30:00+09:00`` elsewhere). Raises :class:`TemplateError` for an unknown
    time zone or a moment token this module does not write (localized ``L``/``LT``,
    ordinals ``Do``, week-years ``gggg``...).
    """
    try:
        zone = dt.UTC if tz == "UTC" else zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TemplateError(
            f"unknown time zone {tz!r}", hint="an IANA name: Europe/Paris"
        ) from None
    local = when.astimezone(zone)
    if pattern is None:
        text = local.strftime("%Y-%m-%dT%H:%M:%S")
        return text + ("Z" if tz == "UTC" else _offset(local, ":"))
    out: list[str] = []
    for match in _TOKENS.finditer(pattern):
        token = match.group()
        if token.startswith("[") and token.endswith("]") and len(token) > 1:
            out.append(token[1:-1])
            continue
        value = _token(local, token)
        if value is not None:
            out.append(value)
        elif len(token) == 1 and not re.fullmatch(r"[MDdwWQNYygGeEaAhHkmsSxXzZLl]", token):
            out.append(token)
        else:
            raise TemplateError(
                f"date format {pattern!r}: the moment.js token {token!r} is not supported",
                hint="use YYYY MM DD HH mm ss (and [text] for literal letters)",
            )
    return "".join(out)


def date_helper(when: dt.datetime) -> Helper:
    """The ``{{date 'FORMAT' tz='ZONE'}}`` helper for the instant ``when``.

    One optional format, one optional ``tz`` (metadata-action's only option: any other
    key is an error, as there).
    """

    def helper(args: Sequence[str], options: Mapping[str, str]) -> str:
        unknown = [key for key in options if key != "tz"]
        if unknown:
            raise TemplateError(f"date: unknown {unknown[0]} attribute (only tz='ZONE')")
        if len(args) > 1:
            raise TemplateError("date: one format at most, e.g. date 'YYYYMMDD'")
        return format_date(when, args[0] if args else None, options.get("tz", "UTC"))

    return helper
