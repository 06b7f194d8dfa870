"""A repository of a registry, over the OCI Distribution API (``repository.py``).

Its parts share one :class:`~polyarch.storage.registry.endpoint.Endpoint`: response bodies
(``bodies.py``), blob uploads and mounts (``uploads.py``), the tag list (``tags.py``) and
the referrers API (``referrers.py``).
"""
