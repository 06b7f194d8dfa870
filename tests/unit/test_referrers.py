"""Referrers on real OCI layouts (no sockets): naming, tag schema merge, cosign merge, verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, VerifyRequest, verify
from polyarch.content.referrers.carry import ReferrersLostUpdate, carry_referrers
from polyarch.content.referrers.discovery import cosign_tag, discover_referrers
from polyarch.content.transfer import Transfer
from polyarch.domain import mediatype as mt
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, Manifest, parse_manifest
from polyarch.errors import Denied, InvalidInput, InvalidManifest
from polyarch.operations.verify.request import parse_required_referrers
from polyarch.storage.layout.repository import LayoutRepository
from polyarch.storage.referrers_tag import referrers_tag
from support.images import PushedImage, push_blob, push_index

SBOM = "application/spdx+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


@pytest.mark.parametrize(
    ("digest", "tag"),
    [
        ("sha256:" + "a" * 64, "sha256-" + "a" * 64),
        ("sha512:" + "a" * 128, "sha512-" + "a" * 64),
        (
            "test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise"
            "+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLots"
            "AndLotsOfCharactersToExcerciseEncodedTruncation",
            "test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphen"
            "ReplacementAndLotsAndLot",
        ),
    ],
)
def test_referrers_tag_follows_the_spec_examples(digest: str, tag: str) -> None:
    """The three examples of the distribution spec's "Referrers Tag Schema" table."""
    assert referrers_tag(digest) == tag


def _artifact(
    repo: LayoutRepository, subject: Manifest, artifact_type: str, payload: bytes
) -> ImageManifest:
    """An OCI 1.1 artifact (empty config) whose subject is ``subject``, pushed by digest."""
    empty = push_blob(repo, mt.OCI_EMPTY, b"{}")
    layer = push_blob(repo, artifact_type, payload)
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": empty.to_json(),
        "layers": [layer.to_json()],
        "subject": {
            "mediaType": subject.media_type,
            "digest": str(subject.digest),
            "size": subject.size,
        },
    }
    manifest = parse_manifest(json.dumps(doc).encode(), mt.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest)
    return manifest


def _list_in_tag_schema(repo: LayoutRepository, subject: Digest, *entries: Manifest) -> Index:
    """Write the referrers tag schema index of ``subject`` as oras would (plus an extra field)."""
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": m.media_type,
                "digest": str(m.digest),
                "size": m.size,
                "artifactType": m.artifact_type,
                "x-unknown-field": "kept",
            }
            for m in entries
        ],
    }
    index = parse_manifest(json.dumps(doc).encode(), mt.OCI_INDEX)
    assert isinstance(index, Index)
    repo.put_manifest(index, referrers_tag(subject))
    return index


def _cosign(repo: LayoutRepository, subject: Digest, signature: str) -> ImageManifest:
    """A cosign ``.sig`` manifest: simple signing payload naming ``subject``, under its tag."""
    payload = json.dumps(
        {"critical": {"image": {"docker-manifest-digest": str(subject)}, "type": "cosign"}}
    ).encode()
    config = push_blob(repo, mt.OCI_CONFIG, b'{"architecture":"","os":""}')
    layer = push_blob(repo, SIMPLE_SIGNING, payload)
    layer_json = {
        **layer.to_json(),
        "annotations": {"dev.cosignproject.cosign/signature": signature},
    }
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": config.to_json(),
        "layers": [layer_json],
    }
    manifest = parse_manifest(json.dumps(doc).encode(), mt.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest, cosign_tag(subject, "sig"))
    return manifest


@pytest.fixture
def signed(tmp_path: Path) -> tuple[LayoutRepository, Index, list[PushedImage], ImageManifest]:
    """An index whose amd64 image has an SBOM (tag schema) and a cosign signature."""
    repo = LayoutRepository(tmp_path / "src")
    index, images = push_index(repo, ["linux/amd64", "linux/arm64"], tag="v1")
    sbom = _artifact(repo, images[0].manifest, SBOM, b'{"spdxVersion":"SPDX-2.3"}')
    _list_in_tag_schema(repo, images[0].digest, sbom)
    _cosign(repo, images[0].digest, "MEUCIQ-source")
    return repo, index, images, sbom


def test_carry_merges_into_an_existing_tag_schema_index(
    tmp_path: Path, signed: tuple[LayoutRepository, Index, list[PushedImage], ImageManifest]
) -> None:
    """The destination's own referrers stay listed, byte for byte; ours are added."""
    src, _, images, sbom = signed
    dest = LayoutRepository(tmp_path / "dest")
    push_index(dest, ["linux/amd64", "linux/arm64"], tag="v1")
    theirs = _artifact(dest, images[0].manifest, "application/vnd.example+json", b"theirs")
    _list_in_tag_schema(dest, images[0].digest, theirs)

    trees = discover_referrers(src, [images[0].digest])
    carried = carry_referrers(Transfer(), src, dest, trees)
    assert {(c.form, c.status) for c in carried} == {("subject", "pushed"), ("cosign", "pushed")}

    merged = dest.get_manifest(referrers_tag(images[0].digest))
    assert isinstance(merged, Index)
    assert [d.digest for d in merged.manifests] == [theirs.digest, sbom.digest]
    assert json.loads(merged.raw)["manifests"][0]["x-unknown-field"] == "kept"
    assert dest.get_manifest(str(sbom.digest)).raw == sbom.raw  # digest never changes
    # Carrying again changes nothing.
    again = carry_referrers(Transfer(), src, dest, trees)
    assert {c.status for c in again} == {"present"}
    assert dest.get_manifest(referrers_tag(images[0].digest)).digest == merged.digest


class _RacingLayout(LayoutRepository):
    """A layout where another writer replaces the referrers tag right after each of our writes.

    The registry API has no compare-and-swap, so this race is real; a real registry
    cannot be made to lose it deterministically, hence this one subclass.
    """

    def __init__(self, path: Path, rival: Index, times: int) -> None:
        super().__init__(path)
        self.rival = rival
        self.times = times

    def put_manifest(self, manifest: Manifest, tag: str | None = None) -> None:
        super().put_manifest(manifest, tag)
        if tag is not None and tag.startswith("sha256-") and self.times > 0:
            self.times -= 1
            super().put_manifest(self.rival, tag)


@pytest.mark.parametrize("times", [1, 100], ids=["once", "always"])
def test_tag_schema_lost_update_is_detected(
    tmp_path: Path,
    signed: tuple[LayoutRepository, Index, list[PushedImage], ImageManifest],
    times: int,
) -> None:
    src, _, images, sbom = signed
    rival_repo = LayoutRepository(tmp_path / "rival")
    push_index(rival_repo, ["linux/amd64"], tag="x")
    rival_art = _artifact(rival_repo, images[0].manifest, "application/x", b"rival")
    rival = _list_in_tag_schema(rival_repo, images[0].digest, rival_art)
    dest = _RacingLayout(tmp_path / "dest", rival, times)
    push_index(dest, ["linux/amd64", "linux/arm64"], tag="v1")
    trees = discover_referrers(src, [images[0].digest])
    if times > 1:
        with pytest.raises(ReferrersLostUpdate, match="concurrent writers"):
            carry_referrers(Transfer(), src, dest, trees)
        return
    carry_referrers(Transfer(), src, dest, trees)
    final = dest.get_manifest(referrers_tag(images[0].digest))
    assert isinstance(final, Index)
    # Our entry survived the overwrite, and the rival's entry was kept by the merge.
    assert {d.digest for d in final.manifests} == {rival_art.digest, sbom.digest}


def test_cosign_signatures_merge_like_cosign_does(
    tmp_path: Path, signed: tuple[LayoutRepository, Index, list[PushedImage], ImageManifest]
) -> None:
    """A destination already signed keeps its signature and gains ours (layers merged)."""
    src, _, images, _ = signed
    dest = LayoutRepository(tmp_path / "dest")
    push_index(dest, ["linux/amd64", "linux/arm64"], tag="v1")
    theirs = _cosign(dest, images[0].digest, "MEUCIQ-destination")
    trees = discover_referrers(src, [images[0].digest])
    carried = carry_referrers(Transfer(), src, dest, trees)
    assert [c.status for c in carried if c.form == "cosign"] == ["merged"]
    merged = dest.get_manifest(cosign_tag(images[0].digest, "sig"))
    assert isinstance(merged, ImageManifest)
    signatures = [
        layer.annotations["dev.cosignproject.cosign/signature"] for layer in merged.layers
    ]
    assert signatures == ["MEUCIQ-destination", "MEUCIQ-source"]
    assert merged.layers[0] == theirs.layers[0]
    for layer in merged.layers:
        assert dest.blob_size(layer.digest) == layer.size


def test_dry_run_writes_nothing(
    tmp_path: Path, signed: tuple[LayoutRepository, Index, list[PushedImage], ImageManifest]
) -> None:
    src, _, images, _ = signed
    dest = LayoutRepository(tmp_path / "dest")
    push_index(dest, ["linux/amd64", "linux/arm64"], tag="v1")
    before = sorted(dest.list_tags())
    carried = carry_referrers(
        Transfer(dry_run=True), src, dest, discover_referrers(src, [images[0].digest])
    )
    assert {c.status for c in carried} == {"would-push"}
    assert sorted(dest.list_tags()) == before


def test_a_stale_tag_schema_entry_is_not_a_referrer(
    tmp_path: Path, signed: tuple[LayoutRepository, Index, list[PushedImage], ImageManifest]
) -> None:
    """Listed under arm64's tag but its subject is amd64: discovery drops it, verify fails it."""
    src, _, images, sbom = signed
    _list_in_tag_schema(src, images[1].digest, sbom)
    assert discover_referrers(src, [images[1].digest])[images[1].digest] == ()
    with Context() as ctx:
        report = verify(
            VerifyRequest.build(f"oci:{tmp_path / 'src'}:v1", require_referrers=[SBOM]), ctx
        )
    lines = {
        c.platform: (c.status.value, c.message) for c in report.checks if c.check == "referrers"
    }
    assert lines["linux/amd64"][0] == "pass"
    assert lines["linux/arm64"][0] == "fail"
    assert "none names" in lines["linux/arm64"][1]


def test_verify_checks_that_a_cosign_signature_names_the_image(
    tmp_path: Path, signed: tuple[LayoutRepository, Index, list[PushedImage], ImageManifest]
) -> None:
    """A ``.sig`` whose payload names another digest (copied under the wrong tag) fails."""
    src, _, images, _ = signed
    wrong = src.get_manifest(cosign_tag(images[0].digest, "sig"))
    src.put_manifest(wrong, cosign_tag(images[1].digest, "sig"))
    with Context() as ctx:
        report = verify(
            VerifyRequest.build(f"oci:{tmp_path / 'src'}:v1", require_referrers=[SIMPLE_SIGNING]),
            ctx,
        )
    lines = {c.platform: c.status.value for c in report.checks if c.check == "referrers"}
    assert lines == {"linux/amd64": "pass", "linux/arm64": "fail"}


@pytest.mark.parametrize("value", ["", "index:", "a b", "index: x"])
def test_require_referrer_needs_an_artifact_type(value: str) -> None:
    with pytest.raises(InvalidInput, match="required referrer"):
        parse_required_referrers([value])


class _NoTagList(LayoutRepository):
    """A repository whose tag list is refused, as some registries' policies do."""

    def list_tags(self) -> list[str]:
        raise Denied("listing tags is not allowed here")


def test_cosign_tags_are_found_without_a_tag_list(
    tmp_path: Path, signed: tuple[LayoutRepository, Index, list[PushedImage], ImageManifest]
) -> None:
    _, _, images, sbom = signed
    trees = discover_referrers(_NoTagList(tmp_path / "src"), [images[0].digest])
    forms = sorted((r.form, str(r.digest)) for r in trees[images[0].digest])
    assert [f for f, _ in forms] == ["cosign", "subject"]
    assert str(sbom.digest) in [d for _, d in forms]


def test_a_listed_referrer_that_is_gone_is_skipped(
    tmp_path: Path, signed: tuple[LayoutRepository, Index, list[PushedImage], ImageManifest]
) -> None:
    """A referrer deleted without updating the tag schema (the spec leaves that to clients)."""
    src, _, images, sbom = signed
    gone = _artifact(LayoutRepository(tmp_path / "elsewhere"), images[0].manifest, SBOM, b"x")
    _list_in_tag_schema(src, images[0].digest, sbom, gone)
    found = discover_referrers(src, [images[0].digest])[images[0].digest]
    assert [r.digest for r in found if r.form == "subject"] == [sbom.digest]


def test_an_unreadable_referrer_fails_naming_it(
    tmp_path: Path, signed: tuple[LayoutRepository, Index, list[PushedImage], ImageManifest]
) -> None:
    """An ORAS artifact manifest (pre-1.1 draft media type) is not silently left behind."""
    src, _, images, _ = signed
    draft = "application/vnd.oci.artifact.manifest.v1+json"
    raw = json.dumps(
        {
            "mediaType": draft,
            "artifactType": SBOM,
            "blobs": [],
            "subject": images[0].manifest.descriptor().to_json(),
        }
    ).encode()
    listed = push_blob(src, draft, raw)
    doc = json.loads(src.get_manifest(referrers_tag(images[0].digest)).raw)
    doc["manifests"].append({**listed.to_json(), "artifactType": SBOM})
    index = parse_manifest(json.dumps(doc).encode(), mt.OCI_INDEX)
    src.put_manifest(index, referrers_tag(images[0].digest))
    with pytest.raises(InvalidManifest, match=f"referrer {listed.digest}") as caught:
        discover_referrers(src, [images[0].digest])
    assert (
        "leave the referrers behind" in caught.value.one_line()
        and caught.value.parameter == "referrers"
    )
