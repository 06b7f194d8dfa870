"""Keyless (Fulcio certificate, Rekor entry) signatures, verified offline against a trusted root.

A keyless cosign signature carries no key: a short-lived certificate from Fulcio binds the
signing key to an OIDC identity (a GitHub Actions workflow, an e-mail address) at signing
time, and a transparency log (Rekor) entry proves the signature was made while the
certificate was valid. Verifying one means: the certificate chains to a Fulcio CA of the
trusted root, its SCT and the log entry's inclusion proof verify against the root's CT
and Rekor keys, the DSSE signature verifies with the certificate's key, the certificate
names the expected identity and issuer, and the in-toto statement names the digest.

The cryptography is the maintained sigstore library's (``sigstore`` 4.x, Sigstore's own
Python client; ``pip install 'polyarch[keyless]'``): ``Verifier(trusted_root=...)
.verify_dsse(bundle, policy)``. It is imported only here, only when a keyless check is
asked for (28 packages, about 0.4 s to import: measured with sigstore 4.5.1). The trusted
root is the ``trusted_root.json`` of a Sigstore instance (``cosign trusted-root create``,
or the TUF repository's target; Sigstore's public instance or a private one), given as
bytes: nothing is fetched, so verification runs offline.

Bundles only (cosign 3's form). Keyless signatures in cosign 2's tag form (a certificate
annotation and a Rekor SET) are reported as such, not verified: docs/signatures.md says so.

What this adds to :mod:`polyarch.domain.signing.check`: :func:`keyless_outcome` gives one
keyless candidate's reason and message, for
:func:`~polyarch.domain.signing.check.judge`'s ``keyless`` argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from polyarch.domain.digest import Digest
from polyarch.domain.signing.check import Candidate, Reason, Verdict, judge
from polyarch.domain.signing.payload import (
    COSIGN_SIGN_PREDICATE,
    IN_TOTO_PAYLOAD_TYPE,
    InvalidPayload,
    parse_statement,
)
from polyarch.errors import InvalidInput

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

__all__ = [
    "GITHUB_ISSUER",
    "KeylessPolicy",
    "KeylessUnavailable",
    "certificate_identity",
    "keyless_outcome",
    "verify_keyless",
]

#: The OIDC issuer of GitHub Actions' tokens.
GITHUB_ISSUER: Final = "https://token.actions.githubusercontent.com"
#: Fulcio's certificate extensions naming the OIDC issuer (v2, then the deprecated v1).
_ISSUER_V2: Final = "1.3.6.1.4.1.57264.1.8"
_ISSUER_V1: Final = "1.3.6.1.4.1.57264.1.1"
_INSTALL: Final = "pip install 'polyarch[keyless]'"


class KeylessUnavailable(InvalidInput):
    """Keyless verification needs the sigstore library, which is not installed."""


@dataclass(frozen=True)
class KeylessPolicy:
    """Whose keyless signature counts: the trusted root, the identity and its issuer.

    ``identity`` is the certificate's subject alternative name exactly (cosign's
    ``--certificate-identity``: a workflow URI such as
    ``https://github.com/ORG/REPO/.github/workflows/release.yml@refs/tags/v1.2.0``, or an
    e-mail address); ``issuer`` the OIDC issuer exactly (``--certificate-oidc-issuer``).
    ``trusted_root`` is the bytes of a ``trusted_root.json``.
    """

    trusted_root: bytes = field(repr=False)
    identity: str
    issuer: str

    @cached_property
    def verifier(self) -> Any:
        """The sigstore ``Verifier`` for the trusted root (made once).

        Raises :class:`KeylessUnavailable` without the library,
        :class:`~polyarch.errors.InvalidInput` when the trusted root cannot be read.
        """
        try:
            from sigstore.models import TrustedRoot
            from sigstore.verify import Verifier
            from sigstore_models.trustroot.v1 import TrustedRoot as TrustedRootMessage
        except ImportError:
            raise KeylessUnavailable(
                "keyless verification needs the sigstore library", hint=_INSTALL
            ) from None
        try:
            root = TrustedRoot(TrustedRootMessage.from_json(self.trusted_root))
            return Verifier(trusted_root=root)
        except Exception as exc:  # the library's own errors: pydantic, its Error, ValueError
            raise InvalidInput(
                f"the trusted root is not a usable Sigstore trusted_root.json: {_first_line(exc)}",
                parameter="trusted_root",
            ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def certificate_identity(certificate: Certificate) -> tuple[str | None, str | None]:
    """``(identity, issuer)`` a Fulcio certificate names: its first URI or e-mail SAN, and
    its OIDC issuer extension (v2, else v1)."""
    from cryptography import x509

    identity: str | None = None
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.UniformResourceIdentifier) + san.get_values_for_type(
            x509.RFC822Name
        )
        identity = names[0] if names else None
    except x509.ExtensionNotFound:
        pass
    issuer: str | None = None
    for oid in (_ISSUER_V2, _ISSUER_V1):
        try:
            raw = certificate.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
        except x509.ExtensionNotFound:
            continue
        value = getattr(raw, "value", b"")
        issuer = _der_utf8(value) if oid == _ISSUER_V2 else value.decode("utf-8", "replace")
        break
    return identity, issuer


def _der_utf8(value: bytes) -> str:
    """The text of a DER UTF8String (Fulcio's v2 extensions are DER-encoded)."""
    if len(value) >= 2 and value[0] == 0x0C:
        length, start = value[1], 2
        if length & 0x80:
            count = length & 0x7F
            length, start = int.from_bytes(value[2 : 2 + count], "big"), 2 + count
        return value[start : start + length].decode("utf-8", "replace")
    return value.decode("utf-8", "replace")


def keyless_outcome(
    candidate: Candidate,
    digest: Digest,
    policy: KeylessPolicy,
    *,
    predicate_type: str | None = COSIGN_SIGN_PREDICATE,
) -> tuple[Reason, str]:
    """Why one keyless candidate passes (``verified``) or fails, and what to say.

    In order: the certificate names the policy's identity and issuer
    (``wrong-identity``, naming what it says); the sigstore library verifies the chain,
    SCT, log entry and DSSE signature (``untrusted``, with its reason); the statement
    names ``digest`` (``other-digest``); its predicate type is ``predicate_type``
    (``not-a-signature``; None accepts any). A tag-form keyless signature is ``keyless``
    (not verified: bundles only). Raises :class:`KeylessUnavailable` without the library.
    """
    where = candidate.where
    if candidate.keyless_bundle is None:
        return "keyless", (
            f"{where}: a keyless signature in cosign 2's tag form; polyarch verifies keyless "
            "signatures in the bundle form (cosign 3) only"
        )
    verifier = policy.verifier
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle
    from sigstore.verify.policy import Identity

    try:
        bundle = Bundle.from_json(candidate.keyless_bundle)
    except Exception as exc:  # the library's InvalidBundle, pydantic's ValidationError
        return "unreadable", f"{where}: not a bundle the sigstore library reads: {_first_line(exc)}"
    named, issuer = certificate_identity(bundle.signing_certificate)
    identity = Identity(identity=policy.identity, issuer=policy.issuer)
    try:  # first, to tell a wrong identity from a broken chain in the message
        identity.verify(bundle.signing_certificate)
    except SigstoreError:
        return "wrong-identity", (
            f"{where}: signed by {named or '(no identity)'} (issuer {issuer or 'unknown'}), "
            f"not {policy.identity} (issuer {policy.issuer})"
        )
    try:
        payload_type, payload = verifier.verify_dsse(bundle, identity)
    except SigstoreError as exc:
        return "untrusted", f"{where}: does not verify against the trusted root: {_first_line(exc)}"
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        return "not-a-signature", f"{where}: the envelope holds {payload_type!r}"
    try:
        statement = parse_statement(payload)
    except InvalidPayload as exc:
        return "unreadable", f"{where}: {exc.message}"
    if digest not in statement.digests:
        shown = ", ".join(d.short for d in statement.digests) or "no digest"
        return "other-digest", f"{where}: signed by {named}, but for {shown}"
    if predicate_type is not None and statement.predicate_type != predicate_type:
        return "not-a-signature", (
            f"{where}: an attestation ({statement.predicate_type or 'no predicate type'}) "
            f"by {named}, not a signature"
        )
    return "verified", f"{named} (issuer {issuer})"


def verify_keyless(
    digest: Digest,
    bundle: bytes,
    policy: KeylessPolicy,
    *,
    predicate_type: str | None = COSIGN_SIGN_PREDICATE,
) -> Verdict:
    """The verdict on one keyless bundle (its bytes) as a signature of ``digest``.

    ``predicate_type``: what the statement must be (cosign's sign predicate by default; None
    for any, e.g. to check a keyless attestation). Raises :class:`KeylessUnavailable`
    without the sigstore library.
    """
    candidate = Candidate.bundle(bundle, "bundle")
    if candidate.problem is not None:
        return judge(digest, [candidate], [])
    if candidate.keyless_bundle is None:
        return Verdict(digest, False, "unreadable", "bundle: a key-based bundle, not a keyless one")
    return judge(
        digest,
        [candidate],
        [],
        keyless=lambda c: keyless_outcome(c, digest, policy, predicate_type=predicate_type),
    )
