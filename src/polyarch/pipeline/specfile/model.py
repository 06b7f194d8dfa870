"""The validated spec, ``polyarch.yaml`` as objects: :class:`Spec`, :class:`Variant`,
:class:`VerifySpec`, and :class:`SpecError` for a file that is wrong.

The schema (the keys each section takes) is here too, for the reader and its messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.errors import InvalidInput

__all__ = [
    "DEFAULT_TAGS",
    "SPEC_FILE_NAMES",
    "Attestations",
    "Spec",
    "SpecError",
    "Variant",
    "VerifySpec",
]

#: The names :func:`find_spec` looks for, in this order.
SPEC_FILE_NAMES: Final = ("polyarch.yaml", "polyarch.yml")
#: The tags published when the spec has no ``tags`` key.
DEFAULT_TAGS: Final = ("latest",)

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
