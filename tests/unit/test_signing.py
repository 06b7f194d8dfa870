"""Signing formats and their cryptography, checked against real cosign output.

The fixtures in tests/data/signing were written by real cosign 2.5 and 3.1 (their README
says how): polyarch must read their key files, produce their payloads byte for byte,
verify their signatures, and judge each way a signature can be wrong.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, parse_manifest
from polyarch.domain.signing.bundle import (
    BUNDLE_V03,
    EMPTY_CONFIG,
    bundle_layer,
    bundle_manifest,
    make_bundle,
    parse_bundle,
)
from polyarch.domain.signing.check import Candidate, judge
from polyarch.domain.signing.keys import (
    KeyFileError,
    PrivateKey,
    PublicKey,
    WrongPassword,
    generate_key_pair,
)
from polyarch.domain.signing.legacy import (
    CERTIFICATE_ANNOTATION,
    SignatureLayer,
    signature_layers,
    signature_manifest,
)
from polyarch.domain.signing.payload import (
    IN_TOTO_PAYLOAD_TYPE,
    InvalidPayload,
    pae,
    parse_simple_signing,
    parse_statement,
    sign_statement,
    simple_signing_payload,
)
from polyarch.errors import DigestMismatch

DATA = Path(__file__).resolve().parents[1] / "data" / "signing"
PASSWORD = b"pw-test"
#: The index every fixture signs (support.images.push_index, reproducible).
INDEX = Digest("sha256:777c87a49f29127a9eaaf8d07f4f992dc4f494fd2b454d8c1b116bff6d5e1b4c")
OTHER = Digest("sha256:" + "0" * 64)


def _read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _pub(version: str) -> PublicKey:
    return PublicKey.from_pem(_read(f"cosign{version}.pub"), name=f"cosign{version}.pub")


def _sig_manifest(version: str) -> ImageManifest:
    m = parse_manifest(_read(f"cosign{version}-sig-manifest.json"))
    assert isinstance(m, ImageManifest)
    return m


def _legacy(version: str) -> Candidate:
    [layer] = signature_layers(_sig_manifest(version))
    return Candidate.legacy(layer, _read(f"cosign{version}-payload.json"), "sig layer 1")


# keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["25", "31"])
def test_reads_cosign_key_pairs(version: str) -> None:
    key = PrivateKey.from_pem(_read(f"cosign{version}.key"), PASSWORD, name="k")
    assert key.public_key.der == _pub(version).der


def test_wrong_password_is_one_clear_line_without_the_password() -> None:
    with pytest.raises(WrongPassword) as caught:
        PrivateKey.from_pem(_read("cosign31.key"), b"not-the-password", name="cosign.key")
    assert caught.value.exit_code == 2
    assert "not-the-password" not in caught.value.one_line()
    assert caught.value.one_line() == (
        "cosign.key did not decrypt with the password given "
        "(set COSIGN_PASSWORD to the password the key pair was made with)"
    )
    with pytest.raises(WrongPassword, match="no password was given"):
        PrivateKey.from_pem(_read("cosign31.key"), None, name="cosign.key")


def test_the_public_key_given_where_the_private_one_is_needed() -> None:
    with pytest.raises(KeyFileError, match="no private key PEM block"):
        PrivateKey.from_pem(_read("cosign31.pub"), PASSWORD)
    with pytest.raises(KeyFileError, match="no PUBLIC KEY block"):
        PublicKey.from_pem(_read("cosign31.key"))
    with pytest.raises(KeyFileError, match="no PEM block"):
        PublicKey.from_pem(b"not a key")


def test_scrypt_parameters_outside_cosigns_are_refused_before_any_work() -> None:
    lines = _read("cosign31.key").decode().splitlines()
    doc = json.loads(base64.b64decode("".join(lines[1:-1])))
    doc["kdf"]["params"]["N"] = 2**30  # 128 GiB of memory
    body = base64.b64encode(json.dumps(doc).encode()).decode()
    pem = f"{lines[0]}\n{body}\n{lines[-1]}\n".encode()
    with pytest.raises(KeyFileError, match="scrypt parameters"):
        PrivateKey.from_pem(pem, PASSWORD)


def test_keys_other_than_p256_are_named() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = p384.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFileError, match="an ECDSA secp384r1 key"):
        PublicKey.from_pem(pem)
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyFileError, match="RSAPublicKey key"):
        PublicKey.from_pem(rsa_pem)


def test_generated_pairs_have_cosigns_format_and_round_trip() -> None:
    private, public = generate_key_pair(b"secret")
    assert private.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    body = base64.b64decode(b"".join(private.splitlines()[1:-1]))
    doc = json.loads(body)
    assert doc["kdf"]["name"] == "scrypt" and doc["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}
    assert doc["cipher"]["name"] == "nacl/secretbox"
    key = PrivateKey.from_pem(private, b"secret")
    assert key.public_key.der == PublicKey.from_pem(public).der
    assert key.public_key.verify(b"data", key.sign(b"data"))
    assert not key.public_key.verify(b"datA", key.sign(b"data"))


def test_unencrypted_pkcs8_and_sec1_keys_are_read() -> None:
    raw = ec.generate_private_key(ec.SECP256R1())
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        pem = raw.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        assert PrivateKey.from_pem(pem, None).public_key.der == PublicKey(raw.public_key()).der


def test_key_hint_is_what_cosign_3_writes() -> None:
    bundle = parse_bundle(_read("cosign31-bundle.json"))
    assert bundle.key_hint == _pub("31").hint


# payloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["25", "31"])
def test_simple_signing_payload_is_cosigns_byte_for_byte(version: str) -> None:
    real = _read(f"cosign{version}-payload.json")
    parsed = parse_simple_signing(real)
    assert parsed.digest == INDEX
    assert simple_signing_payload(parsed.reference, INDEX) == real


def test_statement_is_cosign_3s_byte_for_byte() -> None:
    bundle = parse_bundle(_read("cosign31-bundle.json"))
    assert bundle.payload_type == IN_TOTO_PAYLOAD_TYPE
    assert sign_statement(INDEX) == bundle.payload
    assert parse_statement(bundle.payload).digests == (INDEX,)


def test_annotations_are_escaped_as_go_does() -> None:
    raw = simple_signing_payload("r/x", INDEX, {"b": "<&>", "a": "1"})
    assert b'"optional":{"a":"1","b":"\\u003c\\u0026\\u003e"}' in raw
    assert parse_simple_signing(raw).optional == {"a": "1", "b": "<&>"}


def test_payloads_cosign_would_refuse_are_refused() -> None:
    other_type = json.dumps({"critical": {"type": "atomic container signature"}}).encode()
    with pytest.raises(InvalidPayload, match="not a cosign signature"):
        parse_simple_signing(other_type)
    with pytest.raises(InvalidPayload, match="not JSON"):
        parse_simple_signing(b"{")


# forms ------------------------------------------------------------------------------------


def test_legacy_config_is_cosigns_byte_for_byte() -> None:
    real = _sig_manifest("25")
    config, raw = signature_manifest(real.layers)
    assert Digest.of(config) == real.config.digest
    assert json.loads(raw)["layers"] == json.loads(real.raw)["layers"]


def test_adding_a_signature_keeps_the_others_byte_for_byte() -> None:
    real = _sig_manifest("25")
    new = SignatureLayer.make(b'{"x":1}', b"sig").descriptor
    config, raw = signature_manifest([new], real)
    doc = json.loads(raw)
    assert doc["layers"][0] == json.loads(real.raw)["layers"][0]
    assert doc["layers"][1]["digest"] == str(new.digest)
    assert json.loads(config)["rootfs"]["diff_ids"] == [str(real.layers[0].digest), str(new.digest)]
    # The same signature again changes nothing.
    assert signature_manifest(real.layers, real) == (b"", real.raw)


def test_bundle_manifest_is_what_cosign_3_writes() -> None:
    real = json.loads(_read("cosign31-bundle-manifest.json"))
    layer = bundle_layer(_read("cosign31-bundle.json"))
    subject = parse_manifest(_read("cosign31-bundle-manifest.json"))
    assert isinstance(subject, ImageManifest) and subject.subject is not None
    ours = json.loads(
        bundle_manifest(
            subject.subject, layer, created=real["annotations"]["org.opencontainers.image.created"]
        )
    )
    assert ours == real
    assert ours["config"]["digest"] == str(Digest.of(EMPTY_CONFIG))


def test_made_bundles_parse_and_verify() -> None:
    key = PrivateKey.from_pem(_read("cosign31.key"), PASSWORD, name="k")
    statement = sign_statement(INDEX)
    raw = make_bundle(
        statement, key.sign(pae(IN_TOTO_PAYLOAD_TYPE, statement)), key.public_key.hint
    )
    bundle = parse_bundle(raw)
    assert bundle.media_type == BUNDLE_V03 and bundle.certificate is None
    verdict = judge(INDEX, [Candidate.bundle(raw, "b")], [key.public_key])
    assert verdict.ok and verdict.forms == ("bundle",)


# verdicts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["25", "31"])
def test_real_legacy_signatures_verify(version: str) -> None:
    verdict = judge(INDEX, [_legacy(version)], [_pub(version)])
    assert verdict.ok, verdict.message
    assert verdict.message == f"signed by cosign{version}.pub (legacy form)"


def test_real_bundle_verifies_with_any_of_several_keys() -> None:
    verdict = judge(
        INDEX, [Candidate.bundle(_read("cosign31-bundle.json"), "b")], [_pub("25"), _pub("31")]
    )
    assert verdict.ok and verdict.key == "cosign31.pub"


def test_missing() -> None:
    verdict = judge(INDEX, [], [_pub("31")])
    assert (verdict.ok, verdict.reason) == (False, "missing")


def test_wrong_key_in_each_form() -> None:
    legacy = judge(INDEX, [_legacy("25")], [_pub("31")])
    assert legacy.reason == "wrong-key"
    assert "made with another key, or the payload changed after signing" in legacy.message
    bundle = judge(INDEX, [Candidate.bundle(_read("cosign31-bundle.json"), "b")], [_pub("25")])
    assert bundle.reason == "wrong-key"
    assert bundle.message == f"b: made with another key (hint {_pub('31').hint})"


def test_signature_for_another_digest() -> None:
    for candidate in (_legacy("31"), Candidate.bundle(_read("cosign31-bundle.json"), "b")):
        verdict = judge(OTHER, [candidate], [_pub("31")])
        assert verdict.reason == "other-digest"
        assert f"signed by cosign31.pub, but for {INDEX.short}" in verdict.message


def test_tampered_bundle_is_told_by_its_key_hint() -> None:
    doc = json.loads(_read("cosign31-bundle.json"))
    statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    statement["subject"][0]["annotations"] = {"approved": "yes"}
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    verdict = judge(INDEX, [Candidate.bundle(json.dumps(doc).encode(), "b")], [_pub("31")])
    assert verdict.reason == "tampered"


def test_bytes_that_do_not_match_their_digest_are_tampered() -> None:
    [layer] = signature_layers(_sig_manifest("31"))
    candidate = Candidate.legacy(layer, DigestMismatch("payload: content hashes to x"), "l")
    assert judge(INDEX, [candidate], [_pub("31")]).reason == "tampered"


def test_an_attestation_bundle_is_not_a_signature() -> None:
    key = PrivateKey.from_pem(_read("cosign31.key"), PASSWORD, name="k")
    doc = json.loads(sign_statement(INDEX))
    doc["predicateType"] = "https://slsa.dev/provenance/v1"
    statement = json.dumps(doc).encode()
    raw = make_bundle(
        statement, key.sign(pae(IN_TOTO_PAYLOAD_TYPE, statement)), key.public_key.hint
    )
    verdict = judge(INDEX, [Candidate.bundle(raw, "b")], [key.public_key])
    assert verdict.reason == "not-a-signature"


def test_unreadable_and_keyless_signatures_fail_with_their_reason() -> None:
    assert judge(INDEX, [Candidate.bundle(b"{}", "b")], [_pub("31")]).reason == "unreadable"
    [layer] = signature_layers(_sig_manifest("31"))
    keyless = SignatureLayer(
        layer.descriptor.with_annotations(
            {**layer.descriptor.annotations, CERTIFICATE_ANNOTATION: "-----BEGIN CERTIFICATE..."}
        )
    )
    candidate = Candidate.legacy(keyless, _read("cosign31-payload.json"), "l")
    assert judge(INDEX, [candidate], [_pub("25")]).reason == "keyless"


def test_the_most_telling_reason_wins_and_one_valid_signature_passes() -> None:
    bad = Candidate.bundle(b"{}", "b")
    verdict = judge(OTHER, [bad, _legacy("31")], [_pub("31")])
    assert verdict.reason == "other-digest" and verdict.message.endswith("(and 1 more)")
    assert judge(INDEX, [bad, _legacy("31")], [_pub("31")]).ok


def test_password_is_read_as_cosign_reads_it() -> None:
    from polyarch.operations.sign import password_from_environment

    assert password_from_environment({"COSIGN_PASSWORD": ""}) == b""  # set but empty: used
    assert password_from_environment({}) is None
    assert password_from_environment({"COSIGN_PASSWORD": "p w\n"}) == b"p w\n"
