"""Tests for :mod:`polyarch.domain.reference`.

These cases are ported from the upstream Go tests of ``github.com/distribution/reference``
(``normalize_test.go``, ``reference_test.go``, ``regexp_test.go``). Upstream often runs
a string through ``Parse``, ``WithName`` or a bare regexp. Here the same string goes
through :meth:`Reference.parse` (``ParseNormalizedNamed``), and the expected value is
what normalization yields. Comments name each upstream test function.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from polyarch.domain.digest import Digest
from polyarch.domain.reference import Reference
from polyarch.errors import InvalidInput, InvalidReference

F64 = "f" * 64
F128 = "f" * 128
SHA_F = f"sha256:{F64}"
SHA512_F = f"sha512:{F128}"
DBCC = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
BE17 = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"
E669 = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
DA30 = "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821"
SONG = "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"
IPV6_LONG = "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]"


def _p(
    text: str,
    registry: str,
    repository: str,
    tag: str | None = None,
    digest: str | None = None,
    *,
    id: str | None = None,
) -> object:
    return pytest.param(text, registry, repository, tag, digest, id=id or text[:80])


# Valid inputs: (input, registry, repository, tag, digest).
VALID = [
    # normalize_test.go TestValidateReferenceName (valid).
    _p("docker/docker", "docker.io", "docker/docker"),
    _p("library/debian", "docker.io", "library/debian"),
    _p("debian", "docker.io", "library/debian"),
    _p("docker.io/docker/docker", "docker.io", "docker/docker"),
    _p("docker.io/library/debian", "docker.io", "library/debian"),
    _p("docker.io/debian", "docker.io", "library/debian"),
    _p("index.docker.io/docker/docker", "docker.io", "docker/docker"),
    _p("index.docker.io/library/debian", "docker.io", "library/debian"),
    _p("index.docker.io/debian", "docker.io", "library/debian"),
    _p("127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker"),
    _p("127.0.0.1:5000/library/debian", "127.0.0.1:5000", "library/debian"),
    _p("127.0.0.1:5000/debian", "127.0.0.1:5000", "debian"),
    _p("192.168.0.1", "docker.io", "library/192.168.0.1"),
    _p("192.168.0.1:80", "docker.io", "library/192.168.0.1", "80"),
    _p("192.168.0.1:8/debian", "192.168.0.1:8", "debian"),
    _p("192.168.0.2:25000/debian", "192.168.0.2:25000", "debian"),
    _p(SONG, "docker.io", f"library/{SONG}"),
    _p("[fc00::1]:5000/docker", "[fc00::1]:5000", "docker"),
    _p("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker"),
    _p("[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian"),
    _p(f"docker.io/{HEX64}", "docker.io", f"library/{HEX64}"),
    _p("Docker/docker", "Docker", "docker"),
    _p("DOCKER/docker", "DOCKER", "docker"),
    # normalize_test.go TestValidateRemoteName (valid).
    _p("docker-rules/docker", "docker.io", "docker-rules/docker"),
    _p("docker---rules/docker", "docker.io", "docker---rules/docker"),
    _p("doc/docker", "docker.io", "doc/docker"),
    _p("d/docker", "docker.io", "d/docker"),
    _p("jess/t", "docker.io", "jess/t"),
    _p("dock__er/docker", "docker.io", "dock__er/docker"),
    # normalize_test.go TestParseReferenceWithTagAndDigest.
    _p(
        "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
        "docker.io",
        "library/busybox",
        "latest",
        "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
    ),
    # normalize_test.go TestParseAnyReference. Only the cases that go through
    # ParseNormalizedNamed. A bare 64-hex ID is refused, see INVALID.
    _p("redis", "docker.io", "library/redis"),
    _p("redis:latest", "docker.io", "library/redis", "latest"),
    _p("docker.io/library/redis:latest", "docker.io", "library/redis", "latest"),
    _p(f"redis@sha256:{DBCC}", "docker.io", "library/redis", None, f"sha256:{DBCC}"),
    _p(
        f"docker.io/library/redis@sha256:{DBCC}",
        "docker.io",
        "library/redis",
        None,
        f"sha256:{DBCC}",
    ),
    _p("dmcgowan/myapp", "docker.io", "dmcgowan/myapp"),
    _p("dmcgowan/myapp:latest", "docker.io", "dmcgowan/myapp", "latest"),
    _p("docker.io/mcgowan/myapp:latest", "docker.io", "mcgowan/myapp", "latest"),
    _p(f"dmcgowan/myapp@sha256:{DBCC}", "docker.io", "dmcgowan/myapp", None, f"sha256:{DBCC}"),
    _p(
        f"docker.io/dmcgowan/myapp@sha256:{DBCC}",
        "docker.io",
        "dmcgowan/myapp",
        None,
        f"sha256:{DBCC}",
    ),
    # ParseAnyReference reads "sha256:<hex>" as a digest. ParseNormalizedNamed reads
    # the name "sha256" with a 64-character tag.
    _p(f"sha256:{DBCC}", "docker.io", "library/sha256", DBCC),
    _p(DBCC[:-1], "docker.io", f"library/{DBCC[:-1]}"),
    _p("dbcc1", "docker.io", "library/dbcc1"),
    # normalize_test.go TestNormalizedSplitHostname.
    _p("test.com/foo", "test.com", "foo"),
    _p("test_com/foo", "docker.io", "test_com/foo"),
    _p("docker/migrator", "docker.io", "docker/migrator"),
    _p("test.com:8080/foo", "test.com:8080", "foo"),
    _p("test-com:8080/foo", "test-com:8080", "foo"),
    _p("foo", "docker.io", "library/foo"),
    _p("xn--n3h.com/foo", "xn--n3h.com", "foo"),
    _p("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    _p("docker.io/foo", "docker.io", "library/foo"),
    _p("docker.io/library/foo", "docker.io", "library/foo"),
    _p("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
    # reference_test.go TestReferenceParse (valid), normalized.
    _p("test_com", "docker.io", "library/test_com"),
    _p("test.com:tag", "docker.io", "library/test.com", "tag"),
    _p("test.com:5000", "docker.io", "library/test.com", "5000"),
    _p("test.com/repo:tag", "test.com", "repo", "tag"),
    _p("test:5000/repo", "test:5000", "repo"),
    _p("test:5000/repo:tag", "test:5000", "repo", "tag"),
    _p(f"test:5000/repo@{SHA_F}", "test:5000", "repo", None, SHA_F),
    _p(f"test:5000/repo:tag@{SHA_F}", "test:5000", "repo", "tag", SHA_F),
    # Upstream keeps this one commented out with a FIXME: "Uppercase" is read as a
    # registry host. ParseNormalizedNamed does the same.
    _p("Uppercase/lowercase:tag", "Uppercase", "lowercase", "tag"),
    _p("lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase"),
    # After normalization the path is "a/" * 127 + "a", exactly 255 characters.
    _p(
        "a/" * 127 + "a:tag-puts-this-over-max",
        "docker.io",
        "a/" * 127 + "a",
        "tag-puts-this-over-max",
        id="path-of-exactly-255",
    ),
    _p("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux"),
    _p(
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "sub-dom1.foo.com",
        "bar/baz/quux",
        "some-long-tag",
    ),
    _p(
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io",
        "test.example.com/my-app",
        "test.example.com",
    ),
    _p("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com"),
    _p(
        f"xn--7o8h.com/myimage:xn--7o8h.com@{SHA512_F}",
        "xn--7o8h.com",
        "myimage",
        "xn--7o8h.com",
        SHA512_F,
    ),
    _p("foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080"),
    _p("foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080"),
    _p("192.168.1.1", "docker.io", "library/192.168.1.1"),
    _p("192.168.1.1:tag", "docker.io", "library/192.168.1.1", "tag"),
    _p("192.168.1.1:5000", "docker.io", "library/192.168.1.1", "5000"),
    _p("192.168.1.1/repo", "192.168.1.1", "repo"),
    _p("192.168.1.1:5000/repo", "192.168.1.1:5000", "repo"),
    _p("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050"),
    _p("[2001:db8::1]/repo", "[2001:db8::1]", "repo"),
    _p("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag"),
    _p("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo"),
    _p("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag"),
    _p(f"[2001:db8::1]:5000/repo@{SHA_F}", "[2001:db8::1]:5000", "repo", None, SHA_F),
    _p(f"[2001:db8::1]:5000/repo:tag@{SHA_F}", "[2001:db8::1]:5000", "repo", "tag", SHA_F),
    _p("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo"),
    _p("[::1]:5000/repo", "[::1]:5000", "repo"),
    _p("example.com/" + "a" * 255 + ":tag", "example.com", "a" * 255, "tag", id="path-255-on-host"),
    # reference_test.go TestDomainAndPath (WithName), normalized. The others are above.
    _p("test:8080/foo", "test:8080", "foo"),
    # reference_test.go TestSerialization.
    _p("example.com:8000/named", "example.com:8000", "named"),
    _p("example.com:8000/named:tagged", "example.com:8000", "named", "tagged"),
    _p(
        "other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112",
        "other.com",
        "named",
        None,
        "sha256:1234567890098765432112345667890098765432112345667890098765432112",
    ),
    # regexp_test.go TestDomainRegexp (matching hosts), each as HOST/repo.
    _p("test.com/repo", "test.com", "repo"),
    _p("test.com:10304/repo", "test.com:10304", "repo"),
    _p("localhost/repo", "localhost", "repo"),
    _p("localhost:8080/repo", "localhost:8080", "repo"),
    # "a" matches the host pattern, but normalization reads it as a namespace.
    _p("a/repo", "docker.io", "a/repo"),
    _p("a.b/repo", "a.b", "repo"),
    _p("ab.cd.com/repo", "ab.cd.com", "repo"),
    _p("a-b.com/repo", "a-b.com", "repo"),
    _p("ab.c-om/repo", "ab.c-om", "repo"),
    _p("0101.com/repo", "0101.com", "repo"),
    _p("001a.com/repo", "001a.com", "repo"),
    _p("b.gbc.io:443/repo", "b.gbc.io:443", "repo"),
    _p("b.gbc.io/repo", "b.gbc.io", "repo"),
    _p("xn--n3h.com/repo", "xn--n3h.com", "repo"),
    _p("Asdf.com/repo", "Asdf.com", "repo"),
    # Upstream notes that these ports "fail on validation", but Parse never checks
    # port ranges, so they are accepted.
    _p("192.168.1.1:75050/repo", "192.168.1.1:75050", "repo"),
    _p("192.168.1.1:750050/repo", "192.168.1.1:750050", "repo"),
    _p("[fd00:1:2::3]:75050/repo", "[fd00:1:2::3]:75050", "repo"),
    _p("[fd00123123123]:75050/repo", "[fd00123123123]:75050", "repo"),
    _p(f"{IPV6_LONG}:75050/repo", f"{IPV6_LONG}:75050", "repo"),
    _p(f"{IPV6_LONG}:750505/repo", f"{IPV6_LONG}:750505", "repo"),
    # regexp_test.go TestFullNameRegexp (matching names), normalized.
    _p("short", "docker.io", "library/short"),
    _p("simple/name", "docker.io", "simple/name"),
    _p("library/ubuntu", "docker.io", "library/ubuntu"),
    _p("docker/stevvooe/app", "docker.io", "docker/stevvooe/app"),
    _p(
        "aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb",
        "docker.io",
        "aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb",
    ),
    _p("aa/aa/bb/bb/bb", "docker.io", "aa/aa/bb/bb/bb"),
    _p("a/a/a/a", "docker.io", "a/a/a/a"),
    _p("a", "docker.io", "library/a"),
    _p("a/aa", "docker.io", "a/aa"),
    _p("a/aa/a", "docker.io", "a/aa/a"),
    _p("foo.com", "docker.io", "library/foo.com"),
    _p("foo.com:8080/bar", "foo.com:8080", "bar"),
    _p("foo.com/bar", "foo.com", "bar"),
    _p("foo.com/bar/baz", "foo.com", "bar/baz"),
    _p("localhost:8080/bar", "localhost:8080", "bar"),
    _p("blog.foo.com/bar/baz", "blog.foo.com", "bar/baz"),
    _p("aa-a/a", "docker.io", "aa-a/a"),
    _p("foo_bar", "docker.io", "library/foo_bar"),
    _p("foo_bar.com", "docker.io", "library/foo_bar.com"),
    _p("foo.com/foo_bar", "foo.com", "foo_bar"),
    _p("b.gcr.io/test.example.com/my-app", "b.gcr.io", "test.example.com/my-app"),
    _p("xn--n3h.com/myimage", "xn--n3h.com", "myimage"),
    _p("xn--7o8h.com/myimage", "xn--7o8h.com", "myimage"),
    _p("example.com/xn--7o8h.com/myimage", "example.com", "xn--7o8h.com/myimage"),
    _p(
        "example.com/some_separator__underscore/myimage",
        "example.com",
        "some_separator__underscore/myimage",
    ),
    _p("do__cker/docker", "docker.io", "do__cker/docker"),
    _p(
        "registry.io/foo/project--id.module--name.ver---sion--name",
        "registry.io",
        "foo/project--id.module--name.ver---sion--name",
    ),
    _p("Asdf.com/foo/bar", "Asdf.com", "foo/bar"),
    # regexp_test.go TestReferenceRegexp (matching references), normalized.
    _p("registry.com:8080/myapp:tag", "registry.com:8080", "myapp", "tag"),
    _p(f"registry.com:8080/myapp@{BE17}", "registry.com:8080", "myapp", None, BE17),
    _p(f"registry.com:8080/myapp:tag2@{BE17}", "registry.com:8080", "myapp", "tag2", BE17),
    # No slash, so "localhost" is the image name and "8080" its tag.
    _p(f"localhost:8080@{BE17}", "docker.io", "library/localhost", "8080", BE17),
    _p(f"localhost:8080/name@{BE17}", "localhost:8080", "name", None, BE17),
    _p(f"localhost@{BE17}", "docker.io", "library/localhost", None, BE17),
    # regexp_test.go TestIdentifierRegexp (non-identifiers are ordinary names).
    _p(DA30[:-4], "docker.io", f"library/{DA30[:-4]}"),
    _p(f"sha256:{DA30}", "docker.io", "library/sha256", DA30),
    _p(DA30 + "8482", "docker.io", f"library/{DA30}8482"),
    # Our own.
    _p("ubuntu:22.04", "docker.io", "library/ubuntu", "22.04"),
    _p("localhost:5000", "docker.io", "library/localhost", "5000"),
    _p("localhost/app", "localhost", "app"),
    _p("localhost:5000/team/app:v1", "localhost:5000", "team/app", "v1"),
    _p("[::1]:5000/app@" + SHA512_F, "[::1]:5000", "app", None, SHA512_F),
    _p("ghcr.io/owner/app:" + "t" * 128, "ghcr.io", "owner/app", "t" * 128, id="tag-128"),
    _p("app:_private", "docker.io", "library/app", "_private"),
    _p("app:v1.0-RC_1", "docker.io", "library/app", "v1.0-RC_1"),
    _p("quay.io/a.b/c_d/e__f/g---h", "quay.io", "a.b/c_d/e__f/g---h"),
]


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), VALID)
def test_parse_valid(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert ref.name == f"{registry}/{repository}"
    assert ref.digest is None or isinstance(ref.digest, Digest)


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), VALID)
def test_round_trip(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = Reference.parse(text)
    expected = f"{registry}/{repository}"
    expected += f":{tag}" if tag is not None else ""
    expected += f"@{digest}" if digest is not None else ""
    assert str(ref) == expected
    assert Reference.parse(str(ref)) == ref
    assert hash(Reference.parse(str(ref))) == hash(ref)
    assert Reference(ref.registry, ref.repository, ref.tag, ref.digest) == ref


def _familiar_is_ambiguous(familiar: str) -> bool:
    """Whether upstream's familiar form parses back into a different reference.

    This happens for Docker Hub repositories whose first component looks like a host,
    and for ``library/<64 hex>``, whose familiar form is a bare image ID.
    """
    first, slash, _ = familiar.partition("/")
    if not slash:
        return len(familiar) == 64 and all(c in "0123456789abcdef" for c in familiar)
    return "." in first or ":" in first or first == "localhost" or first.lower() != first


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), VALID)
def test_familiar_round_trip(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = Reference.parse(text)
    familiar = ref.familiar()
    try:
        again: Reference | None = Reference.parse(familiar)
    except InvalidReference:
        again = None
    ambiguous = ref.registry == "docker.io" and _familiar_is_ambiguous(familiar)
    assert (again == ref) is not ambiguous


def test_familiar_form_of_hex_repository_is_an_image_id() -> None:
    # Upstream turns docker.io/library/<64 hex> into a familiar name that
    # ParseNormalizedNamed then refuses. We match FamiliarString here.
    ref = Reference.parse(f"docker.io/{HEX64}")
    assert ref.familiar() == HEX64
    with pytest.raises(InvalidReference):
        Reference.parse(ref.familiar())


# normalize_test.go TestParseRepositoryInfo:
# (RemoteName, FamiliarName, FullName, AmbiguousName, Domain).
REPOSITORY_INFO = [
    ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"),
    ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"),
    ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io"),
    ("other/library", "other/library", "docker.io/other/library", "", "docker.io"),
    (
        "private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "",
        "127.0.0.1:8000",
    ),
    (
        "privatebase",
        "127.0.0.1:8000/privatebase",
        "127.0.0.1:8000/privatebase",
        "",
        "127.0.0.1:8000",
    ),
    (
        "private/moonbase",
        "example.com/private/moonbase",
        "example.com/private/moonbase",
        "",
        "example.com",
    ),
    ("privatebase", "example.com/privatebase", "example.com/privatebase", "", "example.com"),
    (
        "private/moonbase",
        "example.com:8000/private/moonbase",
        "example.com:8000/private/moonbase",
        "",
        "example.com:8000",
    ),
    (
        "privatebasee",
        "example.com:8000/privatebasee",
        "example.com:8000/privatebasee",
        "",
        "example.com:8000",
    ),
    (
        "library/ubuntu-12.04-base",
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        "index.docker.io/library/ubuntu-12.04-base",
        "docker.io",
    ),
    ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"),
    ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", "", "docker.io"),
    ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", "", "docker.io"),
    ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
    ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
]
REPOSITORY_INFO_PARAMS = [
    pytest.param(text, remote, familiar, full, domain, id=f"{index}/{text}")
    for index, (remote, familiar, full, ambiguous, domain) in enumerate(REPOSITORY_INFO)
    for text in (familiar, full, ambiguous)
    if text
]


@pytest.mark.parametrize(("text", "remote", "familiar", "full", "domain"), REPOSITORY_INFO_PARAMS)
def test_repository_info(text: str, remote: str, familiar: str, full: str, domain: str) -> None:
    ref = Reference.parse(text)
    assert ref.familiar() == familiar
    assert str(ref) == full
    assert ref.name == full
    assert ref.registry == domain
    assert ref.repository == remote


# Familiar strings with a tag and/or digest (FamiliarString).
@pytest.mark.parametrize(
    ("text", "familiar"),
    [
        # normalize_test.go TestParseReferenceWithTagAndDigest.
        (
            "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
            "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa",
        ),
        # Our own.
        ("docker.io/library/ubuntu:22.04", "ubuntu:22.04"),
        ("index.docker.io/user/app", "user/app"),
        ("docker.io/user/app:v1", "user/app:v1"),
        ("localhost:5000/app", "localhost:5000/app"),
        ("localhost:5000", "localhost:5000"),
        (f"ghcr.io/o/app:v1@{SHA_F}", f"ghcr.io/o/app:v1@{SHA_F}"),
        (f"redis@{SHA_F}", f"redis@{SHA_F}"),
        ("docker.io/library/foo/bar:x", "library/foo/bar:x"),
        ("library/library", "library"),
    ],
)
def test_familiar(text: str, familiar: str) -> None:
    assert Reference.parse(text).familiar() == familiar


# normalize_test.go TestParseAnyReference ("Equivalent" is the normalized string).
@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("redis", "docker.io/library/redis"),
        ("redis:latest", "docker.io/library/redis:latest"),
        ("docker.io/library/redis:latest", "docker.io/library/redis:latest"),
        (f"redis@sha256:{DBCC}", f"docker.io/library/redis@sha256:{DBCC}"),
        (f"docker.io/library/redis@sha256:{DBCC}", f"docker.io/library/redis@sha256:{DBCC}"),
        ("dmcgowan/myapp", "docker.io/dmcgowan/myapp"),
        ("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest"),
        ("docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest"),
        (f"dmcgowan/myapp@sha256:{DBCC}", f"docker.io/dmcgowan/myapp@sha256:{DBCC}"),
        (f"docker.io/dmcgowan/myapp@sha256:{DBCC}", f"docker.io/dmcgowan/myapp@sha256:{DBCC}"),
        (DBCC[:-1], f"docker.io/library/{DBCC[:-1]}"),
        ("dbcc1", "docker.io/library/dbcc1"),
    ],
)
def test_normalized_string(text: str, normalized: str) -> None:
    assert str(Reference.parse(text)) == normalized


# normalize_test.go TestParseDockerRef. ParseDockerRef adds ":latest" and drops the tag
# when there is a digest. That is what gets pulled, i.e. name + identifier.
@pytest.mark.parametrize(
    ("text", "pulled"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:latest", "docker.io/library/busybox:latest"),
        (f"busybox@{E669}", f"docker.io/library/busybox@{E669}"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox:latest", "docker.io/library/busybox:latest"),
        ("library/busybox:latest", "docker.io/library/busybox:latest"),
        ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
        ("gcr.io/library/busybox", "gcr.io/library/busybox:latest"),
        (f"gcr.io/library/busybox:latest@{E669}", f"gcr.io/library/busybox@{E669}"),
    ],
)
def test_identifier_matches_parse_docker_ref(text: str, pulled: str) -> None:
    ref = Reference.parse(text)
    separator = "@" if ref.digest is not None else ":"
    assert f"{ref.name}{separator}{ref.identifier}" == pulled
    Reference.parse(pulled)


# reference_test.go TestParseNamed. ParseNamed accepts exactly the inputs that are
# already in normalized form.
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("test.com/foo", True),
        ("test:8080/foo", True),
        ("test_com/foo", False),
        ("test.com", False),
        ("foo", False),
        ("library/foo", False),
        ("docker.io/library/foo", True),
        ("docker.io/foo", False),
    ],
)
def test_canonical_form(text: str, canonical: bool) -> None:
    assert (str(Reference.parse(text)) == text) is canonical


UPPERCASE = "repository name must be lowercase"
TOO_LONG = "repository name must not be more than 255 characters"
IMAGE_ID = "image ID, not a repository name"
BAD_LENGTH = "sha256 needs 64 lowercase hex digits"
UNSUPPORTED = "unsupported algorithm"

# Invalid inputs: (input, a fragment the message must contain, or "").
INVALID = [
    # normalize_test.go TestValidateReferenceName (invalid).
    ("https://github.com/docker/docker", "not a URL"),
    ("docker/Docker", UPPERCASE),
    ("-docker", ""),
    ("-docker/docker", ""),
    ("-docker.io/docker/docker", ""),
    ("docker///docker", "empty component"),
    ("docker.io/docker/Docker", UPPERCASE),
    ("docker.io/docker///docker", "empty component"),
    ("[fc00::1]", "missing repository"),
    ("[fc00::1]:5000", "missing repository"),
    ("fc00::1:5000/debian", "invalid registry host"),
    ("[fe80::1%eth0]:5000/debian", "invalid registry host"),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid registry host"),
    (HEX64, IMAGE_ID),
    # normalize_test.go TestParseAnyReference: a bare ID is a digest reference there,
    # but ParseNormalizedNamed refuses it.
    (DBCC, IMAGE_ID),
    # normalize_test.go TestValidateRemoteName (invalid).
    ("docker-/docker", ""),
    ("-docker-/docker", ""),
    ("____/____", ""),
    ("_docker/_docker", ""),
    ("dock..er/docker", ""),
    ("dock_.er/docker", ""),
    ("dock-.er/docker", ""),
    ("docker/", "empty component"),
    (
        "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_"
        "namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its"
        "_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than"
        "_255/docker",
        TOO_LONG,
    ),
    # normalize_test.go TestInvalidReferenceComponents.
    ("-foo", "invalid repository path component"),
    # reference_test.go TestReferenceParse (errors), plus TestWithNameFailure.
    ("", "empty reference"),
    (":justtag", "missing repository name"),
    (f"@{SHA_F}", "missing repository name"),
    ("repo@sha256:" + "f" * 34, BAD_LENGTH),
    (f"validname@invaliddigest:{F64}", UNSUPPORTED),
    ("Uppercase:tag", UPPERCASE),
    ("test:5000/Uppercase/lowercase:tag", UPPERCASE),
    ("domain/" + "a" * 256 + ":tag", TOO_LONG),
    # The older upstream version of this case. With the "docker.io/" default the
    # path is 257 characters, so it still fails.
    ("a/" * 128 + "a:tag", TOO_LONG),
    ("example.com/" + "a" * 256, TOO_LONG),
    ("aa/asdf$$^/aa", 'invalid repository path component "asdf$$^"'),
    ("[2001:db8::1]", "missing repository"),
    ("[2001:db8::1]:5000", "missing repository"),
    ("[2001:db8::1]:tag", "missing repository"),
    ("[fe80::1%eth0]:5000/repo", "invalid registry host"),
    ("[fe80::1%@invalidzone]:5000/repo", "invalid registry host"),
    # regexp_test.go TestDomainRegexp (non-matching hosts), each as HOST/repo.
    ("test.com:http/repo", 'invalid registry host "test.com:http"'),
    ("-ab.com/repo", ""),
    ("ab-.com/repo", ""),
    ("ab.-com/repo", ""),
    ("ab.com-/repo", ""),
    ("[fd00:1:2::3]75050/repo", "invalid registry host"),
    ("[fd00:1:2::3]::75050/repo", "invalid registry host"),
    ("[fd00:1:2::3%eth0]:75050/repo", "invalid registry host"),
    ("fd00:1:2::3:75050/repo", "invalid registry host"),
    # regexp_test.go TestFullNameRegexp (non-matching names).
    ("a/a/a/a/", "empty component"),
    ("a//a/a", "empty component"),
    ("foo.com/", "empty component"),
    ("foo.com:http/bar", "invalid registry host"),
    ("a^a", ""),
    ("asdf$$^/aa", ""),
    # The pattern matches this 257-character name, but "a" is no host, so the
    # normalized path is all of it, and that is too long.
    ("a/" * 128 + "a", TOO_LONG),
    ("a-/a/a/a", ""),
    ("foo.com/a-/a/a", ""),
    ("-foo/bar", ""),
    ("foo/bar-", ""),
    ("foo-/bar", ""),
    ("foo/-bar", ""),
    ("_foo/bar", ""),
    ("foo_bar.com:8080/app", "invalid registry host"),
    ("docker_/docker_", ""),
    ("example.com/__underscore/myimage", ""),
    ("example.com/..dots/myimage", ""),
    ("example.com/.dots/myimage", ""),
    ("example.com/nodouble..dots/myimage", ""),
    ("docker./docker", ""),
    (".docker/docker", ""),
    ("do..cker/docker", ""),
    ("do__cker:8080/docker", "invalid registry host"),
    ("Foo/FarB", UPPERCASE),
    # regexp_test.go TestReferenceRegexp (non-matching references).
    ("registry.com:8080/myapp@sha256:badbadbadbad", BAD_LENGTH),
    ("registry.com:8080/myapp:invalid~tag", 'invalid tag "invalid~tag"'),
    ("bad_hostname.com:8080/myapp:tag", "invalid registry host"),
    (f"localhost:http/name@{BE17}", "invalid registry host"),
    ("registry.com:8080/myapp@bad", "invalid digest"),
    ("registry.com:8080/myapp@2bad", "invalid digest"),
    # regexp_test.go TestIdentifierRegexp (identifiers are not names).
    (DA30, IMAGE_ID),
    (DA30.upper(), UPPERCASE),
    # Our own.
    ("foo_bar.com/app", 'invalid registry host "foo_bar.com"'),
    ("ubuntu:", "empty tag"),
    ("ubuntu:.hidden", "invalid tag"),
    ("ubuntu:-x", "invalid tag"),
    ("ubuntu:" + "t" * 129, "invalid tag"),
    ("ubuntu:a:b", "invalid tag"),
    ("ubuntu@", "invalid digest"),
    (f"ubuntu@{SHA_F}@{SHA_F}", "invalid digest"),
    ("ubuntu@sha384:" + "f" * 96, UNSUPPORTED),
    ("ubuntu@sha256:" + "F" * 64, BAD_LENGTH),
    (f"ubuntu@{SHA_F}:tag", ""),
    ("ubuntu\n", ""),
    (" ubuntu", ""),
    ("ubuntu ", ""),
    ("ubunt\u00fc", ""),
    ("ubuntu:\u0663", "invalid tag"),
    ("\uff41pp", ""),
    ("docker.io/", "empty component"),
    ("/ubuntu", ""),
    (f"{'x' * 300}:latest", ""),
]


@pytest.mark.parametrize(("text", "fragment"), [pytest.param(t, f, id=t[:60]) for t, f in INVALID])
def test_parse_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        Reference.parse(text)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message
    assert "\n" not in caught.value.one_line()
    quoted = json.dumps(text if len(text) <= 300 else text[:300] + "...", ensure_ascii=False)
    assert message.startswith(f"invalid reference {quoted}: ")


def test_error_messages() -> None:
    with pytest.raises(
        InvalidReference,
        match=r'^invalid reference "docker/Docker": repository name must be lowercase$',
    ):
        Reference.parse("docker/Docker")
    with pytest.raises(InvalidReference, match=r'^invalid reference "": empty reference$'):
        Reference.parse("")
    with pytest.raises(InvalidReference) as caught:
        Reference.parse(DA30)
    assert str(caught.value) == (
        f'invalid reference "{DA30}": a 64-character hexadecimal string is an image ID, '
        "not a repository name"
    )


def test_invalid_reference_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must be lowercase"):
        Reference.parse("Foo/Bar")
    error = InvalidReference("x")
    assert isinstance(error, InvalidInput)
    assert error.exit_code == 2


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidReference, match="not a string"):
        Reference.parse(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidReference, match="not a string"):
        Reference.parse(b"ubuntu")  # type: ignore[arg-type]


def test_long_input_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidReference) as caught:
        Reference.parse("a" * 10_000)
    assert len(str(caught.value)) < 500
    assert str(caught.value).endswith(TOO_LONG)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 20_000 + "!",
        "a-" * 10_000 + "!",
        "x.com/" + "a." * 10_000 + "-",
        "x.com/a" + "/a" * 10_000 + "/",
        "x/" + "a__" * 10_000 + "!",
        "[" + ":" * 20_000 + "/x",
    ],
    ids=lambda text: f"{text[:12]}...({len(text)})",
)
def test_pathological_input_fails_fast(text: str) -> None:
    # Upstream uses RE2, which runs in linear time. Python's backtracking engine
    # must not blow up on these patterns either. A blow-up would take minutes.
    with pytest.raises(InvalidReference):
        Reference.parse(text)


# identifier: what goes into /v2/<name>/manifests/<identifier>.
@pytest.mark.parametrize(
    ("text", "identifier"),
    [
        ("ubuntu", "latest"),
        ("ubuntu:22.04", "22.04"),
        (f"ubuntu@{SHA_F}", SHA_F),
        (f"ubuntu:22.04@{SHA_F}", SHA_F),
        ("localhost:5000", "5000"),
    ],
)
def test_identifier(text: str, identifier: str) -> None:
    assert Reference.parse(text).identifier == identifier


# reference_test.go TestWithTag. Upstream builds the name with WithName, which does
# not normalize. Its expected "combined" strings are therefore our familiar() forms.
@pytest.mark.parametrize(
    ("name", "tag", "combined"),
    [
        ("test.com/foo", "tag", "test.com/foo:tag"),
        ("foo", "tag2", "foo:tag2"),
        ("test.com:8000/foo", "tag4", "test.com:8000/foo:tag4"),
        ("test.com:8000/foo", "TAG5", "test.com:8000/foo:TAG5"),
        # Upstream case 5 has a digest. with_tag drops it (see test_with_tag_drops_digest).
        (f"test.com:8000/foo@{SHA_F}", "TAG5", "test.com:8000/foo:TAG5"),
        ("foo:old", "new", "foo:new"),
        ("foo", "t" * 128, "foo:" + "t" * 128),
        ("foo", "_", "foo:_"),
    ],
)
def test_with_tag(name: str, tag: str, combined: str) -> None:
    ref = Reference.parse(name).with_tag(tag)
    assert ref.familiar() == combined
    assert ref.tag == tag
    assert Reference.parse(str(ref)) == ref


def test_with_tag_drops_digest() -> None:
    ref = Reference.parse(f"example.com/app:v1@{SHA_F}").with_tag("v2")
    assert (ref.tag, ref.digest) == ("v2", None)
    assert str(ref) == "example.com/app:v2"


@pytest.mark.parametrize(
    "tag", ["-foo", "", ".x", "t" * 129, "has space", "a:b", "a/b", "a@b", "\u0663", "x\n"]
)
def test_with_tag_rejects_invalid_tags(tag: str) -> None:
    # The first case is from normalize_test.go TestInvalidReferenceComponents.
    ref = Reference.parse("busybox")
    with pytest.raises(InvalidReference, match="invalid tag") as caught:
        ref.with_tag(tag)
    assert "\n" not in str(caught.value)


# reference_test.go TestWithDigest. Upstream's digest here,
# "sha256:1234567890098765432112345667890098765", has 37 hex digits. go-digest-style
# validation rejects it (see test_with_digest_rejects_invalid_digests), so a valid
# sha256 stands in for it.
@pytest.mark.parametrize(
    ("name", "combined"),
    [
        ("test.com/foo", f"test.com/foo@{SHA_F}"),
        ("foo", f"foo@{SHA_F}"),
        ("test.com:8000/foo", f"test.com:8000/foo@{SHA_F}"),
        ("test.com:8000/foo:latest", f"test.com:8000/foo:latest@{SHA_F}"),
        (f"foo@{BE17}", f"foo@{SHA_F}"),
    ],
)
def test_with_digest(name: str, combined: str) -> None:
    ref = Reference.parse(name).with_digest(SHA_F)
    assert ref.familiar() == combined
    assert isinstance(ref.digest, Digest)
    assert Reference.parse(str(ref)) == ref


def test_with_digest_keeps_tag_and_accepts_sha512() -> None:
    ref = Reference.parse("example.com/app:v1").with_digest(SHA512_F)
    assert (ref.tag, ref.digest) == ("v1", SHA512_F)
    assert ref.identifier == SHA512_F


@pytest.mark.parametrize(
    "digest",
    [
        "foo",  # normalize_test.go TestInvalidReferenceComponents
        "sha256:1234567890098765432112345667890098765",  # reference_test.go TestWithDigest
        "",
        "sha256:" + "F" * 64,
        "sha384:" + "f" * 96,
        F64,
        f"{SHA_F}\n",
    ],
)
def test_with_digest_rejects_invalid_digests(digest: str) -> None:
    ref = Reference.parse("busybox")
    with pytest.raises(InvalidReference, match="invalid digest") as caught:
        ref.with_digest(digest)
    assert '"docker.io/library/busybox"' in str(caught.value)


def test_untagged() -> None:
    ref = Reference.parse(f"localhost:5000/app:v1@{SHA_F}")
    bare = ref.untagged()
    assert (bare.registry, bare.repository, bare.tag, bare.digest) == (
        "localhost:5000",
        "app",
        None,
        None,
    )
    assert str(bare) == bare.name == "localhost:5000/app"
    assert bare.identifier == "latest"
    assert ref.untagged().with_digest(SHA_F) == Reference.parse(f"localhost:5000/app@{SHA_F}")


def test_equality_and_hash_follow_normalization() -> None:
    spellings = ["ubuntu", "library/ubuntu", "docker.io/ubuntu", "index.docker.io/library/ubuntu"]
    refs = {Reference.parse(text) for text in spellings}
    assert refs == {Reference("docker.io", "library/ubuntu")}
    assert Reference.parse("ubuntu") != Reference.parse("ubuntu:latest")


def test_is_frozen() -> None:
    ref = Reference.parse("ubuntu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.tag = "x"  # type: ignore[misc]


def test_constructor_coerces_digest() -> None:
    ref = Reference("docker.io", "library/ubuntu", "22.04", SHA_F)  # type: ignore[arg-type]
    assert isinstance(ref.digest, Digest)
    assert ref == Reference.parse(f"ubuntu:22.04@{SHA_F}")


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        (("docker.io", "ubuntu"), "need a namespace"),
        (("index.docker.io", "library/ubuntu"), "not a normalized registry host"),
        (("registry", "app"), "not a normalized registry host"),
        (("", "app"), "invalid registry host"),
        (("foo_bar.com", "app"), "invalid registry host"),
        (("localhost:5000", "App"), "invalid repository name"),
        (("localhost:5000", ""), "invalid repository name"),
        (("localhost:5000", "a//b"), "invalid repository name"),
        (("localhost:5000", "a" * 256), TOO_LONG),
        (("localhost:5000", "app", "-bad"), "invalid tag"),
        (("localhost:5000", "app", ""), "invalid tag"),
        (("localhost:5000", "app", None, "sha256:abc"), BAD_LENGTH),
    ],
)
def test_constructor_rejects_what_parse_never_returns(
    fields: tuple[str, ...], fragment: str
) -> None:
    with pytest.raises(InvalidReference, match=fragment):
        Reference(*fields)  # type: ignore[arg-type]


def test_constructor_accepts_normalized_fields() -> None:
    assert str(Reference("localhost", "app")) == "localhost/app"
    assert str(Reference("Foo", "bar")) == "Foo/bar"
    assert str(Reference("[::1]:5000", "a/b", "t")) == "[::1]:5000/a/b:t"
