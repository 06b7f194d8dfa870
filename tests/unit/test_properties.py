"""Properties of the domain parsers and serializers, checked on generated input.

* every parser fails with its own :class:`~polyarch.errors.InvalidInput` subclass (one
  line), never anything else, whatever text it is given;
* what it accepts round-trips: ``Reference.parse(str(r)) == r``, ``Platform.parse`` of a
  formatted platform, ``Platform.from_oci(p.to_oci()) == p``;
* an index serializes deterministically and parses back to the same descriptors.

Valid references and platforms are built from their grammars, so the round trips are
checked on the whole language, not on a table of examples.
"""

from __future__ import annotations

import dataclasses
import json
import re
import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import ALGORITHMS, Digest
from polyarch.domain.location import parse_location
from polyarch.domain.manifest import Index, build_index, parse_manifest
from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.errors import (
    DigestMismatch,
    InvalidDigest,
    InvalidManifest,
    InvalidPlatform,
    InvalidReference,
)

#: Fast, no database written to the working tree.
FAST = settings(max_examples=200, deadline=None, database=None)

# Text that looks like references and platforms, to get near misses, not only noise.
_REFERENCE_ALPHABET = string.ascii_letters + string.digits + ":/@._-[]+ =%()\n\x00é"
_NOISY = st.text(max_size=80) | st.text(alphabet=_REFERENCE_ALPHABET, max_size=80)


def _one_line(error: Exception) -> None:
    text = error.one_line() if hasattr(error, "one_line") else str(error)
    assert "\n" not in text and "\r" not in text, text


# -- references -----------------------------------------------------------------------

_COMPONENT = st.from_regex(r"[a-z0-9]{1,8}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,8}){0,3}", fullmatch=True)
# A Docker Hub path component: "." would make the first component read as a host.
_HUB_COMPONENT = st.from_regex(
    r"[a-z0-9]{1,8}(?:(?:_|__|-{1,3})[a-z0-9]{1,8}){0,3}", fullmatch=True
)
_LABEL = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
_TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", fullmatch=True)
_IPV6 = st.ip_addresses(v=6).map(str).filter(lambda a: re.fullmatch(r"[0-9a-f:]+", a) is not None)


@st.composite
def _digests(draw: st.DrawFn) -> Digest:
    algorithm = draw(st.sampled_from(sorted(ALGORITHMS)))
    hex_digits = draw(st.text("0123456789abcdef", min_size=ALGORITHMS[algorithm]))
    return Digest(f"{algorithm}:{hex_digits[: ALGORITHMS[algorithm]]}")


@st.composite
def _registries(draw: st.DrawFn) -> str:
    host = draw(
        st.one_of(
            st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
            _IPV6.map(lambda a: f"[{a}]"),
            st.just("localhost"),
        )
    )
    port = draw(st.none() | st.integers(1, 65535))
    registry = host if port is None else f"{host}:{port}"
    # Docker reads the first component as a registry only when it looks like one.
    looks = registry == "localhost" or "." in registry or ":" in registry
    return registry if looks or registry.lower() != registry else f"{registry}.example"


@st.composite
def _references(draw: st.DrawFn) -> tuple[str, str, str | None, Digest | None]:
    """(text, path as written, tag, digest) of a valid reference, built from the grammar."""
    hub = draw(st.booleans())
    components = draw(st.lists(_HUB_COMPONENT if hub else _COMPONENT, min_size=1, max_size=5))
    path = "/".join(components)
    name = path if hub else f"{draw(_registries())}/{path}"
    tag = draw(st.none() | _TAG)
    digest = draw(st.none() | _digests())
    text = name + (f":{tag}" if tag is not None else "") + (f"@{digest}" if digest else "")
    return text, path, tag, digest


@FAST
@given(_references())
def test_valid_references_round_trip(generated: tuple[str, str, str | None, Digest | None]) -> None:
    text, path, tag, digest = generated
    if re.fullmatch(r"[a-f0-9]{64}", text) or len(path) > 240:
        return  # an image ID, or beyond the length limit: not in the language
    ref = Reference.parse(text)
    assert ref.repository.endswith(path)
    assert (ref.tag, ref.digest) == (tag, digest)
    assert Reference.parse(str(ref)) == ref
    assert Reference.parse(ref.familiar()) == ref
    assert str(Reference.parse(str(ref))) == str(ref)


@FAST
@given(_NOISY)
def test_reference_parser_fails_only_with_invalid_reference(text: str) -> None:
    try:
        ref = Reference.parse(text)
    except InvalidReference as error:
        _one_line(error)
        return
    assert Reference.parse(str(ref)) == ref


@FAST
@given(st.one_of(_NOISY, st.builds(lambda t: "oci:" + t, _NOISY)))
def test_location_parser_fails_only_with_invalid_reference(text: str) -> None:
    try:
        location = parse_location(text)
    except InvalidReference as error:
        _one_line(error)
        return
    assert parse_location(str(location)) == location


# -- platforms ------------------------------------------------------------------------

_OS = st.sampled_from(["linux", "Linux", "windows", "darwin", "macos", "freebsd", "plan9"])
_ARCHITECTURES = ["amd64", "x86_64", "i386", "386", "arm", "armhf", "armel", "arm64", "aarch64"]
_ARCH = st.sampled_from([*_ARCHITECTURES, "riscv64", "ppc64le", "s390x", "mips64le", "wasm"])
_VARIANT = st.sampled_from(["v1", "v2", "v3", "v5", "v6", "v7", "v8", "8", "v8.2", "v9", "V7"])
_WORD = st.from_regex(r"[A-Za-z0-9_.-]{1,10}", fullmatch=True)
# OS options may hold "%", "+", "(", ")" and "/" only percent-encoded, as FormatAll writes.
_OPTION = st.text(string.ascii_letters + string.digits + "_.-%+()/", max_size=12).map(
    lambda t: t.translate(
        str.maketrans({"%": "%25", "+": "%2B", "(": "%28", ")": "%29", "/": "%2F"})
    )
)


@st.composite
def _specifiers(draw: st.DrawFn) -> str:
    os = draw(_OS | _WORD.filter(lambda w: re.fullmatch(r"[A-Za-z0-9_-]+", w) is not None))
    if draw(st.booleans()):
        version = draw(_OPTION)
        features = draw(st.lists(_OPTION, max_size=3))
        os += "(" + version + "".join(f"+{f}" for f in features) + ")"
    parts = [os, draw(_ARCH | _WORD)]
    if draw(st.booleans()):
        parts.append(draw(_VARIANT | _WORD))
    if draw(st.booleans()) and "(" not in os:
        return draw(st.sampled_from([parts[0], parts[1]]))  # a single word
    return "/".join(parts)


def _canonical(p: Platform) -> Platform:
    """``p`` with its OS features as FormatAll writes them: sorted, unique, none empty."""
    return dataclasses.replace(p, os_features=tuple(sorted({f for f in p.os_features if f})))


@FAST
@given(_specifiers())
def test_platform_format_round_trips(text: str) -> None:
    try:
        platform = Platform.parse(text, default_arch="arm64")
    except InvalidPlatform as error:
        _one_line(error)
        return
    again = Platform.parse(platform.format_all(), default_arch="arm64")
    assert again == _canonical(platform)
    if not platform.os_version and not platform.os_features:
        assert Platform.parse(str(platform), default_arch="arm64") == platform
        assert platform.format_all() == str(platform)


@FAST
@given(_NOISY)
def test_platform_parser_fails_only_with_invalid_platform(text: str) -> None:
    try:
        platform = Platform.parse(text, default_arch="amd64")
    except InvalidPlatform as error:
        _one_line(error)
        return
    assert Platform.parse(platform.format_all(), default_arch="amd64") == _canonical(platform)


_PLATFORMS = st.builds(
    Platform,
    os=st.text(min_size=1, max_size=10),
    architecture=st.text(min_size=1, max_size=10),
    variant=st.text(max_size=5),
    os_version=st.text(max_size=12),
    os_features=st.lists(st.text(max_size=8), max_size=3).map(tuple),
)


@FAST
@given(_PLATFORMS)
def test_platform_oci_json_round_trips(platform: Platform) -> None:
    assert Platform.from_oci(platform.to_oci()) == platform
    assert Platform.from_oci(json.loads(json.dumps(platform.to_oci()))) == platform


@FAST
@given(
    st.dictionaries(
        st.sampled_from(["os", "architecture", "variant", "os.version"]),
        st.none() | st.integers() | st.text(max_size=5) | st.lists(st.text()),
    )
)
def test_platform_from_oci_fails_only_with_invalid_platform(data: dict[str, Any]) -> None:
    try:
        Platform.from_oci(data)
    except InvalidPlatform as error:
        _one_line(error)


# -- digests ----------------------------------------------------------------------------


@FAST
@given(
    st.one_of(
        _NOISY,
        st.builds(
            lambda a, t: f"{a}:{t}",
            st.sampled_from(["sha256", "sha512", "md5", "SHA256"]),
            st.text("0123456789abcdefABCDEF", max_size=130),
        ),
    )
)
def test_digest_fails_only_with_invalid_digest(text: str) -> None:
    try:
        digest = Digest(text)
    except InvalidDigest as error:
        _one_line(error)
        return
    assert digest == text
    assert len(digest.hex) == ALGORITHMS[digest.algorithm]
    assert Digest(str(digest)) == digest


@FAST
@given(st.none() | st.integers() | st.binary() | st.lists(st.text()))
def test_digest_refuses_what_is_not_text(value: object) -> None:
    try:
        Digest(value)  # type: ignore[arg-type]
    except InvalidDigest as error:
        _one_line(error)
    else:
        raise AssertionError(f"Digest accepted {value!r}")


@FAST
@given(st.binary(max_size=2048), st.binary(max_size=2048), st.sampled_from(sorted(ALGORITHMS)))
def test_digest_verifies_exactly_its_content(data: bytes, other: bytes, algorithm: str) -> None:
    digest = Digest.of(data, algorithm)
    digest.verify(data)
    if other != data:
        try:
            digest.verify(other)
        except DigestMismatch:
            return
        raise AssertionError("verify accepted other content")


# -- index serialization ------------------------------------------------------------------

_TEXT = st.text(max_size=12)


@st.composite
def _descriptors(draw: st.DrawFn) -> Descriptor:
    return Descriptor(
        media_type=draw(
            st.sampled_from(
                [mediatype.OCI_MANIFEST, mediatype.DOCKER_MANIFEST, mediatype.OCI_INDEX]
            )
            | st.text(min_size=1, max_size=20)
        ),
        digest=Digest.of(draw(st.binary(max_size=16)), draw(st.sampled_from(sorted(ALGORITHMS)))),
        size=draw(st.integers(0, 2**53)),
        platform=draw(st.none() | _PLATFORMS),
        annotations=draw(st.dictionaries(_TEXT, _TEXT, max_size=3)),
        artifact_type=draw(st.none() | st.text(min_size=1, max_size=12)),
        urls=tuple(draw(st.lists(_TEXT, max_size=2))),
    )


@FAST
@given(
    st.lists(_descriptors(), max_size=6),
    st.sampled_from([mediatype.OCI_INDEX, mediatype.DOCKER_MANIFEST_LIST]),
    st.dictionaries(_TEXT, _TEXT, max_size=3),
)
def test_index_serialization_round_trips(
    descriptors: list[Descriptor], media_type: str, annotations: dict[str, str]
) -> None:
    if media_type == mediatype.DOCKER_MANIFEST_LIST:
        annotations = {}  # a Docker manifest list has none
    index = build_index(descriptors, media_type=media_type, annotations=annotations)
    parsed = parse_manifest(index.raw)
    assert isinstance(parsed, Index)
    assert parsed.manifests == tuple(descriptors)
    assert parsed.media_type == media_type
    assert dict(parsed.annotations) == annotations
    assert parsed.digest == index.digest == Digest.of(index.raw)
    # Deterministic: equal input, equal bytes; annotation order does not matter.
    reordered = dict(reversed(list(annotations.items())))
    again = build_index(list(descriptors), media_type=media_type, annotations=reordered)
    assert again.raw == index.raw


@FAST
@given(st.lists(_descriptors(), min_size=1, max_size=3), st.sampled_from(["\ud800", "\udcff"]))
def test_index_with_text_that_is_not_unicode_is_refused(
    descriptors: list[Descriptor], surrogate: str
) -> None:
    # A lone surrogate arrives from a JSON escape ("\udcff") in a manifest polyarch read,
    # or from argv bytes that were not UTF-8: it has no UTF-8 encoding.
    noted = [dataclasses.replace(descriptors[0], annotations={"k": surrogate}), *descriptors[1:]]
    try:
        build_index(noted)
    except InvalidManifest as error:
        _one_line(error)
    else:
        raise AssertionError("an index with a lone surrogate was serialized")
