"""Content across repositories, written against :class:`~polyarch.storage.Repository`.

Below the verbs, above storage: what several operations share (transfers, the image
graph, referrers, records, signatures). docs/architecture.md lists the modules.
"""
