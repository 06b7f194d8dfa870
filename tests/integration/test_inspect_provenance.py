"""``inspect --provenance`` / ``--sbom``: what a reviewer asks of each platform.

Read from in-index attestations (both BuildKit forms: the older dummy-config manifest with
SLSA v0.2, BuildKit 0.32's OCI artifact with SLSA v1) and, after ``--attestations
referrers``, from referrers alike. Real Docker 26 / 28.5 builds with
``--provenance=mode=max`` are the e2e tier's (tests/e2e/test_attestations.py); these use
the same shapes pushed through the library.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.domain.manifest import build_index
from support.attestation_artifacts import SLSA_V1, push_buildkit_index
from support.cli import run_cli
from support.images import attestation_entry, push_attestation, push_image

pytestmark = pytest.mark.integration


def test_provenance_of_both_forms_per_platform(registry: Any, ctx: Context) -> None:
    ref = Reference.parse(f"{registry.host}/prov/r{uuid.uuid4().hex[:8]}")
    repo = ctx.repository(ref)
    # linux/arm64: the older form, SLSA v0.2, revision recorded by BuildKit's vcs metadata.
    old = push_image(repo, "linux/arm64")
    old_att = push_attestation(repo, old.manifest, source="c0ffee")
    # linux/amd64: BuildKit 0.32's artifact form, SLSA v1.
    _, [new], [new_att] = push_buildkit_index(repo, ["linux/amd64"], tag="tmp")
    entries = [
        new.manifest.descriptor(new.platform),
        old.manifest.descriptor(old.platform),
        attestation_entry(new_att, new.digest),
        attestation_entry(old_att, old.digest),
    ]
    repo.put_manifest(build_index(entries), "v1")
    cli = run_cli("inspect", "--provenance", "--json", f"{ref}:v1")
    assert cli.code == 0, cli.err
    prov = {p["platform"]: p for p in cli.json()["provenance"]}
    assert prov["linux/amd64"]["predicateType"] == SLSA_V1
    assert prov["linux/arm64"]["predicateType"] == "https://slsa.dev/provenance/v0.2"
    assert prov["linux/arm64"]["buildType"] == "https://mobyproject.org/buildkit@v1"
    assert prov["linux/arm64"]["source"]["revision"] == "c0ffee"
    human = run_cli("inspect", "--provenance", f"{ref}:v1")
    assert human.code == 0 and "c0ffee" in human.out


def test_sbom_without_any_says_so_per_platform(registry: Any, ctx: Context) -> None:
    ref = Reference.parse(f"{registry.host}/prov/s{uuid.uuid4().hex[:8]}")
    push_buildkit_index(ctx.repository(ref), ["linux/amd64"], tag="v1")
    cli = run_cli("inspect", "--sbom", "--json", f"{ref}:v1")
    assert cli.code == 0, cli.err
    [entry] = cli.json()["sbom"]
    assert (entry["platform"], entry["sboms"], entry["problems"]) == ("linux/amd64", [], [])


def test_the_same_provenance_from_referrers(registry: Any, ctx: Context) -> None:
    ref = Reference.parse(f"{registry.host}/prov/m{uuid.uuid4().hex[:8]}")
    repo = ctx.repository(ref)
    image = push_image(repo, "linux/arm64")
    attestation = push_attestation(repo, image.manifest, source="c0ffee")
    entries = [
        image.manifest.descriptor(image.platform),
        attestation_entry(attestation, image.digest),
    ]
    repo.put_manifest(build_index(entries), "v1")
    moved = run_cli("copy", "--attestations", "referrers", f"{ref}:v1", f"{ref}:moved")
    assert moved.code == 0, moved.err
    before = run_cli("inspect", "--provenance", "--json", f"{ref}:v1").json()["provenance"]
    after = run_cli("inspect", "--provenance", "--json", f"{ref}:moved").json()["provenance"]
    assert [p["where"] for p in before] == ["index"]
    assert [p["where"] for p in after] == ["referrer"]  # the index holds no attestation now
    assert after[0]["attestation"] != before[0]["attestation"]  # the older form, rewritten
    ignore = {"where", "attestation"}
    assert [{k: v for k, v in p.items() if k not in ignore} for p in after] == [
        {k: v for k, v in p.items() if k not in ignore} for p in before
    ]
    assert after[0]["source"]["revision"] == "c0ffee"
