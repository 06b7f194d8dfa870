"""Signing formats and their cryptography, as cosign writes and reads them (no I/O).

* :mod:`~polyarch.domain.signing.keys`: cosign key pairs (``cosign generate-key-pair``:
  an ``ENCRYPTED SIGSTORE PRIVATE KEY`` PEM, scrypt + NaCl secretbox; a PKIX public key),
  ECDSA P-256 signatures over SHA-256.
* :mod:`~polyarch.domain.signing.payload`: what is signed: the simple signing payload of
  the tag form, the in-toto statement of the bundle form, DSSE's pre-authentication
  encoding.
* :mod:`~polyarch.domain.signing.legacy`: cosign's tag form (``sha256-<hex>.sig``: an
  image manifest whose layers are payloads, the signature in an annotation).
* :mod:`~polyarch.domain.signing.bundle`: cosign 3's OCI 1.1 form (a Sigstore bundle v0.3
  holding a DSSE envelope, in a manifest whose ``subject`` is the signed image).
* :mod:`~polyarch.domain.signing.check`: the verdict on one signature for one digest.

Storing and finding signatures in a repository is :mod:`polyarch.content.referrers.signatures`;
the ``sign`` verb is :mod:`polyarch.operations.sign`. docs/signatures.md says which
formats, why these libraries, and what is checked.
"""
