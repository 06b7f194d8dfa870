"""The content floor: content across repositories, written only against ``Repository``.

What every verb shares: the session that hands out repositories (:mod:`.context`), moving
blobs and manifests between repositories (:mod:`.transfer`, with the blob-info cache of
:mod:`.blobinfo`), the graph of an image or index (:mod:`.graph`), which entry a
platform selects (:mod:`.selection`) and what a reference resolves to
(:mod:`.resolution`), attestations and what they attest (:mod:`.attestations`),
referrers found and carried (:mod:`.referrers`, :mod:`.referrers_carry`), build
records with what they prove (:mod:`.records`, :mod:`.record_evidence`), and cosign
signatures stored and found (:mod:`.signatures`).
"""
