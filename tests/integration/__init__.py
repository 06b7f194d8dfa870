"""Integration tests: real registries (a package so module names may repeat tests/unit's)."""
