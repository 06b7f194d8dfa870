"""Reading build records: polyarch records, buildx and bake metadata (no registry needed).

The metadata shapes are the ones docker/buildx writes (see support/buildx_metadata.py);
here they are written by hand, field for field, to pin the parsing of each kind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polyarch import InvalidInput
from polyarch.content.records.evidence import resolve_record
from polyarch.content.records.formats import Record, load_records

WRAPPER = "sha256:" + "a" * 64
IMAGE = "sha256:" + "b" * 64
CONFIG = "sha256:" + "c" * 64
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _wrapper_metadata(name: str = "127.0.0.1:5000/app:v1-arm64") -> dict[str, Any]:
    return {
        "buildx.build.ref": "default/default/q2k1r0a8mf9v6wq0n3zq3g2c4",
        "containerimage.descriptor": {"mediaType": INDEX, "digest": WRAPPER, "size": 856},
        "containerimage.digest": WRAPPER,
        "image.name": name,
    }


def _image_metadata() -> dict[str, Any]:
    return {
        "buildx.build.ref": "default/default/q2k1r0a8mf9v6wq0n3zq3g2c4",
        "containerimage.config.digest": CONFIG,
        "containerimage.descriptor": {
            "annotations": {"config.digest": CONFIG},
            "digest": IMAGE,
            "mediaType": MANIFEST,
            "platform": {"architecture": "arm64", "os": "linux"},
            "size": 481,
        },
        "containerimage.digest": IMAGE,
        "image.name": "127.0.0.1:5000/app",
    }


def test_buildx_metadata_of_a_wrapper_is_unresolved_and_names_where_it_was_pushed() -> None:
    record = Record.from_json(
        _wrapper_metadata("127.0.0.1:5000/app:v1,127.0.0.1:5001/mirror/app@" + WRAPPER), "m"
    )
    assert not record.resolved and record.platform is None
    assert str(record.wrapper) == WRAPPER and str(record.digest) == WRAPPER
    assert record.locations == ("127.0.0.1:5000/app", "127.0.0.1:5001/mirror/app")
    assert record.repository == "127.0.0.1:5000/app"
    assert record.extra["ref"].startswith("default/default/")
    # Written back, an unresolved record never claims the wrapper is the image.
    assert record.to_json()["digest"] is None and record.to_json()["wrapper"] == WRAPPER
    again = Record.from_json(record.to_json(), "again")
    assert not again.resolved and again.wrapper == record.wrapper


def test_buildx_metadata_without_a_wrapper_is_the_image_with_its_config() -> None:
    record = Record.from_json(_image_metadata(), "m")
    assert record.resolved and str(record.digest) == IMAGE
    assert str(record.platform) == "linux/arm64" and str(record.config) == CONFIG
    assert record.wrapper is None


def test_buildx_metadata_without_a_descriptor_is_not_known_to_be_an_image() -> None:
    record = Record.from_json({"containerimage.digest": WRAPPER}, "m")
    assert not record.resolved and record.wrapper is None and record.locations == ()


def test_buildx_metadata_without_a_pushed_image_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidInput, match=r"m: buildx metadata without containerimage\.digest"):
        Record.from_json({"buildx.build.ref": "default/default/x"}, "m")


def test_bake_metadata_is_one_record_per_target_and_skips_warnings(tmp_path: Path) -> None:
    path = tmp_path / "bake.json"
    data = {
        "buildx.build.warnings": [{"level": 1, "short": "U3RhZ2U="}],
        "app-arm64": _wrapper_metadata(),
        "app-amd64": _image_metadata() | {"containerimage.descriptor": {
            **_image_metadata()["containerimage.descriptor"],
            "platform": {"architecture": "amd64", "os": "linux"},
        }},
    }  # fmt: skip
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    records = load_records([path])
    assert [r.origin for r in records] == [f"{path}[app-amd64]", f"{path}[app-arm64]"]
    assert [r.resolved for r in records] == [True, False]


def test_a_bake_target_without_an_image_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bake.json"
    path.write_text(json.dumps({"cache": {"buildx.build.ref": "default/default/x"}}))
    with pytest.raises(InvalidInput, match=r"bake.json\[cache\]: buildx metadata without"):
        load_records([path])


def test_a_polyarch_record_keeps_the_wrapper_next_to_the_image() -> None:
    data = {
        "schema": "polyarch.record/v1",
        "platform": "linux/arm64",
        "repository": "127.0.0.1:5000/app",
        "digest": IMAGE,
        "wrapper": WRAPPER,
        "config": CONFIG,
    }
    record = Record.from_json(data, "r")
    assert record.resolved and str(record.digest) == IMAGE
    assert str(record.wrapper) == WRAPPER and str(record.config) == CONFIG
    assert record.to_json() == data
    with pytest.raises(InvalidInput, match="r: wrapper"):
        Record.from_json({**data, "wrapper": "sha256:nope"}, "r")


def test_a_record_naming_no_repository_cannot_be_resolved() -> None:
    record = Record.from_json({"containerimage.digest": WRAPPER}, "meta.json")
    with pytest.raises(InvalidInput, match=r"meta\.json: the record names no repository"):
        resolve_record(record, None)  # type: ignore[arg-type]  # refused before any I/O
