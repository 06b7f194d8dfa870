"""The sections of ``polyarch.yaml``: image, tags, variants, verify, attestations.

:class:`_Reader` turns the composed document into a :class:`~polyarch.pipeline.specfile.Spec`,
checking each value where it is written so that an error names its line.
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
from polyarch.errors import InvalidPlatform, InvalidReference
from polyarch.pipeline.specfile.model import (
    _TOP_KEYS,
    _VARIANT_KEYS,
    _VERIFY_KEYS,
    DEFAULT_TAGS,
    Attestations,
    Spec,
    Variant,
    VerifySpec,
    _per_platform_tag,
)
from polyarch.pipeline.specfile.nodes import (
    _BOOL,
    _TEXT_TAGS,
    _kind,
    _line,
    _NodeReader,
    _Pair,
    _q,
)

# The OCI distribution tag grammar (the same as polyarch.domain.reference's).
_TAG_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_TAG_RULE: Final = (
    'a tag is 1 to 128 letters, digits, "_", "." or "-" and does not start with "." or "-"'
)
_MAX_TAG_LENGTH: Final = 128


class _Reader(_NodeReader):
    """Reads the spec's sections from the composed YAML nodes of one spec file."""

    def read(self, data: bytes) -> Spec:
        root = self.compose(data)
        self.check_tags(root)
        top = self.mapping(root, "", _TOP_KEYS, required=("image", "variants"))
        images = self.images(top["image"][1])
        tags = self.tags(top["tags"][1]) if "tags" in top else DEFAULT_TAGS
        variants = self.variants(top["variants"][1])
        self.check_per_platform_tags(tags, top.get("tags"), variants, top["variants"][1])
        verify = self.verify(top["verify"][1], variants) if "verify" in top else VerifySpec()
        attestations: Attestations = "keep"
        if "attestations" in top:
            attestations = self.attestations(top["attestations"][1])
        return Spec(self.path, images, tags, variants, verify, attestations)

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

    def tags(self, node: Node) -> tuple[str, ...]:
        seen: dict[str, tuple[Node, str]] = {}
        for text, item, where in self.one_or_many(node, "tags"):
            if not _TAG_RE.fullmatch(text):
                self.fail(item, f"{where}: invalid tag {_q(text)}", hint=_TAG_RULE)
            if text in seen:
                first, first_where = seen[text]
                self.fail(
                    item, f"{where}: duplicate tag {_q(text)} ({first_where}, line {_line(first)})"
                )
            seen[text] = (item, where)
        return tuple(seen)

    def variants(self, node: Node) -> tuple[Variant, ...]:
        if not isinstance(node, SequenceNode):
            self.fail(node, f"variants: expected a list of variants, got {_kind(node)}")
        if not node.value:
            self.fail(node, "variants: the list is empty; give at least one variant")
        variants: list[Variant] = []
        seen: dict[Platform, tuple[str, int, str]] = {}
        for index, item in enumerate(node.value):
            where = f"variants[{index}]"
            variant, platform_node = self.variant(item, where)
            key = variant.platform
            text = self.text(platform_node, f"{where}.platform")
            if key in seen:
                first_text, first_line, first_where = seen[key]
                self.fail(
                    platform_node,
                    f"{where}.platform: {text} duplicates {first_text} of {first_where} "
                    f"(line {first_line}); both are {key}",
                )
            seen[key] = (text, _line(platform_node), where)
            variants.append(variant)
        return tuple(variants)

    def variant(self, node: Node, where: str) -> tuple[Variant, Node]:
        """One variant, and its ``platform`` node (for the duplicate check)."""
        entries = self.mapping(node, where, _VARIANT_KEYS, required=("platform", "context"))
        platform = self.platform(entries["platform"][1], f"{where}.platform")
        context_node = entries["context"][1]
        context = self.context(context_node, f"{where}.context")
        if "dockerfile" in entries:
            dockerfile = self.dockerfile(entries["dockerfile"][1], f"{where}.dockerfile", context)
        else:
            dockerfile = context / "Dockerfile"
            if self.paths and not dockerfile.is_file():
                self.fail(
                    context_node,
                    f"{where}.context: no Dockerfile in {_q(self.text(context_node, where))} "
                    f"({dockerfile})",
                    hint="add one, or name it with 'dockerfile'",
                )
        build_args: Mapping[str, str] = MappingProxyType({})
        if "build-args" in entries:
            build_args = self.string_map(entries["build-args"][1], f"{where}.build-args")
        labels: Mapping[str, str] = MappingProxyType({})
        if "labels" in entries:
            labels = self.string_map(entries["labels"][1], f"{where}.labels")
        target = None
        if "target" in entries:
            target_node = entries["target"][1]
            target = self.text(target_node, f"{where}.target")
            if any(c.isspace() for c in target):
                self.fail(target_node, f"{where}.target: a build stage name has no spaces")
        variant = Variant(platform, context, dockerfile, build_args, target, _line(node), labels)
        return variant, entries["platform"][1]

    def platform(self, node: Node, where: str) -> Platform:
        text = self.text(node, where)
        try:
            # "unknown" as the default architecture: a bare OS ("linux") is refused below
            # instead of silently meaning the machine running polyarch.
            platform = Platform.parse(text, default_arch="unknown")
        except InvalidPlatform as exc:
            self.fail(node, f"{where}: {exc.one_line()}")
        if platform.is_unknown:
            self.fail(
                node,
                f"{where}: {_q(text)} does not name an OS and an architecture",
                hint="write os/arch[/variant], e.g. linux/amd64 or linux/arm/v7",
            )
        return platform.normalized()

    def context(self, node: Node, where: str) -> Path:
        text = self.text(node, where)
        if "://" in text or text.startswith("git@"):
            self.fail(
                node,
                f"{where}: {_q(text)} is not a local directory (remote contexts are not supported)",
            )
        path = (self.base / text).resolve()
        if not self.paths:
            return path
        if not path.exists():
            self.fail(node, f"{where}: directory {_q(text)} does not exist ({path})")
        if not path.is_dir():
            self.fail(node, f"{where}: {_q(text)} is not a directory ({path})")
        return path

    def dockerfile(self, node: Node, where: str, context: Path) -> Path:
        text = self.text(node, where)
        path = (context / text).resolve()
        if not self.paths:
            return path
        if not path.exists():
            self.fail(
                node,
                f"{where}: {_q(text)} does not exist ({path})",
                hint="a relative dockerfile is taken from the context directory",
            )
        if not path.is_file():
            self.fail(node, f"{where}: {_q(text)} is not a file ({path})")
        return path

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

    def verify(self, node: Node, variants: tuple[Variant, ...]) -> VerifySpec:
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

    def expect_output(self, node: Node, variants: tuple[Variant, ...]) -> dict[Platform, str]:
        where = "verify.expect-output"
        known = {v.platform: v for v in variants}
        out: dict[Platform, str] = {}
        lines: dict[Platform, int] = {}
        for name, (key, value) in self.mapping(node, where, None).items():
            platform = self.platform(key, f"{where}.{name}")
            if platform not in known:
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
        self.fail(node, f"attestations: expected 'keep' or 'drop', got {_q(text)}")
