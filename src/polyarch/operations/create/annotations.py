"""``--annotation`` arguments for ``create``, in buildx's ``imagetools create`` syntax.

buildx (``docker buildx imagetools create --annotation``, docs.docker.com "Annotations")
writes ``[TYPE[PLATFORM]:]KEY=VALUE``. For a command that assembles an index from
existing manifests only two types have a meaning, and they are the two buildx's
``imagetools create`` accepts:

* ``index:`` (or no prefix): an annotation of the index itself;
* ``manifest-descriptor:``: an annotation of the index's entries (its descriptors),
  all of them, or with ``[PLATFORM]`` only those of that normalized platform.

``manifest:`` (inside each image manifest) would change the images and so their
digests, and ``index-descriptor:`` describes the index in an index above it, which
``create`` does not write: both are refused in one line, as is a platform filter on
``index``. A prefix is never stored as part of a key.

>>> spec = parse_annotations(["index:org.opencontainers.image.title=api",
...                           "manifest-descriptor[linux/arm64]:tier=edge"])
>>> dict(spec.index), [(str(d.platform), d.key, d.value) for d in spec.descriptors]
({'org.opencontainers.image.title': 'api'}, [('linux/arm64', 'tier', 'edge')])
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from polyarch.domain.descriptor import Descriptor
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidInput, InvalidPlatform

__all__ = ["AnnotationSpec", "DescriptorAnnotation", "parse_annotations"]

#: ``TYPE`` or ``TYPE[PLATFORM]`` before the first ``:`` (buildx's prefix grammar).
_PREFIX = re.compile(r"^(?P<type>[a-z-]+)(?:\[(?P<platform>[^\]]*)\])?:(?P<rest>.*)$", re.S)
_TYPES = ("index", "manifest", "manifest-descriptor", "index-descriptor")


@dataclass(frozen=True, slots=True)
class DescriptorAnnotation:
    """One ``manifest-descriptor[PLATFORM]:KEY=VALUE``: ``platform`` None means every entry."""

    key: str
    value: str
    platform: Platform | None = None

    def applies_to(self, descriptor: Descriptor) -> bool:
        """True when the entry's normalized os/architecture/variant is the filter's."""
        if self.platform is None:
            return True
        if descriptor.platform is None:
            return False
        mine, theirs = self.platform.normalized(), descriptor.platform.normalized()
        return (mine.os, mine.architecture, mine.variant) == (
            theirs.os,
            theirs.architecture,
            theirs.variant,
        )


@dataclass(frozen=True, slots=True)
class AnnotationSpec:
    """The parsed ``--annotation`` arguments: index annotations and entry annotations."""

    index: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    descriptors: tuple[DescriptorAnnotation, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.index) or bool(self.descriptors)

    def for_descriptor(self, descriptor: Descriptor) -> dict[str, str]:
        """The annotations to set on one entry (later arguments win for the same key)."""
        return {a.key: a.value for a in self.descriptors if a.applies_to(descriptor)}


def _check_text(item: str) -> None:
    try:
        item.encode()  # an argument that was not UTF-8 arrives with lone surrogates
    except UnicodeEncodeError:
        raise InvalidInput(
            f"annotation {item!r}: not valid UTF-8 text", parameter="annotations"
        ) from None


def _key_value(item: str, text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInput(
            f"annotation {item!r}: expected [TYPE:]KEY=VALUE", parameter="annotations"
        )
    return key, value


def parse_annotations(values: Mapping[str, str] | Sequence[str]) -> AnnotationSpec:
    """Parse ``--annotation`` values (buildx syntax) or a plain mapping of index annotations.

    Parameters: ``values``, either ``KEY=VALUE`` strings with an optional buildx type prefix
    (``index:``, ``manifest-descriptor:``, ``manifest-descriptor[linux/arm64]:``), or a
    mapping (taken as index annotations, keys used verbatim). Returns an
    :class:`AnnotationSpec`. Raises :class:`polyarch.InvalidInput` for a malformed item, a
    prefix ``create`` cannot honour (``manifest:``, ``index-descriptor:``, ``index[...]``),
    or text that is not UTF-8.
    """
    index: dict[str, str] = {}
    descriptors: list[DescriptorAnnotation] = []
    if isinstance(values, Mapping):
        for key, value in values.items():
            _check_text(f"{key}={value}")
            index[key] = value
        return AnnotationSpec(MappingProxyType(index))
    for item in values:
        _check_text(item)
        kind, platform_text, text = "index", None, item
        match = _PREFIX.match(item)
        # A key may itself contain ":" (e.g. "com.example:x=1"): only buildx's type names
        # are prefixes; anything else is a plain key, as buildx reads it.
        if match and match["type"] in _TYPES and "=" not in item[: match.start("rest")]:
            kind, platform_text, text = match["type"], match["platform"], match["rest"]
        key, value = _key_value(item, text)
        if kind in ("manifest", "index-descriptor"):
            what = "each image manifest" if kind == "manifest" else "an index above this one"
            raise InvalidInput(
                f"annotation {item!r}: {kind}: annotations belong in {what}, "
                "which create does not write",
                hint="use index: or manifest-descriptor: (as buildx imagetools create does)",
            )
        if kind == "index":
            if platform_text is not None:
                raise InvalidInput(
                    f"annotation {item!r}: an index annotation takes no [platform] filter"
                )
            index[key] = value
            continue
        platform = None
        if platform_text is not None:
            try:
                platform = Platform.parse(platform_text)
            except InvalidPlatform as exc:
                raise InvalidInput(
                    f"annotation {item!r}: {exc.message}", parameter="annotations"
                ) from None
        descriptors.append(DescriptorAnnotation(key, value, platform))
    return AnnotationSpec(MappingProxyType(index), tuple(descriptors))
