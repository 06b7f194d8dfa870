"""Validate what polyarch writes against the OCI image-spec JSON schemas.

The schemas (image-spec v1.1.1, ``tests/data/oci-schema/``, see its README for source, licence
and hashes) are draft-04 with relative ``$ref``s resolved against nested ``id``s; each file is
pre-registered under the URIs it is reached by, as image-spec's own validator does.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

_BASE = "https://opencontainers.org/schema"
ALIASES: dict[str, list[str]] = {
    "config-schema.json": [f"{_BASE}/image/config"],
    "content-descriptor.json": [f"{_BASE}/descriptor", f"{_BASE}/image/content-descriptor.json"],
    "defs-descriptor.json": [
        f"{_BASE}/image/descriptor/mediaType",
        f"{_BASE}/defs-descriptor.json",
        f"{_BASE}/image/defs-descriptor.json",
    ],
    "defs.json": [
        f"{_BASE}/defs.json",
        f"{_BASE}/image/defs.json",
        f"{_BASE}/image/descriptor/defs.json",
    ],
    "image-index-schema.json": [f"{_BASE}/image/index"],
    "image-layout-schema.json": [f"{_BASE}/image/layout"],
    "image-manifest-schema.json": [f"{_BASE}/image/manifest"],
}

ROOTS = {
    "application/vnd.oci.image.index.v1+json": "image-index-schema.json",
    "application/vnd.oci.image.manifest.v1+json": "image-manifest-schema.json",
    "application/vnd.oci.image.config.v1+json": "config-schema.json",
    "oci-layout": "image-layout-schema.json",
}


#: The schema files, in the repository (nothing outside the clone is read).
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "oci-schema"


def schema_dir() -> Path:
    """Where the schema files are: ``tests/data/oci-schema`` of this repository."""
    return SCHEMA_DIR


@cache
def _validator(root: str) -> jsonschema.Draft4Validator:
    base = schema_dir()
    registry: Registry = Registry()
    for fname, uris in ALIASES.items():
        resource = Resource(contents=json.loads((base / fname).read_text()), specification=DRAFT4)
        registry = registry.with_resources([(u, resource) for u in uris])
    schema = json.loads((base / root).read_text())
    return jsonschema.Draft4Validator(schema, registry=registry)


def schema_errors(document: bytes | dict[str, Any], media_type: str) -> list[str]:
    """Schema violations of ``document`` for ``media_type`` (empty list: valid)."""
    doc = json.loads(document) if isinstance(document, bytes) else document
    validator = _validator(ROOTS[media_type])
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def assert_valid(document: bytes | dict[str, Any], media_type: str) -> None:
    """Fail the test when ``document`` does not validate."""
    errors = schema_errors(document, media_type)
    assert not errors, f"{media_type} fails the OCI schema: {errors}"
