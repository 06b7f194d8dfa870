"""The storage floor: one :class:`~polyarch.storage.repository.Repository` interface.

Backends: a registry repository (:mod:`polyarch.storage.registry`) and an OCI image
layout directory (:mod:`polyarch.storage.layout`). Blobs move as verified streams
(:mod:`polyarch.storage.stream`); the referrers tag schema is shared by both
(:mod:`polyarch.storage.referrers_tag`).
"""
