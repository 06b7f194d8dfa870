"""Keyless (Fulcio certificate + Rekor entry) bundles, verified offline against a trusted root.

``polyarch.domain.signing.keyless`` wraps the sigstore library
(``Verifier(trusted_root=...).verify_dsse(bundle, policy)``), then applies the same subject
and predicate checks as the key path. The fixture is a real keyless bundle from Sigstore's
staging instance and staging's trusted root (tests/data/signing/keyless); no network is used.
Its statement is an SLSA provenance of a file, not an image signature: with cosign's sign
predicate required (the default) it is ``not-a-signature``, with any predicate accepted it
verifies.
"""

from __future__ import annotations

from pathlib import Path

from polyarch.domain.digest import Digest

DATA = Path(__file__).resolve().parents[1] / "data" / "signing" / "keyless"
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = Digest("sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf")


def test_a_real_keyless_bundle_verifies_offline_for_its_identity() -> None:
    from polyarch.domain.signing.keyless import KeylessPolicy, verify_keyless

    policy = KeylessPolicy(
        trusted_root=(DATA / "staging-trusted-root.json").read_bytes(),
        identity=IDENTITY,
        issuer=ISSUER,
    )
    raw = (DATA / "staging-dsse.sigstore.json").read_bytes()
    verdict = verify_keyless(SUBJECT, raw, policy, predicate_type=None)
    assert verdict.ok, verdict.message
    assert verdict.message == f"signed by {IDENTITY} (issuer {ISSUER}) (bundle form)"
    other = verify_keyless(Digest("sha256:" + "0" * 64), raw, policy, predicate_type=None)
    assert other.reason == "other-digest"
    strict = verify_keyless(SUBJECT, raw, policy)
    assert strict.reason == "not-a-signature"
    assert "https://slsa.dev/provenance/v1" in strict.message


def test_another_identity_or_issuer_fails_with_what_the_certificate_says() -> None:
    from polyarch.domain.signing.keyless import KeylessPolicy, verify_keyless

    raw = (DATA / "staging-dsse.sigstore.json").read_bytes()
    root = (DATA / "staging-trusted-root.json").read_bytes()
    wrong = verify_keyless(SUBJECT, raw, KeylessPolicy(root, "someone@example.com", ISSUER))
    assert wrong.reason == "wrong-identity"
    assert IDENTITY in wrong.message
    issuer = verify_keyless(
        SUBJECT, raw, KeylessPolicy(root, IDENTITY, "https://accounts.google.com")
    )
    assert issuer.reason == "wrong-identity"
