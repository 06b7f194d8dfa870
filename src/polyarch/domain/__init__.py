"""The domain floor: what the OCI and Docker formats mean, with no I/O.

References and locations (:mod:`.reference`, :mod:`.location`), digests (:mod:`.digest`),
media types (:mod:`.mediatype`), platforms with containerd's rules (:mod:`.platform`),
descriptors (:mod:`.descriptor`), manifests, indexes and configs parsed from the exact
bytes that name them (:mod:`.manifest`), what attestation statements say
(:mod:`.statements`), and cosign's signing formats (:mod:`.signing`). Every floor above
builds on these; they import only :mod:`polyarch.errors` and :mod:`polyarch.files` (and,
for signing, the cryptography libraries, when a key is used).
"""
