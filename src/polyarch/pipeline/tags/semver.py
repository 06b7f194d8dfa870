"""Semantic versions as docker/metadata-action reads them (node-semver's strict grammar).

metadata-action's ``type=semver`` takes a version when ``semver.valid()`` accepts it
(node-semver, strict mode: ``internal/re.js`` ``FULL``), i.e. semver.org 2.0.0 with an
optional leading ``v``, surrounding whitespace ignored and at most 256 characters. The
values a pattern may name are node-semver's: ``{{version}}`` is ``MAJOR.MINOR.PATCH``
plus ``-PRERELEASE`` (build metadata is *not* part of it), ``{{raw}}`` the text as given.

>>> v = SemVer.parse("v3.14.1")
>>> v.version, v.major, v.minor, v.patch, v.is_prerelease
('3.14.1', 3, 14, 1, False)
>>> SemVer.parse("v2.0.8-beta.67+exp.sha.5114f85").version
'2.0.8-beta.67'
>>> SemVer.parse("1.2") is None, SemVer.parse("01.2.3") is None
(True, True)
>>> SemVer.parse("3.14.1") > SemVer.parse("3.14.1-rc.1") > SemVer.parse("3.14.0")
True
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_LENGTH", "SemVer"]

#: node-semver's ``MAX_LENGTH``: longer text is not a version.
MAX_LENGTH: Final = 256
# JavaScript's Number.MAX_SAFE_INTEGER: node-semver refuses larger numbers.
_MAX_SAFE_INTEGER: Final = 2**53 - 1

_NUM = r"0|[1-9]\d*"
_NON_NUM = r"\d*[a-zA-Z-][a-zA-Z0-9-]*"
_PRE_ID = rf"(?:{_NON_NUM}|{_NUM})"
_BUILD_ID = r"[0-9A-Za-z-]+"
# node-semver's FULL: ^v?MAJOR.MINOR.PATCH(-PRERELEASE)?(+BUILD)?$
_FULL: Final = re.compile(
    rf"v?({_NUM})\.({_NUM})\.({_NUM})"
    rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+({_BUILD_ID}(?:\.{_BUILD_ID})*))?",
    re.ASCII,
)


@functools.total_ordering
@dataclass(frozen=True, slots=True, eq=False)
class SemVer:
    """A parsed semantic version; ordered by semver.org's precedence rules.

    ``raw`` is the text given (``v3.14.1``), ``prerelease`` and ``build`` the dot-separated
    identifiers (numeric prerelease identifiers as ``int``, as node-semver keeps them).
    """

    raw: str
    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SemVer | None:
        """The version ``text`` names, or ``None`` when node-semver's ``valid()`` says no."""
        if len(text) > MAX_LENGTH:
            return None
        match = _FULL.fullmatch(text.strip())
        if match is None:
            return None
        major, minor, patch = (int(match[i]) for i in (1, 2, 3))
        if max(major, minor, patch) > _MAX_SAFE_INTEGER:
            return None
        pre: tuple[int | str, ...] = ()
        if match[4]:
            pre = tuple(_identifier(part) for part in match[4].split("."))
        build = tuple(match[5].split(".")) if match[5] else ()
        return cls(text, major, minor, patch, pre, build)

    @property
    def version(self) -> str:
        """``MAJOR.MINOR.PATCH[-PRERELEASE]``: node-semver's ``format()`` (no build metadata)."""
        core = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            core += "-" + ".".join(str(p) for p in self.prerelease)
        return core

    @property
    def is_prerelease(self) -> bool:
        """True when the version has prerelease identifiers (``1.0.0-rc.1``)."""
        return bool(self.prerelease)

    def __str__(self) -> str:
        return self.version

    def _key(self) -> tuple[object, ...]:
        # semver.org §11: a release ranks above its prereleases; numeric identifiers rank
        # below alphanumeric ones and compare as numbers.
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _identifier(part: str) -> int | str:
    # node-semver: numeric identifiers become numbers when they are safe integers.
    if part.isdigit():
        number = int(part)
        if number <= _MAX_SAFE_INTEGER:
            return number
    return part
