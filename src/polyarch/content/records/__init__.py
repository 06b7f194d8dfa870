"""Build records: the formats read (:mod:`.formats`: polyarch records, buildx and Bake
metadata files) and what a record proves in a registry (:mod:`.evidence`)."""
