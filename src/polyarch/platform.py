"""Container platforms with containerd's semantics: parse, normalize, format, match, pick.

A :class:`Platform` is the OCI ``platform`` object (``os``, ``architecture``,
``variant``, ``os.version``, ``os.features``). The rules follow
``github.com/containerd/platforms``, which is what containerd, BuildKit and
nerdctl use:

* :meth:`Platform.parse` reads a specifier such as ``linux/arm64``, ``arm64`` or
  ``windows(10.0.17763)/amd64`` the way ``platforms.Parse`` does;
* :meth:`Platform.normalized` is ``platforms.Normalize`` (``aarch64`` becomes
  ``arm64``, ``armhf`` becomes ``arm/v7``...);
* ``str(platform)`` is ``platforms.Format`` and :meth:`Platform.format_all` is
  ``platforms.FormatAll``;
* :func:`compatible` and :func:`select` are the matcher and the ordering of
  ``platforms.Only(host)``: what a host of that platform can run and which index
  entry it pulls.

>>> p = Platform.parse("Linux/AArch64")
>>> str(p), p.to_oci()
('linux/arm64', {'architecture': 'arm64', 'os': 'linux'})
>>> compatible("linux/arm64", "linux/arm/v7"), compatible("linux/amd64", "linux/amd64/v2")
(True, False)
>>> select("linux/amd64/v3", ["linux/386", "linux/amd64", "linux/amd64/v2", "linux/arm64"])
2
"""

from __future__ import annotations

import json
import platform as _stdlib_platform
import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from polyarch.errors import InvalidPlatform

__all__ = ["Platform", "compatible", "select"]

#: Operating systems Go knows (``go/build/syslist.go``, as in containerd's database.go).
_KNOWN_OS: Final = frozenset(
    {
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "hurd",
        "illumos",
        "ios",
        "js",
        "linux",
        "nacl",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "windows",
        "zos",
    }
)

#: Architectures Go knows, as in containerd's database.go.
_KNOWN_ARCH: Final = frozenset(
    {
        "386",
        "amd64",
        "amd64p32",
        "arm",
        "armbe",
        "arm64",
        "arm64be",
        "ppc64",
        "ppc64le",
        "loong64",
        "mips",
        "mipsle",
        "mips64",
        "mips64le",
        "mips64p32",
        "mips64p32le",
        "ppc",
        "riscv",
        "riscv64",
        "s390",
        "s390x",
        "sparc",
        "sparc64",
        "wasm",
    }
)

#: ``platform.machine()`` spellings that are not plain GOARCH names.
_MACHINE_ARCH: Final[dict[str, tuple[str, str]]] = {
    "x86_64": ("amd64", ""),
    "x86-64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "i386": ("386", ""),
    "i486": ("386", ""),
    "i586": ("386", ""),
    "i686": ("386", ""),
    "x86": ("386", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv8l": ("arm", "v8"),
    "armv7l": ("arm", "v7"),
    "armv7": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "armv5tejl": ("arm", "v5"),
    "armv5l": ("arm", "v5"),
    "loongarch64": ("loong64", ""),
    "mips64el": ("mips64le", ""),
    "mipsel": ("mipsle", ""),
}

# The OS component: ``os`` or ``os(version[+feature]...)``; the other components.
_OS_RE: Final = re.compile(
    r"([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?", re.ASCII
)
_COMPONENT_RE: Final = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)
_BAD_PERCENT_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_GO_INT_RE: Final = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DIGITS_RE: Final = re.compile(r"[0-9]+", re.ASCII)
_NUMBERED_VARIANT_RE: Final = re.compile(r"v([1-9][0-9]*)", re.ASCII)

#: Characters escaped inside ``os(...)`` by FormatAll (a single pass, ``%`` included).
_OS_OPTION_ESCAPES: Final = str.maketrans(
    {"%": "%25", "+": "%2B", "(": "%28", ")": "%29", "/": "%2F"}
)

_INT64_MAX: Final = 2**63 - 1

# Windows builds: Server 2022 (ltsc2022) and Server 2025 (ltsc2025) have a stable
# ABI; a host at or after ltsc2022 runs containers from the previous LTSC up to itself.
_LTSC2022: Final = 20348
_COMPAT_LTSC_RELEASES: Final = (20348, 26100)

#: Windows OS feature ignored when matching (older matchers never considered it).
_WIN32K: Final = "win32k"


def _quote(value: str) -> str:
    """``value`` in double quotes, control characters escaped, for one-line messages."""
    return json.dumps(value, ensure_ascii=False)


def _normalize_os(os: str) -> str:
    """containerd's normalizeOS; an empty OS is polyarch's default, ``linux``."""
    if not os:
        return "linux"
    os = os.lower()
    return "darwin" if os == "macos" else os


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    """containerd's normalizeArch: canonical GOARCH name and variant."""
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        if variant in ("8", "v8", "v8.0"):
            variant = ""
        elif variant in ("9", "9.0", "v9.0"):
            variant = "v9"
        return "arm64", variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
    return arch, variant


def _go_atoi(text: str) -> int | None:
    """Go's ``strconv.Atoi``: optional sign, decimal digits, fits in an int64."""
    if not _GO_INT_RE.fullmatch(text):
        return None
    value = int(text)
    return value if -_INT64_MAX - 1 <= value <= _INT64_MAX else None


def _decode_option(value: str, what: str, text: str) -> str:
    """Undo the percent-encoding FormatAll applies to an OS version or feature."""
    if "%" not in value:
        return value
    if _BAD_PERCENT_RE.search(value):
        raise InvalidPlatform(
            f"invalid platform {_quote(text)}: {what} {_quote(value)} has a bad %-escape"
        )
    try:
        return urllib.parse.unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise InvalidPlatform(
            f"invalid platform {_quote(text)}: {what} {_quote(value)} is not UTF-8 once decoded"
        ) from None


def _encode_option(value: str) -> str:
    return value.translate(_OS_OPTION_ESCAPES)


def _machine_arch(machine: str) -> tuple[str, str]:
    """Architecture and variant for a ``platform.machine()`` value."""
    machine = machine.strip().lower()
    if not machine:
        return "unknown", ""
    if machine in _MACHINE_ARCH:
        return _MACHINE_ARCH[machine]
    return _normalize_arch(machine, "")


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI image platform: what an image (or an index entry) needs to run.

    ``os`` and ``architecture`` use Go's names (``linux``, ``amd64``, ``arm64``...);
    ``variant`` qualifies the CPU (``v7`` for arm, ``v2``/``v3`` for amd64); ``os_version``
    and ``os_features`` are the OCI ``os.version`` and ``os.features`` fields, used by
    Windows images. Instances hold the values they were built with; use
    :meth:`normalized` for the canonical spelling. Equality compares fields as they are.

    >>> Platform("linux", "arm", "v7").to_oci()
    {'architecture': 'arm', 'os': 'linux', 'variant': 'v7'}
    """

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls, text: str, *, default_os: str = "linux", default_arch: str | None = None
    ) -> Platform:
        """Parse a platform specifier with containerd's ``platforms.Parse`` rules.

        Accepted forms are ``os``, ``arch``, ``os/arch`` and ``os/arch/variant``; the OS
        may carry options, ``os(version)``, ``os(version+feature+...)`` or
        ``os(+feature)``, where ``%``, ``+``, ``(``, ``)`` and ``/`` are percent-encoded.
        OS, architecture and variant are lowercased and normalized as containerd does
        (``Linux/x86_64`` is ``linux/amd64``, ``armel`` is ``arm/v6``); the OS version
        and features keep their case. Details that follow containerd exactly:

        * two or three parts are taken as ``os/arch[/variant]``, known or not, so
          ``arm64/v8`` is OS ``arm64`` with architecture ``v8``: write ``linux/arm64/v8``;
        * with two parts arm's ``v7`` is implied (``linux/armhf`` is ``linux/arm``); with
          three an explicit variant stays (``linux/arm/v7``, ``linux/arm64/v8``), except
          ``amd64/v1``, which is plain ``amd64``;
        * a single word is an OS if Go knows it (``linux``, ``windows``, ``macos``...)
          and then gets ``default_arch``; otherwise it must be an architecture Go knows
          and gets ``default_os``.

        ``default_arch`` is ``arch`` or ``arch/variant``; ``None`` means the machine
        running polyarch (:meth:`host`). An ``arm/v7`` default loses its implied ``v7``.

        Raises :class:`InvalidPlatform` (a :class:`ValueError`) with a one-line message
        quoting ``text``, e.g. ``invalid platform "linux/": empty architecture``.

        >>> str(Platform.parse("armel")), str(Platform.parse("windows", default_arch="amd64"))
        ('linux/arm/v6', 'windows/amd64')
        >>> Platform.parse("windows(10.0.17763+win32k)/amd64").os_features
        ('win32k',)
        """
        if not isinstance(text, str):
            raise InvalidPlatform(f"invalid platform {text!r}: not a string")
        quoted = _quote(text)
        if not text:
            raise InvalidPlatform(f"invalid platform {quoted}: empty specifier")
        if "*" in text:
            raise InvalidPlatform(f"invalid platform {quoted}: wildcards are not supported")
        parts = text.split("/")
        if len(parts) > 3:
            raise InvalidPlatform(
                f"invalid platform {quoted}: too many components (want os[/arch[/variant]])"
            )

        os_part = parts[0]
        if not os_part:
            raise InvalidPlatform(f"invalid platform {quoted}: empty os")
        match = _OS_RE.fullmatch(os_part)
        if match is None:
            raise InvalidPlatform(
                f"invalid platform {quoted}: invalid os {_quote(os_part)} (want a name of "
                "letters, digits, '_' or '-', optionally followed by (version+feature...))"
            )
        for name, part in zip(("architecture", "variant"), parts[1:], strict=False):
            if not part:
                raise InvalidPlatform(f"invalid platform {quoted}: empty {name}")
            if not _COMPONENT_RE.fullmatch(part):
                raise InvalidPlatform(
                    f"invalid platform {quoted}: invalid {name} {_quote(part)} "
                    "(allowed: letters, digits, '_', '.', '-')"
                )

        os = _normalize_os(match.group(1))
        os_version = _decode_option(match.group(2) or "", "os version", text)
        features: list[str] = []
        if match.group(3):
            for raw in match.group(3)[1:].split("+"):
                feature = _decode_option(raw, "os feature", text)
                if feature:
                    features.append(feature)
        base = cls(os, "", "", os_version, tuple(features))

        if len(parts) == 1:
            if os in _KNOWN_OS:
                arch, variant = _default_arch(default_arch)
                return replace(base, architecture=arch, variant=variant)
            arch, variant = _normalize_arch(parts[0], "")
            if arch == "arm" and variant == "v7":
                variant = ""
            if arch in _KNOWN_ARCH:
                return cls(_normalize_os(default_os), arch, variant)
            raise InvalidPlatform(
                f"invalid platform {quoted}: unknown operating system or architecture"
            )
        if len(parts) == 2:
            arch, variant = _normalize_arch(parts[1], "")
            if arch == "arm" and variant == "v7":
                variant = ""
            return replace(base, architecture=arch, variant=variant)
        arch, variant = _normalize_arch(parts[1], parts[2])
        if arch == "arm64" and not variant:
            variant = "v8"
        return replace(base, architecture=arch, variant=variant)

    @classmethod
    def host(cls) -> Platform:
        """The platform of the machine running polyarch, normalized.

        The OS is always ``linux`` (the images polyarch handles are Linux images, even
        when built on macOS); the architecture comes from :func:`platform.machine`
        (``x86_64`` is ``amd64``, ``aarch64`` is ``arm64``, ``armv7l`` is ``arm/v7``...),
        or is ``unknown`` when Python cannot tell. No CPU feature level is detected, so
        an amd64 host has no ``v2``/``v3`` variant.
        """
        arch, variant = _machine_arch(_stdlib_platform.machine())
        return cls("linux", arch, variant).normalized()

    def normalized(self) -> Platform:
        """containerd's ``platforms.Normalize``: the canonical form of this platform.

        The OS is lowercased (``macos`` becomes ``darwin``, an empty OS ``linux``); the
        architecture and variant are canonical (``aarch64`` becomes ``arm64``, ``x86_64``
        ``amd64``, ``i386`` ``386``, ``armhf`` ``arm/v7``, ``armel`` ``arm/v6``, plain
        ``arm`` ``arm/v7``, ``arm64/v8`` plain ``arm64``, ``amd64/v1`` plain ``amd64``);
        OS features are sorted, without duplicates. The OS version is kept as is.

        >>> str(Platform("Linux", "aarch64", "v8").normalized())
        'linux/arm64'
        """
        arch, variant = _normalize_arch(self.architecture, self.variant)
        return Platform(
            _normalize_os(self.os),
            arch,
            variant,
            self.os_version,
            tuple(sorted(set(self.os_features))),
        )

    def __str__(self) -> str:
        """containerd's ``platforms.Format``: ``os/arch[/variant]`` (``unknown`` if no OS)."""
        if not self.os:
            return "unknown"
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)

    def format_all(self) -> str:
        """containerd's ``platforms.FormatAll``: like ``str()``, plus the OS options.

        The OS version and the OS features (sorted, empty and duplicate ones dropped)
        go in parentheses after the OS, percent-encoding ``%``, ``+``, ``(``, ``)`` and
        ``/``, so that :meth:`parse` reads them back.

        >>> Platform("windows", "amd64", os_version="10.0.17763.1", os_features=("win32k",)
        ...          ).format_all()
        'windows(10.0.17763.1+win32k)/amd64'
        """
        if not self.os:
            return "unknown"
        features = "+".join(_encode_option(f) for f in sorted(set(self.os_features)) if f)
        options = _encode_option(self.os_version) + (f"+{features}" if features else "")
        head = f"{self.os}({options})" if options else self.os
        return "/".join(part for part in (head, self.architecture, self.variant) if part)

    @classmethod
    def from_oci(cls, data: Mapping[str, Any]) -> Platform:
        """Read an OCI ``platform`` JSON object (as found in an index or image config).

        ``os`` and ``architecture`` must be non-empty strings; ``variant`` and
        ``os.version`` strings; ``os.features`` a list of strings. A JSON ``null`` counts
        as absent for the optional fields; other keys are ignored. Values are kept as
        given (not normalized). Raises :class:`InvalidPlatform` otherwise.

        >>> Platform.from_oci({"architecture": "arm64", "os": "linux", "variant": "v8"})
        Platform(os='linux', architecture='arm64', variant='v8', os_version='', os_features=())
        """
        if not isinstance(data, Mapping):
            raise InvalidPlatform(f"invalid platform {data!r}: not a JSON object")
        shown = _show_object(data)

        def required(key: str) -> str:
            value = data.get(key)
            if not isinstance(value, str) or not value:
                what = "missing" if value is None else "must be a non-empty string"
                raise InvalidPlatform(f"invalid platform {shown}: {_quote(key)} {what}")
            return value

        def optional(key: str) -> str:
            value = data.get(key)
            if value is None:
                return ""
            if not isinstance(value, str):
                raise InvalidPlatform(f"invalid platform {shown}: {_quote(key)} must be a string")
            return value

        features = data.get("os.features")
        if features is None:
            features = []
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise InvalidPlatform(
                f'invalid platform {shown}: "os.features" must be a list of strings'
            )
        return cls(
            os=required("os"),
            architecture=required("architecture"),
            variant=optional("variant"),
            os_version=optional("os.version"),
            os_features=tuple(features),
        )

    def to_oci(self) -> dict[str, Any]:
        """This platform as an OCI ``platform`` JSON object.

        Keys come in the order Docker and BuildKit write them (the field order of the
        image-spec Go struct): ``architecture``, ``os``, ``os.version``, ``os.features``,
        ``variant``; empty optional fields are left out.
        """
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    @property
    def is_unknown(self) -> bool:
        """Whether the OS or the architecture is ``unknown``.

        BuildKit lists attestation manifests in an index as ``unknown/unknown``; no
        host runs them, and :func:`compatible` never matches them.
        """
        return self.os.lower() == "unknown" or self.architecture.lower() == "unknown"


def _show_object(data: Mapping[str, Any]) -> str:
    """A short one-line JSON rendering of ``data`` for error messages."""
    try:
        text = json.dumps(dict(data), ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(data)
    return text if len(text) <= 200 else text[:197] + "..."


def _default_arch(default_arch: str | None) -> tuple[str, str]:
    """Architecture and variant given to a specifier naming only an OS."""
    if default_arch is None:
        host = Platform.host()
        arch, variant = host.architecture, host.variant
    else:
        parts = default_arch.split("/")
        if not 1 <= len(parts) <= 2 or not all(_COMPONENT_RE.fullmatch(p) for p in parts):
            raise InvalidPlatform(
                f"invalid default architecture {_quote(default_arch)}: want arch[/variant]"
            )
        arch, variant = _normalize_arch(parts[0], parts[1] if len(parts) == 2 else "")
    if arch == "arm" and variant == "v7":
        variant = ""
    return arch, variant


# --- matching: containerd's platforms.Only(host) -------------------------------------


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
