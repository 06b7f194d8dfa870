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
    parse_config,
    parse_manifest,
)
from polyarch.storage.layout.index import check_marker, parse_index
from polyarch.transport.auth.challenge import parse_challenges
from polyarch.transport.retry import parse_retry_after
from support.documents import DESCRIPTOR, JSON, PLATFORM, TEMPLATES, TEXT, mutated, raw

EXAMPLES = int(os.environ.get("POLYARCH_FUZZ_EXAMPLES", "200"))
FAST = settings(max_examples=EXAMPLES, deadline=None, database=None)


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
    "manifests": [{**DESCRIPTOR, "platform": {**PLATFORM, "variant": "\ud800"}}],
}


@FAST
@example(_SURROGATE_VARIANT)
@given(st.sampled_from(["image", "index"]).flatmap(lambda k: mutated(TEMPLATES[k])))
def test_manifests_parse_or_are_refused_in_one_line(doc: Any) -> None:
    manifest = _refused_or_printable(lambda: parse_manifest(raw(doc)))
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
    config = _refused_or_printable(lambda: parse_config(raw(doc)))
    if config is not None:
        _encodes([str(config.platform), config.created, config.author, dict(config.labels)])
        _encodes([config.entrypoint, config.cmd])


@FAST
@example({**DESCRIPTOR, "annotations": {"org.opencontainers.image.title": "\udcff"}})
@given(mutated(TEMPLATES["index"]["manifests"][0]))
def test_descriptors_parse_or_are_refused_in_one_line(doc: Any) -> None:
    descriptor = _refused_or_printable(lambda: Descriptor.from_json(doc))
    if descriptor is not None:
        _encodes(descriptor.to_json())


@FAST
@given(mutated(TEMPLATES["index"]) | JSON)
def test_layout_index_json_parses_or_is_refused_in_one_line(doc: Any) -> None:
    _refused_or_printable(lambda: parse_index(raw(doc), what="oci:x: index.json"))
    _refused_or_printable(lambda: check_marker(raw(doc), "oci:x"))


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
