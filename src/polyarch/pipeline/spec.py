"""The pipeline spec file, ``polyarch.yaml``: find it, read it, validate it.

The spec says what the pipeline builds (one variant per platform, each from its own
context and Dockerfile), where it publishes (one or more repositories, one or more tags)
and how the result is verified. The schema, the defaults and the path rules are in
docs/spec.md. In short:

* ``image`` (required): a repository, or a list of them, without tag or digest;
* ``tags``: a tag or a list of tags, default ``[latest]``;
* ``variants`` (required): a non-empty list of ``platform``, ``context`` (relative to the
  spec file's directory), ``dockerfile`` (relative to the context, as in
  ``docker buildx bake``; default ``Dockerfile``), ``build-args``, ``target``, ``labels``;
* ``verify``: ``run``, ``expect-output``, ``exact`` (default true), ``strict``;
* ``attestations``: ``keep`` (default) or ``drop``.

The file is read with PyYAML's safe composer only (no object is ever constructed from a
YAML tag) and walked node by node, so every error names the file and the line:
``polyarch.yaml:7: variants[0]: unknown key 'platfrom' (did you mean 'platform'?)``.
Each such error is a :class:`SpecError`, an :class:`~polyarch.errors.InvalidInput`
(exit code 2).
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from polyarch.errors import InvalidInput, InvalidPlatform, InvalidReference
from polyarch.files import FileTooLarge, NotARegularFile, read_bytes
from polyarch.platform import Platform
from polyarch.reference import Reference

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

#: The names :func:`find_spec` looks for, in this order.
SPEC_FILE_NAMES: Final = ("polyarch.yaml", "polyarch.yml")
#: The tags published when the spec has no ``tags`` key.
DEFAULT_TAGS: Final = ("latest",)
#: A spec file is a page of YAML; a larger file is not one.
MAX_SPEC_SIZE: Final = 4 * 1024 * 1024

Attestations = Literal["keep", "drop"]

_TOP_KEYS: Final = ("image", "tags", "variants", "verify", "attestations")
_VARIANT_KEYS: Final = ("platform", "context", "dockerfile", "build-args", "target", "labels")
_VERIFY_KEYS: Final = ("run", "expect-output", "exact", "strict")
# Where a key misplaced in another section belongs, for the unknown-key message.
_HOME: Final = {
    **{key: "is a top-level key" for key in _TOP_KEYS},
    **{key: "belongs in each variant" for key in _VARIANT_KEYS},
    **{key: "belongs under 'verify'" for key in _VERIFY_KEYS},
}

# The OCI distribution tag grammar (the same as polyarch.reference's).
_TAG_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_TAG_RULE: Final = (
    'a tag is 1 to 128 letters, digits, "_", "." or "-" and does not start with "." or "-"'
)
_MAX_TAG_LENGTH: Final = 128

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


class SpecError(InvalidInput):
    """The spec file is malformed or names something that is not there; fix the line it names.

    ``str(error)`` is ``FILE:LINE: what is wrong`` (``FILE:LINE:COLUMN:`` for YAML syntax
    errors, ``FILE:`` alone when no line applies). ``path``, ``line`` and ``column`` are
    also attributes (``line`` and ``column`` 1-based, or ``None``); ``detail`` is the
    message without the location.
    """

    def __init__(
        self,
        path: str,
        line: int | None,
        detail: str,
        *,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        location = path
        if line is not None:
            location += f":{line}"
            if column is not None:
                location += f":{column}"
        super().__init__(f"{location}: {detail}", hint=hint)
        self.path = path
        self.line = line
        self.column = column
        self.detail = detail


@dataclass(frozen=True)
class Variant:
    """One platform's build: which context and Dockerfile make the image for ``platform``.

    ``platform`` is normalized (containerd's rules: ``linux/arm64/v8`` is ``linux/arm64``).
    ``context`` and ``dockerfile`` are absolute paths, checked to exist when the spec was
    loaded. ``line`` is the line of the variant in the spec file (``None`` when the
    variant was not read from a file).
    """

    platform: Platform
    context: Path
    dockerfile: Path
    build_args: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    target: str | None = None
    line: int | None = None
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class VerifySpec:
    """How the published tag is verified (the ``verify`` section).

    ``run`` is ``None`` for no startup check, ``()`` to start each platform's image with
    its own command, or the command to run instead. ``expect_output`` maps a (normalized)
    platform to a regular expression its output must match. ``exact``: no platform beyond
    the variants' may be in the index. ``strict``: warnings fail too.
    """

    run: tuple[str, ...] | None = None
    expect_output: Mapping[Platform, str] = field(default_factory=lambda: MappingProxyType({}))
    exact: bool = True
    strict: bool = False


@dataclass(frozen=True)
class Spec:
    """A validated ``polyarch.yaml``.

    ``path`` is the absolute path of the file; ``images`` the repositories published to
    (no tag, no digest), ``tags`` the tags each gets; ``variants`` in file order.
    """

    path: Path
    images: tuple[Reference, ...]
    tags: tuple[str, ...]
    variants: tuple[Variant, ...]
    verify: VerifySpec = field(default_factory=VerifySpec)
    attestations: Attestations = "keep"

    @property
    def platforms(self) -> tuple[Platform, ...]:
        """The variants' platforms, in file order."""
        return tuple(v.platform for v in self.variants)

    def targets(self) -> list[Reference]:
        """Every image with every tag: image by image, tags in spec order."""
        return [image.with_tag(tag) for image in self.images for tag in self.tags]

    def variant(self, platform: Platform | str) -> Variant | None:
        """The variant building ``platform`` (compared normalized), or ``None``."""
        wanted = (
            platform if isinstance(platform, Platform) else Platform.parse(platform)
        ).normalized()
        for variant in self.variants:
            if variant.platform.normalized() == wanted:
                return variant
        return None

    def per_platform_tag(self, variant: Variant | Platform) -> str:
        """The tag one variant is pushed under before the index is assembled.

        ``<first tag>-<os>-<arch>[-<variant>]`` with the normalized platform, e.g.
        ``v2.0.0-linux-arm64`` or ``v2.0.0-linux-arm-v7``. The plain-Docker builder
        pushes each variant there (it cannot push by digest alone).
        """
        platform = variant.platform if isinstance(variant, Variant) else variant
        return _per_platform_tag(self.tags[0], platform)


def _per_platform_tag(tag: str, platform: Platform) -> str:
    p = platform.normalized()
    return "-".join(part for part in (tag, p.os, p.architecture, p.variant) if part)


def find_spec(start: Path | None = None, explicit: str | Path | None = None) -> Path:
    """The spec file to use.

    ``explicit`` (say a ``--file`` option) wins: a file, or a directory holding
    ``polyarch.yaml``/``polyarch.yml``; relative paths are taken from ``start``. Without it,
    ``polyarch.yaml`` or ``polyarch.yml`` in ``start`` (default: the current directory); no
    parent directory is searched. Raises :class:`~polyarch.errors.InvalidInput` when there
    is none, or when both names exist.
    """
    base = Path.cwd() if start is None else Path(start)
    if explicit is not None:
        given = Path(explicit)
        path = given if given.is_absolute() else base / given
        if path.is_dir():
            return _spec_in(path, f"{given}")
        if not path.exists():
            raise InvalidInput(f"spec file {_q(str(given))} does not exist")
        return path
    return _spec_in(base, None)


def _spec_in(directory: Path, shown: str | None) -> Path:
    found = [directory / name for name in SPEC_FILE_NAMES if (directory / name).is_file()]
    where = f"in {shown}" if shown is not None else "in the current directory"
    if not found:
        raise InvalidInput(
            f"no {SPEC_FILE_NAMES[0]} (or {SPEC_FILE_NAMES[1]}) {where}",
            hint="write one (see docs/spec.md) or name it with --file",
        )
    if len(found) > 1:
        raise InvalidInput(
            f"both {SPEC_FILE_NAMES[0]} and {SPEC_FILE_NAMES[1]} {where}; keep one",
        )
    return found[0]


def load_spec(path: Path, *, paths: bool = True) -> Spec:
    """Read and validate the spec file at ``path``.

    Relative ``context`` paths are taken from the spec file's directory, relative
    ``dockerfile`` paths from the context; both must exist, unless ``paths=False``
    (``publish``, which builds nothing, reads a spec without its build contexts).
    Raises :class:`SpecError` (an :class:`~polyarch.errors.InvalidInput`) naming the file
    and the line of the first problem.

    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = Path(tmp.name)
    >>> for name in ("app-amd64", "app-arm64"):
    ...     (root / name).mkdir()
    ...     _ = (root / name / "Dockerfile").write_text("FROM scratch\\n")
    >>> _ = (root / "polyarch.yaml").write_text('''
    ... image: registry.example.com/metrics-api
    ... tags: [v2.0.0, latest]
    ... variants:
    ...   - {platform: linux/amd64, context: app-amd64}
    ...   - platform: linux/arm64/v8
    ...     context: app-arm64
    ...     build-args: {PYTHON_ENV: production, WORKERS: 4}
    ... ''')
    >>> spec = load_spec(root / "polyarch.yaml")
    >>> [str(t) for t in spec.targets()]
    ['registry.example.com/metrics-api:v2.0.0', 'registry.example.com/metrics-api:latest']
    >>> arm = spec.variant("linux/arm64")
    >>> str(arm.platform), arm.line, dict(arm.build_args), spec.per_platform_tag(arm)
    ('linux/arm64', 6, {'PYTHON_ENV': 'production', 'WORKERS': '4'}, 'v2.0.0-linux-arm64')
    >>> arm.dockerfile == (root / "app-arm64" / "Dockerfile").resolve()
    True
    >>> _ = (root / "polyarch.yaml").write_text("image: registry.example.com/metrics-api\\n"
    ...                                         "variants:\\n  - platfrom: linux/amd64\\n")
    >>> try:
    ...     load_spec(root / "polyarch.yaml")
    ... except SpecError as exc:
    ...     exc.line, exc.detail
    (3, "variants[0]: unknown key 'platfrom' (did you mean 'platform'?)")
    >>> tmp.cleanup()
    """
    path = Path(path)
    shown = str(path)
    try:
        data = read_bytes(path, what="spec file", limit=MAX_SPEC_SIZE)
    except NotARegularFile as exc:
        raise SpecError(shown, None, exc.message.split(": ", 1)[-1]) from None
    except FileTooLarge:
        raise SpecError(shown, None, f"larger than {MAX_SPEC_SIZE // 1024 // 1024} MiB") from None
    except FileNotFoundError:
        raise SpecError(shown, None, "no such file") from None
    except IsADirectoryError:
        raise SpecError(shown, None, "is a directory, not a spec file") from None
    except OSError as exc:
        raise SpecError(shown, None, f"cannot read the file: {exc.strerror or exc}") from None
    return _Reader(shown, path.resolve(), paths).read(data)


# --- reading --------------------------------------------------------------------------


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


class _Reader:
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
