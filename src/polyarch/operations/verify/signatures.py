"""``verify --key``: the ``signatures`` check, one row for the index and one per platform.

Each row says whether a cosign signature of that manifest verifies with one of the keys
given (any of them), in either storage form (the ``.sig`` tag or a bundle referrer),
following what ``cosign verify --key K --insecure-ignore-tlog`` checks
(:mod:`polyarch.domain.signing.check`). A row fails with its own one-line reason:

* ``missing``: no signature of the manifest in either form; on a platform image of an
  index that is itself signed, the message says the index alone was signed (``cosign
  sign`` without ``--recursive``), which policy engines reject (kyverno/kyverno#12630);
* ``wrong-key``: signatures there, made with another key;
* ``tampered``: a payload or bundle does not match its digest, or a bundle names one of
  the keys (its hint) but its signature does not verify;
* ``other-digest``: signed by the key, but the payload names another manifest (a
  signature copied from another image);
* ``not-a-signature``, ``unreadable``, ``keyless``: see the verdict's message.

Keyless signatures (a Fulcio certificate in a bundle) count when a
:class:`~polyarch.domain.signing.keyless.KeylessPolicy` is given: its identity, issuer and
trusted root (:mod:`polyarch.domain.signing.keyless`; failures ``wrong-identity``,
``untrusted``).

:func:`verify_signatures` reads through a :class:`~polyarch.storage.Repository` and
returns rows; :func:`check_signatures` adds them to a ``verify`` run as ``signatures``
report lines (``platform`` None for the index).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from polyarch.content.referrers.discovery import ReferrerDiscovery
from polyarch.content.referrers.signatures import find_signatures
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index, Manifest
from polyarch.domain.signing.check import Candidate, Reason, Verdict, judge
from polyarch.domain.signing.keyless import KeylessPolicy, KeylessUnavailable, keyless_outcome
from polyarch.domain.signing.keys import PublicKey
from polyarch.errors import InvalidInput, PolyarchError
from polyarch.operations.verify.request import Status
from polyarch.operations.verify.state import VerifyState
from polyarch.storage.repository import Repository

__all__ = ["CHECK_NAME", "SignatureRow", "check_signatures", "verify_signatures"]

#: The ``check`` field of the report rows.
CHECK_NAME = "signatures"


@dataclass(frozen=True, slots=True)
class SignatureRow:
    """One row: ``label`` is ``index``, a platform (``linux/arm64``) or ``image``."""

    label: str
    digest: Digest
    verdict: Verdict
    message: str

    @property
    def ok(self) -> bool:
        """Whether a signature verified."""
        return self.verdict.ok

    @property
    def platform(self) -> str | None:
        """The platform of the row, None for the index (the report's ``platform`` field)."""
        return None if self.label == "index" else self.label

    def details(self) -> dict[str, Any]:
        """The row's ``details`` in the verify report (docs/verify.md)."""
        return {
            "digest": str(self.digest),
            "reason": self.verdict.reason,
            "forms": list(self.verdict.forms),
            "key": self.verdict.key,
            "found": self.verdict.found,
        }


def _label(d: Descriptor) -> str:
    return str(d.platform) if d.platform else d.digest.short


def _verdict(
    repo: Repository,
    discovery: ReferrerDiscovery,
    digest: Digest,
    keys: Sequence[PublicKey],
    keyless: KeylessPolicy | None,
) -> Verdict:
    try:
        candidates = find_signatures(repo, digest, discovery)
    except PolyarchError as exc:
        return Verdict(
            digest,
            False,
            "unreadable",
            f"cannot list the signatures of {digest.short}: {exc.one_line()}",
        )
    judge_keyless = None
    if keyless is not None:
        policy = keyless

        def judge_keyless(c: Candidate) -> tuple[Reason, str]:
            return keyless_outcome(c, digest, policy)

    return judge(digest, candidates, keys, keyless=judge_keyless)


def verify_signatures(
    repo: Repository,
    top: Manifest,
    keys: Sequence[PublicKey],
    *,
    keyless: KeylessPolicy | None = None,
) -> tuple[SignatureRow, ...]:
    """The signature rows of ``top`` (an index: itself, then each platform image) in ``repo``.

    Attestation manifests are not required to be signed (``cosign sign --recursive``
    signs them; nothing verifies them by signature). Raises
    :class:`~polyarch.errors.InvalidInput` when neither a key nor a keyless policy is
    given, :class:`~polyarch.domain.signing.keyless.KeylessUnavailable` when a keyless
    signature is to be checked without the sigstore library.
    """
    if not keys and keyless is None:
        raise InvalidInput("no public key to verify signatures with", parameter="keys")
    discovery = ReferrerDiscovery(repo)
    if not isinstance(top, Index):
        verdict = _verdict(repo, discovery, top.digest, keys, keyless)
        return (SignatureRow("image", top.digest, verdict, verdict.message),)
    index = _verdict(repo, discovery, top.digest, keys, keyless)
    rows = [SignatureRow("index", top.digest, index, index.message)]
    images = [_verdict(repo, discovery, d.digest, keys, keyless) for d in top.images]
    any_image_signed = any(v.reason != "missing" for v in images)
    for d, verdict in zip(top.images, images, strict=True):
        message = verdict.message
        if verdict.reason == "missing" and index.ok:
            message = (
                f"the index is signed but this image ({d.digest.short}) is not: sign with "
                "--recursive (cosign sign --recursive) so that each platform verifies"
            )
        rows.append(SignatureRow(_label(d), d.digest, verdict, message))
    if index.reason == "missing" and any_image_signed:
        rows[0] = SignatureRow(
            "index",
            top.digest,
            index,
            f"the images are signed but the index ({top.digest.short}) is not",
        )
    return tuple(rows)


def check_signatures(state: VerifyState, top: Index) -> None:
    """The ``signatures`` check: one line for the index, one per platform image.

    ``top`` is the index as checked (platforms filled in from configs); the index line is
    about the index at the tag (its digest is ``top``'s). A keyless check without the
    sigstore library fails the index line with the install hint.
    """
    request = state.request
    try:
        rows = verify_signatures(state.repo, top, request.keys, keyless=request.keyless)
    except KeylessUnavailable as exc:
        state.add(CHECK_NAME, Status.FAIL, f"{exc.message} ({exc.hint})")
        return
    for row in rows:
        status = Status.PASS if row.ok else Status.FAIL
        state.add(CHECK_NAME, status, row.message, row.platform, **row.details())
