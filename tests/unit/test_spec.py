"""Unit tests for polyarch.pipeline.specfile: the ``polyarch.yaml`` reader.

Every spec is written to a temporary directory that holds two build contexts
(``app-amd64`` and ``app-arm64``, each with a ``Dockerfile``; ``app-arm64`` also has
``docker/prod.Dockerfile``), a context without a Dockerfile (``bare``) and a plain file
(``notes.txt``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.errors import InvalidInput
from polyarch.pipeline.specfile import find_spec, load_spec
from polyarch.pipeline.specfile.model import DEFAULT_TAGS, Spec, SpecError, Variant, VerifySpec

GOOD = """\
image: registry.example.com/metrics-api
tags: [v2.0.0, latest]
variants:
  - platform: linux/amd64
    context: app-amd64
    dockerfile: Dockerfile
  - platform: linux/arm64
    context: app-arm64
    build-args: {PYTHON_ENV: production}
    target: runtime
verify:
  run: ["/app/healthcheck"]
"""

# A minimal valid head the bad specs below build on (lines 1-4).
HEAD = """\
image: registry.example.com/metrics-api
variants:
  - platform: linux/amd64
    context: app-amd64
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("app-amd64", "app-arm64"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app-arm64" / "docker").mkdir()
    (tmp_path / "app-arm64" / "docker" / "prod.Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "bare").mkdir()
    (tmp_path / "notes.txt").write_text("not a directory\n")
    return tmp_path


def write(root: Path, text: str, name: str = "polyarch.yaml") -> Path:
    path = root / name
    path.write_text(textwrap.dedent(text))
    return path


def load(root: Path, text: str) -> Spec:
    return load_spec(write(root, text))


def error(root: Path, text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        load(root, text)
    return info.value


# --- valid specs ----------------------------------------------------------------------


def test_the_documented_example(root: Path) -> None:
    spec = load(root, GOOD)
    assert spec.path == (root / "polyarch.yaml").resolve()
    assert spec.images == (Reference.parse("registry.example.com/metrics-api"),)
    assert spec.tags == ("v2.0.0", "latest")
    assert [str(t) for t in spec.targets()] == [
        "registry.example.com/metrics-api:v2.0.0",
        "registry.example.com/metrics-api:latest",
    ]
    amd, arm = spec.variants
    assert amd == Variant(
        Platform("linux", "amd64"),
        (root / "app-amd64").resolve(),
        (root / "app-amd64" / "Dockerfile").resolve(),
        {},
        None,
        4,
    )
    assert arm.platform == Platform("linux", "arm64")
    assert arm.dockerfile == (root / "app-arm64" / "Dockerfile").resolve()
    assert dict(arm.build_args) == {"PYTHON_ENV": "production"}
    assert arm.target == "runtime"
    assert arm.line == 7
    assert arm.labels == {}
    assert spec.verify == VerifySpec(run=("/app/healthcheck",))
    assert spec.verify.exact is True and spec.verify.strict is False
    assert spec.attestations == "keep"
    assert spec.platforms == (Platform("linux", "amd64"), Platform("linux", "arm64"))


def test_defaults(root: Path) -> None:
    spec = load(root, HEAD)
    assert spec.tags == DEFAULT_TAGS == ("latest",)
    assert spec.verify == VerifySpec(run=None, expect_output={}, exact=True, strict=False)
    assert spec.attestations == "keep"
    assert spec.variants[0].build_args == {} and spec.variants[0].target is None


def test_several_images_and_a_single_tag_string(root: Path) -> None:
    spec = load(
        root,
        """\
        image: [registry.example.com/metrics-api, mirror.example.com/team/metrics-api, ubuntu]
        tags: v2.0.0
        variants: [{platform: linux/amd64, context: app-amd64}]
        """,
    )
    assert spec.tags == ("v2.0.0",)
    assert [str(t) for t in spec.targets()] == [
        "registry.example.com/metrics-api:v2.0.0",
        "mirror.example.com/team/metrics-api:v2.0.0",
        "docker.io/library/ubuntu:v2.0.0",
    ]


def test_platforms_are_normalized(root: Path) -> None:
    spec = load(
        root,
        """\
        image: registry.example.com/app
        variants:
          - {platform: Linux/AArch64/v8, context: app-arm64}
          - {platform: linux/armhf, context: app-amd64}
          - {platform: x86_64, context: app-amd64}
        """,
    )
    assert [str(p) for p in spec.platforms] == ["linux/arm64", "linux/arm/v7", "linux/amd64"]


def test_numbers_are_taken_as_written(root: Path) -> None:
    spec = load(
        root,
        """\
        image: registry.example.com/app
        tags: [1.10, 2024-01-31, 7]
        variants:
          - platform: linux/amd64
            context: app-amd64
            build-args: {VERSION: 1.10, WORKERS: 04, EMPTY: ""}
            labels: {org.opencontainers.image.version: 1.10}
        """,
    )
    assert spec.tags == ("1.10", "2024-01-31", "7")
    assert dict(spec.variants[0].build_args) == {"VERSION": "1.10", "WORKERS": "04", "EMPTY": ""}
    assert dict(spec.variants[0].labels) == {"org.opencontainers.image.version": "1.10"}


def test_dockerfile_is_relative_to_the_context(root: Path) -> None:
    spec = load(
        root,
        """\
        image: registry.example.com/app
        variants:
          - platform: linux/arm64
            context: app-arm64
            dockerfile: docker/prod.Dockerfile
          - platform: linux/amd64
            context: app-amd64
            dockerfile: ../app-arm64/docker/prod.Dockerfile
        """,
    )
    expected = (root / "app-arm64" / "docker" / "prod.Dockerfile").resolve()
    assert spec.variants[0].dockerfile == expected
    assert spec.variants[1].dockerfile == expected


def test_context_is_relative_to_the_spec_file_not_the_cwd(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(root, HEAD)
    monkeypatch.chdir(root / "bare")
    assert load_spec(path).variants[0].context == (root / "app-amd64").resolve()
    sub = root / "ci"
    sub.mkdir()
    spec = load(sub, HEAD.replace("context: app-amd64", "context: ../app-amd64"))
    assert spec.variants[0].context == (root / "app-amd64").resolve()


def test_absolute_paths(root: Path) -> None:
    context = (root / "app-arm64").resolve()
    spec = load(
        root,
        f"""\
        image: registry.example.com/app
        variants:
          - platform: linux/arm64
            context: {context}
            dockerfile: {context / "docker" / "prod.Dockerfile"}
        """,
    )
    assert spec.variants[0].context == context
    assert spec.variants[0].dockerfile == context / "docker" / "prod.Dockerfile"


def test_verify_section(root: Path) -> None:
    spec = load(
        root,
        """\
        image: registry.example.com/app
        variants:
          - {platform: linux/amd64, context: app-amd64}
          - {platform: linux/arm64, context: app-arm64}
        verify:
          run: sh -c 'uname -m'
          expect-output: {linux/amd64: x86_64, linux/arm64/v8: "aarch64|arm64"}
          exact: no
          strict: yes
        attestations: drop
        """,
    )
    assert spec.verify.run == ("sh", "-c", "uname -m")
    assert spec.verify.expect_output == {
        Platform("linux", "amd64"): "x86_64",
        Platform("linux", "arm64"): "aarch64|arm64",
    }
    assert spec.verify.exact is False and spec.verify.strict is True
    assert spec.attestations == "drop"


@pytest.mark.parametrize(
    ("run", "expected"),
    [("true", ()), ("false", None), ('["uname", "-m"]', ("uname", "-m")), ("uname", ("uname",))],
)
def test_verify_run_forms(root: Path, run: str, expected: tuple[str, ...] | None) -> None:
    assert load(root, HEAD + f"verify: {{run: {run}}}\n").verify.run == expected


def test_merge_keys_share_settings(root: Path) -> None:
    spec = load(
        root,
        """\
        image: registry.example.com/app
        variants:
          - &amd
            platform: linux/amd64
            context: app-amd64
            build-args: {PYTHON_ENV: production}
            target: runtime
          - <<: *amd
            platform: linux/arm64
            context: app-arm64
            target: slim
        """,
    )
    amd, arm = spec.variants
    assert dict(arm.build_args) == dict(amd.build_args) == {"PYTHON_ENV": "production"}
    assert (amd.target, arm.target) == ("runtime", "slim")
    assert arm.context == (root / "app-arm64").resolve()
    assert (amd.line, arm.line) == (3, 8)


def test_per_platform_tag(root: Path) -> None:
    spec = load(
        root,
        """\
        image: registry.example.com/app
        tags: [v2.0.0, latest]
        variants:
          - {platform: linux/arm64/v8, context: app-arm64}
          - {platform: linux/arm, context: app-amd64}
          - {platform: linux/amd64/v3, context: app-amd64}
        """,
    )
    assert [spec.per_platform_tag(v) for v in spec.variants] == [
        "v2.0.0-linux-arm64",
        "v2.0.0-linux-arm-v7",
        "v2.0.0-linux-amd64-v3",
    ]
    assert spec.per_platform_tag(Platform("linux", "aarch64")) == "v2.0.0-linux-arm64"
    assert load(root, HEAD).per_platform_tag(load(root, HEAD).variants[0]) == "latest-linux-amd64"


def test_variant_lookup(root: Path) -> None:
    spec = load(root, GOOD)
    arm = spec.variant("linux/arm64/v8")
    assert arm is not None and arm.context.name == "app-arm64"
    assert spec.variant(Platform("linux", "aarch64")) is arm
    assert spec.variant("linux/s390x") is None


def test_first_tag_may_be_long_when_suffix_fits(root: Path) -> None:
    tag = "v" * (128 - len("-linux-amd64"))
    assert load(root, HEAD + f"tags: [{tag}]\n").tags == (tag,)


# --- bad specs: message fragment and line ---------------------------------------------

BAD: list[tuple[str, str, str, int | None]] = [
    # id, spec text, message fragment, line (None: no line applies)
    ("yaml-unclosed-flow", "image: x\nvariants: [a, b\n", "invalid YAML: expected ','", 3),
    (
        "yaml-bad-indent",
        "image: x\nvariants:\n  - platform: linux/amd64\n   context: a\n",
        "invalid YAML",
        4,
    ),
    (
        "yaml-two-documents",
        HEAD + "---\nimage: y\n",
        "invalid YAML: expected a single document in the stream, but found another document",
        5,
    ),
    ("empty-file", "# nothing here\n", "the file is empty", None),
    ("top-level-list", "- image: x\n", "top level must be a mapping", 1),
    ("top-level-string", "polyarch\n", "top level must be a mapping (image, variants...), got", 1),
    ("unknown-top-key", HEAD + "imgae: y\n", "unknown key 'imgae' (did you mean 'image'?)", 5),
    (
        "unknown-variant-key",
        "image: registry.example.com/app\nvariants:\n  - platfrom: linux/amd64\n    context: a\n",
        "variants[0]: unknown key 'platfrom' (did you mean 'platform'?)",
        3,
    ),
    (
        "unknown-variant-key-underscore",
        HEAD + "    build_args: {A: b}\n",
        "unknown key 'build_args' (did you mean 'build-args'?)",
        5,
    ),
    (
        "unknown-verify-key",
        HEAD + "verify:\n  exakt: true\n",
        "verify: unknown key 'exakt' (did you mean 'exact'?)",
        6,
    ),
    (
        "unknown-key-no-match",
        HEAD + "colour: blue\n",
        "unknown key 'colour' (known keys: image, tags, flavor, annotations, variants, bake, "
        "verify, attestations)",
        5,
    ),
    (
        "duplicate-key",
        HEAD + "image: registry.example.com/other\n",
        "duplicate key 'image' (first at line 1)",
        5,
    ),
    ("misplaced-variant-key", HEAD + "target: runtime\n", "'target' belongs in each variant", 5),
    ("misplaced-verify-key", HEAD + "    run: true\n", "'run' belongs under 'verify'", 5),
    ("misplaced-top-key", HEAD + "    tags: [v1]\n", "'tags' is a top-level key", 5),
    ("non-string-key", HEAD + "1: one\n", "keys must be strings, got a number", 5),
    (
        "missing-image",
        "variants:\n  - {platform: linux/amd64, context: app-amd64}\n",
        "missing required key 'image'",
        1,
    ),
    ("missing-variants", "image: registry.example.com/app\n", "missing required key 'variants'", 1),
    (
        "missing-context",
        "image: registry.example.com/app\nvariants:\n  - platform: linux/amd64\n",
        "variants[0]: missing required key 'context'",
        3,
    ),
    (
        "missing-platform",
        HEAD + "  - context: app-arm64\n    target: x\n",
        "variants[1]: missing required key 'platform'",
        5,
    ),
    ("empty-variants", "image: registry.example.com/app\nvariants: []\n", "the list is empty", 2),
    (
        "variants-mapping",
        "image: registry.example.com/app\nvariants:\n  linux/amd64: app-amd64\n",
        "variants: expected a list of variants, got a mapping",
        3,
    ),
    ("variant-not-mapping", HEAD + "  - linux/arm64\n", "variants[1]: expected a mapping", 5),
    (
        "image-mapping",
        "image: {name: x}\nvariants: []\n",
        "image: expected a string or a list of strings, got a mapping",
        1,
    ),
    ("image-null", "image:\nvariants: []\n", "image: expected a string, got nothing (null)", 1),
    (
        "image-with-tag",
        HEAD.replace("metrics-api", "metrics-api:v2"),
        "image: 'registry.example.com/metrics-api:v2' has the tag 'v2'; give the repository only",
        1,
    ),
    (
        "image-with-digest",
        HEAD.replace("metrics-api", "metrics-api@sha256:" + "a" * 64),
        "has a digest; give the repository only",
        1,
    ),
    (
        "image-invalid",
        HEAD.replace("metrics-api", "Metrics-API"),
        'image: invalid reference "registry.example.com/Metrics-API": repository name must be',
        1,
    ),
    (
        "image-list-invalid-item",
        "image:\n  - registry.example.com/app\n  - https://registry.example.com/app\n"
        + HEAD.split("\n", 1)[1],
        "image[1]: invalid reference",
        3,
    ),
    (
        "image-empty-list",
        HEAD.replace("image: registry.example.com/metrics-api", "image: []"),
        "image: the list is empty",
        1,
    ),
    (
        "image-duplicate",
        "image: [ubuntu, docker.io/library/ubuntu]\n" + HEAD.split("\n", 1)[1],
        "image[1]: 'docker.io/library/ubuntu' is the same repository as 'ubuntu' "
        "(image[0], line 1)",
        1,
    ),
    ("tag-invalid", HEAD + "tags: [v2.0.0+build]\n", "tags[0]: invalid tag 'v2.0.0+build'", 5),
    ("tag-leading-dot", HEAD + "tags:\n  - latest\n  - .hidden\n", "tags[1]: invalid tag", 7),
    (
        "tag-duplicate",
        HEAD + "tags:\n  - v1\n  - latest\n  - v1\n",
        "tags[2]: duplicate tag 'v1' (tags[0], line 6)",
        8,
    ),
    ("tags-empty", HEAD + "tags: []\n", "tags: the list is empty", 5),
    ("tags-mapping", HEAD + "tags: {v1: yes}\n", "tags: expected a string or a list", 5),
    (
        "tag-boolean",
        HEAD + "tags: [v1, yes]\n",
        "tags[1]: expected a string, got the boolean yes",
        5,
    ),
    (
        "tag-too-long-for-per-platform",
        HEAD + "tags: [" + "v" * 120 + "]\n",
        "too long for the per-platform tag",
        5,
    ),
    (
        "platform-invalid",
        HEAD.replace("linux/amd64", "linux/"),
        'variants[0].platform: invalid platform "linux/": empty architecture',
        3,
    ),
    (
        "platform-os-only",
        HEAD.replace("linux/amd64", "linux"),
        "variants[0].platform: 'linux' does not name an OS and an architecture",
        3,
    ),
    (
        "platform-list",
        HEAD.replace("linux/amd64", "[linux/amd64]"),
        "variants[0].platform: expected a string, got a list",
        3,
    ),
    (
        "platform-duplicate",
        "image: registry.example.com/app\nvariants:\n"
        "  - platform: linux/arm64\n    context: app-arm64\n"
        "  - platform: linux/amd64\n    context: app-amd64\n"
        "  - platform: linux/arm64/v8\n    context: app-amd64\n",
        "variants[2].platform: linux/arm64/v8 duplicates linux/arm64 of variants[0] (line 3); "
        "both are linux/arm64",
        7,
    ),
    (
        "per-platform-tag-clash",
        "image: registry.example.com/app\nvariants:\n"
        "  - {platform: 'windows(10.0.17763)/amd64', context: app-amd64}\n"
        "  - {platform: 'windows(10.0.20348)/amd64', context: app-arm64}\n",
        "variants[1]: the per-platform tag 'latest-windows-amd64' is also variants[0]'s",
        4,
    ),
    (
        "context-missing",
        HEAD.replace("app-amd64", "app-s390x"),
        "variants[0].context: directory 'app-s390x' does not exist",
        4,
    ),
    ("context-file", HEAD.replace("app-amd64", "notes.txt"), "'notes.txt' is not a directory", 4),
    (
        "context-url",
        HEAD.replace("app-amd64", "https://github.com/example/app.git"),
        "is not a local directory (remote contexts are not supported)",
        4,
    ),
    ("context-empty", HEAD.replace("app-amd64", '""'), "variants[0].context: must not be empty", 4),
    (
        "dockerfile-default-missing",
        HEAD.replace("app-amd64", "bare"),
        "variants[0].context: no Dockerfile in 'bare'",
        4,
    ),
    (
        "dockerfile-missing",
        HEAD + "    dockerfile: docker/prod.Dockerfile\n",
        "variants[0].dockerfile: 'docker/prod.Dockerfile' does not exist",
        5,
    ),
    (
        "dockerfile-directory",
        HEAD.replace("app-amd64", "app-arm64") + "    dockerfile: docker\n",
        "variants[0].dockerfile: 'docker' is not a file",
        5,
    ),
    (
        "build-arg-boolean",
        HEAD + "    build-args:\n      DEBUG: true\n",
        "variants[0].build-args.DEBUG: true is a YAML boolean; quote it, 'true'",
        6,
    ),
    (
        "build-arg-null",
        HEAD + "    build-args:\n      DEBUG:\n",
        "variants[0].build-args.DEBUG: has no value",
        6,
    ),
    (
        "build-arg-list",
        HEAD + "    build-args:\n      EXTRA: [a, b]\n",
        "build-args.EXTRA: expected a string or a number, got a list",
        6,
    ),
    (
        "build-args-list-form",
        HEAD + "    build-args: [A=1]\n",
        "variants[0].build-args: expected a mapping, got a list",
        5,
    ),
    (
        "build-arg-bad-name",
        HEAD + "    build-args: {'A B': x}\n",
        "variants[0].build-args: invalid name 'A B'",
        5,
    ),
    ("label-boolean", HEAD + "    labels: {beta: off}\n", "labels.beta: off is a YAML boolean", 5),
    ("target-space", HEAD + "    target: run time\n", "a build stage name has no spaces", 5),
    ("target-number-ok-but-list", HEAD + "    target: [a]\n", "target: expected a string", 5),
    ("verify-list", HEAD + "verify: [run]\n", "verify: expected a mapping, got a list", 5),
    ("verify-run-empty-list", HEAD + "verify:\n  run: []\n", "verify.run: the command is empty", 6),
    ("verify-run-empty-string", HEAD + "verify: {run: ''}\n", "the command is empty", 5),
    (
        "verify-run-mapping",
        HEAD + "verify:\n  run: {cmd: x}\n",
        "verify.run: expected a command (a string or a list of strings) or true, got a mapping",
        6,
    ),
    (
        "verify-run-unclosed-quote",
        HEAD + "verify:\n  run: sh -c 'uname\n",
        "verify.run: cannot split",
        6,
    ),
    (
        "verify-run-null",
        HEAD + "verify:\n  run:\n",
        "verify.run: expected a command",
        6,
    ),
    (
        "expect-output-without-run",
        HEAD + "verify:\n  expect-output: {linux/amd64: x86_64}\n",
        "verify.expect-output needs verify.run",
        6,
    ),
    (
        "expect-output-unknown-platform",
        HEAD + "verify:\n  run: true\n  expect-output:\n    linux/s390x: s390x\n",
        "verify.expect-output: linux/s390x is not one of the variants' platforms (linux/amd64)",
        8,
    ),
    (
        "expect-output-bad-platform",
        HEAD + "verify:\n  run: true\n  expect-output:\n    linux/: x\n",
        'invalid platform "linux/"',
        8,
    ),
    (
        "expect-output-bad-regex",
        HEAD + "verify:\n  run: true\n  expect-output:\n    linux/amd64: '(x86'\n",
        "verify.expect-output.linux/amd64: bad regular expression '(x86'",
        8,
    ),
    (
        "expect-output-duplicate-platform",
        HEAD + "verify:\n  run: true\n  expect-output: {linux/amd64: a, linux/amd64/v1: b}\n",
        "linux/amd64/v1 is linux/amd64 again (first at line 7)",
        7,
    ),
    (
        "verify-exact-string",
        HEAD + "verify: {exact: 'yes'}\n",
        "verify.exact: expected true or false",
        5,
    ),
    (
        "verify-strict-number",
        HEAD + "verify: {strict: 1}\n",
        "verify.strict: expected true or false, got a number",
        5,
    ),
    (
        "attestations-typo",
        HEAD + "attestations: dorp\n",
        "attestations: expected 'keep', 'drop' or 'referrers', got 'dorp'",
        5,
    ),
    (
        "python-tag",
        HEAD + "tags: !!python/object/apply:os.system [echo]\n",
        "unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'",
        5,
    ),
    ("custom-tag", HEAD + "tags: [!env TAG]\n", "unsupported YAML tag '!env'", 5),
    (
        "merge-scalar",
        HEAD + "  - <<: linux\n    context: app-arm64\n",
        "'<<' merges mappings, got a string",
        5,
    ),
]


@pytest.mark.parametrize(
    ("text", "fragment", "line"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_spec(root: Path, text: str, fragment: str, line: int | None) -> None:
    exc = error(root, text)
    assert fragment in str(exc), str(exc)
    assert exc.line == line, str(exc)
    shown = str(root / "polyarch.yaml")
    assert str(exc).startswith(f"{shown}:{line}:" if line else f"{shown}: "), str(exc)
    assert "\n" not in exc.one_line()


def test_there_are_many_bad_specs() -> None:
    assert len(BAD) >= 30
    assert len({c[0] for c in BAD}) == len(BAD)


def test_spec_error_is_invalid_input_with_exit_code_2(root: Path) -> None:
    exc = error(root, HEAD.replace("metrics-api", "metrics-api:v2"))
    assert isinstance(exc, InvalidInput) and isinstance(exc, ValueError)
    assert exc.exit_code == 2
    assert exc.path == str(root / "polyarch.yaml") and exc.line == 1 and exc.column is None
    assert exc.detail.startswith("image: ")
    assert exc.one_line().endswith("(tags come from 'tags')")


def test_yaml_syntax_error_has_line_and_column(root: Path) -> None:
    exc = error(root, "image: x\n  bad: indent\n")
    assert (exc.line, exc.column) == (2, 6)
    assert str(exc).startswith(f"{root / 'polyarch.yaml'}:2:6: invalid YAML: ")


def test_not_text(root: Path) -> None:
    path = root / "polyarch.yaml"
    path.write_bytes(b"image: \xff\xfe\xfa\n")
    with pytest.raises(SpecError, match="not UTF-8 or UTF-16 text"):
        load_spec(path)


def test_missing_and_directory_spec(root: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_spec(root / "missing.yaml")
    with pytest.raises(SpecError, match="is a directory"):
        load_spec(root / "bare")


def test_recursive_merge_is_refused(root: Path) -> None:
    exc = error(root, HEAD + "  - &loop\n    <<: *loop\n    platform: linux/arm64\n")
    assert "merges itself" in exc.detail and exc.line == 5


def test_alias_bombs_stay_cheap(root: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 20)]
    exc = error(root, "\n".join(lines) + "\n")
    assert "unknown key 'a0'" in exc.detail


def test_deep_nesting_is_an_error_not_a_crash(root: Path) -> None:
    exc = error(root, "image: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in exc.detail


# --- find_spec --------------------------------------------------------------------------


def test_find_spec_in_the_current_directory(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(root, HEAD)
    monkeypatch.chdir(root)
    assert find_spec() == root / "polyarch.yaml"
    assert find_spec(root) == root / "polyarch.yaml"


def test_find_spec_yml(root: Path) -> None:
    write(root, HEAD, "polyarch.yml")
    assert find_spec(root) == root / "polyarch.yml"


def test_find_spec_both_names_is_ambiguous(root: Path) -> None:
    write(root, HEAD)
    write(root, HEAD, "polyarch.yml")
    with pytest.raises(InvalidInput, match=r"both polyarch\.yaml and polyarch\.yml"):
        find_spec(root)


def test_find_spec_none(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    with pytest.raises(InvalidInput, match=r"no polyarch.yaml \(or polyarch.yml\) in the current"):
        find_spec()
    with pytest.raises(InvalidInput, match="in bare"):
        find_spec(root, "bare")


def test_find_spec_does_not_search_parents(root: Path) -> None:
    write(root, HEAD)
    with pytest.raises(InvalidInput, match=r"no polyarch\.yaml"):
        find_spec(root / "bare")


def test_find_spec_explicit(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = write(root / "app-arm64", HEAD, "release.yaml")
    write(root, HEAD)
    assert find_spec(root, "app-arm64/release.yaml") == other
    assert find_spec(None, other) == other
    monkeypatch.chdir(root / "app-arm64")
    assert find_spec(explicit="release.yaml") == Path.cwd() / "release.yaml"
    assert find_spec(explicit=str(root)) == root / "polyarch.yaml"
    with pytest.raises(InvalidInput, match=r"spec file 'nope\.yaml' does not exist"):
        find_spec(explicit="nope.yaml")
