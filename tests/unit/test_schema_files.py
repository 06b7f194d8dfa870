"""The OCI image-spec schemas the tests validate against live in the repository, unchanged.

``tests/data/oci-schema/README.md`` names their source (image-spec v1.1.1, ``schema/``), their
licence and the sha256 of each file; a fresh clone must hold exactly those bytes, and nothing
the tests read may come from outside the repository.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from support.schema import ALIASES, ROOTS, assert_valid, schema_dir

ROOT = Path(__file__).resolve().parents[2]


def listed_hashes() -> dict[str, str]:
    text = (schema_dir() / "README.md").read_text()
    return {
        name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+\.json)$", text, re.M)
    }


def test_the_schemas_are_in_the_repository_with_the_hashes_their_readme_names() -> None:
    assert schema_dir().is_relative_to(ROOT)
    files = {p.name for p in schema_dir().glob("*.json")}
    assert files == set(ALIASES) == set(listed_hashes())
    assert set(ROOTS.values()) <= files
    for name, digest in listed_hashes().items():
        assert hashlib.sha256((schema_dir() / name).read_bytes()).hexdigest() == digest, name


def test_an_index_validates_and_a_broken_one_does_not() -> None:
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + "a" * 64,
                "size": 10,
                "platform": {"os": "linux", "architecture": "amd64"},
            }
        ],
    }
    assert_valid(index, "application/vnd.oci.image.index.v1+json")
    del index["manifests"][0]["platform"]["architecture"]  # type: ignore[index, attr-defined]
    from support.schema import schema_errors

    assert schema_errors(index, "application/vnd.oci.image.index.v1+json")


def test_nothing_reads_outside_the_repository() -> None:
    # The developers' guidance folder beside the repository is never read by code, tests,
    # scripts or CI: a user's clone has no such folder.
    readers = [
        p
        for top in ("src", "tests", "scripts", "bench", ".ci")
        for p in (ROOT / top).rglob("*")
        if p.is_file() and p.suffix in {".py", ".sh", ""} and p != Path(__file__)
    ]
    offenders = [
        str(p.relative_to(ROOT))
        for p in readers
        if "__pycache__" not in p.parts
        and re.search(r"\.\./shared|/work/shared|parents\[3\]", p.read_text(errors="replace"))
    ]
    assert offenders == []
