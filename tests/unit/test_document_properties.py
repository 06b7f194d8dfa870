"""Issue 25, kind 5 (local side): no document polyarch parses ends in anything but its own error.

Every parser of text that comes from outside (a registry, a layout, a build, a token
service) is given generated input: near-valid documents with fields of every JSON type,
strings full of what breaks printers (rich markup brackets, control characters, lone
surrogates from ``\\udXXX`` escapes, right-to-left marks), arbitrary bytes. The property:
it returns, or raises a :class:`polyarch.PolyarchError` whose message is one line; and
what it returns can be turned back into JSON text that encodes as UTF-8 (what every
``--json`` output does), or the parser refused it.

The other side of the same kind, documents served by a real registry and printed by the
real CLI, is ``tests/integration/test_document_fuzz.py``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from polyarch import (
    Descriptor,
    Index,
    PolyarchError,
    Record,
    mediatype,
    parse_config,
    parse_manifest,
)
from polyarch.storage.layoutindex import check_marker, parse_index
from polyarch.transport.challenge import parse_challenges
from polyarch.transport.retry import parse_retry_after

EXAMPLES = int(os.environ.get("POLYARCH_FUZZ_EXAMPLES", "200"))
FAST = settings(max_examples=EXAMPLES, deadline=None, database=None)

#: What breaks printers and encoders, mixed into ordinary text.
_NASTY = "[]/\\\"'{}%\x00\x07\x1b\x7f\n\r\t\u202e\ufeff\ud800\udcff\U0001f600é"
TEXT = st.text(max_size=24) | st.text(alphabet=_NASTY + "abc:=.", max_size=24)
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)

_DIGEST = "sha256:" + "a" * 64
_DESCRIPTOR = {"mediaType": mediatype.OCI_MANIFEST, "digest": _DIGEST, "size": 10}
_PLATFORM = {"architecture": "amd64", "os": "linux", "variant": "v2", "os.features": ["a"]}
TEMPLATES: dict[str, dict[str, Any]] = {
    "image": {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "artifactType": "application/x",
        "config": {**_DESCRIPTOR, "mediaType": mediatype.OCI_CONFIG},
        "layers": [{**_DESCRIPTOR, "mediaType": mediatype.OCI_LAYER_GZIP, "urls": ["u"]}],
        "subject": _DESCRIPTOR,
        "annotations": {"a": "b"},
    },
    "index": {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_INDEX,
        "manifests": [{**_DESCRIPTOR, "platform": _PLATFORM, "annotations": {"a": "b"}}],
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
        "rootfs": {"type": "layers", "diff_ids": [_DIGEST]},
        "history": [{"created_by": "x"}],
    },
    "record": {
        "schema": "polyarch.record/v1",
        "platform": "linux/amd64",
        "repository": "127.0.0.1:5000/app",
        "digest": _DIGEST,
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


def _raw(doc: Any) -> bytes:
    # ensure_ascii: lone surrogates travel as \\udXXX escapes, as a registry may serve them.
    return json.dumps(doc).encode()


def _refused_or_printable(call: Any) -> Any:
    """Run ``call``; a PolyarchError must be one line; a result must print as UTF-8 JSON."""
    try:
        result = call()
    except PolyarchError as error:
        assert "\n" not in error.one_line(), error.one_line()
        return None
    return result


def _encodes(value: Any) -> None:
    json.dumps(value, ensure_ascii=False).encode("utf-8")


#: An index entry whose platform variant is a lone surrogate (``"\\ud800"`` in the JSON):
#: parsed, then unprintable (the real CLI ends in ``internal error: UnicodeEncodeError``).
_SURROGATE_VARIANT = {
    **TEMPLATES["index"],
    "manifests": [{**_DESCRIPTOR, "platform": {**_PLATFORM, "variant": "\ud800"}}],
}


@FAST
@example(_SURROGATE_VARIANT)
@given(st.sampled_from(["image", "index"]).flatmap(lambda k: mutated(TEMPLATES[k])))
def test_manifests_parse_or_are_refused_in_one_line(doc: Any) -> None:
    manifest = _refused_or_printable(lambda: parse_manifest(_raw(doc)))
    if manifest is None:
        return
    entries = manifest.manifests if isinstance(manifest, Index) else manifest.blobs
    for descriptor in entries:
        _encodes(descriptor.to_json())
    _encodes(dict(manifest.annotations))


@FAST
@example({**TEMPLATES["config"], "config": {"Labels": {"a": "\ud800"}}})
@given(mutated(TEMPLATES["config"]))
def test_configs_parse_or_are_refused_in_one_line(doc: Any) -> None:
    config = _refused_or_printable(lambda: parse_config(_raw(doc)))
    if config is not None:
        _encodes([str(config.platform), config.created, config.author, dict(config.labels)])
        _encodes([config.entrypoint, config.cmd])


@FAST
@example({**_DESCRIPTOR, "annotations": {"org.opencontainers.image.title": "\udcff"}})
@given(mutated(TEMPLATES["index"]["manifests"][0]))
def test_descriptors_parse_or_are_refused_in_one_line(doc: Any) -> None:
    descriptor = _refused_or_printable(lambda: Descriptor.from_json(doc))
    if descriptor is not None:
        _encodes(descriptor.to_json())


@FAST
@given(mutated(TEMPLATES["index"]) | JSON)
def test_layout_index_json_parses_or_is_refused_in_one_line(doc: Any) -> None:
    _refused_or_printable(lambda: parse_index(_raw(doc), what="oci:x: index.json"))
    _refused_or_printable(lambda: check_marker(_raw(doc), "oci:x"))


@FAST
@example({**TEMPLATES["record"], "repository": "\ud800"})
@given(mutated(TEMPLATES["record"]))
def test_records_parse_or_are_refused_in_one_line(doc: Any) -> None:
    record = _refused_or_printable(lambda: Record.from_json(doc, "records/x.json"))
    if record is not None:
        _encodes(record.to_json())


@FAST
@given(st.binary(max_size=64) | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_bytes_that_are_not_json_are_refused_in_one_line(raw: bytes) -> None:
    _refused_or_printable(lambda: parse_manifest(raw))
    _refused_or_printable(lambda: parse_config(raw))
    _refused_or_printable(lambda: parse_index(raw, what="oci:x: index.json"))


@FAST
@example("\u00b9")  # str.isdigit() says yes, float() says no: ValueError, an internal error
@given(st.lists(TEXT, max_size=3) | TEXT)
def test_headers_parse_or_are_refused_in_one_line(value: Any) -> None:
    """``WWW-Authenticate`` and ``Retry-After`` come from any server (a 429 carrying
    ``Retry-After: ¹`` ended the real CLI in ``internal error: ValueError``)."""
    _refused_or_printable(lambda: parse_challenges(value))
    if isinstance(value, str):
        _refused_or_printable(lambda: parse_retry_after(value))
