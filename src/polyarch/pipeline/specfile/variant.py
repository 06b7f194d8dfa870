"""One variant of ``polyarch.yaml``: how buildx builds its platform's image.

``variants[N]`` names a ``platform``, a build ``context`` and its ``dockerfile`` (relative
paths as ``docker buildx bake`` takes them), ``build-args``, ``labels``, a ``target``
stage, the buildx inputs (secrets, SSH, caches, named build contexts, provenance and SBOM
attestations: :mod:`polyarch.pipeline.specfile.inputs`), CI ``runner`` labels and the
engine that builds it (``builder``: a docker context, a docker host or a buildx builder).
:class:`_VariantReader` reads them, each value checked where it is written so that an
error names its line; the spec's other sections are read on top of it
(:mod:`polyarch.pipeline.specfile.reader`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from yaml.nodes import Node, ScalarNode, SequenceNode

from polyarch.domain.platform import Platform
from polyarch.engine.endpoint import EngineChoice
from polyarch.errors import InvalidInput, InvalidPlatform
from polyarch.pipeline.specfile.inputs import (
    BuildInputs,
    CacheInput,
    SecretInput,
    SshInput,
    parse_attest,
    parse_provenance,
    parse_sbom,
)
from polyarch.pipeline.specfile.model import _VARIANT_KEYS, Variant
from polyarch.pipeline.specfile.nodes import _BOOL, _kind, _line, _NodeReader, _Pair, _q

_T = TypeVar("_T")


class _VariantReader(_NodeReader):
    """Reads ``variants``: each variant's platform, paths, buildx inputs and engine."""

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
        inputs = self.inputs(entries, where)
        runner: tuple[str, ...] = ()
        if "runner" in entries:
            runner = tuple(
                self.word(n, w, "a runner label")
                for _, n, w in self.one_or_many(entries["runner"][1], f"{where}.runner")
            )
        builder = (
            self.builder(entries["builder"][1], f"{where}.builder")
            if "builder" in entries
            else None
        )
        variant = Variant(
            platform,
            context,
            dockerfile,
            build_args,
            target,
            _line(node),
            labels,
            inputs,
            runner,
            builder,
        )
        return variant, entries["platform"][1]

    def word(self, node: Node, where: str, what: str) -> str:
        text = self.text(node, where)
        if any(c.isspace() for c in text):
            self.fail(node, f"{where}: {_q(text)} is not {what} (no spaces)")
        return text

    def inputs(self, entries: dict[str, _Pair], where: str) -> BuildInputs:
        """The buildx inputs of one variant (see :mod:`polyarch.pipeline.specfile.inputs`).

        Relative paths (a secret's ``src``, a local cache's ``src``/``dest``, a build
        context) are taken from the spec file's directory and made absolute.
        """

        def each(key: str, parse: Callable[[str], _T]) -> list[tuple[_T, Node, str]]:
            if key not in entries:
                return []
            out = []
            node = entries[key][1]
            for text, item, item_where in self.one_or_many(node, f"{where}.{key}"):
                try:
                    out.append((parse(text), item, item_where))
                except InvalidInput as exc:
                    hint = exc.hint
                    if isinstance(node, SequenceNode) and node.flow_style and "," not in text:
                        # [id=a,src=b] is two YAML items: the commas of buildx's CSV split it.
                        hint = (
                            "in a [flow, list] a comma separates items: quote each entry "
                            "('id=a,src=b') or write one entry per '- ' line"
                        )
                    self.fail(item, f"{item_where}: {exc.message}", hint=hint)
            return out

        secrets: list[SecretInput] = []
        ids: dict[str, str] = {}
        for secret, item, item_where in each("secrets", SecretInput.parse):
            if secret.id in ids:
                self.fail(
                    item, f"{item_where}: duplicate secret id {_q(secret.id)} ({ids[secret.id]})"
                )
            ids[secret.id] = item_where
            found = secret.absolute(self.base)
            if self.paths and found.src is not None and not Path(found.src).is_file():
                self.fail(
                    item,
                    f"{item_where}: secret file {_q(secret.src or '')} does not exist "
                    f"({found.src})",
                    hint="a relative src is taken from the spec file's directory",
                )
            secrets.append(found)
        caches = {
            key: tuple(cache.absolute(self.base) for cache, _, _ in each(key, CacheInput.parse))
            for key in ("cache-from", "cache-to")
        }
        return BuildInputs(
            secrets=tuple(secrets),
            ssh=tuple(ssh for ssh, _, _ in each("ssh", SshInput.parse)),
            cache_from=caches["cache-from"],
            cache_to=caches["cache-to"],
            build_contexts=self.build_contexts(entries, where),
            provenance=self.attestation_value(entries, where, "provenance", parse_provenance),
            sbom=self.attestation_value(entries, where, "sbom", parse_sbom),
            attest=tuple(text for text, _, _ in each("attest", parse_attest)),
            no_cache=self.flag(entries["no-cache"][1], f"{where}.no-cache")
            if "no-cache" in entries
            else False,
            pull=self.flag(entries["pull"][1], f"{where}.pull") if "pull" in entries else False,
        )

    def build_contexts(self, entries: dict[str, _Pair], where: str) -> Mapping[str, str]:
        if "build-contexts" not in entries:
            return MappingProxyType({})
        node, path = entries["build-contexts"][1], f"{where}.build-contexts"
        keys = {name: key for name, (key, _) in self.mapping(node, path, None).items()}
        contexts: dict[str, str] = {}
        for name, value in self.string_map(node, path).items():
            if value.startswith("target:"):
                self.fail(keys[name], f"{path}.{name}: a Bake target context needs bake")
            if "://" in value and not value.startswith(("docker-image://", "oci-layout://")):
                self.fail(
                    keys[name],
                    f"{path}.{name}: {_q(value)} is a remote context "
                    "(not supported: local directories, docker-image:// and oci-layout://)",
                )
            contexts[name] = value if "://" in value else str((self.base / value).resolve())
        return MappingProxyType(contexts)

    def attestation_value(
        self,
        entries: dict[str, _Pair],
        where: str,
        key: str,
        parse: Callable[[bool | str], str | None],
    ) -> str | None:
        """``provenance`` / ``sbom``: a boolean or buildx's text, checked by ``parse``."""
        if key not in entries:
            return None
        node, path = entries[key][1], f"{where}.{key}"
        value: bool | str
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            value = self.flag(node, path)
        else:
            value = self.text(node, path)
        try:
            return parse(value)
        except InvalidInput as exc:
            self.fail(node, f"{path}: {exc.message}", hint=exc.hint)

    def builder(self, node: Node, where: str) -> EngineChoice:
        entries = self.mapping(node, where, EngineChoice.KINDS)
        if len(entries) != 1:
            self.fail(
                node,
                f"{where}: name one of docker-context, docker-host or buildx-builder",
            )
        [(kind, (_, value_node))] = entries.items()
        text = self.text(value_node, f"{where}.{kind}")
        try:
            return EngineChoice.build(kind, text)
        except InvalidInput as exc:
            self.fail(value_node, f"{where}: {exc.message}", hint=exc.hint)

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
