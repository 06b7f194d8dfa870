"""The names of platforms, containerd's way: known OSes and architectures, normalization.

What ``github.com/containerd/platforms`` calls normalizeOS and normalizeArch, the
``platform.machine()`` spellings, and the percent-encoding of OS options
(``os(version+feature)``) used by ``platforms.FormatAll``.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Final

from polyarch.errors import InvalidPlatform

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
