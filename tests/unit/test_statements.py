"""What attestation statements say, read from real builders' and signers' output.

tests/data/attestations holds statements written by Docker 26 (SLSA v0.2), Docker 28.5
(SLSA v1), both engines' SBOM generator step (SPDX) and cosign 3.1 ``attest --type
cyclonedx`` over a cyclonedx-py SBOM (CycloneDX 1.6); its README says how each was made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polyarch.domain.statements import Material, kind_of, read_provenance, read_sbom

DATA = Path(__file__).resolve().parents[1] / "data" / "attestations"
DOCKERFILE = 'ARG GREETING=hi\nLABEL greeting=$GREETING\nCMD ["sh"]\n'


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / name).read_bytes())
    return doc


@pytest.mark.parametrize(
    ("name", "version"),
    [("docker26-provenance-v0.2-max.json", "v0.2"), ("docker28-provenance-v1-max.json", "v1")],
)
def test_buildkit_provenance_of_both_slsa_versions(name: str, version: str) -> None:
    statement = _load(name)
    p = read_provenance(statement)
    assert kind_of(p.predicate_type) == "provenance"
    assert p.slsa_version == version
    assert p.mode == "max"
    assert p.builder_id is None  # BuildKit writes an empty builder id
    assert p.build_type in (
        "https://mobyproject.org/buildkit@v1",
        "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md",
    )
    assert p.source_repository == "https://example.invalid/lab2.git"
    assert p.source_revision == "9f094d82336f86a5e687eef9053075f701456abe"
    assert p.dockerfile == "Dockerfile"
    assert p.dockerfile_text is not None and p.dockerfile_text.endswith(DOCKERFILE)
    assert p.frontend == "dockerfile.v0"
    assert dict(p.build_args) == ({"GREETING": "hello"})
    [base] = p.materials
    assert base.digest == "sha256:4f45424c057d851ce3e48fa8ef986c7a013505b0505022e336e24dec4363cc99"
    assert base.uri.startswith("pkg:docker/127.0.0.1") and "/probe/app@max" in base.uri
    as_json = p.to_json()
    assert as_json["source"] == {
        "repository": "https://example.invalid/lab2.git",
        "revision": "9f094d82336f86a5e687eef9053075f701456abe",
    }
    assert as_json["slsaVersion"] == version


def test_min_mode_and_missing_fields_read_as_absent() -> None:
    statement = _load("docker28-provenance-v1-max.json")
    metadata = statement["predicate"]["runDetails"]["metadata"]["buildkit_metadata"]
    del metadata["source"]  # min mode records no Dockerfile
    statement["predicate"]["buildDefinition"]["internalParameters"].pop("buildConfig", None)
    p = read_provenance(statement)
    assert (p.mode, p.dockerfile, p.dockerfile_text) == ("min", "Dockerfile", None)
    empty = read_provenance({"predicateType": "https://slsa.dev/provenance/v0.2", "predicate": 7})
    assert (empty.slsa_version, empty.source_revision, empty.materials) == ("v0.2", None, ())


@pytest.mark.parametrize("name", ["docker26-sbom-spdx.json", "docker28-sbom-spdx.json"])
def test_spdx_sbom_from_buildkit_generator(name: str) -> None:
    statement = _load(name)
    assert kind_of(statement["predicateType"]) == "sbom"
    sbom = read_sbom(statement)
    assert (sbom.format, sbom.version, sbom.packages) == ("SPDX", "SPDX-2.3", 1)
    assert sbom.tools == ("polyarch-test-scanner-1.0", "buildkit-v0.0.0+unknown")


def test_cyclonedx_sbom_from_cosign_attest() -> None:
    statement = _load("cosign31-attest-cyclonedx.json")
    sbom = read_sbom(statement)
    assert (sbom.format, sbom.version, sbom.packages) == ("CycloneDX", "1.6", 3)
    assert sbom.tools == ("cyclonedx-py-7.5.0", "cyclonedx-python-lib-11.12.0")


def test_cyclonedx_14_tools_are_a_list() -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "metadata": {"tools": [{"vendor": "anchore", "name": "syft", "version": "0.98.0"}]},
        "components": [{"name": "busybox"}],
    }
    sbom = read_sbom({"predicateType": "https://cyclonedx.org/bom/v1.4", "predicate": bom})
    assert (sbom.version, sbom.packages, sbom.tools) == ("1.4", 1, ("syft-0.98.0",))


def test_material_json() -> None:
    assert Material("git+https://example.invalid/a.git", None).to_json() == {
        "uri": "git+https://example.invalid/a.git",
        "digest": None,
    }
