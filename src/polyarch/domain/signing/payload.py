"""What a cosign signature signs, in each of its two forms.

* The tag form signs a **simple signing payload** (the "atomic container signature" of
  containers/image, with cosign's own type string; sigstore/sigstore
  ``pkg/signature/payload``): ``critical.image.docker-manifest-digest`` names the
  image, ``critical.identity.docker-reference`` the repository it was signed in (not
  checked by ``cosign verify``), ``optional`` holds the ``-a key=value`` annotations.
* The bundle form (cosign 3) signs an **in-toto statement** (v1) whose ``subject`` is the
  image digest and whose ``predicateType`` is ``https://sigstore.dev/cosign/sign/v1`` with
  an empty predicate, inside a DSSE envelope: the signature is over DSSE's
  pre-authentication encoding (:func:`pae`) of ``application/vnd.in-toto+json`` and the
  statement bytes (sigstore/cosign ``cmd/cosign/cli/sign/sign.go`` ``signDigestBundle``).

Both are written byte for byte as cosign writes them (Go's ``encoding/json`` order and
escaping), so that a payload polyarch makes is the payload cosign would have made.

>>> raw = simple_signing_payload("127.0.0.1:5000/app", "sha256:" + "ab" * 32)
>>> parse_simple_signing(raw).digest == "sha256:" + "ab" * 32
True
>>> pae("t", b"xy")
b'DSSEv1 1 t 2 xy'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from polyarch.domain.digest import Digest
from polyarch.errors import ContentError, InvalidDigest

__all__ = [
    "COSIGN_SIGN_PREDICATE",
    "IN_TOTO_PAYLOAD_TYPE",
    "IN_TOTO_STATEMENT_V1",
    "SIMPLE_SIGNING_TYPE",
    "InvalidPayload",
    "SimpleSigning",
    "Statement",
    "pae",
    "parse_simple_signing",
    "parse_statement",
    "sign_statement",
    "simple_signing_payload",
]

#: ``critical.type`` of cosign's simple signing payloads (``cosign verify`` requires it).
SIMPLE_SIGNING_TYPE: Final = "cosign container image signature"
#: The predicate type of cosign 3's image signatures in the bundle form.
COSIGN_SIGN_PREDICATE: Final = "https://sigstore.dev/cosign/sign/v1"
#: The in-toto statement type cosign 3 writes.
IN_TOTO_STATEMENT_V1: Final = "https://in-toto.io/Statement/v1"
#: DSSE's ``payloadType`` for in-toto statements.
IN_TOTO_PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
#: Payloads larger than this are not read (cosign's are a few hundred bytes).
MAX_PAYLOAD: Final = 64 * 1024


class InvalidPayload(ContentError):
    """A signature's payload is not what cosign writes; the signature cannot count."""


def _go_json(value: object) -> bytes:
    """JSON as Go's ``encoding/json`` writes it: compact, ``<``, ``>``, ``&`` escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
        .encode()
    )


def simple_signing_payload(
    repository: str, digest: Digest | str, annotations: Mapping[str, str] | None = None
) -> bytes:
    """The simple signing payload cosign signs for ``repository@digest``.

    ``repository`` is the registry and repository (no tag, no digest), as cosign writes
    ``docker-reference``; ``annotations`` go into ``optional`` (``null`` without any).
    """
    return _go_json(
        {
            "critical": {
                "identity": {"docker-reference": repository},
                "image": {"docker-manifest-digest": str(digest)},
                "type": SIMPLE_SIGNING_TYPE,
            },
            "optional": dict(sorted(annotations.items())) if annotations else None,
        }
    )


@dataclass(frozen=True, slots=True)
class SimpleSigning:
    """A parsed simple signing payload."""

    digest: str
    reference: str
    optional: Mapping[str, Any] = field(default_factory=dict)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    if len(raw) > MAX_PAYLOAD:
        raise InvalidPayload(f"{what}: {len(raw)} bytes, larger than any cosign payload")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidPayload(f"{what}: not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidPayload(f"{what}: not a JSON object")
    return doc


def parse_simple_signing(raw: bytes, *, what: str = "signature payload") -> SimpleSigning:
    """Read a simple signing payload; :class:`InvalidPayload` unless cosign could have made it.

    Like cosign, requires ``critical.type`` to be :data:`SIMPLE_SIGNING_TYPE`.
    """
    doc = _json_object(raw, what)
    critical = doc.get("critical")
    if not isinstance(critical, dict):
        raise InvalidPayload(f"{what}: no critical section")
    if critical.get("type") != SIMPLE_SIGNING_TYPE:
        raise InvalidPayload(f"{what}: of type {critical.get('type')!r}, not a cosign signature")
    image = critical.get("image")
    identity = critical.get("identity")
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    reference = identity.get("docker-reference") if isinstance(identity, dict) else None
    if not isinstance(digest, str):
        raise InvalidPayload(f"{what}: names no image digest")
    optional = doc.get("optional")
    return SimpleSigning(
        digest,
        reference if isinstance(reference, str) else "",
        optional if isinstance(optional, dict) else {},
    )


def sign_statement(digest: Digest | str, annotations: Mapping[str, str] | None = None) -> bytes:
    """The in-toto statement cosign 3 signs for ``digest`` (predicate ``cosign/sign/v1``).

    ``annotations`` become the subject's annotations (cosign's ``-a key=value``).
    """
    algorithm, _, encoded = str(digest).partition(":")
    return _go_json(
        {
            "_type": IN_TOTO_STATEMENT_V1,
            "subject": [
                {
                    "digest": {algorithm: encoded},
                    "annotations": dict(sorted((annotations or {}).items())),
                }
            ],
            "predicateType": COSIGN_SIGN_PREDICATE,
            "predicate": {},
        }
    )


@dataclass(frozen=True, slots=True)
class Statement:
    """A parsed in-toto statement: its subjects' digests and its predicate type."""

    digests: tuple[Digest, ...]
    predicate_type: str


def parse_statement(raw: bytes, *, what: str = "in-toto statement") -> Statement:
    """Read an in-toto statement (v0.1 or v1); :class:`InvalidPayload` when malformed.

    Subject digests in algorithms polyarch does not know, or malformed, are left out.
    """
    doc = _json_object(raw, what)
    subjects = doc.get("subject")
    if not isinstance(subjects, list):
        raise InvalidPayload(f"{what}: no subject list")
    digests: list[Digest] = []
    for subject in subjects:
        named = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(named, dict):
            continue
        for algorithm, encoded in named.items():
            try:
                digests.append(Digest(f"{algorithm}:{encoded}"))
            except (InvalidDigest, TypeError):
                continue
    predicate_type = doc.get("predicateType")
    return Statement(tuple(digests), predicate_type if isinstance(predicate_type, str) else "")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what a DSSE signature signs.

    ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, lengths in ASCII decimal of
    the UTF-8 byte counts (secure-systems-lab/dsse ``protocol.md``).
    """
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)
