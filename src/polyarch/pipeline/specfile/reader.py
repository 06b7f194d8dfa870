"""The sections of ``polyarch.yaml``: image, bake, tags, flavor, annotations, verify,
attestations.

:class:`_Reader` turns the composed document into a :class:`~polyarch.pipeline.specfile.Spec`,
checking each value where it is written so that an error names its line; each variant is
read by the class it builds on (:mod:`polyarch.pipeline.specfile.variant`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

from yaml.nodes import Node, ScalarNode, SequenceNode

from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.errors import InvalidInput, InvalidReference
from polyarch.operations.create.annotations import parse_annotations
from polyarch.pipeline.specfile.model import (
    _BAKE_KEYS,
    _TOP_KEYS,
    _VERIFY_KEYS,
    DEFAULT_TAGS,
    Attestations,
    BakeSource,
    Spec,
    Variant,
    VerifySpec,
    _per_platform_tag,
)
from polyarch.pipeline.specfile.nodes import (
    _BOOL,
    _NULL,
    _TEXT_TAGS,
    _kind,
    _line,
    _Pair,
    _q,
)
from polyarch.pipeline.specfile.variant import _VariantReader
from polyarch.pipeline.tags.rules import GLOBAL_NAMES, Flavor, TagRule, parse_flavor, parse_rule
from polyarch.pipeline.tags.template import Template

# The OCI distribution tag grammar (the same as polyarch.domain.reference's).
_TAG_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_TAG_RULE: Final = (
    'a tag is 1 to 128 letters, digits, "_", "." or "-" and does not start with "." or "-"'
)
_MAX_TAG_LENGTH: Final = 128


def _is_plain(rule: TagRule) -> bool:
    """A ``type=raw`` rule whose value is fixed text: a tag known without a version."""
    return (
        rule.type == "raw"
        and rule.value is not None
        and not rule.value.names
        and rule.prefix is None
        and rule.suffix is None
        and rule.enable.source == "true"
        and bool(_TAG_RE.fullmatch(rule.value.source))
    )


def _plain_value(rule: TagRule) -> str:
    assert rule.value is not None
    return rule.value.source


class _Reader(_VariantReader):
    """Reads the spec's sections from the composed YAML nodes of one spec file."""

    def read(self, data: bytes) -> Spec:
        root = self.compose(data)
        self.check_tags(root)
        top = self.mapping(root, "", _TOP_KEYS, required=("image",))
        if "variants" not in top and "bake" not in top:
            self.fail(root, "missing required key 'variants' (or 'bake': Bake targets)")
        if "variants" in top and "bake" in top:
            self.fail(
                top["bake"][0],
                "bake: give the variants or the Bake targets that make them, not both",
            )
        images = self.images(top["image"][1])
        tags, rules = self.tags(top["tags"][1]) if "tags" in top else self.default_tags()
        flavor = self.flavor(top["flavor"][1]) if "flavor" in top else Flavor()
        annotations: Mapping[str, str] = MappingProxyType({})
        if "annotations" in top:
            annotations = self.annotations(top["annotations"][1])
        bake = self.bake(top["bake"][1]) if "bake" in top else None
        variants = self.variants(top["variants"][1]) if bake is None else ()
        if tags and bake is None:
            self.check_per_platform_tags(tags, top.get("tags"), variants, top["variants"][1])
        known = variants if bake is None else None
        verify = self.verify(top["verify"][1], known) if "verify" in top else VerifySpec()
        attestations: Attestations = "keep"
        if "attestations" in top:
            attestations = self.attestations(top["attestations"][1])
        return Spec(
            self.path,
            images,
            tags,
            variants,
            verify,
            attestations,
            rules,
            flavor,
            annotations,
            bake,
        )

    def bake(self, node: Node) -> BakeSource:
        """``bake: {file: F | [F...], targets: T | [T...]}``: files relative to the spec."""
        entries = self.mapping(node, "bake", _BAKE_KEYS, required=("file",))
        files: list[Path] = []
        for text, item, where in self.one_or_many(entries["file"][1], "bake.file"):
            path = (self.base / text).resolve()
            if self.paths and not path.is_file():
                self.fail(item, f"{where}: Bake file {_q(text)} does not exist ({path})")
            files.append(path)
        targets: list[str] = []
        if "targets" in entries:
            for text, item, where in self.one_or_many(entries["targets"][1], "bake.targets"):
                if not re.fullmatch(r"[A-Za-z0-9_.-]+", text):
                    self.fail(item, f"{where}: {_q(text)} is not a Bake target name")
                targets.append(text)
        return BakeSource(tuple(files), tuple(targets))

    # --- the sections -------------------------------------------------------------------

    def images(self, node: Node) -> tuple[Reference, ...]:
        seen: dict[str, tuple[str, Node, str]] = {}
        images: list[Reference] = []
        for text, item, where in self.one_or_many(node, "image"):
            try:
                ref = Reference.parse(text)
            except InvalidReference as exc:
                self.fail(item, f"{where}: {exc.one_line()}")
            if ref.tag is not None or ref.digest is not None:
                what = "a digest" if ref.digest is not None else f"the tag {_q(ref.tag or '')}"
                self.fail(
                    item,
                    f"{where}: {_q(text)} has {what}; give the repository only",
                    hint="tags come from 'tags'",
                )
            if ref.name in seen:
                first_text, first, first_where = seen[ref.name]
                self.fail(
                    item,
                    f"{where}: {_q(text)} is the same repository as {_q(first_text)} "
                    f"({first_where}, line {_line(first)})",
                )
            seen[ref.name] = (text, item, where)
            images.append(ref)
        return tuple(images)

    def default_tags(self) -> tuple[tuple[str, ...], tuple[TagRule, ...]]:
        return DEFAULT_TAGS, tuple(parse_rule(tag) for tag in DEFAULT_TAGS)

    def tags(self, node: Node) -> tuple[tuple[str, ...], tuple[TagRule, ...]]:
        """Plain tags and docker/metadata-action rules (an entry holding ``=`` or ``{{``).

        Returns the static tags (empty when a rule needs a version) and every entry as a
        rule (a plain tag is ``type=raw``).
        """
        seen: dict[str, tuple[Node, str]] = {}
        rules: list[TagRule] = []
        static = True
        for text, item, where in self.one_or_many(node, "tags"):
            if "=" in text or "{{" in text:
                try:
                    rule = parse_rule(text)
                except InvalidInput as exc:
                    self.fail(item, f"{where}: {exc.message}", hint=exc.hint)
                static = static and _is_plain(rule)
            else:
                if not _TAG_RE.fullmatch(text):
                    self.fail(item, f"{where}: invalid tag {_q(text)}", hint=_TAG_RULE)
                rule = parse_rule(text)
            if text in seen:
                first, first_where = seen[text]
                what = "tag" if "=" not in text else "tag rule"
                self.fail(
                    item,
                    f"{where}: duplicate {what} {_q(text)} ({first_where}, line {_line(first)})",
                )
            seen[text] = (item, where)
            rules.append(rule)
        if static:
            return tuple(_plain_value(r) for r in rules), tuple(rules)
        return (), tuple(rules)

    def flavor(self, node: Node) -> Flavor:
        entries = [text for text, _, _ in self.one_or_many(node, "flavor")]
        try:
            return parse_flavor(entries)
        except InvalidInput as exc:
            self.fail(node, f"flavor: {exc.message}", hint=exc.hint)

    def annotations(self, node: Node) -> Mapping[str, str]:
        """Index annotations: ``KEY: VALUE`` (buildx's ``index:``/``manifest-descriptor:``
        prefixes accepted in the key), values possibly holding global expressions."""
        where = "annotations"
        out: dict[str, str] = {}
        for name, (key, value) in self.mapping(node, where, None).items():
            item = f"{where}.{name}"
            if isinstance(value, ScalarNode) and value.tag == _BOOL:
                self.fail(value, f"{item}: {value.value} is a YAML boolean; quote it")
            if isinstance(value, ScalarNode) and value.tag == _NULL:
                self.fail(value, f"{item}: has no value; write '' for an empty value")
            text = self.text(value, item, empty=True)
            try:
                parse_annotations([f"{name}={text}"])
                Template.parse(text).check(GLOBAL_NAMES, item)
            except InvalidInput as exc:
                self.fail(key, f"{item}: {exc.message}", hint=exc.hint)
            out[name] = text
        return MappingProxyType(out)

    def check_per_platform_tags(
        self,
        tags: tuple[str, ...],
        tags_entry: _Pair | None,
        variants: tuple[Variant, ...],
        variants_node: Node,
    ) -> None:
        """Each variant's per-platform tag must be a valid tag, and a distinct one."""
        seen: dict[str, int] = {}
        for index, variant in enumerate(variants):
            tag = _per_platform_tag(tags[0], variant.platform)
            if len(tag) > _MAX_TAG_LENGTH:
                where = tags_entry[1] if tags_entry is not None else variants_node
                self.fail(
                    where,
                    f"tags: the first tag {_q(tags[0])} is too long for the per-platform tag "
                    f"{_q(tag)} ({len(tag)} characters, at most {_MAX_TAG_LENGTH})",
                )
            if tag in seen:
                node = variants_node.value[index]
                self.fail(
                    node,
                    f"variants[{index}]: the per-platform tag {_q(tag)} is also "
                    f"variants[{seen[tag]}]'s (platforms differing only in os.version)",
                )
            seen[tag] = index

    def verify(self, node: Node, variants: tuple[Variant, ...] | None) -> VerifySpec:
        entries = self.mapping(node, "verify", _VERIFY_KEYS)
        run = self.run(entries["run"][1]) if "run" in entries else None
        expect: dict[Platform, str] = {}
        if "expect-output" in entries:
            key, value = entries["expect-output"]
            if run is None:
                self.fail(key, "verify.expect-output needs verify.run")
            expect = self.expect_output(value, variants)
        exact = self.flag(entries["exact"][1], "verify.exact") if "exact" in entries else True
        strict = self.flag(entries["strict"][1], "verify.strict") if "strict" in entries else False
        return VerifySpec(run, MappingProxyType(expect), exact, strict)

    def run(self, node: Node) -> tuple[str, ...] | None:
        where = "verify.run"
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return () if self.flag(node, where) else None
        if isinstance(node, SequenceNode):
            words = [
                self.text(item, f"{where}[{i}]", empty=i > 0) for i, item in enumerate(node.value)
            ]
        elif isinstance(node, ScalarNode) and node.tag in _TEXT_TAGS:
            try:
                words = shlex.split(str(node.value))
            except ValueError as exc:
                self.fail(node, f"{where}: cannot split {_q(str(node.value))} into words: {exc}")
        else:
            self.fail(
                node,
                f"{where}: expected a command (a string or a list of strings) or true, "
                f"got {_kind(node)}",
            )
        if not words:
            self.fail(
                node,
                f"{where}: the command is empty",
                hint="write 'run: true' to start the image's own command",
            )
        return tuple(words)

    def expect_output(
        self, node: Node, variants: tuple[Variant, ...] | None
    ) -> dict[Platform, str]:
        """``verify.expect-output``; ``variants`` ``None`` (Bake targets, not read yet): the
        platforms are checked when they are
        (:func:`polyarch.pipeline.bake.variants.with_bake_variants`)."""
        where = "verify.expect-output"
        known = {v.platform: v for v in variants or ()}
        out: dict[Platform, str] = {}
        lines: dict[Platform, int] = {}
        for name, (key, value) in self.mapping(node, where, None).items():
            platform = self.platform(key, f"{where}.{name}")
            if variants is not None and platform not in known:
                names = ", ".join(str(p) for p in known)
                self.fail(key, f"{where}: {name} is not one of the variants' platforms ({names})")
            if platform in lines:
                self.fail(
                    key,
                    f"{where}: {name} is {platform} again (first at line {lines[platform]})",
                )
            pattern = self.text(value, f"{where}.{name}")
            try:
                re.compile(pattern)
            except re.error as exc:
                self.fail(value, f"{where}.{name}: bad regular expression {_q(pattern)}: {exc}")
            out[platform] = pattern
            lines[platform] = _line(key)
        return out

    def attestations(self, node: Node) -> Attestations:
        text = self.text(node, "attestations")
        if text == "keep":
            return "keep"
        if text == "drop":
            return "drop"
        if text == "referrers":
            return "referrers"
        self.fail(node, f"attestations: expected 'keep', 'drop' or 'referrers', got {_q(text)}")
