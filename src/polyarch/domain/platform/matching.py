"""Which platforms a host runs, and which index entry it pulls: containerd's ``platforms.Only``.

:func:`compatible` is the matcher and :func:`select` the ordering of
``platforms.Only(host)`` from ``github.com/containerd/platforms``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Final

from polyarch.domain.platform.model import Platform
from polyarch.domain.platform.names import (
    _DIGITS_RE,
    _NUMBERED_VARIANT_RE,
    _go_atoi,
    _normalize_arch,
)

__all__ = ["compatible", "select"]

# Windows builds: Server 2022 (ltsc2022) and Server 2025 (ltsc2025) have a stable
# ABI; a host at or after ltsc2022 runs containers from the previous LTSC up to itself.
_LTSC2022: Final = 20348
_COMPAT_LTSC_RELEASES: Final = (20348, 26100)

#: Windows OS feature ignored when matching (older matchers never considered it).
_WIN32K: Final = "win32k"


def _windows_version(text: str) -> tuple[int, int, int]:
    """``(major, minor, build)`` of a Windows ``os.version``; zeros if it is not one."""
    if text.count(".") < 2:
        return (0, 0, 0)
    fields = text.split(".", 3)
    limits = (0xFF, 0xFF, 0xFFFF)
    numbers: list[int] = []
    for field, limit in zip(fields[:3], limits, strict=True):
        if not _DIGITS_RE.fullmatch(field) or int(field) > limit:
            return (0, 0, 0)
        numbers.append(int(field))
    return (numbers[0], numbers[1], numbers[2])


def _windows_host_runs(host: tuple[int, int, int], container: tuple[int, int, int]) -> bool:
    """Whether a Windows host of that version runs a process-isolated container of that one.

    Major and minor must be equal. Before Server 2022 the build must be equal too; from
    Server 2022 on (stable ABI), a host runs builds from the latest LTSC release older
    than itself (or ltsc2022) up to its own build.
    """
    if host[:2] != container[:2]:
        return False
    if host[2] < _LTSC2022:
        return host[2] == container[2]
    oldest = _LTSC2022
    for release in reversed(_COMPAT_LTSC_RELEASES):
        if host[2] > release:
            oldest = release
            break
    return oldest <= container[2] <= host[2]


def _windows_version_matches(host_version: str, candidate_version: str) -> bool:
    """containerd's windowsVersionMatcher: no version on either side matches anything."""
    host = _windows_version(host_version)
    if host == (0, 0, 0) or not candidate_version:
        return True
    return _windows_host_runs(host, _windows_version(candidate_version))


def _matches(entry: Platform, candidate: Platform) -> bool:
    """containerd's NewMatcher(entry).Match(candidate).

    Normalized OS, architecture and variant must be equal; the candidate's OS features
    must be a subset of the entry's. For Windows the OS versions must be compatible and
    the candidate's ``win32k`` feature is ignored.
    """
    want = entry.normalized()
    got = candidate.normalized()
    if (want.os, want.architecture, want.variant) != (got.os, got.architecture, got.variant):
        return False
    features = set(got.os_features)
    if want.os == "windows":
        if not _windows_version_matches(want.os_version, candidate.os_version):
            return False
        features.discard(_WIN32K)
    return features <= set(want.os_features)


@dataclass(frozen=True, slots=True)
class _Run:
    """Consecutive vector entries ``arch/v{high}``, ``arch/v{high-1}`` ... ``arch/v{low}``.

    Kept as a range so that a host such as ``amd64/v1000000`` costs nothing extra.
    """

    template: Platform
    high: int
    low: int

    def __len__(self) -> int:
        return self.high - self.low + 1

    def entry(self, number: int) -> Platform:
        return replace(self.template, variant=f"v{number}")

    def position(self, candidate: Platform) -> int | None:
        """Index in this run of the one entry that may match ``candidate``, if any."""
        arch, variant = _normalize_arch(candidate.architecture, candidate.variant)
        if arch != self.template.architecture:
            return None
        if arch == "amd64" and not variant:
            number = 1
        elif found := _NUMBERED_VARIANT_RE.fullmatch(variant):
            number = int(found.group(1))
        else:
            return None
        if not self.low <= number <= self.high or not _matches(self.entry(number), candidate):
            return None
        return self.high - number


def _platform_vector(platform: Platform) -> Iterator[Platform | _Run]:
    """containerd's platformVector: what a normalized host runs, most preferred first."""
    yield platform
    if platform.architecture == "amd64":
        level = _go_atoi(platform.variant.removeprefix("v"))
        if level is not None and level > 1:
            yield _Run(platform, level - 1, 1)
        yield replace(platform, architecture="386", variant="")
    elif platform.architecture == "arm":
        level = _go_atoi(platform.variant.removeprefix("v"))
        if level is not None and level > 5:
            yield _Run(platform, level - 1, 5)
    elif platform.architecture == "arm64":
        yield from _arm64_vector(platform)


def _arm64_vector(platform: Platform) -> Iterator[Platform | _Run]:
    """The tail of platformVector for arm64: older arm64 levels, then 32-bit arm."""
    variant = platform.variant or "v8"
    major_text, dot, minor_text = variant.partition(".")
    major = _go_atoi(major_text.removeprefix("v"))
    if major is not None and major >= 8:
        minor = 0
        if len(variant.encode()) == 4 and dot:
            minor = _go_atoi(minor_text) or 0
        if major == 9:
            for older in range(minor - 1, -1, -1):
                yield replace(platform, variant=f"v9.{older}" if older else "v9")
            # Armv9.x has the baseline of Armv8.(x+5); the v8 line stops at v8.9.
            minor = min(minor + 5, 9)
            major = 8
            yield replace(platform, variant=f"v8.{minor}")
        for older in range(minor - 1, -1, -1):
            yield replace(platform, variant=f"v{major}.{older}" if older else f"v{major}")
    if variant.startswith(("v8.", "v9.")):
        variant = "v8"
    yield from _platform_vector(replace(platform, architecture="arm", variant=variant))


def _rank(host: Platform, candidate: Platform) -> int | None:
    """Position of the first entry of Only(host)'s vector matching ``candidate``."""
    if host.is_unknown or candidate.is_unknown:
        return None
    offset = 0
    for item in _platform_vector(host.normalized()):
        if isinstance(item, _Run):
            position = item.position(candidate)
            if position is not None:
                return offset + position
            offset += len(item)
        else:
            if _matches(item, candidate):
                return offset
            offset += 1
    return None


def _as_platform(value: Platform | str) -> Platform:
    return value if isinstance(value, Platform) else Platform.parse(value)


def compatible(host: Platform | str, candidate: Platform | str) -> bool:
    """Whether a host of platform ``host`` runs an image built for ``candidate``.

    This is containerd's default matcher for a host, ``platforms.Only(host)`` (not
    ``OnlyStrict``): the same OS, and the host's own architecture and variant or an
    older one it also runs. An ``amd64/v3`` host runs ``amd64/v2``, plain ``amd64``
    (``v1``) and ``386``, but a plain ``amd64`` host does not run ``amd64/v2``; an
    ``arm64`` host runs ``arm64`` and ``arm`` ``v8`` down to ``v5``; ``arm64/v9.x`` runs
    ``v9.0``..``v9.x`` and ``v8.0``..``v8.(x+5)``; ``arm/v7`` runs ``v6`` and ``v5``. A
    Windows host with an ``os.version`` runs the same build (before Server 2022) or,
    from Server 2022 on, builds from the previous LTSC up to its own; either side
    without a version matches any. The candidate's OS features must all be the host's
    (Windows' ``win32k`` aside). ``unknown`` platforms never match. Strings are read
    with :meth:`Platform.parse`.

    >>> compatible("linux/amd64/v3", "linux/386"), compatible("linux/amd64", "windows/amd64")
    (True, False)
    """
    return _rank(_as_platform(host), _as_platform(candidate)) is not None


def select(host: Platform | str, candidates: Sequence[Platform | str]) -> int | None:
    """Index of the candidate a host of platform ``host`` pulls, or ``None``.

    Among the :func:`compatible` candidates, the one containerd's ``Only(host)``
    orders first: the host's exact platform, then each older level in turn (``amd64/v3``
    prefers ``v3``, then ``v2``, ``v1``, then ``386``; ``arm64`` prefers ``arm64``, then
    ``arm/v8`` down to ``arm/v5``). Between candidates matching the same level, the one
    declaring more OS features wins, then the earlier one. Strings are read with
    :meth:`Platform.parse`.

    >>> select("linux/arm64", ["linux/amd64", "linux/arm/v7", "linux/arm64/v8"])
    2
    """
    host_platform = _as_platform(host)
    best: tuple[int, int, int] | None = None
    for index, value in enumerate(candidates):
        candidate = _as_platform(value)
        rank = _rank(host_platform, candidate)
        if rank is None:
            continue
        key = (rank, -len(candidate.os_features), index)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]
