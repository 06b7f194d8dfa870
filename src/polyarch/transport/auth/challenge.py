"""Parse ``WWW-Authenticate`` headers (RFC 7235) into challenges.

Registries answer 401 with ``Bearer realm="...",service="...",scope="repository:a:pull,push"``
or ``Basic realm="..."``. A naive ``split(",")`` breaks on the comma inside the quoted
scope, and one header may carry several challenges; this module implements the RFC's
grammar (tokens, quoted strings with backslash escapes, comma-separated lists) and is
lenient with junk: it never raises, it skips what it cannot read.

>>> [challenge] = parse_challenges('Bearer realm="https://auth.example/token",scope="a:b:pull,push"')
>>> challenge.scheme, challenge.realm, challenge.params["scope"]
('bearer', 'https://auth.example/token', 'a:b:pull,push')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Challenge", "parse_challenges"]

# RFC 7230 tchar.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# RFC 7235 token68 characters (besides the trailing "=" padding).
_TOKEN68 = frozenset("-._~+/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WS = " \t"


@dataclass(frozen=True)
class Challenge:
    """One authentication challenge: the lowercased ``scheme`` and its parameters.

    Parameter names are lowercased (they are case-insensitive); values are unquoted and
    unescaped. A ``token68`` credential (``Negotiate abc==``), unused by registries, is
    kept under the key ``""``.
    """

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        """The ``realm`` parameter, if any."""
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        """The ``service`` parameter, if any."""
        return self.params.get("service")

    @property
    def scopes(self) -> list[str]:
        """The space-separated ``scope`` parameter as a list (empty if absent)."""
        return self.params.get("scope", "").split()


class _Scanner:
    """A cursor over one header value."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1

    def skip_separators(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WS + ",":
            self.pos += 1

    def read_token(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _TCHAR:
            self.pos += 1
        return self.text[start : self.pos]

    def read_quoted(self) -> str:
        """Read a quoted string (the cursor is on the opening quote); tolerate a missing close."""
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if char == '"':
                break
            out.append(char)
        return "".join(out)

    def skip_junk(self) -> None:
        """Skip to the next comma (outside quotes) after something unreadable."""
        while self.pos < len(self.text) and self.text[self.pos] != ",":
            if self.text[self.pos] == '"':
                self.read_quoted()
            else:
                self.pos += 1


def _read_token68(scanner: _Scanner) -> str | None:
    """Read a token68 at the cursor if one is there (followed by end or comma), else nothing."""
    start = scanner.pos
    end = start
    text = scanner.text
    while end < len(text) and text[end] in _TOKEN68:
        end += 1
    if end == start:
        return None
    while end < len(text) and text[end] == "=":
        end += 1
    after = end
    while after < len(text) and text[after] in _WS:
        after += 1
    if after < len(text) and text[after] != ",":
        return None
    # "name=" followed by end/comma is an empty parameter rather than a token68 only when
    # more parameters follow; RFC 7235 makes it a token68 either way, and it is harmless.
    scanner.pos = after
    return text[start:end]


def _parse_params(scanner: _Scanner, params: dict[str, str]) -> None:
    """Read ``name=value`` pairs until the next challenge's scheme (a token without ``=``)."""
    while True:
        scanner.skip_separators()
        if scanner.at_end():
            return
        mark = scanner.pos
        name = scanner.read_token()
        if not name:
            scanner.skip_junk()
            continue
        scanner.skip_ws()
        if scanner.peek() != "=":
            # A bare token: the scheme of the next challenge.
            scanner.pos = mark
            return
        scanner.pos += 1
        scanner.skip_ws()
        value = scanner.read_quoted() if scanner.peek() == '"' else scanner.read_token()
        params.setdefault(name.lower(), value)
        scanner.skip_ws()
        if not scanner.at_end() and scanner.peek() != ",":
            scanner.skip_junk()


def _parse_one(text: str) -> list[Challenge]:
    scanner = _Scanner(text)
    challenges: list[Challenge] = []
    while True:
        scanner.skip_separators()
        if scanner.at_end():
            return challenges
        scheme = scanner.read_token()
        if not scheme:
            scanner.skip_junk()
            continue
        params: dict[str, str] = {}
        if scanner.peek() in _WS:
            scanner.skip_ws()
            mark = scanner.pos
            # A token68 only counts when no "name=value" parameter is at the cursor.
            name = scanner.read_token()
            scanner.skip_ws()
            is_param = bool(name) and scanner.peek() == "=" and not _looks_like_token68(scanner)
            scanner.pos = mark
            if not is_param:
                token68 = _read_token68(scanner)
                if token68 is not None:
                    params[""] = token68
            _parse_params(scanner, params)
        elif scanner.peek() == "=":
            # "Scheme=..." is not a challenge; skip it.
            scanner.skip_junk()
            continue
        challenges.append(Challenge(scheme.lower(), params))


def _looks_like_token68(scanner: _Scanner) -> bool:
    """At ``=``: whether this is token68 padding (``abc==`` or ``abc=`` then end/comma)."""
    text, pos = scanner.text, scanner.pos
    while pos < len(text) and text[pos] == "=":
        pos += 1
    padding = pos - scanner.pos
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    at_boundary = pos >= len(text) or text[pos] == ","
    return padding > 1 or (padding == 1 and at_boundary)


def parse_challenges(headers: str | Iterable[str]) -> list[Challenge]:
    """Parse one ``WWW-Authenticate`` value, or several (one per header line), into challenges.

    >>> [c.scheme for c in parse_challenges(['Basic realm="r"', 'Bearer realm="t", service="s"'])]
    ['basic', 'bearer']
    >>> parse_challenges('Bearer realm="a\\\\"b"')[0].realm
    'a"b'
    """
    values = [headers] if isinstance(headers, str) else list(headers)
    result: list[Challenge] = []
    for value in values:
        result.extend(_parse_one(value))
    return result
