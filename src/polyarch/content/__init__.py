"""The content floor: content across repositories, written only against ``Repository``.

What every verb shares: the session that hands out repositories (:mod:`.context`), moving
blobs and manifests between repositories (:mod:`.transfer`, with the worker pool of
:mod:`.pool` and the blob-info cache of :mod:`.blobinfo`), the graph of an image or index
(:mod:`.graph`), what a repository's tags reach (:mod:`.reach`), which entry a platform
selects (:mod:`.selection`) and what a reference resolves to (:mod:`.resolution`); and
three families of their own: referrers found and carried, with cosign signatures among
them (:mod:`.referrers`), BuildKit attestations and what they attest
(:mod:`.attestations`), and build records with what they prove (:mod:`.records`).
"""
