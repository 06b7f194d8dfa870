"""``sign``: sign an index and every manifest in it with a cosign key pair.

``cosign sign --recursive`` semantics (sigstore/cosign ``pkg/oci/walk``): the manifest the
reference names and, for an index, every manifest it lists, transitively: platform
images, nested indexes and BuildKit attestation manifests alike. One difference in
order, on purpose: polyarch signs the children before the index, so at every moment a
signed index means signed images (cosign signs the index first).

The storage forms (docs/signatures.md):

* ``bundle`` (default, as cosign 3): a Sigstore bundle v0.3 in an OCI 1.1 referrer,
  listed by the referrers API or the referrers tag schema; read by cosign 3, not by
  cosign 2;
* ``legacy``: cosign 2's ``sha256-<hex>.sig`` tag with a simple signing payload; read by
  cosign 2 and 3 (the user's ``--signature-format legacy``, for older verifiers);
* ``both``: each manifest gets both, for fleets whose verifiers are part cosign 2, part
  cosign 3 (cosign 3.1 reads only the bundles once any bundle exists for a digest; cosign
  2.5 reads only the tag).

Key-based only here: the private key is a cosign key pair's ``.key`` file, its password
from ``COSIGN_PASSWORD`` (:func:`password_from_environment`, cosign's rule). No
transparency log entry is made: the signatures verify with ``cosign verify --key K
--insecure-ignore-tlog`` (measured: cosign 2.5 and 3.1).

>>> from polyarch import Context
>>> from polyarch.operations.sign import SignRequest, sign
>>> request = SignRequest.build("127.0.0.1:5000/app:v1", "cosign.key",  # doctest: +SKIP
...                             password=b"...")
>>> with Context() as ctx:                                             # doctest: +SKIP
...     result = sign(request, ctx)
>>> [(s.kind, s.stored.form) for s in result.signed]                   # doctest: +SKIP
[('image', 'bundle'), ('image', 'bundle'), ('index', 'bundle')]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from polyarch.content.context import Context, borrowed
from polyarch.content.referrers.signatures import (
    SignatureForm,
    StoredSignature,
    existing_signature,
    store_bundle,
    store_legacy,
)
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.location import Location, parse_location
from polyarch.domain.manifest import Index
from polyarch.domain.signing.bundle import make_bundle
from polyarch.domain.signing.keys import PrivateKey
from polyarch.domain.signing.payload import (
    IN_TOTO_PAYLOAD_TYPE,
    pae,
    sign_statement,
    simple_signing_payload,
)
from polyarch.errors import InvalidInput, PolyarchError
from polyarch.storage.repository import Repository

__all__ = [
    "PASSWORD_VARIABLE",
    "SIGNATURE_FORMATS",
    "SIGN_SCHEMA",
    "SignRequest",
    "SignResult",
    "SignatureFormat",
    "SignedManifest",
    "SigningFailed",
    "parse_signature_format",
    "password_from_environment",
    "sign",
]

#: Version tag of the ``--json`` schema.
SIGN_SCHEMA: Final = "polyarch.sign/v1"
#: Where cosign (and polyarch) read the private key's password.
PASSWORD_VARIABLE: Final = "COSIGN_PASSWORD"
SignatureFormat = Literal["bundle", "legacy", "both"]
SIGNATURE_FORMATS: Final[tuple[SignatureFormat, ...]] = ("bundle", "legacy", "both")
#: Manifests followed below one index (nested indexes included), a bound for hostile input.
MAX_MANIFESTS: Final = 10_000


class SigningFailed(PolyarchError):
    """Signing stopped part way: the message names what was signed and what was not.

    Fix the cause and sign again: signatures already written stay valid and are not
    written twice.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        signed: tuple[Digest, ...] = (),
        unsigned: tuple[Digest, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint)
        self.signed = signed
        self.unsigned = unsigned


def password_from_environment(environ: Mapping[str, str] | None = None) -> bytes | None:
    """``COSIGN_PASSWORD`` as bytes when it is set (even empty, as cosign takes it), else None."""
    value = (os.environ if environ is None else environ).get(PASSWORD_VARIABLE)
    return None if value is None else value.encode()


@dataclass(frozen=True, slots=True)
class SignRequest:
    """What to sign, with which key, in which form."""

    target: Location
    key: PrivateKey = field(repr=False)
    signature_format: SignatureFormat = "bundle"
    #: Sign every manifest an index lists too (cosign's ``--recursive``).
    recursive: bool = True
    #: cosign's ``-a key=value``: in the payload's ``optional`` / the subject's annotations.
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        target: Location | str,
        key_file: Path | str,
        *,
        password: bytes | None,
        signature_format: str = "bundle",
        recursive: bool = True,
        annotations: Mapping[str, str] | None = None,
    ) -> SignRequest:
        """Validate the inputs and read (decrypt) the key.

        Raises :class:`~polyarch.errors.InvalidInput` for a bad reference, format or key
        file, :class:`~polyarch.domain.signing.keys.WrongPassword` when the key does not
        decrypt.
        """
        location = parse_location(target) if isinstance(target, str) else target
        form = parse_signature_format(signature_format)
        key = PrivateKey.from_file(key_file, password)
        return cls(location, key, form, recursive, dict(annotations or {}))

    @property
    def forms(self) -> tuple[SignatureForm, ...]:
        """The storage forms written for each manifest, in order."""
        if self.signature_format == "both":
            return ("legacy", "bundle")
        return (self.signature_format,)


def parse_signature_format(value: str) -> SignatureFormat:
    """``value`` as a :data:`SignatureFormat`; InvalidInput otherwise."""
    for known in SIGNATURE_FORMATS:
        if value == known:
            return known
    raise InvalidInput(
        f"signature format {value!r}: expected one of {', '.join(SIGNATURE_FORMATS)}",
        parameter="signature_format",
    )


@dataclass(frozen=True, slots=True)
class SignedManifest:
    """One manifest signed: what it is and where its signature went."""

    digest: Digest
    #: ``index``, ``image``, ``attestation``.
    kind: str
    platform: str | None
    stored: StoredSignature

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/signatures.md)."""
        return {
            "digest": str(self.digest),
            "kind": self.kind,
            "platform": self.platform,
            **{k: v for k, v in self.stored.to_json().items() if k != "subject"},
        }


@dataclass(frozen=True, slots=True)
class SignResult:
    """Everything ``sign`` signed, children first, the named manifest last."""

    target: Location
    digest: Digest
    signature_format: SignatureFormat
    signed: tuple[SignedManifest, ...]

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (docs/signatures.md)."""
        return {
            "schema": SIGN_SCHEMA,
            "reference": str(self.target),
            "digest": str(self.digest),
            "signatureFormat": self.signature_format,
            "signed": [s.to_json() for s in self.signed],
        }


def _plan(repo: Repository, top: Descriptor, recursive: bool) -> list[tuple[Descriptor, str]]:
    """The manifests to sign, each with its kind: children before their index."""
    out: list[tuple[Descriptor, str]] = []
    seen: set[Digest] = set()

    def visit(d: Descriptor, kind: str) -> None:
        if d.digest in seen:
            return
        seen.add(d.digest)
        if len(seen) > MAX_MANIFESTS:
            raise InvalidInput(f"more than {MAX_MANIFESTS} manifests below {d.digest}")
        if recursive and d.is_index:
            manifest = repo.get_manifest(str(d.digest))
            if isinstance(manifest, Index):
                for child in manifest.manifests:
                    if child.is_index:
                        visit(child, "index")
                    elif child.is_image_manifest:
                        visit(child, "attestation" if child.is_attestation else "image")
        out.append((d, kind))

    visit(top, "index" if top.is_index else "image")
    return out


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_one(
    repo: Repository,
    subject: Descriptor,
    request: SignRequest,
    form: SignatureForm,
    *,
    created: Callable[[], str] = _now,
) -> StoredSignature:
    """Sign one manifest (``subject``: its media type, digest and size) in ``form``, stored.

    Nothing is written when a valid signature by the same key in the same form is there
    already (:func:`~polyarch.content.referrers.signatures.existing_signature`).
    """
    present = existing_signature(repo, subject.digest, form, request.key.public_key)
    if present is not None:
        return present
    if form == "legacy":
        payload = simple_signing_payload(repo.name, subject.digest, request.annotations)
        return store_legacy(repo, subject.digest, payload, request.key.sign(payload))
    statement = sign_statement(subject.digest, request.annotations)
    signature = request.key.sign(pae(IN_TOTO_PAYLOAD_TYPE, statement))
    bundle = make_bundle(statement, signature, request.key.public_key.hint)
    return store_bundle(repo, subject, bundle, created=created())


def sign(request: SignRequest, context: Context | None = None) -> SignResult:
    """Sign ``request.target`` (and, recursively, what it lists) in the requested form.

    Returns a :class:`SignResult`. Raises :class:`SigningFailed` naming the signed and
    unsigned manifests when a signature cannot be written part way, and what the
    repository raises (e.g. :class:`~polyarch.errors.ManifestUnknown`) before anything
    was signed.
    """
    with borrowed(context) as ctx:
        repo = ctx.repository(request.target)
        top = repo.get_manifest(request.target.identifier)
        plan = _plan(repo, top.descriptor(), request.recursive)
        platforms = {}
        if isinstance(top, Index):
            platforms = {d.digest: str(d.platform) for d in top.manifests if d.platform}
        done: list[SignedManifest] = []
        for position, (d, kind) in enumerate(plan):
            for form in request.forms:
                try:
                    stored = sign_one(repo, d, request, form)
                except PolyarchError as exc:
                    signed = tuple(dict.fromkeys(s.digest for s in done))
                    unsigned = tuple(p.digest for p, _ in plan[position:])
                    raise SigningFailed(
                        f"signing {request.target} stopped after {position} of {len(plan)} "
                        f"manifests; unsigned: {', '.join(u.short for u in unsigned)}: "
                        f"{exc.one_line()}",
                        hint="fix the cause and sign again (signatures already written stay)",
                        signed=signed,
                        unsigned=unsigned,
                    ) from exc
                done.append(SignedManifest(d.digest, kind, platforms.get(d.digest), stored))
    return SignResult(request.target, top.digest, request.signature_format, tuple(done))
