"""Digest parsing, computing and streaming hashes."""

from __future__ import annotations

import pytest

from polyarch import Digest, DigestMismatch, InvalidDigest
from polyarch.domain.digest import Hasher

EMPTY_JSON = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def test_of_known_value() -> None:
    assert Digest.of(b"{}") == EMPTY_JSON
    assert isinstance(Digest.of(b"{}"), str)


@pytest.mark.parametrize(
    "text",
    ["sha256:" + "a" * 64, "sha512:" + "0" * 128, EMPTY_JSON],
)
def test_valid(text: str) -> None:
    d = Digest(text)
    assert d == text
    assert d.algorithm + ":" + d.hex == text
    assert Digest.parse(text) is not None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected ALGORITHM:HEX"),
        ("sha256", "expected ALGORITHM:HEX"),
        ("sha256:", "expected ALGORITHM:HEX"),
        (":abc", "expected ALGORITHM:HEX"),
        ("sha256:" + "A" * 64, "lowercase hex"),
        ("sha256:" + "a" * 63, "64 lowercase hex"),
        ("sha256:" + "a" * 65, "64 lowercase hex"),
        ("sha512:" + "a" * 64, "128 lowercase hex"),
        ("md5:" + "a" * 32, "unsupported algorithm"),
        ("sha256:" + "g" * 64, "lowercase hex"),
        ("SHA256:" + "a" * 64, "bad characters"),
        ("sha256:ab cd", "bad characters"),
    ],
)
def test_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidDigest, match=fragment) as info:
        Digest(text)
    assert isinstance(info.value, ValueError)
    assert info.value.exit_code == 2


def test_verify() -> None:
    Digest.of(b"abc").verify(b"abc")
    with pytest.raises(DigestMismatch, match="expected sha256:"):
        Digest.of(b"abc").verify(b"abd", what="blob")


def test_hasher_streams() -> None:
    h = Hasher("sha512")
    for chunk in (b"a", b"b", b"c"):
        h.update(chunk)
    assert h.digest() == Digest.of(b"abc", "sha512")
    assert h.size == 3
    with pytest.raises(InvalidDigest):
        Hasher("md5")


def test_short_and_repr() -> None:
    d = Digest(EMPTY_JSON)
    assert d.short == "sha256:44136fa355b3"
    assert repr(d) == f"Digest('{EMPTY_JSON}')"
