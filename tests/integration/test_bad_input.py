"""Bad input fails in one line, with exit code 2, before any network I/O.

A corpus of malformed references, platforms, ``SOURCE=PLATFORM`` pairs, annotations,
spec files, record files, OCI layout directories and flag combinations, each run through
the real CLI. Every case must exit with 2 and print exactly one stderr line, starting
``error: ``, naming the offending argument, without a traceback.

References that are otherwise well formed point at a recording server
(:class:`support.hostile.HostileRegistry`): a case that touched the network before
refusing its input would show up there (even a TLS probe counts), and fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.cli import assert_one_line_error, run_cli
from support.hostile import HostileRegistry, nested_json

pytestmark = pytest.mark.integration

#: A valid digest, for arguments that need one.
A = "sha256:" + "a" * 64
#: Stands for the recording server's ``host:port`` in arguments.
H = "{H}"
#: Stands for the test's directory (where ``files`` are written) in arguments.
D = "{D}"

_LAYOUT = {"imageLayoutVersion": "1.0.0"}
_INDEX = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}


@dataclass(frozen=True)
class Bad:
    """One bad invocation: its arguments, what the error line must contain, its files."""

    id: str
    args: tuple[str, ...]
    fragments: tuple[str, ...]
    #: Relative path -> content (bytes or text; ``None``: a directory; ``Link``: a symlink).
    files: Mapping[str, bytes | str | Link | None] = field(default_factory=dict)
    #: Extra environment variables.
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Link:
    """A symbolic link to ``target``."""

    target: str


def bad(
    id: str,
    *args: str,
    frag: str | tuple[str, ...],
    files: Mapping[str, bytes | str | Link | None] | None = None,
    env: Mapping[str, str] | None = None,
) -> Bad:
    fragments = (frag,) if isinstance(frag, str) else frag
    return Bad(id, args, fragments, files or {}, env or {})


def _json(data: object) -> str:
    return json.dumps(data)


# -- references ---------------------------------------------------------------------------

REFERENCES = [
    bad("ref-empty", "inspect", "", frag="empty reference"),
    bad("ref-uppercase-repo", "inspect", f"{H}/App", frag=("/App", "lowercase")),
    bad("ref-uppercase-path", "resolve", f"{H}/team/MyApp:v1", frag=("MyApp", "lowercase")),
    bad("ref-tag-dash", "inspect", f"{H}/app:-v1", frag='invalid tag "-v1"'),
    bad("ref-tag-dot", "inspect", f"{H}/app:.v1", frag='invalid tag ".v1"'),
    bad("ref-tag-bang", "inspect", f"{H}/app:v1!", frag='invalid tag "v1!"'),
    bad("ref-tag-plus", "resolve", f"{H}/app:1.0+build", frag='invalid tag "1.0+build"'),
    bad("ref-tag-space", "inspect", f"{H}/app:v 1", frag='invalid tag "v 1"'),
    bad("ref-tag-129", "inspect", f"{H}/app:" + "t" * 129, frag=("invalid tag", "t" * 129)),
    bad("ref-tag-empty", "inspect", f"{H}/app:", frag='empty tag after ":"'),
    bad("ref-tag-twice", "inspect", f"{H}/app:v1:v2", frag='invalid tag "v1:v2"'),
    bad("ref-path-256", "inspect", f"{H}/" + "a" * 256, frag="more than 255 characters"),
    bad(
        "ref-path-256-nested",
        "resolve",
        f"{H}/" + "/".join(["abcdefghijklmnop"] * 16),
        frag="more than 255 characters",
    ),
    bad("ref-path-empty-component", "inspect", f"{H}/app//x", frag="empty component"),
    bad("ref-path-trailing-slash", "inspect", f"{H}/app/", frag="empty component"),
    bad("ref-path-leading-slash", "inspect", "/app", frag="empty component"),
    bad("ref-path-triple-underscore", "inspect", f"{H}/a___b", frag='"a___b"'),
    bad("ref-path-leading-dash", "inspect", f"{H}/-app", frag='"-app"'),
    bad("ref-path-trailing-dash", "inspect", f"{H}/app-", frag='"app-"'),
    bad("ref-path-double-dot", "inspect", f"{H}/a..b", frag='"a..b"'),
    bad("ref-path-space", "inspect", "my app", frag='"my app"'),
    bad("ref-path-newline", "inspect", "my\napp", frag=r'"my\napp"'),
    bad("ref-path-unicode", "inspect", f"{H}/ünïcode", frag="ünïcode"),
    bad("ref-image-id", "inspect", "a" * 64, frag="image ID"),
    bad("ref-url", "inspect", f"https://{H}/app", frag="not a URL"),
    bad("ref-only-tag", "inspect", ":v1", frag="missing repository name"),
    bad("ref-only-digest", "inspect", f"@{A}", frag="missing repository name"),
    bad("ref-digest-short", "inspect", f"{H}/app@sha256:abc", frag="sha256:abc"),
    bad("ref-digest-upper", "inspect", f"{H}/app@sha256:" + "A" * 64, frag="lowercase hex"),
    bad("ref-digest-nonhex", "inspect", f"{H}/app@sha256:" + "g" * 64, frag="sha256:ggg"),
    bad("ref-digest-md5", "inspect", f"{H}/app@md5:" + "a" * 32, frag="'md5'"),
    bad("ref-digest-sha512-short", "inspect", f"{H}/app@sha512:" + "a" * 64, frag="128"),
    bad("ref-digest-empty", "inspect", f"{H}/app@", frag="ALGORITHM:HEX"),
    bad("ref-tag-and-bad-digest", "resolve", f"{H}/app:v1@sha256:abc", frag="sha256:abc"),
    bad("ref-host-underscore", "inspect", "foo_bar.com/app", frag='"foo_bar.com"'),
    bad("ref-host-empty-port", "inspect", "127.0.0.1:/app", frag='"127.0.0.1:"'),
    bad("ref-host-port-letters", "inspect", "127.0.0.1:abc/app", frag='"127.0.0.1:abc"'),
    bad("ref-host-two-ports", "inspect", "127.0.0.1:5000:5001/app", frag="127.0.0.1:5000:5001"),
    bad("ref-host-port-range", "inspect", "127.0.0.1:99999/app", frag=("99999", "65535")),
    bad("ref-host-port-zero", "resolve", "127.0.0.1:0/app:v1", frag=("127.0.0.1:0", "65535")),
    bad("ref-host-ipv6-open", "inspect", "[::1/app", frag="[::1/app"),
    bad("ref-host-ipv6-alone", "inspect", "[::1]:5000", frag="missing repository"),
    bad("ref-host-only", "inspect", f"{H}/", frag="empty component"),
    bad("ref-oci-empty", "inspect", "oci:", frag="missing directory path"),
    bad("ref-oci-url", "inspect", "oci://dir", frag="not a URL"),
    bad("ref-oci-bad-tag", "inspect", f"oci:{D}/lay:bad!", frag='invalid tag "bad!"'),
    bad("ref-oci-empty-tag", "inspect", f"oci:{D}/lay:", frag='empty tag after ":"'),
    bad("ref-oci-bad-digest", "inspect", f"oci:{D}/lay@sha256:zz", frag="sha256:zz"),
    bad("resolve-ref", "resolve", f"{H}/Team/app", frag="lowercase"),
    bad("verify-ref", "verify", f"{H}/app:-x", frag='invalid tag "-x"'),
    bad("copy-src", "copy", f"{H}/App:v1", f"{H}/dst:v1", frag=("App", "lowercase")),
    bad("copy-dst", "copy", f"{H}/app:v1", f"{H}/dst:v1!", frag='invalid tag "v1!"'),
    bad("copy-src-empty", "copy", "", f"{H}/dst:v1", frag="empty reference"),
    bad("create-target", "create", "-t", f"{H}/App:v1", f"{H}/a:v1", frag="lowercase"),
    bad("create-source", "create", "-t", f"{H}/app:v1", f"{H}/a:-x", frag=("source", '"-x"')),
    bad(
        "create-target-digest",
        "create",
        "-t",
        f"{H}/app@{A}",
        f"{H}/a:v1",
        frag=("target", "names a digest"),
    ),
    bad(
        "create-second-target",
        "create",
        "-t",
        f"{H}/app:v1",
        "-t",
        f"{H}/app:v 2",
        f"{H}/a:v1",
        frag='"v 2"',
    ),
]

# -- platforms ----------------------------------------------------------------------------

PLATFORMS = [
    bad("platform-empty", "inspect", "--platform", "", f"{H}/app:v1", frag="empty specifier"),
    bad("platform-empty-arch", "inspect", "--platform", "linux/", f"{H}/a", frag="empty arch"),
    bad("platform-empty-os", "resolve", "--platform", "/amd64", f"{H}/a", frag="empty os"),
    bad(
        "platform-empty-variant",
        "resolve",
        "--platform",
        "linux/arm/",
        f"{H}/a",
        frag="empty variant",
    ),
    bad(
        "platform-four-parts",
        "inspect",
        "--platform",
        "linux/arm/v7/x",
        f"{H}/a",
        frag=("linux/arm/v7/x", "too many components"),
    ),
    bad("platform-wildcard", "inspect", "--platform", "linux/*", f"{H}/a", frag="wildcards"),
    bad("platform-space", "resolve", "--platform", "linux/amd 64", f"{H}/a", frag='"amd 64"'),
    bad("platform-unknown", "resolve", "--platform", "foo", f"{H}/a", frag='"foo"'),
    bad("platform-paren", "inspect", "--platform", "linux(10/amd64", f"{H}/a", frag="invalid os"),
    bad(
        "platform-bad-escape",
        "inspect",
        "--platform",
        "windows(10%zz)/amd64",
        f"{H}/a",
        frag="%-escape",
    ),
    bad(
        "create-platform",
        "create",
        "--platform",
        "linux/",
        "-t",
        f"{H}/app:v1",
        f"{H}/a:v1",
        frag='"linux/"',
    ),
    bad("copy-platform", "copy", "--platform", "x/y/z/w", f"{H}/a:v1", f"{H}/b:v1", frag="x/y/z/w"),
    bad("verify-platform", "verify", "--platform", "linux/", f"{H}/app:v1", frag='"linux/"'),
    bad("source-platform-empty", "create", "-t", f"{H}/app:v1", f"{H}/a:v1=", frag="empty spec"),
    bad(
        "source-platform-bad",
        "create",
        "-t",
        f"{H}/app:v1",
        f"{H}/a:v1=linux/",
        frag=("source", "empty architecture"),
    ),
    bad(
        "source-platform-unknown",
        "create",
        "-t",
        f"{H}/app:v1",
        f"{H}/a:v1=foo",
        frag=("source", '"foo"'),
    ),
    bad(
        "source-platform-no-ref",
        "create",
        "-t",
        f"{H}/app:v1",
        "=linux/amd64",
        frag=("source", "empty reference"),
    ),
    bad(
        "source-platform-twice",
        "create",
        "-t",
        f"{H}/app:v1",
        f"{H}/a:v1=linux/amd64=linux/arm64",
        frag="source",
    ),
    bad(
        "source-platform-wildcard",
        "create",
        "-t",
        f"{H}/app:v1",
        f"{H}/a:v1=linux/*",
        frag="wildcards",
    ),
    bad("expect-no-equals", "verify", "--expect", "linux/amd64", f"{H}/a:v1", frag="--expect"),
    bad("expect-no-digest", "verify", "--expect", "linux/amd64=", f"{H}/a:v1", frag="--expect"),
    bad(
        "expect-bad-digest",
        "verify",
        "--expect",
        "linux/amd64=sha256:abc",
        f"{H}/a:v1",
        frag=("--expect", "sha256:abc"),
    ),
    bad("expect-bad-platform", "verify", "--expect", f"linux/={A}", f"{H}/a:v1", frag="--expect"),
    bad("expect-no-platform", "verify", "--expect", f"={A}", f"{H}/a:v1", frag="--expect"),
    bad(
        "expect-output-bad-regex",
        "verify",
        "--run",
        "--expect-output",
        "linux/amd64=(",
        f"{H}/a:v1",
        frag=("--expect-output", "regular expression"),
    ),
    bad(
        "expect-output-bad-platform",
        "verify",
        "--run",
        "--expect-output",
        "linux/=x",
        f"{H}/a:v1",
        frag="--expect-output",
    ),
]

# -- annotations and flag combinations ----------------------------------------------------

CREATE = ("create", "-t", f"{H}/app:v1")

FLAGS = [
    bad("annotation-no-equals", *CREATE, "--annotation", "key", f"{H}/a:v1", frag="'key'"),
    bad("annotation-empty-key", *CREATE, "--annotation", "=v", f"{H}/a:v1", frag="'=v'"),
    bad("annotation-blank-key", *CREATE, "--annotation", " =v", f"{H}/a:v1", frag="' =v'"),
    bad(
        "annotation-docker-format",
        *CREATE,
        "--format",
        "docker",
        "--annotation",
        "k=v",
        f"{H}/a:v1",
        frag=("annotations need an OCI index", "see --annotation"),
    ),
    bad("format-unknown", *CREATE, "--format", "zip", f"{H}/a:v1", frag=("--format", "zip")),
    bad("attestations-unknown", *CREATE, "--attestations", "some", f"{H}/a:v1", frag="some"),
    bad("create-no-target", "create", f"{H}/a:v1", frag=("-t", "--target")),
    bad("create-no-source", *CREATE, frag="no source"),
    bad(
        "expect-output-without-run",
        "verify",
        "--expect-output",
        "linux/amd64=ok",
        f"{H}/a:v1",
        frag=("expected output", "see --run"),
    ),
    bad("unknown-flag", "inspect", "--bogus", f"{H}/a:v1", frag="--bogus"),
    bad("unknown-global-flag", "--bogus", "inspect", f"{H}/a:v1", frag="--bogus"),
    bad("unknown-command", "frobnicate", f"{H}/a:v1", frag="frobnicate"),
    bad("missing-ref", "resolve", frag="REF"),
    bad("extra-ref", "inspect", f"{H}/a:v1", f"{H}/b:v1", frag=f"{H}/b:v1"),
    bad("extra-arg-newline", "inspect", f"{H}/a:v1", "b\nc", frag="(b\\nc)"),
    bad("copy-missing-dst", "copy", f"{H}/a:v1", frag="DST"),
    bad("platform-missing-value", "inspect", f"{H}/a:v1", "--platform", frag="--platform"),
    bad("insecure-missing-value", "inspect", f"{H}/a:v1", "--insecure", frag="--insecure"),
    bad("jobs-zero", "copy", "--jobs", "0", f"{H}/a:v1", f"{H}/b:v1", frag="--jobs"),
    bad("jobs-negative", "copy", "--jobs", "-1", f"{H}/a:v1", f"{H}/b:v1", frag="--jobs"),
    bad("jobs-too-many", "copy", "--jobs", "65", f"{H}/a:v1", f"{H}/b:v1", frag="--jobs"),
    bad("jobs-not-a-number", "copy", "--jobs", "four", f"{H}/a:v1", f"{H}/b:v1", frag="--jobs"),
    bad(
        "copy-platform-to-digest",
        "copy",
        "--platform",
        "linux/amd64",
        f"{H}/a:v1",
        f"{H}/b@{A}",
        frag=(f"{H}/b@{A}", "names a digest"),
    ),
    bad(
        "copy-drop-to-digest",
        "copy",
        "--attestations",
        "drop",
        f"{H}/a:v1",
        f"{H}/b@{A}",
        frag=(f"{H}/b@{A}", "names a digest"),
    ),
    bad("copy-attestations-unknown", "copy", "--attestations", "x", f"{H}/a", f"{H}/b", frag="'x'"),
    bad(
        "password-stdin-without-username",
        "inspect",
        "--password-stdin",
        f"{H}/a:v1",
        frag=("--password-stdin", "--username"),
    ),
    bad(
        "annotation-not-utf8",
        *CREATE,
        "--annotation",
        "k=\udcff",  # the byte 0xff in argv
        f"{H}/a:v1",
        frag=("--annotation", "not valid UTF-8"),
    ),
    bad(
        "username-not-utf8",
        "inspect",
        "--username",
        "u\udcff",
        f"{H}/a:v1",
        frag=("user name", "not valid UTF-8"),
        env={"POLYARCH_PASSWORD": "secret"},
    ),
    bad(
        "password-not-utf8",
        "resolve",
        f"{H}/a:v1",
        frag=("password", "not valid UTF-8"),
        env={"POLYARCH_USERNAME": "u", "POLYARCH_PASSWORD": "pa55\udcff"},
    ),
    bad("ca-file-missing", "inspect", "--ca-file", f"{D}/nope.pem", f"{H}/a", frag="--ca-file"),
    bad("ca-file-directory", "inspect", "--ca-file", D, f"{H}/a", frag="--ca-file"),
]

# -- verify --records ---------------------------------------------------------------------


def _record(content: bytes | str, *, id: str, frag: str | tuple[str, ...]) -> Bad:
    return bad(
        f"records-{id}",
        "verify",
        "--records",
        f"{D}/rec.json",
        f"{H}/app:v1",
        frag=("rec.json", *((frag,) if isinstance(frag, str) else frag)),
        files={"rec.json": content},
    )


RECORDS = [
    bad("records-missing", "verify", "--records", f"{D}/none.json", f"{H}/a:v1", frag="none.json"),
    bad(
        "records-empty-dir",
        "verify",
        "--records",
        f"{D}/recs",
        f"{H}/a:v1",
        frag=("recs", "no *.json"),
        files={"recs": None},
    ),
    _record("{", id="bad-json", frag="not valid JSON"),
    _record("", id="empty-file", frag="not valid JSON"),
    _record("42", id="number", frag="JSON object"),
    _record("[1]", id="list-of-numbers", frag="JSON object"),
    _record("{}", id="no-digest", frag="missing digest"),
    _record(_json({"digest": 5}), id="digest-number", frag="missing digest"),
    _record(_json({"digest": "sha256:abc"}), id="digest-short", frag="sha256:abc"),
    _record(_json({"digest": "md5:" + "a" * 32}), id="digest-md5", frag="md5"),
    _record(_json({"digest": A, "platform": 5}), id="platform-number", frag="platform"),
    _record(_json({"digest": A, "platform": "linux/"}), id="platform-bad", frag='"linux/"'),
    _record(_json({"digest": A, "platform": {"os": "linux"}}), id="platform-obj", frag="arch"),
    _record(_json({"digest": A, "schema": "x/v9"}), id="schema", frag="x/v9"),
    _record(_json({"digest": A, "repository": 5}), id="repository", frag="repository"),
    _record(nested_json(), id="nested", frag="nested too deeply"),
    _record(b"\xff\xfe\x00", id="not-utf8", frag="not UTF-8"),
    _record(_json({"containerimage.digest": "nope"}), id="buildx-digest", frag="nope"),
    _record(_json([{"digest": A}, {"digest": "x"}]), id="list-second-bad", frag="rec.json[1]"),
]

# -- OCI layout directories ---------------------------------------------------------------


def _layout(files: Mapping[str, bytes | str | Link | None], *, id: str, frag: str) -> Bad:
    return bad(
        f"layout-{id}",
        "inspect",
        f"oci:{D}/lay:v1",
        frag=("lay", frag),
        files={f"lay/{name}": content for name, content in files.items()},
    )


LAYOUTS = [
    _layout({"index.json": _json(_INDEX | {"manifests": []})}, id="no-marker", frag="oci-layout"),
    _layout({"oci-layout": "{"}, id="marker-bad-json", frag="oci-layout"),
    _layout({"oci-layout": "[]"}, id="marker-not-object", frag="oci-layout"),
    _layout({"oci-layout": _json({"imageLayoutVersion": "2.0.0"})}, id="version", frag="2.0.0"),
    _layout({"oci-layout": _json({})}, id="no-version", frag="imageLayoutVersion"),
    _layout({"oci-layout": _json(_LAYOUT), "index.json": "{"}, id="index-bad", frag="index.json"),
    _layout(
        {"oci-layout": _json(_LAYOUT), "index.json": nested_json()},
        id="index-nested",
        frag="index.json",
    ),
    _layout(
        {"oci-layout": _json(_LAYOUT), "index.json": _json({"schemaVersion": 1})},
        id="index-schema",
        frag="schemaVersion",
    ),
    _layout(
        {"oci-layout": _json(_LAYOUT), "index.json": _json(_INDEX | {"manifests": {}})},
        id="index-manifests",
        frag="manifests",
    ),
    _layout(
        {
            "oci-layout": _json(_LAYOUT),
            "index.json": _json(_INDEX | {"manifests": [{"mediaType": "x", "digest": "sha256:1"}]}),
        },
        id="index-entry",
        frag="manifests[0]",
    ),
    _layout(
        {
            "oci-layout": _json(_LAYOUT),
            "index.json": _json(
                {**_INDEX, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json"}
            ),
        },
        id="index-docker",
        frag="mediaType",
    ),
    _layout(
        {"oci-layout": Link("/etc/hostname"), "index.json": _json(_INDEX | {"manifests": []})},
        id="marker-symlink",
        frag="symbolic link",
    ),
    bad(
        "layout-is-a-file",
        "inspect",
        f"oci:{D}/lay",
        frag=("lay", "not a directory"),
        files={"lay": "x"},
    ),
    bad(
        "layout-copy-destination-not-a-layout",
        "copy",
        f"oci:{D}/src",
        f"oci:{D}/other:v1",
        frag=("src", "oci-layout"),
        files={"src/stray.txt": "x"},
    ),
]

# -- spec files (polyarch publish --spec / build --spec) ----------------------------------


def _spec(text: str, *, id: str, frag: str | tuple[str, ...], command: str = "publish") -> Bad:
    fragments = (frag,) if isinstance(frag, str) else frag
    return bad(
        f"spec-{id}",
        command,
        "--spec",
        f"{D}/polyarch.yaml",
        frag=("polyarch.yaml", *fragments),
        files={"polyarch.yaml": text, "ctx/Dockerfile": "FROM scratch\n"},
    )


_VARIANT = "variants:\n  - platform: linux/amd64\n    context: ctx\n"

SPECS = [
    _spec("image: [\n", id="yaml-syntax", frag="invalid YAML"),
    _spec("image: a\n  b: c\n", id="yaml-indent", frag="invalid YAML"),
    _spec("- image: x\n", id="top-list", frag="mapping"),
    _spec(f"image: {H}/app\n{_VARIANT}colour: red\n", id="unknown-key", frag="'colour'"),
    _spec(
        f"image: {H}/app\nvariants:\n  - platfrom: linux/amd64\n    context: ctx\n",
        id="variant-typo",
        frag=("'platfrom'", "platform"),
    ),
    _spec(f"image: {{a: b}}\n{_VARIANT}", id="image-mapping", frag="image"),
    _spec(f"image: {H}/app:v1\n{_VARIANT}", id="image-tag", frag="image"),
    _spec(f"image: {H}/App\n{_VARIANT}", id="image-upper", frag="lowercase"),
    _spec(_VARIANT, id="image-missing", frag="image"),
    _spec(f"image: {H}/app\ntags: ['-x']\n{_VARIANT}", id="tag-bad", frag="-x"),
    _spec(f"image: {H}/app\nvariants: []\n", id="variants-empty", frag="variants"),
    _spec(f"image: {H}/app\nvariants: linux/amd64\n", id="variants-string", frag="variants"),
    _spec(
        f"image: {H}/app\nvariants:\n  - platform: linux/\n    context: ctx\n",
        id="platform-bad",
        frag="linux/",
    ),
    _spec(
        f"image: {H}/app\n{_VARIANT}  - platform: linux/amd64\n    context: ctx\n",
        id="platform-twice",
        frag="linux/amd64",
    ),
    _spec(f"image: {H}/app\n{_VARIANT}attestations: maybe\n", id="attest", frag="maybe"),
    _spec(f"image: {H}/app\n{_VARIANT}verify: {{exact: maybe}}\n", id="verify-exact", frag="exact"),
    _spec(f"image: {H}/app\n{_VARIANT}    build-args: [a]\n", id="build-args", frag="build-args"),
    _spec(f"image: !!python/object:os.system {H}/app\n{_VARIANT}", id="yaml-tag", frag="python"),
    _spec(
        f"image: {H}/app\nvariants:\n  - platform: linux/amd64\n    context: nowhere\n",
        id="context-missing",
        frag="nowhere",
        command="build",  # publish builds nothing: it reads a spec without its contexts
    ),
    _spec("[" * 5000 + "]" * 5000, id="nested", frag="nested", command="build"),
    _spec(
        f"image: [{H}/app, {{a: b}}]\n{_VARIANT}", id="image-list", frag="image", command="build"
    ),
    bad("spec-missing", "publish", "--spec", f"{D}/none.yaml", frag="none.yaml"),
    bad(
        "publish-records-missing",
        "publish",
        "--spec",
        f"{D}/polyarch.yaml",
        "--records",
        f"{D}/none",
        frag=("records", "none"),
        files={"polyarch.yaml": f"image: {H}/app\n{_VARIANT}", "ctx/Dockerfile": "FROM scratch\n"},
    ),
]

CASES = [*REFERENCES, *PLATFORMS, *FLAGS, *RECORDS, *LAYOUTS, *SPECS]


def test_the_corpus_is_large_and_ids_are_unique() -> None:
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def recorder() -> Iterator[HostileRegistry]:
    """Where well-formed references point: it records any contact."""
    with HostileRegistry() as server:
        yield server


def _materialize(case: Bad, root: Path, fill: Callable[[str], str]) -> None:
    for name, content in case.files.items():
        path = root / name
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Link):
            path.symlink_to(content.target)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(fill(content))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_fails_in_one_line_with_exit_code_2(
    case: Bad, recorder: HostileRegistry, tmp_path: Path
) -> None:
    recorder.reset()

    def fill(text: str) -> str:
        return text.replace(H, recorder.host).replace(D, str(tmp_path))

    _materialize(case, tmp_path, fill)

    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),
        "REGISTRY_AUTH_FILE": str(home / "auth.json"),
        "POLYARCH_USERNAME": "",
        "POLYARCH_PASSWORD": "",
        **case.env,
    }
    result = run_cli(*(fill(a) for a in case.args), env=env, stdin="", timeout=60)
    assert_one_line_error(result, 2, *(fill(f) for f in case.fragments))
    assert "pa55" not in result.err  # a bad password is named, never shown
    assert result.out == "", result.out
    assert not recorder.contacted, (
        f"network I/O before refusing bad input: {recorder.connections} connection(s), "
        f"{[(s.method, s.path) for s in recorder.requests]}"
    )
    # Nothing was written either (no layout directory created, no file).
    given = {name.split("/")[0] for name in case.files}
    assert set(os.listdir(tmp_path)) - given == {"home"}
    assert os.listdir(home) == []
