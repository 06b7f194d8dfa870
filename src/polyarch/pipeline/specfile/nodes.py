"""Reading YAML nodes with line numbers: the generic shapes of a spec file.

The file is composed with PyYAML's safe composer (no object is ever constructed from a
YAML tag) and walked node by node, so every error names the file and the line.
:class:`_NodeReader` reads mappings (merge keys applied, unknown keys refused with a
suggestion), strings, booleans and lists; the spec's variants are read on top of it
(:mod:`polyarch.pipeline.specfile.variant`), and its other sections on top of those
(:mod:`polyarch.pipeline.specfile.reader`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from polyarch.pipeline.specfile.model import _HOME, SpecError

# YAML tags the reader accepts; anything else (custom "!tags", !!python/..., !!binary,
# !!set, !!omap...) is refused before anything is read.
_YAML: Final = "tag:yaml.org,2002:"
_STR: Final = _YAML + "str"
_INT: Final = _YAML + "int"
_FLOAT: Final = _YAML + "float"
_BOOL: Final = _YAML + "bool"
_NULL: Final = _YAML + "null"
_TIMESTAMP: Final = _YAML + "timestamp"
_SEQ: Final = _YAML + "seq"
_MAP: Final = _YAML + "map"
_MERGE: Final = _YAML + "merge"
_SAFE_TAGS: Final = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP, _SEQ, _MAP, _MERGE})
# Scalars taken as the text written: "tags: [1.10]" is the tag "1.10", not 1.1.
_TEXT_TAGS: Final = frozenset({_STR, _INT, _FLOAT, _TIMESTAMP})
_TRUE: Final = frozenset({"yes", "true", "on"})


def _q(text: str) -> str:
    """``text`` quoted for a one-line message (control characters escaped)."""
    return repr(text) if text.isprintable() else json.dumps(text)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(node: Node) -> str:
    """What ``node`` is, for "expected X, got Y" messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    names = {
        _STR: "a string",
        _INT: "a number",
        _FLOAT: "a number",
        _BOOL: f"the boolean {node.value}",
        _NULL: "nothing (null)",
        _TIMESTAMP: "a date",
    }
    return names.get(node.tag, "a value")


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


_Pair = tuple[ScalarNode, Node]


class _NodeReader:
    """Walks the composed YAML nodes of one spec file, keeping line numbers."""

    def __init__(self, shown: str, path: Path, paths: bool = True) -> None:
        self.shown = shown
        self.path = path
        self.base = path.parent
        #: Whether build contexts and Dockerfiles must exist on disk.
        self.paths = paths

    def fail(self, node: Node | None, detail: str, *, hint: str | None = None) -> NoReturn:
        raise SpecError(self.shown, None if node is None else _line(node), detail, hint=hint)

    # --- the document -------------------------------------------------------------------

    def compose(self, data: bytes) -> MappingNode:
        try:
            root = yaml.compose(data, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem, context = exc.problem or "", exc.context or ""
            if problem.startswith("but ") and context:
                # "expected a single document in the stream", "but found another document"
                problem, context = f"{context}, {problem}", ""
            detail = " ".join(f"invalid YAML: {problem or context}".split())
            if problem and context and exc.context_mark is not None:
                detail += f" ({context} at line {exc.context_mark.line + 1})"
            raise SpecError(
                self.shown,
                None if mark is None else mark.line + 1,
                detail,
                column=None if mark is None else mark.column + 1,
            ) from None
        except yaml.reader.ReaderError as exc:
            raise SpecError(
                self.shown, None, f"not UTF-8 or UTF-16 text: {exc.reason} at byte {exc.position}"
            ) from None
        except RecursionError:
            raise SpecError(self.shown, None, "invalid YAML: nested too deeply") from None
        except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is one of the above
            raise SpecError(self.shown, None, " ".join(f"invalid YAML: {exc}".split())) from None
        if root is None:
            self.fail(None, "the file is empty; expected a mapping with 'image' and 'variants'")
        if not isinstance(root, MappingNode):
            self.fail(
                root, f"the top level must be a mapping (image, variants...), got {_kind(root)}"
            )
        return root

    def check_tags(self, root: Node) -> None:
        """Refuse any YAML tag but the plain ones, anywhere in the document."""
        seen: set[int] = set()
        pending: list[Node] = [root]
        while pending:
            node = pending.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.tag not in _SAFE_TAGS:
                self.fail(node, f"unsupported YAML tag {_q(node.tag)}; only plain YAML is read")
            if isinstance(node, SequenceNode):
                pending.extend(reversed(node.value))
            elif isinstance(node, MappingNode):
                for key, value in reversed(node.value):
                    pending.extend((value, key))

    # --- generic shapes -----------------------------------------------------------------

    def entries(self, node: MappingNode, where: str, stack: frozenset[int]) -> dict[str, _Pair]:
        """The keys of a mapping, YAML merge keys (``<<: *anchor``) applied."""
        explicit: dict[str, _Pair] = {}
        merged: dict[str, _Pair] = {}
        inner = stack | {id(node)}
        for key, value in node.value:
            if key.tag == _MERGE:
                sources = value.value if isinstance(value, SequenceNode) else [value]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        self.fail(
                            source, f"{_prefix(where)}'<<' merges mappings, got {_kind(source)}"
                        )
                    if id(source) in inner:
                        self.fail(source, f"{_prefix(where)}a mapping merges itself")
                    for name, pair in self.entries(source, where, inner).items():
                        merged.setdefault(name, pair)
                continue
            if not isinstance(key, ScalarNode) or key.tag != _STR:
                self.fail(key, f"{_prefix(where)}keys must be strings, got {_kind(key)}")
            name = str(key.value)
            if name in explicit:
                first = _line(explicit[name][0])
                self.fail(key, f"{_prefix(where)}duplicate key {_q(name)} (first at line {first})")
            explicit[name] = (key, value)
        merged.update(explicit)
        return merged

    def mapping(
        self,
        node: Node,
        where: str,
        known: Sequence[str] | None,
        *,
        required: Sequence[str] = (),
    ) -> dict[str, _Pair]:
        """A mapping's entries; with ``known``, unknown keys are refused."""
        if not isinstance(node, MappingNode):
            self.fail(node, f"{_prefix(where)}expected a mapping, got {_kind(node)}")
        entries = self.entries(node, where, frozenset())
        if known is not None:
            for name, (key, _) in entries.items():
                if name not in known:
                    self.fail(key, f"{_prefix(where)}unknown key {_q(name)}{_suggest(name, known)}")
        for name in required:
            if name not in entries:
                self.fail(node, f"{_prefix(where)}missing required key {_q(name)}")
        return entries

    def text(self, node: Node, where: str, *, empty: bool = False) -> str:
        """A string; numbers and dates are taken as written (``1.10`` is ``"1.10"``)."""
        if isinstance(node, ScalarNode) and node.tag in _TEXT_TAGS:
            value = str(node.value)
            if not value and not empty:
                self.fail(node, f"{where}: must not be empty")
            return value
        hint = None
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            hint = f"quote it, '{node.value}', to mean the text"
        self.fail(node, f"{where}: expected a string, got {_kind(node)}", hint=hint)

    def flag(self, node: Node, where: str) -> bool:
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return str(node.value).lower() in _TRUE
        self.fail(node, f"{where}: expected true or false, got {_kind(node)}")

    def one_or_many(self, node: Node, where: str) -> list[tuple[str, Node, str]]:
        """A string or a non-empty list of strings: ``(text, node, where)`` for each."""
        if isinstance(node, SequenceNode):
            if not node.value:
                self.fail(node, f"{where}: the list is empty")
            return [
                (self.text(item, f"{where}[{i}]"), item, f"{where}[{i}]")
                for i, item in enumerate(node.value)
            ]
        if isinstance(node, MappingNode):
            self.fail(node, f"{where}: expected a string or a list of strings, got a mapping")
        return [(self.text(node, where), node, where)]

    def string_map(self, node: Node, where: str) -> Mapping[str, str]:
        """``build-args`` and ``labels``: names to scalar values, as strings."""
        out: dict[str, str] = {}
        for name, (key, value) in self.mapping(node, where, None).items():
            item = f"{where}.{name}"
            if not name or any(c.isspace() or c == "=" for c in name):
                self.fail(key, f"{where}: invalid name {_q(name)} (no spaces, no '=')")
            if isinstance(value, ScalarNode) and value.tag == _BOOL:
                self.fail(
                    value,
                    f"{item}: {value.value} is a YAML boolean; quote it, '{value.value}', "
                    "to pass the text",
                )
            if isinstance(value, ScalarNode) and value.tag == _NULL:
                self.fail(value, f"{item}: has no value; write '' for an empty value")
            if not isinstance(value, ScalarNode):
                self.fail(value, f"{item}: expected a string or a number, got {_kind(value)}")
            out[name] = self.text(value, item, empty=True)
        return MappingProxyType(out)

    # --- the sections -------------------------------------------------------------------


def _suggest(name: str, known: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known key, else where the key belongs, else
    the list of known keys."""
    if name in _HOME and name not in known:
        return f" ({_q(name)} {_HOME[name]})"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {_q(close[0])}?)"
    return f" (known keys: {', '.join(known)})"
