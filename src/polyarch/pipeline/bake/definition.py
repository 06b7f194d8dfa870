"""A Bake definition, as ``docker buildx bake --print`` resolves and prints it.

``docker buildx bake -f FILE... --print [TARGET...]`` resolves the files (HCL, JSON or
compose: variables, functions, ``inherits``, groups, compose's ``build:`` sections) and
prints ``{"group": {...}, "target": {NAME: {...}}}``. :func:`bake_print` runs it
(:mod:`polyarch.engine.bake`) and :func:`parse_bake_print` reads it into a
:class:`BakeDefinition`, whose :class:`BakeTarget` objects read their attributes typed.

Measured with Debian's buildx 0.13.1 and 0.29.1 (``bake --print`` needs no engine):

* both print ``context``, ``dockerfile`` (``Dockerfile`` by default), ``args`` (values as
  strings), ``labels``, ``tags``, ``target``, ``platforms``, ``contexts``, ``pull``,
  ``no-cache``, ``annotations``;
* ``secret``, ``ssh``, ``cache-from``, ``cache-to``, ``attest`` and ``output`` are CSV
  strings in 0.13 (``"id=npmrc,src=npmrc"``) and objects in 0.29 (``{"id": "npmrc",
  "src": "npmrc"}``; ``{"type": "provenance", "disabled": true}`` with a JSON boolean;
  ``{"push": "true", "type": "image"}`` with string values); both are read;
* 0.13 leaves a compose service's ``platforms``, ``ssh``, ``pull``, ``no_cache`` and
  ``network`` out of ``--print``; 0.29 prints them;
* relative paths (``context``, ``contexts``, a secret's ``src``) are printed as written and
  mean the directory bake runs in (buildx's default; ``BUILDX_BAKE_FILE_RELATIVE_PATHS=1``,
  buildx 0.3x, makes them relative to the file), so they are resolved against ``cwd``
  here; ``cwd://`` is stripped. :func:`~polyarch.pipeline.bake.variants.resolve_bake`
  runs bake in the (first) Bake file's directory, so that a file means the same wherever
  polyarch runs (where polyarch differs from buildx: the same when bake runs next to the
  file);
* ``--print`` checks that a secret's ``src`` exists and that ``SSH_AUTH_SOCK`` is set for
  ``ssh = ["default"]``, and never prints a secret's value (only ``id``/``src``/``env``).

What a target means as a variant is :mod:`polyarch.pipeline.bake.variants`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from polyarch.engine.bake import print_bake_definition
from polyarch.errors import InvalidInput
from polyarch.files import parse_json

__all__ = [
    "BakeDefinition",
    "BakeError",
    "BakeTarget",
    "bake_print",
    "csv_of",
    "parse_bake_print",
]


class BakeError(InvalidInput):
    """A Bake target cannot be a variant (or the definition is not bake's); fix the target."""


@dataclass(frozen=True, slots=True)
class BakeTarget:
    """One resolved target: its name and the attributes ``--print`` gave."""

    name: str
    attrs: Mapping[str, Any]

    def strings(self, key: str) -> list[str]:
        """The attribute ``key`` (none: empty), a list of strings."""
        value = self.attrs.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BakeError(f"bake target {self.name!r}: {key} is not a list of strings")
        return list(value)

    def string_map(self, key: str) -> dict[str, str]:
        """The attribute ``key`` (none: empty), a mapping; a null value is empty text."""
        value = self.attrs.get(key, {})
        if not isinstance(value, dict):
            raise BakeError(f"bake target {self.name!r}: {key} is not a mapping")
        return {str(k): "" if v is None else str(v) for k, v in value.items()}

    def entries(self, key: str) -> list[str | Mapping[str, Any]]:
        """The attribute ``key`` (none: empty), a list of CSV strings (buildx 0.13) or of
        objects (0.29)."""
        value = self.attrs.get(key, [])
        if not isinstance(value, list):
            raise BakeError(f"bake target {self.name!r}: {key} is not a list")
        out: list[str | Mapping[str, Any]] = []
        for item in value:
            if not isinstance(item, str | dict):
                raise BakeError(f"bake target {self.name!r}: {key} holds {item!r}")
            out.append(item)
        return out


@dataclass(frozen=True, slots=True)
class BakeDefinition:
    """The printed definition: targets by name, groups (name to target names), where it ran."""

    targets: Mapping[str, BakeTarget]
    groups: Mapping[str, tuple[str, ...]]
    cwd: Path

    def default_targets(self) -> tuple[str, ...]:
        """The ``default`` group's targets (what ``bake`` builds without names), else all."""
        return self.groups.get("default") or tuple(self.targets)

    def expand(self, names: Sequence[str]) -> list[str]:
        """Target names with each group replaced by its targets (no names: the default)."""
        out: list[str] = []
        pending = list(names) or list(self.default_targets())
        seen_groups: set[str] = set()
        while pending:
            name = pending.pop(0)
            if name not in self.targets and name in self.groups and name not in seen_groups:
                seen_groups.add(name)
                pending[:0] = self.groups[name]
            elif name not in out:
                out.append(name)
        return out


def bake_print(
    files: Sequence[str | Path],
    targets: Sequence[str] = (),
    *,
    cwd: Path,
    docker: str = "docker",
    env: Mapping[str, str] | None = None,
) -> BakeDefinition:
    """Run ``docker buildx bake --print`` in ``cwd`` and read the definition it prints.

    Raises :class:`~polyarch.engine.bake.BakeFailed` with buildx's last error line when it
    fails (a missing file, an undefined target, an HCL error), and :class:`BakeError` for
    output that is not bake's.
    """
    text = print_bake_definition(files, targets, cwd=cwd, docker=docker, env=env)
    return parse_bake_print(text, cwd)


def parse_bake_print(text: str, cwd: Path) -> BakeDefinition:
    """Read ``bake --print``'s JSON; relative paths are taken from ``cwd``."""
    data = parse_json(text, what="docker buildx bake --print output", shown="stdout")
    if not isinstance(data, dict) or not isinstance(data.get("target"), dict):
        raise BakeError("docker buildx bake printed no targets")
    targets = {
        name: BakeTarget(name, MappingProxyType(dict(attrs)))
        for name, attrs in data["target"].items()
        if isinstance(name, str) and isinstance(attrs, dict)
    }
    groups: dict[str, tuple[str, ...]] = {}
    for name, group in (data.get("group") or {}).items():
        if isinstance(group, dict) and isinstance(group.get("targets"), list):
            groups[name] = tuple(t for t in group["targets"] if isinstance(t, str))
    return BakeDefinition(MappingProxyType(targets), MappingProxyType(groups), cwd)


def csv_of(item: Mapping[str, Any]) -> str:
    """An object of buildx 0.29's --print as the CSV 0.13 prints."""
    parts = []
    for key, value in item.items():
        text = "true" if value is True else "false" if value is False else str(value)
        if isinstance(value, list):
            text = ",".join(str(v) for v in value)
        field_text = f"{key}={text}"
        parts.append(f'"{field_text}"' if "," in field_text else field_text)
    return ",".join(parts)
