"""Default annotations, metadata-action's JSON output read back, the imagetools metadata file."""

from __future__ import annotations

import datetime as dt
import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from polyarch.domain.mediatype import OCI_INDEX
from polyarch.domain.reference import Reference
from polyarch.errors import InvalidInput
from polyarch.operations.create.annotations import parse_annotations
from polyarch.pipeline.annotations import (
    CREATED,
    VERSION,
    created_time,
    default_annotations,
    render_annotations,
)
from polyarch.pipeline.metadata import (
    ENV_VARIABLE,
    MetadataError,
    load_action_metadata,
    parse_action_metadata,
)
from polyarch.pipeline.metadata_file import metadata_file_content, write_metadata_file
from polyarch.pipeline.version import RefContext, RepositoryInfo

NOW = dt.datetime(2020, 1, 10, 0, 30, tzinfo=dt.UTC)
SHA = "860c1904a1ce19322e91ac35af1ab07466440c37"
# metadata-action's own json01 case (__tests__/meta.test.ts), images: [user/app], push to dev.
JSON01 = {
    "tags": ["user/app:dev", "user/app:my", "user/app:custom", "user/app:tags"],
    "tag-names": ["dev", "my", "custom", "tags"],
    "labels": {
        "foo": "",
        "org.opencontainers.image.created": "2020-01-10T00:30:00.000Z",
        "org.opencontainers.image.version": "dev",
    },
    "annotations": [
        "manifest:org.opencontainers.image.created=2020-01-10T00:30:00.000Z",
        "manifest:org.opencontainers.image.version=dev",
    ],
}


def _ctx(**changes: object) -> RefContext:
    base = RefContext(
        ref="refs/tags/v1.1.1",
        sha=SHA,
        now=NOW,
        repository=RepositoryInfo(
            "https://github.com/octocat/Hello-World", "Hello-World", "This your first repo!", "MIT"
        ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_defaults_as_metadata_action_writes_them() -> None:
    """metadata-action's tag cases: the eight keys, sorted; created in toISOString form.

    (metadata-action's created is the run's instant; polyarch's the commit's, here the same.)
    """
    assert default_annotations(_ctx(commit_date=NOW), "1.1.1") == {
        "org.opencontainers.image.created": "2020-01-10T00:30:00.000Z",
        "org.opencontainers.image.description": "This your first repo!",
        "org.opencontainers.image.licenses": "MIT",
        "org.opencontainers.image.revision": SHA,
        "org.opencontainers.image.source": "https://github.com/octocat/Hello-World",
        "org.opencontainers.image.title": "Hello-World",
        "org.opencontainers.image.url": "https://github.com/octocat/Hello-World",
        "org.opencontainers.image.version": "1.1.1",
    }


def test_empty_values_are_left_out() -> None:
    """metadata-action writes ``org.opencontainers.image.version=`` (null01); polyarch does not.

    Nor ``created`` at the current time when no commit date (nor SOURCE_DATE_EPOCH) is known:
    a re-run would publish a new index digest for the same variants.
    """
    ctx = RefContext(now=NOW)
    assert default_annotations(ctx, None) == {}
    assert default_annotations(ctx, None, env={"SOURCE_DATE_EPOCH": "0"}) == {
        CREATED: "1970-01-01T00:00:00.000Z"
    }


def test_created_is_reproducible() -> None:
    commit = dt.datetime(2022, 4, 19, 9, 27, 24, 123456, tzinfo=dt.UTC)
    ctx = _ctx(commit_date=commit)
    assert default_annotations(ctx, "1")[CREATED] == "2022-04-19T09:27:24.123Z"
    assert created_time(ctx, {"SOURCE_DATE_EPOCH": "0"}) == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(InvalidInput, match="SOURCE_DATE_EPOCH 'soon'"):
        created_time(ctx, {"SOURCE_DATE_EPOCH": "soon"})


def test_custom_entries_win_and_use_expressions() -> None:
    ctx = _ctx(ref="refs/heads/main")
    out = render_annotations(
        default_annotations(ctx, "main"),
        {VERSION: "edge-{{sha}}", "manifest-descriptor:com.example.branch": "{{branch}}"},
        ctx,
    )
    assert out[VERSION] == "edge-860c190"
    assert out["manifest-descriptor:com.example.branch"] == "main"
    assert list(out) == sorted(out)
    spec = parse_annotations([f"{k}={v}" for k, v in out.items()])
    assert spec.descriptors[0].key == "com.example.branch"
    with pytest.raises(InvalidInput, match=r"unknown expression \{\{version\}\}"):
        render_annotations({}, {"x": "{{version}}"}, ctx)


def test_read_metadata_action_output() -> None:
    meta = parse_action_metadata(json.dumps(JSON01), "meta.json")
    assert [str(r) for r in meta.references] == [
        "docker.io/user/app:dev",
        "docker.io/user/app:my",
        "docker.io/user/app:custom",
        "docker.io/user/app:tags",
    ]
    assert meta.version == "dev"
    assert meta.labels["foo"] == ""
    assert meta.index_annotations == ()
    assert meta.manifest_annotations == (
        "org.opencontainers.image.created=2020-01-10T00:30:00.000Z",
        "org.opencontainers.image.version=dev",
    )


def test_levels_index_and_descriptor() -> None:
    """``DOCKER_METADATA_ANNOTATIONS_LEVELS=manifest,index,manifest-descriptor``."""
    data = {
        "tags": ["ghcr.io/seeds/api:3.14.1", "ghcr.io/seeds/api:3"],
        "annotations": [
            "manifest:org.opencontainers.image.version=3.14.1",
            "index:org.opencontainers.image.version=3.14.1",
            "manifest-descriptor:org.opencontainers.image.version=3.14.1",
            "index-descriptor:org.opencontainers.image.version=3.14.1",
            "manifest[linux/arm64]:com.example.only=arm64",
            "index,manifest-descriptor:com.example.both=yes",
            "com.example:plain=1",
        ],
    }
    meta = parse_action_metadata(json.dumps(data), "$" + ENV_VARIABLE)
    assert meta.tag_names == ("3.14.1", "3")
    assert meta.index_annotations == (
        "index:org.opencontainers.image.version=3.14.1",
        "manifest-descriptor:org.opencontainers.image.version=3.14.1",
        "index:com.example.both=yes",
        "manifest-descriptor:com.example.both=yes",
        "index:com.example:plain=1",
    )
    assert meta.manifest_annotations == (
        "org.opencontainers.image.version=3.14.1",
        "manifest[linux/arm64]:com.example.only=arm64",
    )
    # What create takes.
    parse_annotations(list(meta.index_annotations))


def test_bare_tag_names_when_the_action_had_no_images() -> None:
    """metadata-action's tag33/latest10: without images, tags are bare names."""
    meta = parse_action_metadata('{"tags": ["1.1.1", "1.1", "latest"]}', "m")
    assert (meta.references, meta.tag_names) == ((), ("1.1.1", "1.1", "latest"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "not docker/metadata-action's JSON output"),
        ('{"tags": "a"}', "'tags' must be a list of strings"),
        ('{"tags": ["User/App:1"]}', "repository name must be lowercase"),
        ('{"tags": ["a@sha256:' + "0" * 64 + '"]}', "is not IMAGE:TAG"),
        ('{"tags": ["ok:1", "bare"]}', "mixes references and bare tag names"),
        ('{"tags": [], "labels": {"a": 1}}', "'labels' must map names to strings"),
        ('{"tags": [], "annotations": ["novalue"]}', "is not KEY=VALUE"),
        ("{", "not valid JSON"),
    ],
)
def test_bad_metadata(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        parse_action_metadata(text, "meta.json")
    assert info.value.exit_code == 2


def test_load_from_env_and_file(tmp_path: Path) -> None:
    env = {ENV_VARIABLE: json.dumps(JSON01)}
    assert load_action_metadata("env:", env).version == "dev"
    with pytest.raises(MetadataError, match="DOCKER_METADATA_OUTPUT_JSON is not set"):
        load_action_metadata("env:", {})
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(JSON01))
    assert load_action_metadata(path).origin == str(path)
    with pytest.raises(MetadataError, match="does not exist"):
        load_action_metadata(tmp_path / "none.json")


def test_metadata_file_as_imagetools_writes_it(tmp_path: Path) -> None:
    """buildx's docs/reference/buildx_imagetools_create.md ``--metadata-file`` example shape."""
    digest = "sha256:19ffeab6f8bc9293ac2c3fdf94ebe28396254c993aea0b5a542cfb02e0883fa3"
    content = metadata_file_content(
        OCI_INDEX,
        digest,
        4654,
        [Reference.parse("user/app:latest"), Reference.parse("user/app:1")],
    )
    path = tmp_path / "metadata.json"
    write_metadata_file(path, content)
    written = json.loads(path.read_text())
    assert written == {
        "containerimage.descriptor": {"mediaType": OCI_INDEX, "digest": digest, "size": 4654},
        "containerimage.digest": digest,
        "image.name": "docker.io/user/app",
    }
    assert path.read_text().startswith('{\n  "containerimage.descriptor": {\n    "mediaType"')
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]
    with pytest.raises(InvalidInput, match=r"directory .* does not exist"):
        write_metadata_file(tmp_path / "missing" / "m.json", content)
