"""The validated spec, ``polyarch.yaml`` as objects: :class:`Spec`, :class:`Variant`,
:class:`VerifySpec`, and :class:`SpecError` for a file that is wrong.

The schema (the keys each section takes) is here too, for the reader and its messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.engine.endpoint import EngineChoice
from polyarch.errors import InvalidInput
from polyarch.pipeline.specfile.inputs import BuildInputs
from polyarch.pipeline.tags.rules import Flavor, TagRule

__all__ = [
    "DEFAULT_TAGS",
    "SPEC_FILE_NAMES",
    "Attestations",
    "BakeSource",
    "Spec",
    "SpecError",
    "UnresolvedTags",
    "Variant",
    "VerifySpec",
]

#: The names :func:`find_spec` looks for, in this order.
SPEC_FILE_NAMES: Final = ("polyarch.yaml", "polyarch.yml")
#: The tags published when the spec has no ``tags`` key.
DEFAULT_TAGS: Final = ("latest",)

Attestations = Literal["keep", "drop", "referrers"]

_TOP_KEYS: Final = (
    "image",
    "tags",
    "flavor",
    "annotations",
    "variants",
    "bake",
    "verify",
    "attestations",
)
_BAKE_KEYS: Final = ("file", "targets")
_VARIANT_KEYS: Final = (
    "platform",
    "context",
    "dockerfile",
    "build-args",
    "target",
    "labels",
    "runner",
    "builder",
    "secrets",
    "ssh",
    "cache-from",
    "cache-to",
    "build-contexts",
    "provenance",
    "sbom",
    "attest",
    "no-cache",
    "pull",
)
_VERIFY_KEYS: Final = ("run", "expect-output", "exact", "strict")
# Where a key misplaced in another section belongs, for the unknown-key message.
_HOME: Final = {
    **{key: "is a top-level key" for key in _TOP_KEYS},
    **{key: "belongs in each variant" for key in _VARIANT_KEYS},
    **{key: "belongs under 'verify'" for key in _VERIFY_KEYS},
    "file": "belongs under 'bake'",
    "targets": "belongs under 'bake'",
}


class UnresolvedTags(InvalidInput):
    """The spec's tags are rules (``type=semver,...``): they need a version to become tags.

    Evaluate them (:func:`polyarch.pipeline.tags.evaluate.evaluate_tags`) and use
    :meth:`Spec.with_tags`.
    """


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
    #: What buildx takes beyond the above (secrets, ssh, caches, attestations...).
    inputs: BuildInputs = field(default_factory=BuildInputs)
    #: The CI runner labels for this variant's build job (``()``: the native default).
    runner: tuple[str, ...] = ()
    #: Where the variant builds (``None``: the engine and builder of the command).
    builder: EngineChoice | None = None
    #: The Bake target the variant was read from (``None``: the spec's ``variants``).
    bake_target: str | None = None


@dataclass(frozen=True)
class BakeSource:
    """The ``bake`` section: the variants are the Bake targets of these files.

    ``files`` are absolute paths (relative ones were taken from the spec file's
    directory, where ``docker buildx bake --print`` runs); ``targets`` the target or group
    names (empty: the ``default`` group). :func:`polyarch.pipeline.bake.variants.with_bake_variants`
    reads them into the spec's variants.
    """

    files: tuple[Path, ...]
    targets: tuple[str, ...] = ()


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

    ``bake`` names Bake files whose targets are the variants (``variants`` empty until
    they are read).

    ``tag_rules`` are every entry of ``tags`` as docker/metadata-action rules (a plain
    tag is ``type=raw``); when one of them needs a version (``type=semver``...), ``tags``
    is empty until :meth:`with_tags` gives the evaluated family. ``flavor`` is
    metadata-action's; ``annotations`` the spec's own index annotations (buildx key
    syntax, values possibly holding ``{{...}}`` expressions).
    """

    path: Path
    images: tuple[Reference, ...]
    tags: tuple[str, ...]
    variants: tuple[Variant, ...]
    verify: VerifySpec = field(default_factory=VerifySpec)
    attestations: Attestations = "keep"
    tag_rules: tuple[TagRule, ...] = ()
    flavor: Flavor = field(default_factory=Flavor)
    annotations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Where the variants come from when they are Bake targets (``variants`` is then empty
    #: until :func:`polyarch.pipeline.bake.variants.with_bake_variants` fills it).
    bake: BakeSource | None = None

    @property
    def has_rules(self) -> bool:
        """True when ``tags`` holds rules that need a version (not only plain tags)."""
        return not self.tags and bool(self.tag_rules)

    def with_tags(self, tags: tuple[str, ...] | list[str]) -> Spec:
        """The same spec publishing ``tags`` (an evaluated family, or ``--tag`` values)."""
        return replace(self, tags=tuple(tags))

    def _static_tags(self) -> tuple[str, ...]:
        if not self.tags:
            raise UnresolvedTags(
                f"{self.path.name}: tags are rules ({self.tag_rules[0].source}...) and need "
                "a version",
                hint="give the version, run in CI, or tag the commit",
                parameter="version",
            )
        return self.tags

    @property
    def platforms(self) -> tuple[Platform, ...]:
        """The variants' platforms, in file order."""
        return tuple(v.platform for v in self.variants)

    def targets(self) -> list[Reference]:
        """Every image with every tag: image by image, tags in spec order.

        Raises :class:`UnresolvedTags` when the tags are rules not yet evaluated.
        """
        return [image.with_tag(tag) for image in self.images for tag in self._static_tags()]

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
        return _per_platform_tag(self._static_tags()[0], platform)


def _per_platform_tag(tag: str, platform: Platform) -> str:
    p = platform.normalized()
    return "-".join(part for part in (tag, p.os, p.architecture, p.variant) if part)
