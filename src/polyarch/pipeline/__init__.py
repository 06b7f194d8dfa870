"""The pipeline floor: build each variant from its own codebase, publish one tag, verify it.

The pipeline is driven by a spec file, ``polyarch.yaml`` (see docs/spec.md), read by
:func:`polyarch.pipeline.specfile.load_spec`. :mod:`.build` builds the variants (on one
machine, or one per CI runner) and writes one record per variant; :mod:`.publish`
assembles the records into one multi-platform index, publishes it to every tag and
verifies it. It uses the operations and the engine, never the CLI.
"""
