"""Referrers: manifests attached to an image, found (:mod:`.discovery`), carried to another
repository (:mod:`.carry`), and cosign's signatures stored and found among them
(:mod:`.signatures`)."""
