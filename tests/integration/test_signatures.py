"""Signatures that verify, both ways, against real cosign 2.5 and 3.1 on a real registry.

polyarch signs (library API: :mod:`polyarch.operations.sign`) with a key pair made by real
``cosign generate-key-pair``; real ``cosign verify --key --insecure-ignore-tlog`` must
accept the index and each platform digest: cosign 3.1 for both storage forms, cosign 2.5
for the tag form (and, measured, it cannot read the bundle form at all). Then the other
way: what real cosign 2.5 and 3.1 sign, polyarch verifies
(:mod:`polyarch.operations.verify.signatures`), and each way a signature can be wrong
fails with its own reason, while real cosign rejects the same forgeries.

The registry is CNCF distribution 2.8 (no referrers API: bundles go to the referrers tag
schema); one test puts the referrers API front (tests/support/referrers_api.py) before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index
from polyarch.domain.signing.keys import PublicKey
from polyarch.operations.sign import SignRequest, sign
from polyarch.operations.verify.signatures import verify_signatures
from polyarch.storage.repository import Repository
from support.images import PushedImage, attestation_entry, push_attestation, push_image, push_index
from support.referrers_api import ReferrersFront
from support.signing import (
    move_bundle,
    move_legacy_signature,
    tamper_bundle,
    tamper_legacy_payload,
)
from support.sigtools import PASSWORD, Cosign

pytestmark = pytest.mark.integration

NO_SIGNATURES = "no signatures found"


@dataclass(frozen=True)
class KeyPair:
    key: Path
    pub: Path

    @property
    def public(self) -> PublicKey:
        return PublicKey.from_pem(self.pub.read_bytes(), name=self.pub.name)


@pytest.fixture(scope="module")
def release_key(cosign3: Cosign) -> KeyPair:
    """The release key pair, made by cosign 3.1's generate-key-pair."""
    return KeyPair(*cosign3.generate_key_pair("release"))


@pytest.fixture(scope="module")
def other_key(cosign2: Cosign) -> KeyPair:
    """Somebody else's key pair, made by cosign 2.5."""
    return KeyPair(*cosign2.generate_key_pair("other"))


@dataclass
class Pushed:
    repo: Repository
    ref: Reference
    index: Index
    images: list[PushedImage]

    def at(self, digest: object) -> str:
        return f"{self.ref.name}@{digest}"

    @property
    def digests(self) -> list[Digest]:
        return [self.index.digest, *(i.digest for i in self.images)]


@pytest.fixture
def pushed(registry: Any, ctx: Context) -> Pushed:
    ref = Reference.parse(f"{registry.host}/sig/r{uuid.uuid4().hex[:8]}")
    repo = ctx.repository(ref)
    index, images = push_index(repo, ["linux/amd64", "linux/arm64"], tag="v1")
    return Pushed(repo, ref, index, images)


def _sign(ctx: Context, target: str, key: KeyPair, fmt: str, **kw: Any) -> Any:
    request = SignRequest.build(
        target, key.key, password=PASSWORD.encode(), signature_format=fmt, **kw
    )
    return sign(request, ctx)


def _rows(p: Pushed, *keys: KeyPair) -> dict[str, Any]:
    rows = verify_signatures(p.repo, p.index, [k.public for k in keys])
    return {r.label: r for r in rows}


# polyarch signs, real cosign verifies --------------------------------------------------------


def test_polyarch_legacy_signatures_verify_with_cosign_25_and_31(
    pushed: Pushed, ctx: Context, release_key: KeyPair, cosign2: Cosign, cosign3: Cosign
) -> None:
    result = _sign(ctx, str(pushed.ref.with_tag("v1")), release_key, "legacy")
    assert [s.kind for s in result.signed] == ["image", "image", "index"]  # children first
    assert {s.stored.listed_by for s in result.signed} == {"cosign-tag"}
    for digest in pushed.digests:
        for cosign in (cosign2, cosign3):
            proc = cosign.verify(pushed.at(digest), release_key.pub)
            assert proc.returncode == 0, (cosign.major, digest, proc.stderr)
            assert str(digest) in proc.stdout  # the payload names it


def test_polyarch_bundles_verify_with_cosign_31_and_not_25(
    pushed: Pushed, ctx: Context, release_key: KeyPair, cosign2: Cosign, cosign3: Cosign
) -> None:
    result = _sign(ctx, str(pushed.ref.with_tag("v1")), release_key, "bundle")
    assert {s.stored.listed_by for s in result.signed} == {"tag-schema"}  # distribution 2.8
    for digest in pushed.digests:
        proc = cosign3.verify(pushed.at(digest), release_key.pub)
        assert proc.returncode == 0, (digest, proc.stderr)
        assert "https://sigstore.dev/cosign/sign/v1" in proc.stdout
    # Measured: cosign 2.5 does not read cosign 3's bundle form, even cosign 3.1's own.
    old = cosign2.verify(pushed.at(pushed.index.digest), release_key.pub)
    assert old.returncode != 0 and NO_SIGNATURES in old.stderr
    # oras 1.3 lists each signature as a referrer of the image it signs.
    found = cosign3.discover(pushed.at(pushed.images[0].digest))
    assert [r["artifactType"] for r in found] == ["application/vnd.dev.sigstore.bundle.v0.3+json"]


def test_signing_twice_writes_nothing_new(
    pushed: Pushed, ctx: Context, release_key: KeyPair
) -> None:
    ref = str(pushed.ref.with_tag("v1"))
    _sign(ctx, ref, release_key, "legacy")
    again = _sign(ctx, ref, release_key, "legacy")
    assert {s.stored.status for s in again.signed} == {"present"}


def test_a_second_key_adds_a_signature_and_keeps_the_first(
    pushed: Pushed, ctx: Context, release_key: KeyPair, other_key: KeyPair, cosign2: Cosign
) -> None:
    ref = str(pushed.ref.with_tag("v1"))
    cosign2.sign(pushed.at(pushed.index.digest), other_key.key)  # cosign's own .sig first
    _sign(ctx, ref, release_key, "legacy")
    for key in (release_key, other_key):
        proc = cosign2.verify(pushed.at(pushed.index.digest), key.pub)
        assert proc.returncode == 0, proc.stderr


def test_bundles_through_the_referrers_api(
    registry2: Any, release_key: KeyPair, cosign3: Cosign
) -> None:
    front = ReferrersFront(registry2.url, page_size=1).start()
    try:
        with Context() as ctx:
            ref = Reference.parse(f"{front.host}/api/r{uuid.uuid4().hex[:8]}")
            repo = ctx.repository(ref)
            index, images = push_index(repo, ["linux/amd64", "linux/arm64"], tag="v1")
            result = _sign(ctx, str(ref.with_tag("v1")), release_key, "bundle")
            assert {s.stored.listed_by for s in result.signed} == {"api"}
            assert not [t for t in repo.list_tags() if t.startswith("sha256-")]
        for digest in [index.digest, *(i.digest for i in images)]:
            proc = cosign3.verify(f"{ref.name}@{digest}", release_key.pub)
            assert proc.returncode == 0, proc.stderr
    finally:
        front.stop()


def test_recursive_signs_attestation_manifests_as_cosign_does(
    registry: Any, ctx: Context, release_key: KeyPair, cosign3: Cosign
) -> None:
    """A BuildKit index: images and their unknown/unknown attestation manifests."""
    ref = Reference.parse(f"{registry.host}/sig/bk{uuid.uuid4().hex[:8]}")
    repo = ctx.repository(ref)
    image = push_image(repo, "linux/amd64")
    attestation = push_attestation(repo, image.manifest)
    from polyarch.domain.manifest import build_index

    index = build_index(
        [image.manifest.descriptor(image.platform), attestation_entry(attestation, image.digest)]
    )
    repo.put_manifest(index, "v1")
    result = _sign(ctx, str(ref.with_tag("v1")), release_key, "bundle")
    assert [s.kind for s in result.signed] == ["image", "attestation", "index"]
    proc = cosign3.verify(f"{ref.name}@{attestation.digest}", release_key.pub)
    assert proc.returncode == 0, proc.stderr


# real cosign signs, polyarch verifies --------------------------------------------------------


@pytest.mark.parametrize(
    ("major", "legacy"), [(2, True), (3, True), (3, False)], ids=["2.5", "3.1-legacy", "3.1-bundle"]
)
def test_polyarch_verifies_what_cosign_signed(
    pushed: Pushed,
    release_key: KeyPair,
    cosign2: Cosign,
    cosign3: Cosign,
    major: int,
    legacy: bool,
) -> None:
    cosign = cosign2 if major == 2 else cosign3
    proc = cosign.sign(pushed.at(pushed.index.digest), release_key.key, legacy=legacy)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(pushed, release_key)
    assert set(rows) == {"index", "linux/amd64", "linux/arm64"}
    form = "legacy" if legacy else "bundle"
    for label, row in rows.items():
        assert row.ok, (label, row.message)
        assert row.verdict.forms == (form,)
        assert row.message == f"signed by release.pub ({form} form)"


# failures: each its own reason; real cosign rejects the same ---------------------------------


def test_missing_signatures_fail(pushed: Pushed, release_key: KeyPair, cosign3: Cosign) -> None:
    rows = _rows(pushed, release_key)
    assert {r.verdict.reason for r in rows.values()} == {"missing"}
    assert rows["index"].message == f"no signature of {pushed.index.digest.short}"
    proc = cosign3.verify(pushed.at(pushed.index.digest), release_key.pub)
    assert proc.returncode != 0


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "bundle"])
def test_wrong_key_fails(
    pushed: Pushed, release_key: KeyPair, other_key: KeyPair, cosign3: Cosign, legacy: bool
) -> None:
    assert (
        cosign3.sign(pushed.at(pushed.index.digest), other_key.key, legacy=legacy).returncode == 0
    )
    rows = _rows(pushed, release_key)
    assert {r.verdict.reason for r in rows.values()} == {"wrong-key"}
    if not legacy:
        assert "made with another key (hint " in rows["index"].message
    # Any of several keys: adding the signer's key makes every row pass.
    assert all(r.ok for r in _rows(pushed, release_key, other_key).values())
    assert cosign3.verify(pushed.at(pushed.index.digest), release_key.pub).returncode != 0


def test_tampered_legacy_payload_fails(
    pushed: Pushed, release_key: KeyPair, cosign2: Cosign, cosign3: Cosign
) -> None:
    assert (
        cosign3.sign(pushed.at(pushed.index.digest), release_key.key, legacy=True).returncode == 0
    )
    tamper_legacy_payload(pushed.repo, pushed.index.digest)
    rows = _rows(pushed, release_key)
    index = rows["index"]
    assert not index.ok and index.verdict.reason == "wrong-key"
    assert "or the payload changed after signing" in index.message
    assert rows["linux/amd64"].ok  # only the index's signature was touched
    for cosign in (cosign2, cosign3):
        assert cosign.verify(pushed.at(pushed.index.digest), release_key.pub).returncode != 0


def test_tampered_bundle_fails_as_tampered(
    pushed: Pushed, release_key: KeyPair, cosign3: Cosign
) -> None:
    assert cosign3.sign(pushed.at(pushed.index.digest), release_key.key).returncode == 0
    tamper_bundle(pushed.repo, pushed.index.digest)
    index = _rows(pushed, release_key)["index"]
    assert index.verdict.reason == "tampered", index.message
    assert "made with release.pub (its key hint) but the signature does not verify" in index.message
    assert cosign3.verify(pushed.at(pushed.index.digest), release_key.pub).returncode != 0


def test_signature_for_another_digest_fails(
    pushed: Pushed, release_key: KeyPair, cosign2: Cosign, cosign3: Cosign
) -> None:
    amd64, arm64 = pushed.images
    assert cosign3.sign(pushed.at(amd64.digest), release_key.key, recursive=False).returncode == 0
    assert (
        cosign2.sign(pushed.at(amd64.digest), release_key.key, recursive=False).returncode == 0
    )  # the legacy form too
    move_legacy_signature(pushed.repo, amd64.digest, arm64.digest)
    move_bundle(pushed.repo, amd64.digest, arm64.manifest.descriptor())
    row = _rows(pushed, release_key)["linux/arm64"]
    assert row.verdict.reason == "other-digest", row.message
    assert f"signed by release.pub, but for {amd64.digest.short}" in row.message
    assert cosign3.verify(pushed.at(arm64.digest), release_key.pub).returncode != 0
    assert cosign2.verify(pushed.at(arm64.digest), release_key.pub).returncode != 0


def test_index_only_signed_fails_per_image(
    pushed: Pushed, release_key: KeyPair, cosign3: Cosign
) -> None:
    proc = cosign3.sign(pushed.at(pushed.index.digest), release_key.key, recursive=False)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(pushed, release_key)
    assert rows["index"].ok
    for platform in ("linux/amd64", "linux/arm64"):
        assert not rows[platform].ok
        assert rows[platform].message.startswith("the index is signed but this image")


# the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    yield


def test_cli_sign_then_cosign_verifies(
    pushed: Pushed, release_key: KeyPair, cosign3: Cosign, cli_env: None
) -> None:
    from support.cli import run_cli

    cli = run_cli("sign", "--json", "--key", str(release_key.key), str(pushed.ref.with_tag("v1")))
    assert cli.code == 0, cli.err
    assert len(cli.json()["signed"]) == 3
    for digest in pushed.digests:
        assert cosign3.verify(pushed.at(digest), release_key.pub).returncode == 0


def test_cli_verify_key_adds_a_signatures_row_per_platform(
    pushed: Pushed, release_key: KeyPair, cosign3: Cosign
) -> None:
    from support.cli import run_cli

    assert cosign3.sign(pushed.at(pushed.index.digest), release_key.key).returncode == 0
    ok = run_cli("verify", "--json", "--key", str(release_key.pub), str(pushed.ref.with_tag("v1")))
    assert ok.code == 0, ok.out + ok.err
    rows = [c for c in ok.json()["checks"] if c["check"] == "signatures"]
    assert {c["platform"]: c["status"] for c in rows} == {
        None: "pass",
        "linux/amd64": "pass",
        "linux/arm64": "pass",
    }


@pytest.mark.parametrize("fmt", ["bundle", "legacy"])
def test_sign_and_verify_in_an_oci_layout(
    tmp_path: Path, ctx: Context, release_key: KeyPair, fmt: str
) -> None:
    """The same code through the other Repository backend (no referrers API: tag schema)."""
    from polyarch.domain.location import parse_location

    location = parse_location(f"oci:{tmp_path / 'layout'}:v1")
    repo = ctx.repository(location)
    index, _ = push_index(repo, ["linux/amd64", "linux/arm64"], tag="v1")
    result = _sign(ctx, str(location), release_key, fmt)
    assert len(result.signed) == 3
    rows = verify_signatures(repo, index, [release_key.public])
    assert [r.ok for r in rows] == [True, True, True], [r.message for r in rows]


def test_with_both_forms_cosign_31_reads_only_the_bundles(
    pushed: Pushed, ctx: Context, release_key: KeyPair, other_key: KeyPair, cosign3: Cosign
) -> None:
    """Measured: a bundle by one key hides a valid .sig by another from cosign 3.1; polyarch
    counts a valid signature in either form."""
    digest = pushed.index.digest
    assert cosign3.sign(pushed.at(digest), other_key.key, recursive=False).returncode == 0
    _sign(ctx, pushed.at(digest), release_key, "legacy", recursive=False)
    assert cosign3.verify(pushed.at(digest), release_key.pub).returncode != 0
    assert cosign3.verify(pushed.at(digest), other_key.pub).returncode == 0
    rows = _rows(pushed, release_key)
    assert rows["index"].ok and rows["index"].verdict.forms == ("legacy",)
