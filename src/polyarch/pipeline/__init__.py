"""The build pipeline: build each variant from its own codebase, publish one tag, verify it.

The pipeline is driven by a spec file, ``polyarch.yaml`` (see docs/spec.md), read by
:func:`load_spec` after :func:`find_spec` located it. This package works at the level of
the operations: it uses the domain (references, platforms, digests, errors) and the
operations, never the CLI.
"""

from polyarch.pipeline.spec import (
    DEFAULT_TAGS,
    SPEC_FILE_NAMES,
    Attestations,
    Spec,
    SpecError,
    Variant,
    VerifySpec,
    find_spec,
    load_spec,
)

__all__ = [
    "DEFAULT_TAGS",
    "SPEC_FILE_NAMES",
    "Attestations",
    "Spec",
    "SpecError",
    "Variant",
    "VerifySpec",
    "find_spec",
    "load_spec",
]
