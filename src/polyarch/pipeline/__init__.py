"""The build pipeline: build each variant from its own codebase, publish one tag, verify it.

The pipeline is driven by a spec file, ``polyarch.yaml`` (see docs/spec.md), read by
:func:`load_spec` after :func:`find_spec` located it. :func:`build_variants` builds the
variants (on one machine, or one per CI runner) and writes one record per variant;
:func:`publish` assembles the records into one multi-platform index, publishes it to
every tag and verifies it. This package works at the level of the operations: it uses
the domain (references, platforms, digests, errors) and the operations, never the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyarch._lazy import lazy_exports

if TYPE_CHECKING:
    from polyarch.pipeline.build import (
        DEFAULT_RECORDS_DIR,
        BuildFailed,
        BuildFailure,
        BuildRequest,
        BuildResult,
        ProcessResult,
        build_variants,
        record_file_name,
        run_process,
    )
    from polyarch.pipeline.builders import (
        BuilderChoice,
        BuilderUnsuitable,
        choose_builder,
    )
    from polyarch.pipeline.publish import (
        CleanupOutcome,
        EngineUnavailable,
        PublishedVariant,
        PublishFailed,
        PublishRequest,
        PublishResult,
        RecordMismatch,
        publish,
    )
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
    "DEFAULT_RECORDS_DIR",
    "DEFAULT_TAGS",
    "SPEC_FILE_NAMES",
    "Attestations",
    "BuildFailed",
    "BuildFailure",
    "BuildRequest",
    "BuildResult",
    "BuilderChoice",
    "BuilderUnsuitable",
    "CleanupOutcome",
    "EngineUnavailable",
    "ProcessResult",
    "PublishFailed",
    "PublishRequest",
    "PublishResult",
    "PublishedVariant",
    "RecordMismatch",
    "Spec",
    "SpecError",
    "Variant",
    "VerifySpec",
    "build_variants",
    "choose_builder",
    "find_spec",
    "load_spec",
    "publish",
    "record_file_name",
    "run_process",
]

# Imported on first use (see polyarch._lazy): a command loads only what it needs.
__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "polyarch.pipeline.build": (
            "DEFAULT_RECORDS_DIR",
            "BuildFailed",
            "BuildFailure",
            "BuildRequest",
            "BuildResult",
            "ProcessResult",
            "build_variants",
            "record_file_name",
            "run_process",
        ),
        "polyarch.pipeline.builders": ("BuilderChoice", "BuilderUnsuitable", "choose_builder"),
        "polyarch.pipeline.publish": (
            "CleanupOutcome",
            "EngineUnavailable",
            "PublishedVariant",
            "PublishFailed",
            "PublishRequest",
            "PublishResult",
            "RecordMismatch",
            "publish",
        ),
        "polyarch.pipeline.spec": (
            "DEFAULT_TAGS",
            "SPEC_FILE_NAMES",
            "Attestations",
            "Spec",
            "SpecError",
            "Variant",
            "VerifySpec",
            "find_spec",
            "load_spec",
        ),
    },
)
