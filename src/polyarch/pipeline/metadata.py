"""docker/metadata-action's JSON output, read for ``publish --metadata FILE``.

metadata-action writes its results as the step output ``json`` and, by default, as the
environment variable ``DOCKER_METADATA_OUTPUT_JSON`` (``src/main.ts``, ``getJSON``)::

    {"tags": ["ghcr.io/seeds/metrics-api:3.14.1", ...],
     "tag-names": ["3.14.1", ...],
     "labels": {"org.opencontainers.image.version": "3.14.1", ...},
     "annotations": ["manifest:org.opencontainers.image.version=3.14.1", ...]}

``tags`` are full references (``image:tag``, one per image and tag) or, when the action
was given no ``images``, tag names. Each annotation is prefixed with a level from
``DOCKER_METADATA_ANNOTATIONS_LEVELS`` (default ``manifest``; ``index``,
``manifest-descriptor``, ``index-descriptor`` and buildx's ``[platform]`` filter are the
others). A workflow that already runs metadata-action passes that JSON to polyarch and
changes nothing else: the tags become the targets, ``index:`` and
``manifest-descriptor:`` annotations go on the index ``publish`` writes, ``manifest:``
ones belong in each image (the build's ``--annotation``), ``labels`` too (``--label``).

>>> meta = parse_action_metadata('''{"tags": ["ghcr.io/seeds/api:3.14.1", "ghcr.io/seeds/api:3"],
...   "tag-names": ["3.14.1", "3"], "labels": {"org.opencontainers.image.version": "3.14.1"},
...   "annotations": ["manifest:org.opencontainers.image.version=3.14.1",
...                   "index:org.opencontainers.image.version=3.14.1"]}''', "meta.json")
>>> [str(r) for r in meta.references], meta.version
(['ghcr.io/seeds/api:3.14.1', 'ghcr.io/seeds/api:3'], '3.14.1')
>>> meta.index_annotations, meta.manifest_annotations
(('index:org.opencontainers.image.version=3.14.1',), ('org.opencontainers.image.version=3.14.1',))
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from polyarch.domain.reference import Reference
from polyarch.errors import InvalidInput, InvalidReference
from polyarch.files import load_json, parse_json

__all__ = [
    "ENV_VARIABLE",
    "ActionMetadata",
    "MetadataError",
    "load_action_metadata",
    "parse_action_metadata",
]

#: Where metadata-action puts its JSON output (``DOCKER_METADATA_SET_OUTPUT_ENV``, default on).
ENV_VARIABLE: Final = "DOCKER_METADATA_OUTPUT_JSON"
#: A metadata-action output is a few kilobytes; a larger file is not one.
MAX_METADATA_SIZE: Final = 1024 * 1024
_LEVEL: Final = re.compile(r"([a-z-]+)(\[[A-Za-z0-9_/.-]+\])?")
_LEVELS: Final = ("index", "index-descriptor", "manifest", "manifest-descriptor")
_TAG: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class MetadataError(InvalidInput):
    """The metadata-action output given is not what the action writes; pass its ``json``."""


@dataclass(frozen=True, slots=True)
class ActionMetadata:
    """metadata-action's output, sorted for polyarch.

    ``references`` are the full references of ``tags`` (empty when the action had no
    ``images``: then ``tag_names`` alone name tags, for the spec's images); ``version``
    the first tag name. ``index_annotations`` are the ``index:`` and
    ``manifest-descriptor:`` entries in buildx syntax (what ``create`` takes);
    ``manifest_annotations`` the ``manifest:`` entries without their level (for each
    image's build); ``index-descriptor:`` entries describe an index in a layout and are
    dropped.
    """

    origin: str
    references: tuple[Reference, ...]
    tag_names: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    index_annotations: tuple[str, ...] = ()
    manifest_annotations: tuple[str, ...] = ()

    @property
    def version(self) -> str | None:
        """The first tag name (metadata-action's ``version``), or ``None`` without tags."""
        return self.tag_names[0] if self.tag_names else None


def _strings(data: dict[str, Any], key: str, origin: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MetadataError(f"{origin}: {key!r} must be a list of strings")
    return tuple(value)


def _split_annotation(item: str, origin: str) -> tuple[list[str], str]:
    """The levels of a ``level[,level]:key=value`` item (``[]`` without) and the rest."""
    key, sep, _ = item.partition("=")
    if not sep or not key:
        raise MetadataError(f"{origin}: annotation {item!r} is not KEY=VALUE")
    prefix, colon, _ = key.partition(":")
    if not colon:
        return [], item
    levels = prefix.split(",")
    if not all((m := _LEVEL.fullmatch(level)) and m[1] in _LEVELS for level in levels):
        return [], item  # a key holding ":" (com.example:x), as polyarch's create reads it
    return levels, item[len(prefix) + 1 :]


def parse_action_metadata(text: str | bytes, origin: str) -> ActionMetadata:
    """Read metadata-action's JSON output; ``origin`` names it in errors (a file, the variable).

    Raises :class:`MetadataError` (exit code 2) for JSON that is not the action's shape, a
    reference or tag that is not valid, or an annotation that is not ``KEY=VALUE``.
    """
    return _from_data(parse_json(text, what="metadata-action output", shown=origin), origin)


def _from_data(data: Any, origin: str) -> ActionMetadata:
    if not isinstance(data, dict) or "tags" not in data:
        raise MetadataError(
            f"{origin}: not docker/metadata-action's JSON output (no 'tags')",
            hint=f"pass the action's json output or ${ENV_VARIABLE}",
        )
    tags = _strings(data, "tags", origin)
    names = _strings(data, "tag-names", origin)
    references: list[Reference] = []
    bare: list[str] = []
    for tag in tags:
        if ":" in tag.rsplit("/", 1)[-1]:
            try:
                ref = Reference.parse(tag)
            except InvalidReference as exc:
                raise MetadataError(f"{origin}: tags: {exc.one_line()}") from None
            if ref.tag is None or ref.digest is not None:
                raise MetadataError(f"{origin}: tags: {tag!r} is not IMAGE:TAG")
            references.append(ref)
        elif _TAG.fullmatch(tag):
            bare.append(tag)
        else:
            raise MetadataError(f"{origin}: tags: {tag!r} is neither IMAGE:TAG nor a tag")
    if references and bare:
        raise MetadataError(f"{origin}: tags mixes references and bare tag names")
    if not names:
        names = tuple(bare) or tuple(dict.fromkeys(r.tag or "" for r in references))
    labels = data.get("labels", {})
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise MetadataError(f"{origin}: 'labels' must map names to strings")
    index: list[str] = []
    manifest: list[str] = []
    for item in _strings(data, "annotations", origin):
        levels, rest = _split_annotation(item, origin)
        for level in levels or ["index"]:
            kind = _LEVEL.fullmatch(level)
            assert kind is not None
            if kind[1] == "manifest":
                if kind[2]:  # a platform filter: the build of that platform only
                    manifest.append(f"{level}:{rest}")
                else:
                    manifest.append(rest)
            elif kind[1] in ("index", "manifest-descriptor"):
                index.append(f"{level}:{rest}")
    return ActionMetadata(
        origin,
        tuple(references),
        names,
        MappingProxyType(dict(labels)),
        tuple(index),
        tuple(manifest),
    )


def load_action_metadata(
    source: str | Path, env: Mapping[str, str] | None = None
) -> ActionMetadata:
    """Read metadata-action's output from a file, or from ``$DOCKER_METADATA_OUTPUT_JSON``.

    ``source`` is a path, or ``env:`` to read the variable (``env`` defaults to
    ``os.environ``). Raises :class:`MetadataError` when the variable is unset, and what
    :func:`polyarch.files.load_json` raises for a file that cannot be read.
    """
    if str(source) == "env:":
        environ = os.environ if env is None else env
        text = environ.get(ENV_VARIABLE)
        if not text:
            raise MetadataError(
                f"${ENV_VARIABLE} is not set",
                hint="run docker/metadata-action before this step, or pass its json output file",
            )
        return parse_action_metadata(text, f"${ENV_VARIABLE}")
    path = Path(source)
    try:
        data = load_json(path, what="metadata-action output", limit=MAX_METADATA_SIZE)
    except FileNotFoundError:
        raise MetadataError(f"metadata-action output {str(path)!r} does not exist") from None
    return _from_data(data, str(path))
