"""Signing and verification requests, attestation referrers, and what they import (no sockets).

Keys are real cosign key files (tests/data/signing); the keyless trusted root is Sigstore
staging's. An attestation manifest of the older BuildKit form is rewritten into BuildKit
0.32's artifact form with the same layers; one in that form already is kept byte for byte.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from polyarch.content.attestations.referrers import referrer_form
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, parse_manifest
from polyarch.domain.signing.keyless import KeylessPolicy, KeylessUnavailable
from polyarch.errors import InvalidInput
from polyarch.operations.sign import SignRequest, parse_signature_format
from polyarch.operations.verify.request import VerifyRequest

DATA = Path(__file__).resolve().parents[1] / "data" / "signing"
IMAGE = Descriptor(mediatype.OCI_MANIFEST, Digest("sha256:" + "1" * 64), 480)
STATEMENT = Descriptor(
    mediatype.IN_TOTO,
    Digest("sha256:" + "2" * 64),
    2887,
    annotations={"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
)


def _manifest(doc: dict[str, object]) -> ImageManifest:
    manifest = parse_manifest(json.dumps(doc).encode(), mediatype.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    return manifest


def test_the_older_form_is_rewritten_with_its_layers_as_written() -> None:
    layer = {**STATEMENT.to_json(), "x-unknown": "kept"}
    old = _manifest(
        {
            "schemaVersion": 2,
            "mediaType": mediatype.OCI_MANIFEST,
            "config": {"mediaType": mediatype.OCI_CONFIG, "digest": "sha256:" + "3" * 64,
                       "size": 167},
            "layers": [layer],
        }
    )  # fmt: skip
    moved = referrer_form(old, IMAGE)
    assert moved.digest != old.digest
    assert moved.artifact_type == mediatype.DOCKER_ATTESTATION_ARTIFACT
    assert moved.subject == Descriptor(IMAGE.media_type, IMAGE.digest, IMAGE.size)
    assert moved.config.media_type == mediatype.OCI_EMPTY
    assert moved.config.digest == Digest.of(b"{}")
    doc = json.loads(moved.raw)
    assert doc["layers"] == [layer]  # byte-identical descriptors: the same statements
    assert doc["config"]["data"] == "e30="
    assert referrer_form(moved, IMAGE) is moved  # already in the form: kept as it is


def test_an_attestation_naming_another_image_is_never_moved_under_this_one() -> None:
    other = Descriptor(mediatype.OCI_MANIFEST, Digest("sha256:" + "4" * 64), 480)
    artifact = referrer_form(
        _manifest(
            {"schemaVersion": 2, "mediaType": mediatype.OCI_MANIFEST,
             "config": {"mediaType": mediatype.OCI_CONFIG, "digest": "sha256:" + "3" * 64,
                        "size": 2},
             "layers": [STATEMENT.to_json()]}
        ),
        other,
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="names sha256:444444444444 as its subject"):
        referrer_form(artifact, IMAGE)


def test_signature_formats() -> None:
    assert parse_signature_format("both") == "both"
    with pytest.raises(InvalidInput, match="expected one of bundle, legacy, both"):
        parse_signature_format("cosign2")
    request = SignRequest.build(
        "127.0.0.1:5000/app:v1",
        DATA / "cosign31.key",
        password=b"pw-test",
        signature_format="both",
    )
    assert request.forms == ("legacy", "bundle")
    assert SignRequest(request.target, request.key).forms == ("bundle",)


def test_verify_request_reads_keys_and_wants_the_keyless_options_together() -> None:
    request = VerifyRequest.build(
        "127.0.0.1:5000/app:v1", keys=[DATA / "cosign25.pub", str(DATA / "cosign31.pub")]
    )
    assert [k.name for k in request.keys] == ["cosign25.pub", "cosign31.pub"]
    assert request.checks_signatures and request.keyless is None
    assert not VerifyRequest.build("127.0.0.1:5000/app:v1").checks_signatures
    with pytest.raises(InvalidInput, match="trusted_root missing") as exc:
        VerifyRequest.build(
            "127.0.0.1:5000/app:v1",
            certificate_identity="a@example.com",
            certificate_oidc_issuer="https://accounts.google.com",
        )
    assert exc.value.parameter == "trusted_root"
    with pytest.raises(InvalidInput, match="no PUBLIC KEY block"):
        VerifyRequest.build("127.0.0.1:5000/app:v1", keys=[DATA / "cosign31.key"])
    with pytest.raises(InvalidInput, match=r"nope\.pub: no such file"):
        VerifyRequest.build("127.0.0.1:5000/app:v1", keys=[DATA / "nope.pub"])


def test_keyless_without_the_sigstore_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sigstore", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "sigstore.models", None)
    policy = KeylessPolicy(b"{}", "a@example.com", "https://accounts.google.com")
    with pytest.raises(KeylessUnavailable, match="needs the sigstore library") as exc:
        _ = policy.verifier
    assert exc.value.hint == "pip install 'polyarch[keyless]'"


def _loaded(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("command", ["verify", "publish", "release", "sign", "inspect"])
def test_commands_load_no_cryptography_until_a_key_is_used(command: str) -> None:
    """``cryptography`` (~70 ms of imports), PyNaCl and sigstore (~0.4 s) load only when a
    key is read or a keyless signature checked, not for every run of these commands."""
    loaded = _loaded(
        "from polyarch.cli.main import cli\nimport click\n"
        f"cli.get_command(click.Context(cli), {command!r})"
    )
    assert f"polyarch.cli.commands.{command}" in loaded
    for heavy in ("cryptography", "nacl", "sigstore"):
        assert heavy not in loaded, heavy
