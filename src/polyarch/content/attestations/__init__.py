"""BuildKit attestations: which image each attests (:mod:`.links`), moved to and found as
OCI 1.1 referrers (:mod:`.referrers`), and what they say per platform (:mod:`.provenance`)."""
