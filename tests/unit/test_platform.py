"""Unit tests for polyarch.domain.platform.

The tables are ported from github.com/containerd/platforms (platforms_test.go,
compare_test.go, platform_windows_compat_test.go, the Windows matcher tests and
variant_test.go); each block names its source. Go's ``runtime.GOOS``/``GOARCH``
defaults become polyarch's explicit ``default_os="linux"`` and ``default_arch``.
"""

from __future__ import annotations

from typing import Any

import pytest

from polyarch.domain.platform import Platform, compatible, select
from polyarch.errors import InvalidInput, InvalidPlatform

P = Platform
ARCH = "amd64"  # the default architecture the parse tables are run with


def parse(text: str) -> Platform:
    return Platform.parse(text, default_arch=ARCH)


# --- Parse / Format / FormatAll: platforms_test.go TestParseSelector -----------------

PARSE_CASES: list[tuple[str, Platform, list[Platform], str, bool]] = [
    # input, expected, also matched by NewMatcher(expected), formatted, FormatAll?
    (
        "linux/arm64",
        P("linux", "arm64"),
        [P("linux", "aarch64"), P("linux", "aarch64", "v8"), P("linux", "arm64", "v8")],
        "linux/arm64",
        False,
    ),
    (
        "linux/arm64/v8",
        P("linux", "arm64", "v8"),
        [P("linux", "aarch64"), P("linux", "aarch64", "v8"), P("linux", "arm64")],
        "linux/arm64/v8",
        False,
    ),
    (
        "linux/arm",
        P("linux", "arm"),
        [P("linux", "arm", "v7"), P("linux", "armhf"), P("linux", "arm", "7")],
        "linux/arm",
        False,
    ),
    ("linux/arm/v6", P("linux", "arm", "v6"), [P("linux", "armel")], "linux/arm/v6", False),
    (
        "linux/arm/v7",
        P("linux", "arm", "v7"),
        [P("linux", "arm"), P("linux", "armhf")],
        "linux/arm/v7",
        False,
    ),
    ("arm", P("linux", "arm"), [], "linux/arm", False),
    ("armel", P("linux", "arm", "v6"), [], "linux/arm/v6", False),
    ("armhf", P("linux", "arm"), [], "linux/arm", False),
    ("Aarch64", P("linux", "arm64"), [], "linux/arm64", False),
    ("x86_64", P("linux", "amd64"), [], "linux/amd64", False),
    ("Linux/x86_64", P("linux", "amd64"), [], "linux/amd64", False),
    ("i386", P("linux", "386"), [], "linux/386", False),
    ("linux", P("linux", ARCH), [], f"linux/{ARCH}", False),
    ("s390x", P("linux", "s390x"), [], "linux/s390x", False),
    ("linux/s390x", P("linux", "s390x"), [], "linux/s390x", False),
    ("macOS", P("darwin", ARCH), [], f"darwin/{ARCH}", False),
    ("windows", P("windows", ARCH), [], f"windows/{ARCH}", False),
    ("windows()", P("windows", ARCH), [], f"windows/{ARCH}", True),
    (
        "windows(10.0.17763)",
        P("windows", ARCH, os_version="10.0.17763"),
        [],
        f"windows(10.0.17763)/{ARCH}",
        True,
    ),
    (
        "windows(10.0.17763+win32k)",
        P("windows", ARCH, os_version="10.0.17763", os_features=("win32k",)),
        [],
        f"windows(10.0.17763+win32k)/{ARCH}",
        True,
    ),
    ("linux(+gpu)", P("linux", ARCH, os_features=("gpu",)), [], f"linux(+gpu)/{ARCH}", True),
    (
        "linux(+gpu+simd)",
        P("linux", ARCH, os_features=("gpu", "simd")),
        [],
        f"linux(+gpu+simd)/{ARCH}",
        True,
    ),
    (
        "linux(+unsorted+erofs)",
        P("linux", ARCH, os_features=("unsorted", "erofs")),
        [],
        f"linux(+erofs+unsorted)/{ARCH}",
        True,
    ),
    (
        "windows(10.0.17763%2Bbuild.42)",
        P("windows", ARCH, os_version="10.0.17763+build.42"),
        [],
        f"windows(10.0.17763%2Bbuild.42)/{ARCH}",
        True,
    ),
    (
        "windows(10.0.17763%2Bbuild.42+win32k)",
        P("windows", ARCH, os_version="10.0.17763+build.42", os_features=("win32k",)),
        [],
        f"windows(10.0.17763%2Bbuild.42+win32k)/{ARCH}",
        True,
    ),
    (
        "windows(50%25done)",
        P("windows", ARCH, os_version="50%done"),
        [],
        f"windows(50%25done)/{ARCH}",
        True,
    ),
]


@pytest.mark.parametrize(
    ("text", "expected", "matches", "formatted", "use_all"),
    PARSE_CASES,
    ids=[case[0] for case in PARSE_CASES],
)
def test_parse(
    text: str, expected: Platform, matches: list[Platform], formatted: str, use_all: bool
) -> None:
    parsed = parse(text)
    assert parsed == expected
    assert compatible(parsed, expected)
    for other in matches:
        assert compatible(parsed, other), other
    assert (parsed.format_all() if use_all else str(parsed)) == formatted
    reparsed = parse(formatted)
    assert (reparsed.format_all() if use_all else str(reparsed)) == formatted


# --- platforms_test.go TestFormatAllEncoding ------------------------------------------

FORMAT_ALL_CASES: list[tuple[Platform, str]] = [
    (
        P("windows", "amd64", os_version="10.0.17763+build.42"),
        "windows(10.0.17763%2Bbuild.42)/amd64",
    ),
    (
        P("windows", "amd64", os_version="10.0.17763+build.42", os_features=("win32k",)),
        "windows(10.0.17763%2Bbuild.42+win32k)/amd64",
    ),
    (P("windows", "amd64", os_version="50%done"), "windows(50%25done)/amd64"),
    (P("windows", "amd64", os_version="1.0(beta)"), "windows(1.0%28beta%29)/amd64"),
    (P("windows", "amd64", os_version="a/b"), "windows(a%2Fb)/amd64"),
    (P("windows", "amd64", os_version="10.0.17763"), "windows(10.0.17763)/amd64"),
    (P("linux", "amd64", os_features=("feat+v2",)), "linux(+feat%2Bv2)/amd64"),
    (P("linux", "amd64", os_features=("100%gpu",)), "linux(+100%25gpu)/amd64"),
    (
        P("windows", "amd64", os_version="10.0+build", os_features=("feat+1",)),
        "windows(10.0%2Bbuild+feat%2B1)/amd64",
    ),
]


@pytest.mark.parametrize(
    ("platform", "expected"), FORMAT_ALL_CASES, ids=[c[1] for c in FORMAT_ALL_CASES]
)
def test_format_all_encoding(platform: Platform, expected: str) -> None:
    formatted = platform.format_all()
    assert formatted == expected
    reparsed = Platform.parse(formatted)
    assert reparsed.os_version == platform.os_version
    assert reparsed.os_features == platform.os_features


def test_format_all_skips_empty_and_duplicate_os_features() -> None:
    # platforms_test.go TestFormatAllSkipsEmptyOSFeatures (plus a duplicate).
    p = P("linux", "amd64", os_features=("", "gpu", "", "simd", "gpu"))
    assert p.format_all() == "linux(+gpu+simd)/amd64"


@pytest.mark.parametrize(
    ("platform", "formatted", "formatted_all"),
    [
        (P("linux", "amd64"), "linux/amd64", "linux/amd64"),
        (P("linux", "arm", "v7"), "linux/arm/v7", "linux/arm/v7"),
        (P("", "amd64"), "unknown", "unknown"),
        (P("windows", "amd64", os_version="10.0.20348"), "windows/amd64", None),
        (P("linux", "amd64", os_features=("",)), "linux/amd64", "linux/amd64"),
        (P("unknown", "unknown"), "unknown/unknown", "unknown/unknown"),
    ],
)
def test_format(platform: Platform, formatted: str, formatted_all: str | None) -> None:
    assert str(platform) == formatted
    if formatted_all is not None:
        assert platform.format_all() == formatted_all


# --- platforms_test.go TestParseSelectorInvalid (and the skipped wildcard cases) -----

INVALID_CASES: list[tuple[str, str]] = [
    ("", "empty specifier"),
    ("/linux/arm", "empty os"),
    ("linux/arm/", "empty variant"),
    ("linux /arm", 'invalid os "linux "'),
    ("linux/&arm", 'invalid architecture "&arm"'),
    ("linux/arm/foo/bar", "too many components"),
    ("*", "wildcards are not supported"),
    ("linux/*", "wildcards are not supported"),
    ("*/arm64", "wildcards are not supported"),
    ("linux/", "empty architecture"),
    ("linux//v7", "empty architecture"),
    ("foo", "unknown operating system or architecture"),
    ("amd64(10.0)", "unknown operating system or architecture"),
    ("linux.x/amd64", "invalid os"),
    ("linux(+)/amd64", "invalid os"),
    ("linux(a)(b)/amd64", "invalid os"),
    ("windows(50%zz)/amd64", 'os version "50%zz" has a bad %-escape'),
    ("windows(+gpu%2)/amd64", 'os feature "gpu%2" has a bad %-escape'),
    ("windows(%ff)/amd64", "is not UTF-8"),
    ("linux/amd64/v2\n", 'invalid variant "v2\\n"'),
]


@pytest.mark.parametrize(("text", "reason"), INVALID_CASES, ids=[c[0] for c in INVALID_CASES])
def test_parse_invalid(text: str, reason: str) -> None:
    with pytest.raises(InvalidPlatform) as info:
        Platform.parse(text)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message
    assert message.startswith("invalid platform ")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, InvalidInput)


def test_parse_error_message_quotes_input() -> None:
    with pytest.raises(InvalidPlatform) as info:
        Platform.parse("linux/")
    assert str(info.value) == 'invalid platform "linux/": empty architecture'


def test_parse_rejects_non_string() -> None:
    with pytest.raises(InvalidPlatform):
        Platform.parse(42)  # type: ignore[arg-type]


# --- Parse details containerd has and the issue asked about ---------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Two parts are always os/arch: "arm64/v8" is OS "arm64", architecture "v8".
        ("arm64/v8", P("arm64", "v8")),
        ("linux/arm64/v8", P("linux", "arm64", "v8")),
        ("linux/aarch64/v8", P("linux", "arm64", "v8")),
        ("linux/arm64/8", P("linux", "arm64", "v8")),
        ("linux/arm64/v8.0", P("linux", "arm64", "v8")),
        ("linux/arm64/v9.0", P("linux", "arm64", "v9")),
        ("linux/arm64/9", P("linux", "arm64", "v9")),
        ("linux/arm64/v8.2", P("linux", "arm64", "v8.2")),
        ("linux/arm/7", P("linux", "arm", "v7")),
        ("linux/arm/5", P("linux", "arm", "v5")),
        ("linux/armhf", P("linux", "arm")),
        ("linux/armel", P("linux", "arm", "v6")),
        ("linux/amd64/v1", P("linux", "amd64")),
        ("linux/x86-64/V3", P("linux", "amd64", "v3")),
        ("linux/i386/v2", P("linux", "386")),
        ("FreeBSD/AMD64", P("freebsd", "amd64")),
        ("plan9/mips64le", P("plan9", "mips64le")),
        ("someos/somearch", P("someos", "somearch")),  # two parts: known or not
        ("unknown/unknown", P("unknown", "unknown")),
        ("linux(+Gpu)/amd64", P("linux", "amd64", os_features=("Gpu",))),
        ("windows(10.0.17763.1)/amd64", P("windows", "amd64", os_version="10.0.17763.1")),
    ],
)
def test_parse_forms(text: str, expected: Platform) -> None:
    assert parse(text) == expected


def test_two_part_arch_variant_is_not_arm64() -> None:
    assert not compatible("linux/arm64", "arm64/v8")
    assert compatible("linux/arm64", "linux/arm64/v8")


@pytest.mark.parametrize(
    ("text", "default_os", "default_arch", "expected"),
    [
        ("arm64", "linux", None, P("linux", "arm64")),
        ("arm64", "windows", None, P("windows", "arm64")),
        ("arm64", "MacOS", None, P("darwin", "arm64")),
        ("linux", "linux", "arm64", P("linux", "arm64")),
        ("linux", "linux", "aarch64", P("linux", "arm64")),
        ("linux", "linux", "arm", P("linux", "arm")),
        ("linux", "linux", "arm/v7", P("linux", "arm")),
        ("linux", "linux", "arm/v6", P("linux", "arm", "v6")),
        ("linux", "linux", "armel", P("linux", "arm", "v6")),
        ("linux", "linux", "amd64/v3", P("linux", "amd64", "v3")),
        ("windows(10.0.20348)", "linux", "amd64", P("windows", "amd64", os_version="10.0.20348")),
    ],
)
def test_parse_defaults(
    text: str, default_os: str, default_arch: str | None, expected: Platform
) -> None:
    assert Platform.parse(text, default_os=default_os, default_arch=default_arch) == expected


@pytest.mark.parametrize("default_arch", ["", "a/b/c", "arm/", "x y"])
def test_parse_invalid_default_arch(default_arch: str) -> None:
    with pytest.raises(InvalidPlatform, match="invalid default architecture"):
        Platform.parse("linux", default_arch=default_arch)


# --- the machine's platform (defaults_unix_test.go TestDefault, Parse of a bare OS) --

MACHINES: list[tuple[str, Platform]] = [
    ("x86_64", P("linux", "amd64")),
    ("AMD64", P("linux", "amd64")),
    ("i686", P("linux", "386")),
    ("aarch64", P("linux", "arm64")),
    ("arm64", P("linux", "arm64")),
    ("armv7l", P("linux", "arm", "v7")),
    ("armv6l", P("linux", "arm", "v6")),
    ("armv5tel", P("linux", "arm", "v5")),
    ("armv8l", P("linux", "arm", "v8")),
    ("ppc64le", P("linux", "ppc64le")),
    ("s390x", P("linux", "s390x")),
    ("riscv64", P("linux", "riscv64")),
    ("loongarch64", P("linux", "loong64")),
    ("mips64el", P("linux", "mips64le")),
    ("", P("linux", "unknown")),
]


@pytest.mark.parametrize(("machine", "expected"), MACHINES, ids=[m[0] or "empty" for m in MACHINES])
def test_host(monkeypatch: pytest.MonkeyPatch, machine: str, expected: Platform) -> None:
    monkeypatch.setattr("platform.machine", lambda: machine)
    host = Platform.host()
    assert host == expected
    assert host.normalized() == host  # platforms_windows_test.go TestNormalize


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", P("linux", "amd64")),
        ("aarch64", P("linux", "arm64")),
        ("armv7l", P("linux", "arm")),  # as containerd: arm's v7 is implied
        ("armv6l", P("linux", "arm", "v6")),
    ],
)
def test_parse_os_only_uses_machine_arch(
    monkeypatch: pytest.MonkeyPatch, machine: str, expected: Platform
) -> None:
    monkeypatch.setattr("platform.machine", lambda: machine)
    assert Platform.parse("linux") == expected
    assert Platform.parse("windows") == P("windows", expected.architecture, expected.variant)


# --- Normalize: database.go normalizeOS / normalizeArch and platforms.go docs --------

NORMALIZE_CASES: list[tuple[Platform, Platform]] = [
    (P("linux", "aarch64"), P("linux", "arm64")),
    (P("linux", "armhf"), P("linux", "arm", "v7")),
    (P("linux", "armel"), P("linux", "arm", "v6")),
    (P("linux", "i386"), P("linux", "386")),
    (P("linux", "i386", "v2"), P("linux", "386")),
    (P("linux", "x86_64"), P("linux", "amd64")),
    (P("linux", "x86-64"), P("linux", "amd64")),
    (P("linux", "amd64", "v1"), P("linux", "amd64")),
    (P("linux", "AMD64", "V2"), P("linux", "amd64", "v2")),
    (P("macos", "arm64"), P("darwin", "arm64")),
    (P("MacOS", "arm64"), P("darwin", "arm64")),
    (P("Windows", "amd64"), P("windows", "amd64")),
    (P("", "amd64"), P("linux", "amd64")),
    (P("linux", "arm"), P("linux", "arm", "v7")),
    (P("linux", "arm", "7"), P("linux", "arm", "v7")),
    (P("linux", "arm", "5"), P("linux", "arm", "v5")),
    (P("linux", "arm", "6"), P("linux", "arm", "v6")),
    (P("linux", "arm", "8"), P("linux", "arm", "v8")),
    (P("linux", "arm", "v4"), P("linux", "arm", "v4")),
    (P("linux", "arm64", "8"), P("linux", "arm64")),
    (P("linux", "arm64", "v8"), P("linux", "arm64")),
    (P("linux", "arm64", "v8.0"), P("linux", "arm64")),
    (P("linux", "arm64", "9"), P("linux", "arm64", "v9")),
    (P("linux", "arm64", "9.0"), P("linux", "arm64", "v9")),
    (P("linux", "arm64", "v9.0"), P("linux", "arm64", "v9")),
    (P("linux", "arm64", "v8.2"), P("linux", "arm64", "v8.2")),
    (P("linux", "ppc64le", "power9"), P("linux", "ppc64le", "power9")),
    (
        P("windows", "amd64", os_version="10.0.17763.1", os_features=("b", "a", "b")),
        P("windows", "amd64", os_version="10.0.17763.1", os_features=("a", "b")),
    ),
]


@pytest.mark.parametrize(("platform", "expected"), NORMALIZE_CASES, ids=str)
def test_normalized(platform: Platform, expected: Platform) -> None:
    assert platform.normalized() == expected
    assert expected.normalized() == expected


# --- Only(host).Match: compare_test.go TestOnly ----------------------------------------

ONLY_TABLE: list[tuple[str, list[str], list[str]]] = [
    # host, runs, does not run
    (
        "linux/amd64",
        ["linux/amd64", "linux/386"],
        ["linux/amd64/v2", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"],
    ),
    (
        "linux/amd64/v2",
        ["linux/amd64", "linux/amd64/v1", "linux/amd64/v2", "linux/386"],
        [
            "linux/amd64/v3",
            "linux/amd64/v4",
            "linux/arm/v7",
            "linux/arm64",
            "windows/amd64",
            "windows/arm",
        ],
    ),
    (
        "linux/386",
        ["linux/386"],
        ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"],
    ),
    (
        "windows/amd64",
        ["windows/amd64", "windows(10.0.17763)/amd64"],
        ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/arm"],
    ),
    (
        "linux/arm/v8",
        ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8"],
        ["linux/amd64", "linux/arm/v4", "linux/arm64", "windows/amd64", "windows/arm"],
    ),
    (
        "linux/arm/v7",
        ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7"],
        [
            "linux/amd64",
            "linux/arm/v4",
            "linux/arm/v8",
            "linux/arm64",
            "windows/amd64",
            "windows/arm",
        ],
    ),
    (
        "linux/arm/v6",
        ["linux/arm/v5", "linux/arm/v6"],
        [
            "linux/amd64",
            "linux/arm",
            "linux/arm/v4",
            "linux/arm/v7",
            "linux/arm/v8",
            "linux/arm64",
            "windows/amd64",
            "windows/arm",
        ],
    ),
    (
        "linux/arm/v5",
        ["linux/arm/v5"],
        [
            "linux/amd64",
            "linux/arm",
            "linux/arm/v4",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm/v8",
            "linux/arm64",
            "windows/amd64",
            "windows/arm",
        ],
    ),
    (
        "linux/arm/v4",
        ["linux/arm/v4"],
        [
            "linux/amd64",
            "linux/arm",
            "linux/arm/v5",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm/v8",
            "linux/arm64",
            "windows/amd64",
            "windows/arm",
        ],
    ),
    (
        "linux/arm64/v9",
        [
            "linux/arm",
            "linux/arm/v5",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm/v8",
            "linux/arm64",
            "linux/arm64/v8",
            "linux/arm64/v8.1",
            "linux/arm64/v8.2",
            "linux/arm64/v8.3",
            "linux/arm64/v8.4",
            "linux/arm64/v8.5",
            "linux/arm64/v9",
            "linux/arm64/v9.0",
        ],
        [
            "linux/amd64",
            "linux/arm/v4",
            "windows/amd64",
            "windows/arm",
            "linux/arm64/v8.6",
            # from an older revision of the same table:
            "linux/arm64/v7",
            "linux/arm64/v10",
            "windows/arm64",
        ],
    ),
    (
        "linux/arm64/v8.1",
        [
            "linux/arm",
            "linux/arm/v5",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm/v8",
            "linux/arm64",
            "linux/arm64/v8",
            "linux/arm64/v8.1",
        ],
        [
            "linux/amd64",
            "linux/arm/v4",
            "linux/arm/v9",
            "linux/arm64/v9",
            "windows/amd64",
            "windows/arm",
        ],
    ),
    (
        "linux/arm64",
        [
            "linux/arm",
            "linux/arm/v5",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm/v8",
            "linux/arm64",
            "linux/arm64/v8",
        ],
        [
            "linux/amd64",
            "linux/arm/v4",
            "linux/arm/v9",
            "linux/arm64/v9",
            "windows/amd64",
            "windows/arm",
            "linux/arm64/v7",  # from an older revision of the same table
        ],
    ),
]

ONLY_CASES: list[tuple[str, str, bool]] = [
    (host, candidate, expected)
    for host, runs, refuses in ONLY_TABLE
    for candidate, expected in [(c, True) for c in runs] + [(c, False) for c in refuses]
]


@pytest.mark.parametrize(
    ("host", "candidate", "expected"),
    ONLY_CASES,
    ids=[f"{h}-runs-{c}-{e}" for h, c, e in ONLY_CASES],
)
def test_only_match(host: str, candidate: str, expected: bool) -> None:
    assert compatible(host, candidate) is expected
    assert compatible(parse(host), parse(candidate)) is expected


# --- arm64 levels: variant_test.go TestArm64VariantMatch -------------------------------

ARM64_CASES: list[tuple[str, str, bool]] = [
    ("v9.6", "v8.9", True),  # within v9.6+5, capped at v8.9
    ("v9.6", "v8.10", False),  # no such version
    ("v9", "v8.5", True),  # offset boundary
    ("v9", "v8.6", False),  # past the offset boundary
    ("v8.1", "v9", False),  # a lower major does not run a higher one
    ("v9.8", "v9.0", True),
    ("v9.8", "v8.9", True),  # the offset caps at .9
    ("", "v8", True),  # a bare host is v8
    ("v9.6", "v8.9.1", False),  # no third component
]


@pytest.mark.parametrize(("host", "image", "expected"), ARM64_CASES)
def test_arm64_levels(host: str, image: str, expected: bool) -> None:
    host_platform = P("linux", "arm64", host)
    assert compatible(host_platform, P("linux", "arm64", image)) is expected


# variant_test.go TestGenericVariantMatch, only the cases where it agrees with the
# released vector matcher (which runs no other ppc64le/riscv64 level, nor a bare one,
# than the host's own); that file comes with a pending rewrite of Only.
@pytest.mark.parametrize(
    ("host", "image", "expected"),
    [
        ("power10", "power10", True),
        ("power8", "power10", False),
        ("", "", True),
        ("", "power8", False),
        ("power10", "rva20u64", False),
        ("rva23u64", "rva20s64", False),
    ],
)
def test_other_arch_variants(host: str, image: str, expected: bool) -> None:
    assert compatible(P("linux", "ppc64le", host), P("linux", "ppc64le", image)) is expected


def test_huge_variants_are_cheap() -> None:
    # variant_test.go TestNumberedVariantMatchHuge.
    assert compatible("linux/amd64/v1000000000", "linux/amd64/v999999999")
    assert compatible("linux/amd64/v1000000000", "linux/386")
    assert not compatible("linux/amd64/v5", "linux/amd64/v6")
    assert compatible("linux/arm/v1000000000", "linux/arm/v5")
    assert compatible("linux/arm64/v1000000000", "linux/arm/v6")
    assert select("linux/amd64/v1000000000", ["linux/386", "linux/amd64"]) == 1


# --- Windows os.version: platform_windows_compat_test.go Test_PlatformCompat -----------

LTSC2019, LTSC2022, WIN11_22H2, V23H2, LTSC2025 = 17763, 20348, 22621, 25398, 26100

WINDOWS_COMPAT: list[tuple[int, int, bool]] = [
    (LTSC2019, LTSC2019, True),
    (LTSC2019, LTSC2022, False),
    (LTSC2022, LTSC2019, False),
    (LTSC2022, LTSC2022, True),
    (WIN11_22H2, LTSC2019, False),
    (WIN11_22H2, LTSC2022, True),
    (V23H2, LTSC2019, False),
    (V23H2, LTSC2022, True),
    (LTSC2025, LTSC2022, True),
    (LTSC2022, LTSC2025, False),
    (LTSC2022, WIN11_22H2, False),
    (LTSC2025, WIN11_22H2, True),
]


@pytest.mark.parametrize(
    ("host", "container", "expected"),
    WINDOWS_COMPAT,
    ids=[f"host_{h}_ctr_{c}" for h, c, _ in WINDOWS_COMPAT],
)
def test_windows_build_compat(host: int, container: int, expected: bool) -> None:
    host_platform = P("windows", "amd64", os_version=f"10.0.{host}")
    candidate = P("windows", "amd64", os_version=f"10.0.{container}.1234")
    assert compatible(host_platform, candidate) is expected
    assert compatible(f"windows(10.0.{host})/amd64", f"windows(10.0.{container})/amd64") is (
        expected
    )


def _win(version: str = "", arch: str = "amd64", os: str = "windows") -> Platform:
    return P(os, arch, os_version=version)


WINDOWS_MATCHER_CASES: list[tuple[str, Platform, Platform, bool]] = [
    # TestMatchComparerMatch_ABICheckWCOW
    ("ws2019-ws2019", _win("10.0.17763"), _win("10.0.17763"), True),
    ("ws2019-ws2022", _win("10.0.17763"), _win("10.0.20348"), False),
    ("ws2022-ws2019", _win("10.0.20348"), _win("10.0.17763"), False),
    ("ws2022-ws2022", _win("10.0.20348"), _win("10.0.20348"), True),
    ("win11-ws2019", _win("10.0.22621"), _win("10.0.17763"), False),
    ("win11-ws2022", _win("10.0.22621"), _win("10.0.20348"), True),
    ("any-ws2019", _win(), _win("10.0.17763"), True),
    ("any-any", _win(), _win(), True),
    ("any-win11", _win(), _win("10.0.22621"), True),
    # TestMatchComparerMatch_WCOW (host build 10.0.17763)
    ("wcow-self", _win("10.0.17763"), _win("10.0.17763"), True),
    ("wcow-rev1", _win("10.0.17763"), _win("10.0.17763.1"), True),
    ("wcow-rev2", _win("10.0.17763"), _win("10.0.17763.2"), True),
    ("wcow-17762", _win("10.0.17763"), _win("10.0.17762.1"), False),
    ("wcow-17764", _win("10.0.17763"), _win("10.0.17764.1"), False),
    ("wcow-no-version", _win("10.0.17763"), _win(), True),
    ("wcow-linux", _win("10.0.17763"), P("linux", "amd64"), False),
    # TestMatchComparerMatch_LCOW
    ("lcow-windows", P("linux", "amd64"), _win("10.0.17763"), False),
    ("lcow-windows-any", P("linux", "amd64"), _win(), False),
    ("lcow-windows-rev", P("linux", "amd64"), _win("10.0.17763.2"), False),
    ("lcow-windows-17762", P("linux", "amd64"), _win("10.0.17762.1"), False),
    ("lcow-linux", P("linux", "amd64"), P("linux", "amd64"), True),
    # platforms_windows_test.go TestFallbackOnOSVersion
    ("fallback", _win("99.99.99.99"), _win(), True),
    # TestWindowsMatchComparerLess (which of its platforms match the host)
    ("less-17764.1", _win("10.0.17763.1"), _win("10.0.17764.1"), False),
    ("less-no-version", _win("10.0.17763.1"), _win(), True),
    ("less-17763.1", _win("10.0.17763.1"), _win("10.0.17763.1"), True),
    ("less-17763.2", _win("10.0.17763.1"), _win("10.0.17763.2"), True),
    ("less-17762.1", _win("10.0.17763.1"), _win("10.0.17762.1"), False),
    # A version that is not major.minor.build is "no version" on the host side...
    ("host-unparsed", _win("10.0"), _win("10.0.17763"), True),
    ("host-too-big", _win("10.0.70000"), _win("10.0.17763"), True),
    # ...and 0.0.0 on the candidate side, which a real host does not run.
    ("candidate-unparsed", _win("10.0.17763"), _win("10.0"), False),
    ("candidate-too-big", _win("10.0.17763"), _win("10.256.17763"), False),
    ("other-major", _win("10.0.20348"), _win("11.0.20348"), False),
    # Windows' arm64 and amd64 follow the usual architecture rules.
    ("arm64", _win("10.0.26100", "arm64"), _win("10.0.26100", "arm64"), True),
    ("amd64-386", _win("10.0.26100"), _win("10.0.26100", "386"), True),
]


@pytest.mark.parametrize(
    ("host", "candidate", "expected"),
    [c[1:] for c in WINDOWS_MATCHER_CASES],
    ids=[c[0] for c in WINDOWS_MATCHER_CASES],
)
def test_windows_matcher(host: Platform, candidate: Platform, expected: bool) -> None:
    assert compatible(host, candidate) is expected


def test_windows_win32k_feature_is_ignored() -> None:
    # containerd/platforms#31: an image needing win32k still matches a Windows host.
    host = "windows(10.0.20348)/amd64"
    assert compatible(host, "windows(10.0.20348+win32k)/amd64")
    assert compatible("windows/amd64", P("windows", "amd64", os_features=("win32k",)))
    assert not compatible(host, "windows(10.0.20348+win32k+other)/amd64")
    assert not compatible("linux/amd64", "linux(+win32k)/amd64")


# --- OS features (containerd/platforms#20) ---------------------------------------------


@pytest.mark.parametrize(
    ("host", "candidate", "expected"),
    [
        ("linux(+gpu+simd)/amd64", "linux(+gpu)/amd64", True),
        ("linux(+gpu+simd)/amd64", "linux(+simd+gpu)/amd64", True),
        ("linux(+gpu+simd)/amd64", "linux/amd64", True),
        ("linux(+gpu+simd)/amd64", "linux/386", True),
        ("linux(+gpu)/amd64", "linux(+gpu+simd)/amd64", False),
        ("linux/amd64", "linux(+gpu)/amd64", False),
        ("linux(+none)/amd64", "linux(+other)/amd64", False),
        ("linux(+gpu)/arm64", "linux(+gpu)/arm/v7", True),
    ],
)
def test_os_features(host: str, candidate: str, expected: bool) -> None:
    assert compatible(host, candidate) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    # From the review of containerd/platforms#20 (compare_test.go ordering table):
    # with candidates windows, linux, arm64 and linux(+other), a host declaring
    # "none" pulls plain linux/amd64; one declaring "other" pulls linux(+other).
    [("linux(+none)/amd64", 1), ("linux(+other)/amd64", 3), ("linux/amd64", 1)],
)
def test_select_prefers_more_os_features(host: str, expected: int) -> None:
    candidates = ["windows/amd64", "linux/amd64", "linux/arm64", "linux(+other)/amd64"]
    assert select(host, candidates) == expected


# --- the examples ---------------------------------------------------------------

BRIEF_CASES: list[tuple[str, str, bool]] = [
    ("linux/amd64/v3", "linux/amd64/v3", True),
    ("linux/amd64/v3", "linux/amd64/v2", True),
    ("linux/amd64/v3", "linux/amd64/v1", True),
    ("linux/amd64/v3", "linux/amd64", True),
    ("linux/amd64/v3", "linux/386", True),
    ("linux/amd64/v3", "linux/amd64/v4", False),
    ("linux/amd64", "linux/amd64/v2", False),
    ("linux/amd64", "linux/386", True),
    ("linux/amd64", "linux/i386", True),
    ("linux/x86_64", "linux/amd64", True),
    ("linux/386", "linux/amd64", False),
    ("linux/arm64", "linux/arm64", True),
    ("linux/arm64", "linux/aarch64", True),
    ("linux/arm64", "linux/arm/v8", True),
    ("linux/arm64", "linux/arm/v7", True),
    ("linux/arm64", "linux/arm/v6", True),
    ("linux/arm64", "linux/arm/v5", True),
    ("linux/arm64", "linux/armhf", True),
    ("linux/arm64", "linux/armel", True),
    ("linux/arm64", "linux/amd64", False),
    ("linux/arm/v7", "linux/arm/v6", True),
    ("linux/arm/v7", "linux/arm/v5", True),
    ("linux/arm/v7", "linux/arm64", False),
    ("linux/arm/v6", "linux/arm/v5", True),
    ("linux/arm/v6", "linux/arm/v7", False),
    ("linux/amd64", "unknown/unknown", False),
    ("unknown/unknown", "unknown/unknown", False),
    ("linux/amd64", "linux/unknown", False),
    ("linux/amd64", "windows/amd64", False),
    ("windows/amd64", "linux/amd64", False),
    ("linux/amd64", "darwin/amd64", False),
    ("macos/arm64", "darwin/arm64", True),
    ("linux/s390x", "linux/s390x", True),
    ("linux/ppc64le", "linux/ppc64", False),
]


@pytest.mark.parametrize(("host", "candidate", "expected"), BRIEF_CASES)
def test_compatible(host: str, candidate: str, expected: bool) -> None:
    assert compatible(host, candidate) is expected


def test_compatible_accepts_platforms_as_given() -> None:
    assert compatible(P("Linux", "AArch64"), P("linux", "arm", "7"))
    assert not compatible(P("unknown", "unknown"), P("unknown", "unknown"))
    assert not compatible(P("linux", "amd64"), P("Unknown", "Unknown"))


SELECT_CASES: list[tuple[str, list[str], int | None]] = [
    ("linux/amd64/v3", ["linux/386", "linux/amd64", "linux/amd64/v2", "linux/arm64"], 2),
    ("linux/amd64/v3", ["linux/amd64/v2", "linux/amd64/v3", "linux/amd64"], 1),
    ("linux/amd64/v3", ["linux/386", "linux/amd64"], 1),
    ("linux/amd64/v3", ["linux/386", "linux/amd64/v1"], 1),
    ("linux/amd64/v3", ["linux/386"], 0),
    ("linux/amd64/v3", ["linux/amd64/v4", "linux/arm64"], None),
    ("linux/amd64", ["linux/amd64/v2", "linux/386"], 1),
    ("linux/amd64", ["linux/386", "linux/amd64"], 1),
    ("linux/amd64", ["linux/amd64", "linux/amd64"], 0),  # first wins on ties
    ("linux/amd64", ["linux/x86_64", "linux/amd64"], 0),
    ("linux/amd64", ["linux/amd64/v1", "linux/amd64"], 0),
    ("linux/amd64", ["unknown/unknown", "linux/amd64"], 1),
    ("linux/amd64", ["unknown/unknown"], None),
    ("linux/amd64", [], None),
    ("linux/arm64", ["linux/arm/v6", "linux/arm/v7", "linux/arm64/v8"], 2),
    ("linux/arm64", ["linux/arm/v5", "linux/arm/v7", "linux/arm/v6"], 1),
    ("linux/arm64", ["linux/arm/v5", "linux/arm/v8", "linux/arm"], 1),
    ("linux/arm64", ["linux/amd64", "linux/arm/v6"], 1),
    ("linux/arm64/v9", ["linux/arm64/v8.2", "linux/arm64", "linux/arm64/v8.5"], 2),
    ("linux/arm64/v9", ["linux/arm/v8", "linux/arm64/v8"], 1),
    ("linux/arm/v7", ["linux/arm/v5", "linux/arm/v6", "linux/arm"], 2),
    ("linux/arm/v7", ["linux/arm/v5", "linux/arm/v6"], 1),
    ("linux/arm/v6", ["linux/arm/v7", "linux/arm/v5"], 1),
    ("linux/arm/v5", ["linux/arm/v6", "linux/arm/v7"], None),
    ("windows/amd64", ["linux/amd64", "windows/amd64"], 1),
    # Only(host) does not rank Windows builds: the first compatible entry wins.
    (
        "windows(10.0.26100)/amd64",
        ["linux/amd64", "windows(10.0.20348)/amd64", "windows(10.0.26100)/amd64"],
        1,
    ),
    (
        "windows(10.0.17763.1)/amd64",
        [
            "windows(10.0.17764.1)/amd64",
            "windows/amd64",
            "windows(10.0.17763.1)/amd64",
            "windows(10.0.17763.2)/amd64",
        ],
        1,
    ),
]


@pytest.mark.parametrize(("host", "candidates", "expected"), SELECT_CASES)
def test_select(host: str, candidates: list[str], expected: int | None) -> None:
    assert select(host, candidates) == expected
    assert select(parse(host), [parse(c) for c in candidates]) == expected


# Only(host)'s order, best first (platformVector); every earlier entry beats every later.
ORDERS: list[tuple[str, list[str]]] = [
    (
        "linux/amd64/v4",
        ["linux/amd64/v4", "linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"],
    ),
    ("linux/amd64", ["linux/amd64", "linux/386"]),
    ("linux/arm/v8", ["linux/arm/v8", "linux/arm", "linux/arm/v6", "linux/arm/v5"]),
    (
        "linux/arm64",
        ["linux/arm64", "linux/arm/v8", "linux/arm", "linux/arm/v6", "linux/arm/v5"],
    ),
    (
        "linux/arm64/v8.2",
        ["linux/arm64/v8.2", "linux/arm64/v8.1", "linux/arm64", "linux/arm/v8", "linux/arm"],
    ),
    (
        "linux/arm64/v9.1",
        [
            "linux/arm64/v9.1",
            "linux/arm64/v9",
            "linux/arm64/v8.6",
            "linux/arm64/v8.5",
            "linux/arm64/v8.1",
            "linux/arm64",
            "linux/arm/v8",
            "linux/arm/v5",
        ],
    ),
]

ORDER_PAIRS: list[tuple[str, str, str]] = [
    (host, better, worse)
    for host, order in ORDERS
    for i, better in enumerate(order)
    for worse in order[i + 1 :]
]


@pytest.mark.parametrize(("host", "better", "worse"), ORDER_PAIRS)
def test_select_order(host: str, better: str, worse: str) -> None:
    assert select(host, [worse, better]) == 1
    assert select(host, [better, worse]) == 0


# --- OCI JSON ---------------------------------------------------------------------------

OCI_CASES: list[tuple[Platform, dict[str, Any]]] = [
    (P("linux", "amd64"), {"architecture": "amd64", "os": "linux"}),
    (P("linux", "arm64", "v8"), {"architecture": "arm64", "os": "linux", "variant": "v8"}),
    (P("unknown", "unknown"), {"architecture": "unknown", "os": "unknown"}),
    (
        P("windows", "amd64", os_version="10.0.20348.2227", os_features=("win32k",)),
        {
            "architecture": "amd64",
            "os": "windows",
            "os.version": "10.0.20348.2227",
            "os.features": ["win32k"],
        },
    ),
    (
        P("linux", "arm", "v7", "5.15", ("b", "a")),
        {
            "architecture": "arm",
            "os": "linux",
            "os.version": "5.15",
            "os.features": ["b", "a"],
            "variant": "v7",
        },
    ),
]


@pytest.mark.parametrize(("platform", "data"), OCI_CASES, ids=str)
def test_oci_round_trip(platform: Platform, data: dict[str, Any]) -> None:
    out = platform.to_oci()
    assert out == data
    assert list(out) == list(data)  # architecture, os, os.version, os.features, variant
    assert Platform.from_oci(out) == platform
    assert Platform.from_oci(data) == platform


def test_from_oci_keeps_values_and_ignores_other_keys() -> None:
    data = {
        "os": "Linux",
        "architecture": "aarch64",
        "variant": None,
        "os.version": None,
        "os.features": None,
        "features": ["sse4"],
    }
    assert Platform.from_oci(data) == P("Linux", "aarch64")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"architecture": "amd64"}, '"os" missing'),
        ({"os": "linux"}, '"architecture" missing'),
        ({"os": "", "architecture": "amd64"}, '"os" must be a non-empty string'),
        ({"os": 1, "architecture": "amd64"}, '"os" must be a non-empty string'),
        ({"os": "linux", "architecture": ["amd64"]}, '"architecture" must be'),
        ({"os": "linux", "architecture": "arm", "variant": 7}, '"variant" must be a string'),
        ({"os": "linux", "architecture": "amd64", "os.version": 10}, '"os.version" must be'),
        ({"os": "linux", "architecture": "amd64", "os.features": "gpu"}, '"os.features" must'),
        ({"os": "linux", "architecture": "amd64", "os.features": [1]}, '"os.features" must'),
    ],
)
def test_from_oci_invalid(data: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidPlatform) as info:
        Platform.from_oci(data)
    assert reason in str(info.value)
    assert "\n" not in str(info.value)


def test_from_oci_rejects_non_object() -> None:
    with pytest.raises(InvalidPlatform, match="not a JSON object"):
        Platform.from_oci(["linux", "amd64"])  # type: ignore[arg-type]


def test_from_oci_error_is_short() -> None:
    with pytest.raises(InvalidPlatform) as info:
        Platform.from_oci({"os": "linux", "x": "y" * 1000})
    assert len(str(info.value)) < 300


# --- round trips and small properties ---------------------------------------------------

ROUND_TRIP = [
    "linux/amd64",
    "linux/amd64/v2",
    "linux/386",
    "linux/arm64",
    "linux/arm64/v8",
    "linux/arm64/v8.2",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/arm",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
    "windows/amd64",
    "darwin/arm64",
    "unknown/unknown",
    "freebsd/amd64",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_str_parse_round_trip(text: str) -> None:
    p = Platform.parse(text)
    assert str(p) == text
    assert Platform.parse(str(p)) == p
    assert Platform.from_oci(p.to_oci()) == p


@pytest.mark.parametrize(
    "text",
    [
        "windows(10.0.17763)/amd64",
        "windows(10.0.17763.1+win32k)/arm64",
        "linux(+erofs+gpu)/arm/v6",
        "windows(1.0%28beta%29%2Fx%25)/amd64",
    ],
)
def test_format_all_round_trip(text: str) -> None:
    p = Platform.parse(text)
    assert p.format_all() == text
    assert Platform.parse(p.format_all()) == p
    assert Platform.from_oci(p.to_oci()) == p


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (P("unknown", "unknown"), True),
        (P("linux", "unknown"), True),
        (P("unknown", "amd64"), True),
        (P("Unknown", "amd64"), True),
        (P("linux", "amd64"), False),
    ],
)
def test_is_unknown(platform: Platform, expected: bool) -> None:
    assert platform.is_unknown is expected


def test_platform_is_frozen_and_hashable() -> None:
    p = P("linux", "amd64")
    with pytest.raises(AttributeError):
        p.os = "windows"  # type: ignore[misc]
    assert len({p, P("linux", "amd64"), P("linux", "arm64")}) == 2
