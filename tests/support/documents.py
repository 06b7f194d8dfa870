"""Generated documents for property tests: near-valid manifests, indexes, configs, records.

Strings are full of what breaks printers and encoders (rich markup brackets, control
characters, lone surrogates that a JSON ``\\udXXX`` escape produces, right-to-left
marks); documents are valid templates with a few fields, at any depth, replaced by such
text, by any JSON value, or removed. Used by ``tests/unit/test_document_properties.py``
(the parsers) and ``tests/integration/test_document_fuzz.py`` (the CLI printing what a
registry serves).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from polyarch.domain import mediatype

__all__ = [
    "DESCRIPTOR",
    "DIGEST",
    "JSON",
    "NASTY",
    "PLATFORM",
    "TEMPLATES",
    "TEXT",
    "mutated",
    "raw",
]

#: What breaks printers and encoders, mixed into ordinary text.
NASTY = "[]/\\\"'{}%\x00\x07\x1b\x7f\n\r\t\u202e\ufeff\ud800\udcff\U0001f600é"
TEXT = st.text(max_size=24) | st.text(alphabet=NASTY + "abc:=.", max_size=24)
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)

DIGEST = "sha256:" + "a" * 64
DESCRIPTOR = {"mediaType": mediatype.OCI_MANIFEST, "digest": DIGEST, "size": 10}
PLATFORM = {"architecture": "amd64", "os": "linux", "variant": "v2", "os.features": ["a"]}
TEMPLATES: dict[str, dict[str, Any]] = {
    "image": {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "artifactType": "application/x",
        "config": {**DESCRIPTOR, "mediaType": mediatype.OCI_CONFIG},
        "layers": [{**DESCRIPTOR, "mediaType": mediatype.OCI_LAYER_GZIP, "urls": ["u"]}],
        "subject": DESCRIPTOR,
        "annotations": {"a": "b"},
    },
    "index": {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_INDEX,
        "manifests": [{**DESCRIPTOR, "platform": PLATFORM, "annotations": {"a": "b"}}],
        "annotations": {"a": "b"},
    },
    "config": {
        "architecture": "amd64",
        "os": "linux",
        "variant": "v8",
        "os.version": "10",
        "created": "2024-01-01T00:00:00Z",
        "author": "me",
        "config": {"Env": ["A=1"], "Labels": {"a": "b"}, "Cmd": ["sh"], "User": "u"},
        "rootfs": {"type": "layers", "diff_ids": [DIGEST]},
        "history": [{"created_by": "x"}],
    },
    "record": {
        "schema": "polyarch.record/v1",
        "platform": "linux/amd64",
        "repository": "127.0.0.1:5000/app",
        "digest": DIGEST,
    },
}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``node``: each container and each leaf, at every depth."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any]) -> Any:
    """``template`` with a few fields, at any depth (chosen evenly among all of them),
    replaced by text (strings are most of what a printer meets), by any JSON value, or
    removed; now and then any JSON value instead of the whole document."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    doc = json.loads(json.dumps(template))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        node = doc
        for key in parents:
            node = node[key]
        choice = draw(st.integers(0, 9))
        if choice == 0 and isinstance(node, dict):
            del node[last]
        elif choice < 6:
            node[last] = draw(TEXT)
        else:
            node[last] = draw(JSON)
    return doc


def raw(doc: Any) -> bytes:
    """``doc`` as JSON bytes; lone surrogates travel as ``\\udXXX`` escapes, as a registry
    may serve them."""
    return json.dumps(doc).encode()
