"""The domain floor: values and formats, no I/O (references, digests, manifests, signing)."""
