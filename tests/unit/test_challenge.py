"""WWW-Authenticate parsing (RFC 7235): quoted strings, escapes, several challenges."""

from __future__ import annotations

import pytest

from polyarch.transport.auth.challenge import Challenge, parse_challenges

CASES: list[tuple[str, list[Challenge]]] = [
    (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
        [
            Challenge(
                "bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io"}
            )
        ],
    ),
    (
        'Bearer realm="https://a/token",service="s",scope="repository:a/b:pull,push"',
        [
            Challenge(
                "bearer",
                {"realm": "https://a/token", "service": "s", "scope": "repository:a/b:pull,push"},
            )
        ],
    ),
    ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
    ("BASIC REALM=simple", [Challenge("basic", {"realm": "simple"})]),
    (
        'Bearer realm = "spaced" , service = "s"',
        [Challenge("bearer", {"realm": "spaced", "service": "s"})],
    ),
    ('Bearer realm="a\\"b\\\\c"', [Challenge("bearer", {"realm": 'a"b\\c'})]),
    (
        'Bearer realm="with, comma and = sign"',
        [Challenge("bearer", {"realm": "with, comma and = sign"})],
    ),
    (
        'Basic realm="r", Bearer realm="t", service="s"',
        [Challenge("basic", {"realm": "r"}), Challenge("bearer", {"realm": "t", "service": "s"})],
    ),
    (
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
        [
            Challenge("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
            Challenge("basic", {"realm": "simple"}),
        ],
    ),
    ("Negotiate abc123==", [Challenge("negotiate", {"": "abc123=="})]),
    ("Negotiate", [Challenge("negotiate", {})]),
    (
        "Negotiate abc=, Basic realm=x",
        [Challenge("negotiate", {"": "abc="}), Challenge("basic", {"realm": "x"})],
    ),
    (
        'Bearer error="insufficient_scope",scope="repository:x:push",realm="https://t"',
        [
            Challenge(
                "bearer",
                {"error": "insufficient_scope", "scope": "repository:x:push", "realm": "https://t"},
            )
        ],
    ),
    (", , Basic realm=x,, ", [Challenge("basic", {"realm": "x"})]),
    ("", []),
    ("   ", []),
    ('Bearer realm="unterminated', [Challenge("bearer", {"realm": "unterminated"})]),
    ('Bearer realm="a", realm="b"', [Challenge("bearer", {"realm": "a"})]),
    ("Bearer realm=x junk, service=s", [Challenge("bearer", {"realm": "x", "service": "s"})]),
    ('=oops, Basic realm="x"', [Challenge("basic", {"realm": "x"})]),
    ('@@@, Basic realm="x"', [Challenge("basic", {"realm": "x"})]),
    ('@@@ Basic realm="x"', []),  # junk swallows its list element
]


@pytest.mark.parametrize(("header", "expected"), CASES)
def test_parse_table(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


def test_several_header_lines() -> None:
    challenges = parse_challenges(['Basic realm="r"', 'Bearer realm="t",service="s"'])
    assert [c.scheme for c in challenges] == ["basic", "bearer"]
    assert challenges[1].realm == "t"
    assert challenges[1].service == "s"


def test_scope_property_splits_on_spaces() -> None:
    [challenge] = parse_challenges('Bearer realm="t",scope="repository:a:pull repository:b:pull"')
    assert challenge.scopes == ["repository:a:pull", "repository:b:pull"]
    assert parse_challenges('Bearer realm="t"')[0].scopes == []


@pytest.mark.parametrize(
    "junk",
    ['"', "\\", '",,,"', "a=b=c=d", '"""', "Bearer ,,,=,,=", "\x00\x01", 'Bearer realm="\\'],
)
def test_never_raises_or_hangs_on_junk(junk: str) -> None:
    parse_challenges(junk)
