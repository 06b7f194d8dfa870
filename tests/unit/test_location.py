"""Tests for :mod:`polyarch.domain.location`: ``oci:PATH[:TAG][@DIGEST]`` and the dispatch."""

from __future__ import annotations

import pytest

from polyarch.domain.digest import Digest
from polyarch.domain.location import LayoutReference, is_valid_tag, parse_location
from polyarch.domain.reference import Reference
from polyarch.errors import InvalidInput, InvalidReference

SHA = "sha256:" + "a" * 64
SHA512 = "sha512:" + "b" * 128

# (input, path, tag, digest)
VALID = [
    ("oci:./out", "./out", None, None),
    ("oci:out", "out", None, None),
    ("oci:/abs/dir", "/abs/dir", None, None),
    ("oci:/abs/dir:v1", "/abs/dir", "v1", None),
    ("oci:./dir:latest", "./dir", "latest", None),
    ("oci:dir:V_1.2-rc", "dir", "V_1.2-rc", None),
    ("oci:dir:_x", "dir", "_x", None),
    (f"oci:dir:{'t' * 128}", "dir", "t" * 128, None),
    (f"oci:./dir@{SHA}", "./dir", None, SHA),
    (f"oci:./dir:v1@{SHA}", "./dir", "v1", SHA),
    (f"oci:/x@{SHA512}", "/x", None, SHA512),
    # What follows the first ":" is the entry's name, as skopeo reads oci:DIR:NAME; a name
    # may be a full reference (image-spec ref.name).
    ("oci:./a:b/c", "./a", "b/c", None),
    ("oci:./a:b/c:v2", "./a", "b/c:v2", None),
    ("oci:/srv/l:rancher/pause:3.6", "/srv/l", "rancher/pause:3.6", None),
    ("oci:l:127.0.0.1:5000/lib/app:v1", "l", "127.0.0.1:5000/lib/app:v1", None),
    ("oci:l:docker.io/library/app:1.0+build.7", "l", "docker.io/library/app:1.0+build.7", None),
    (f"oci:l:rancher/pause:3.6@{SHA}", "l", "rancher/pause:3.6", SHA),
    # A path that holds ":" ends with "/".
    ("oci:./a:b/c/", "./a:b/c/", None, None),
    ("oci:./a:b/c/:v2", "./a:b/c/", "v2", None),
    # An "@" followed by a "/" belongs to the path.
    ("oci:./a@b/c", "./a@b/c", None, None),
    (f"oci:./a@b/c@{SHA}", "./a@b/c", None, SHA),
    # A trailing "/" lets a directory name contain ":".
    ("oci:./dir:x/", "./dir:x/", None, None),
    ("oci:./dir:x/:v1", "./dir:x/", "v1", None),
    # With a "/" after it, a would-be digest is part of the path, never a digest.
    ("oci:dir@sha256:../../etc/", "dir@sha256:../../etc/", None, None),
    ("oci:/", "/", None, None),
    ("oci:.", ".", None, None),
    ("oci:my dir/with spaces:v1", "my dir/with spaces", "v1", None),
]


@pytest.mark.parametrize(("text", "path", "tag", "digest"), VALID, ids=[v[0][:60] for v in VALID])
def test_parse_valid(text: str, path: str, tag: str | None, digest: str | None) -> None:
    ref = LayoutReference.parse(text)
    assert (ref.path, ref.tag, ref.digest) == (path, tag, digest)
    assert ref.digest is None or isinstance(ref.digest, Digest)
    assert str(ref) == text
    assert LayoutReference.parse(str(ref)) == ref
    assert parse_location(text) == ref


# (input, a fragment of the message)
INVALID = [
    ("oci:", "missing directory path"),
    ("oci::v1", "missing directory path"),
    (f"oci:@{SHA}", "missing directory path"),
    ("oci:dir:", "empty tag"),
    ("oci:dir:.v1", "invalid tag"),
    ("oci:dir:-v1", "invalid tag"),
    ("oci:dir:v 1", "invalid tag"),
    ("oci:dir:é", "invalid tag"),
    (f"oci:dir:{'t' * 129}", "invalid tag"),
    ("oci:dir@", "invalid digest"),
    ("oci:dir@sha256:abc", "needs 64"),
    ("oci:dir@md5:" + "a" * 32, "unsupported algorithm"),
    ("oci:dir@sha256:..", "bad characters"),
    ("oci:dir:v1@nodigest", "invalid digest"),
    ("oci:dir:a//b", "invalid tag"),
    # Neither a digest (a "/" follows) nor a name after the first ":".
    ("oci:dir@sha256:../../etc", "invalid tag"),
    ("oci:dir:/abs", "invalid tag"),
    ("oci:dir:rancher/pause:", "invalid tag"),
    ("oci:./a@b", "invalid digest"),
    ("oci://host/dir", "not a URL"),
    ("oci:a\0b", "NUL"),
    ("docker.io/library/x", 'starts with "oci:"'),
    ("OCI:dir", 'starts with "oci:"'),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID, ids=[i[0][:40] for i in INVALID])
def test_parse_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReference) as info:
        LayoutReference.parse(text)
    message = info.value.message
    assert fragment in message
    assert message.startswith("invalid reference ")
    assert text.replace("\0", "\\u0000")[:20] in message  # the input is quoted
    assert isinstance(info.value, InvalidInput)
    assert "\n" not in info.value.one_line()


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidReference, match="not a string"):
        LayoutReference.parse(42)  # type: ignore[arg-type]


def test_api_mirrors_reference() -> None:
    ref = LayoutReference.parse("oci:./out:v1")
    assert ref.registry == "oci"
    assert ref.repository == "./out"
    assert ref.name == "oci:./out"
    assert ref.identifier == "v1"
    assert ref.familiar() == str(ref) == "oci:./out:v1"
    pinned = ref.with_digest(SHA)
    assert str(pinned) == f"oci:./out:v1@{SHA}"
    assert pinned.identifier == SHA
    assert isinstance(pinned.digest, Digest)
    assert ref.with_tag("v2") == LayoutReference("./out", "v2")
    assert pinned.with_tag("v3").digest is None
    assert pinned.untagged() == LayoutReference("./out")
    assert LayoutReference("./out").identifier == "latest"
    # Every name Reference offers exists here too.
    for name in ("registry", "repository", "tag", "digest", "identifier", "name"):
        assert hasattr(ref, name)
    for method in ("with_tag", "with_digest", "untagged", "familiar"):
        assert callable(getattr(ref, method))
        assert callable(getattr(Reference, method))


def test_hashable_and_immutable() -> None:
    a = LayoutReference.parse("oci:./out:v1")
    assert {a: 1}[LayoutReference("./out", "v1")] == 1
    with pytest.raises(AttributeError):
        a.tag = "v2"  # type: ignore[misc]


def test_with_tag_and_digest_validate() -> None:
    ref = LayoutReference.parse("oci:./out")
    with pytest.raises(InvalidReference, match="invalid tag"):
        ref.with_tag("../x")
    with pytest.raises(InvalidReference, match="invalid digest"):
        ref.with_digest("sha256:../../etc")


@pytest.mark.parametrize(
    ("path", "tag", "digest", "fragment"),
    [
        ("", None, None, "missing directory path"),
        ("./dir:v1", None, None, 'contains ":" or "@"'),
        ("./dir@x", None, None, 'contains ":" or "@"'),
        # It would read back as the path "./a" and the name "b/c".
        ("./a:b/c", None, None, 'contains ":"'),
        ("./dir", "../x", None, "invalid tag"),
        ("./dir", None, "sha256:nope", "invalid digest"),
    ],
)
def test_constructor_validates(
    path: str, tag: str | None, digest: str | None, fragment: str
) -> None:
    with pytest.raises(InvalidReference, match=fragment):
        LayoutReference(path, tag, digest)  # type: ignore[arg-type]


def test_constructor_coerces_digest() -> None:
    ref = LayoutReference("./dir", None, SHA)  # type: ignore[arg-type]
    assert isinstance(ref.digest, Digest)


def test_parse_location_dispatches() -> None:
    assert isinstance(parse_location("oci:./out"), LayoutReference)
    registry = parse_location("127.0.0.1:5000/app:v1")
    assert isinstance(registry, Reference)
    assert registry.name == "127.0.0.1:5000/app"
    with pytest.raises(InvalidReference):
        parse_location("Not A Reference")
    with pytest.raises(InvalidReference):
        parse_location("oci:dir:..")


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("v1", True),
        ("_", True),
        ("A.b-c_d", True),
        ("t" * 128, True),
        ("t" * 129, False),
        ("", False),
        (".x", False),
        ("-x", False),
        ("a/b", False),
        ("../x", False),
        ("a:b", False),
        (None, False),
    ],
)
def test_is_valid_tag(tag: object, valid: bool) -> None:
    assert is_valid_tag(tag) is valid
