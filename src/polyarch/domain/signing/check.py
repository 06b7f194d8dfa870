"""The verdict on the signatures of one manifest digest, given public keys (no I/O).

What ``cosign verify --key K --insecure-ignore-tlog`` checks, per form (sigstore/cosign
``pkg/cosign/verify.go``, ``verifiers.go``; measured with cosign 2.5 and 3.1):

* tag form: the payload blob hashes to its layer descriptor (a registry fetch checks
  it); the ``dev.cosignproject.cosign/signature`` annotation is an ECDSA signature of
  SHA-256 of the payload by K; the payload's ``critical.type`` is cosign's and its
  ``critical.image.docker-manifest-digest`` is the verified digest
  (``SimpleClaimVerifier``). ``docker-reference`` is not checked;
* bundle form: the bundle holds a DSSE envelope whose signature over the
  pre-authentication encoding verifies with K, and one of the in-toto statement's
  subjects is the digest (sigstore-go's ``WithArtifactDigest``, then cosign's
  ``IntotoSubjectClaimVerifier``). cosign 3.1 does not look at the predicate type: an
  attestation bundle would pass its ``verify``. polyarch requires
  ``https://sigstore.dev/cosign/sign/v1``: a provenance attestation is not a signature.

Without a transparency log (``--insecure-ignore-tlog``) nothing else is checked for a
key-based signature: no time, no log entry. Keyless signatures (a certificate instead of
a key) are recognised and left to the keyless path.

cosign's experimental OCI 1.1 form (``oci11``: the tag form's layers in a referrer of
artifact type :data:`~polyarch.domain.signing.legacy.ARTIFACT_SIG`) is checked as the tag
form is.

Each signature found becomes a :class:`Candidate`; :func:`judge` turns the candidates and
keys into one :class:`Verdict`, passing when any candidate verifies, else failing with
the most telling reason (:data:`REASONS`, in order). A keyless candidate keeps its bundle's
bytes for :mod:`polyarch.domain.signing.keyless`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from polyarch.domain.digest import Digest
from polyarch.domain.signing.bundle import parse_bundle
from polyarch.domain.signing.keys import PublicKey
from polyarch.domain.signing.legacy import SignatureLayer
from polyarch.domain.signing.payload import (
    COSIGN_SIGN_PREDICATE,
    IN_TOTO_PAYLOAD_TYPE,
    InvalidPayload,
    pae,
    parse_simple_signing,
    parse_statement,
)
from polyarch.errors import DigestMismatch, PolyarchError, SizeMismatch

__all__ = ["REASONS", "Candidate", "Form", "KeylessJudge", "Reason", "Verdict", "judge"]

Form = Literal["legacy", "bundle", "oci11"]
Reason = Literal[
    "verified",
    "missing",
    "tampered",
    "other-digest",
    "not-a-signature",
    "unreadable",
    "wrong-key",
    "keyless",
    "wrong-identity",
    "untrusted",
]
#: Failure reasons, most telling first: the verdict names the first one found.
REASONS: Final[tuple[Reason, ...]] = (
    "tampered",
    "other-digest",
    "not-a-signature",
    "untrusted",
    "wrong-identity",
    "unreadable",
    "wrong-key",
    "keyless",
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One signature found for a digest, read as far as it could be read.

    ``signed`` is what the signature covers (the payload, or the DSSE encoding);
    ``names`` the digests the payload names; ``problem`` says why it could not be read
    (then ``tampered`` says whether the bytes did not match their digest).
    """

    form: Form
    #: Where it was found: ``sha256-<hex>.sig layer 2``, ``referrer sha256:...``.
    where: str
    signed: bytes = b""
    signatures: tuple[bytes, ...] = ()
    names: tuple[Digest, ...] = ()
    predicate_type: str | None = None
    key_hint: str | None = None
    keyless: bool = False
    problem: str | None = None
    tampered: bool = False
    #: The manifest holding it (the ``.sig`` manifest, or the bundle referrer).
    manifest: Digest | None = None
    #: A keyless bundle's bytes, for the keyless path (None otherwise).
    keyless_bundle: bytes | None = field(default=None, repr=False)

    @classmethod
    def legacy(
        cls,
        layer: SignatureLayer,
        payload: bytes | PolyarchError,
        where: str,
        form: Form = "legacy",
    ) -> Candidate:
        """A tag-form signature (``form`` ``oci11``: the same layer in cosign's experimental
        OCI 1.1 referrer): its layer and its payload (or the error reading it)."""
        if isinstance(payload, PolyarchError):
            return cls(form, where, problem=payload.message, tampered=_tampered(payload))
        signature = layer.signature
        if signature is None:
            return cls(form, where, problem="its signature annotation is missing or not base64")
        try:
            parsed = parse_simple_signing(payload)
        except PolyarchError as exc:
            return cls(form, where, signed=payload, signatures=(signature,), problem=exc.message)
        try:
            names: tuple[Digest, ...] = (Digest(parsed.digest),)
        except PolyarchError:
            names = ()
        return cls(
            form,
            where,
            signed=payload,
            signatures=(signature,),
            names=names,
            keyless=layer.keyless,
        )

    @classmethod
    def bundle(cls, raw: bytes | PolyarchError, where: str) -> Candidate:
        """A bundle-form signature: the bundle layer's bytes (or the error reading them)."""
        if isinstance(raw, PolyarchError):
            return cls("bundle", where, problem=raw.message, tampered=_tampered(raw))
        try:
            bundle = parse_bundle(raw)
            if bundle.payload_type != IN_TOTO_PAYLOAD_TYPE:
                raise _not_in_toto(bundle.payload_type)
            statement = parse_statement(bundle.payload)
        except PolyarchError as exc:
            return cls("bundle", where, problem=exc.message)
        return cls(
            "bundle",
            where,
            signed=pae(bundle.payload_type, bundle.payload),
            signatures=bundle.signatures,
            names=statement.digests,
            predicate_type=statement.predicate_type,
            key_hint=bundle.key_hint,
            keyless=bundle.certificate is not None,
            keyless_bundle=raw if bundle.certificate is not None else None,
        )

    def verifying_key(self, keys: Sequence[PublicKey]) -> PublicKey | None:
        """The first of ``keys`` that one of the signatures verifies with."""
        for key in keys:
            if any(key.verify(self.signed, s) for s in self.signatures):
                return key
        return None


def _tampered(exc: PolyarchError) -> bool:
    return isinstance(exc, DigestMismatch | SizeMismatch)


def _not_in_toto(payload_type: str) -> PolyarchError:
    return InvalidPayload(f"the envelope holds {payload_type!r}, not an in-toto statement")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one digest: ``ok``, the reason, a one-line message, details."""

    digest: Digest
    ok: bool
    reason: Reason
    message: str
    #: Forms of the signatures that verified (or were found, when none did).
    forms: tuple[Form, ...] = ()
    key: str | None = None
    found: int = 0
    problems: tuple[str, ...] = field(default=())


#: Judges one keyless candidate: its reason and message (:mod:`.keyless`).
KeylessJudge = Callable[[Candidate], tuple[Reason, str]]


def _outcome(
    c: Candidate, digest: Digest, keys: Sequence[PublicKey], keyless: KeylessJudge | None
) -> tuple[Reason, str]:
    """The reason one candidate passes or fails, and what to say about it."""
    if c.problem is not None:
        if c.tampered:
            return "tampered", f"{c.where}: {c.problem}"
        return "unreadable", f"{c.where}: {c.problem}"
    if c.keyless and keyless is not None:
        return keyless(c)
    key = c.verifying_key(keys)
    if key is None and not keys and not c.keyless:
        return "wrong-key", f"{c.where}: made with a key (hint {c.key_hint}); no key was given"
    if key is None:
        hinted = [k for k in keys if c.key_hint is not None and k.hint == c.key_hint]
        if hinted:
            return "tampered", (
                f"{c.where}: made with {hinted[0].name} (its key hint) but the signature does "
                "not verify: the payload or signature changed after signing"
            )
        if c.keyless:
            return "keyless", f"{c.where}: a keyless signature (a certificate, no key)"
        if c.form == "bundle":
            return "wrong-key", f"{c.where}: made with another key (hint {c.key_hint})"
        return "wrong-key", (
            f"{c.where}: does not verify with the key(s) given: made with another key, or the "
            "payload changed after signing"
        )
    if digest not in c.names:
        named = ", ".join(n.short for n in c.names) or "no digest"
        return "other-digest", f"{c.where}: signed by {key.name}, but for {named}"
    if c.form == "bundle" and c.predicate_type != COSIGN_SIGN_PREDICATE:
        return "not-a-signature", (
            f"{c.where}: an attestation ({c.predicate_type or 'no predicate type'}), "
            "not a signature"
        )
    return "verified", key.name


def judge(
    digest: Digest,
    candidates: Sequence[Candidate],
    keys: Sequence[PublicKey],
    *,
    keyless: KeylessJudge | None = None,
) -> Verdict:
    """Whether any of ``candidates`` is a valid signature of ``digest`` by one of ``keys``.

    ``keyless`` judges the keyless candidates (a certificate instead of a key): without
    it they fail as ``keyless``. The verdict's ``key`` names what verified: a key's name,
    or the identity of a keyless certificate.
    """
    if not candidates:
        return Verdict(digest, False, "missing", f"no signature of {digest.short}")
    outcomes = [(c, *_outcome(c, digest, keys, keyless)) for c in candidates]
    passed = [(c, text) for c, reason, text in outcomes if reason == "verified"]
    if passed:
        forms = tuple(dict.fromkeys(c.form for c, _ in passed))
        key = passed[0][1]
        return Verdict(
            digest,
            True,
            "verified",
            f"signed by {key} ({', '.join(forms)} form)",
            forms,
            key,
            len(candidates),
        )
    for reason in REASONS:
        texts = [text for _, r, text in outcomes if r == reason]
        if texts:
            more = f" (and {len(candidates) - 1} more)" if len(candidates) > 1 else ""
            return Verdict(
                digest,
                False,
                reason,
                texts[0] + more,
                tuple(dict.fromkeys(c.form for c in candidates)),
                None,
                len(candidates),
                tuple(text for _, _, text in outcomes),
            )
    raise AssertionError("unreachable: every outcome has a reason")  # pragma: no cover
