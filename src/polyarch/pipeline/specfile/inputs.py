"""What buildx takes beyond context and Dockerfile: secrets, ssh, caches, contexts, attestations.

Each variant of the spec (and each Bake target, :mod:`polyarch.pipeline.bake.variants`) may set
them, in buildx's own syntax (``docker buildx build --help``; buildx's
``util/buildflags``), so that a line copied from a workflow or a Bake file means the same:

* ``secrets``: ``id=npmrc,src=.npmrc`` (a file) or ``id=token,env=GH_TOKEN`` (a variable);
  ``type=file|env`` is accepted; ``--secret``;
* ``ssh``: ``default`` or ``ID=PATH[,PATH]`` (an agent socket or keys); ``--ssh``;
* ``cache-from`` / ``cache-to``: ``type=registry,ref=...``, ``type=local,src=|dest=...``,
  ``type=gha``, ``type=inline``...; a bare reference means ``type=registry,ref=...``;
* ``build-contexts``: ``NAME: PATH`` or ``docker-image://...``, ``oci-layout://...``;
  ``--build-context``;
* ``provenance`` (``true``, ``false``, ``mode=min``, ``mode=max``), ``sbom`` (``true``,
  ``false``, ``generator=IMAGE``), ``attest`` (``type=...`` entries): ``--provenance``,
  ``--sbom``, ``--attest``;
* ``no-cache``, ``pull`` (booleans): ``--no-cache``, ``--pull``.

Values are checked here (:class:`InputError`, one line); paths are kept as written and
made absolute by the caller. A secret's *value* is never read by polyarch: only its id and
where buildx finds it, so nothing polyarch writes can hold it.

Where polyarch differs from buildx: a secret names its source (``src`` or ``env``);
BuildKit's fallback for ``id=X`` alone (the variable ``X`` if set, else the file ``X``)
depends on the machine and is refused in a spec.

>>> SecretInput.parse("id=npmrc,src=.npmrc")
SecretInput(id='npmrc', src='.npmrc', env=None)
>>> SecretInput.parse("type=env,id=token,env=GH_TOKEN").to_buildx()
'id=token,env=GH_TOKEN'
>>> CacheInput.parse("ghcr.io/seeds/api:cache").to_buildx()
'type=registry,ref=ghcr.io/seeds/api:cache'
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

from polyarch.errors import InvalidInput

__all__ = [
    "SENSITIVE_CACHE_KEYS",
    "BuildInputs",
    "CacheInput",
    "InputError",
    "SecretInput",
    "SshInput",
    "parse_attest",
    "parse_provenance",
    "parse_sbom",
]

#: Cache attributes that hold credentials (buildx's s3 and gha backends): masked wherever
#: a command line is shown or recorded.
SENSITIVE_CACHE_KEYS: Final = frozenset(
    {"secret_access_key", "session_token", "access_key_id", "token", "account_key"}
)
_ID: Final = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_CACHE_TYPES: Final = ("registry", "local", "inline", "gha", "s3", "azblob")


class InputError(InvalidInput):
    """A build input is not in buildx's syntax; the message says which and why."""


def _csv(text: str, what: str) -> list[tuple[str, str]]:
    try:
        rows = [row for row in csv.reader([text], strict=True) if row]
    except csv.Error as exc:
        raise InputError(f"{what} {text!r}: not CSV fields: {exc}") from None
    pairs: list[tuple[str, str]] = []
    for item in rows[0] if rows else []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"{what} {text!r}: field {item!r} must be a key=value pair")
        pairs.append((key.strip().lower(), value))
    return pairs


@dataclass(frozen=True, slots=True)
class SecretInput:
    """One ``--secret``: ``id`` and exactly one of ``src`` (a file) or ``env`` (a variable)."""

    id: str
    src: str | None = None
    env: str | None = None

    @classmethod
    def parse(cls, text: str, *, strict: bool = True) -> SecretInput:
        """Read buildx's ``[type=file|env,]id=ID,src=PATH|env=VAR``.

        With ``strict`` (a spec) the source must be named; without (a Bake target, as
        buildx resolved it) ``id`` alone is kept for BuildKit to resolve.
        """
        secret_id = src = env = None
        kind: str | None = None
        for key, value in _csv(text, "secret"):
            if key == "type":
                if value not in ("file", "env"):
                    raise InputError(f"secret {text!r}: unsupported type {value!r} (file or env)")
                kind = value
            elif key == "id":
                secret_id = value
            elif key in ("src", "source"):
                src = value
            elif key == "env":
                env = value
            else:
                raise InputError(f"secret {text!r}: unexpected key {key!r} (id, src, env, type)")
        if kind == "env" and env is None:
            env, src = src, None  # buildx: type=env,src=VAR names the variable
        return cls.build(secret_id, src, env, text=text, strict=strict)

    @classmethod
    def build(
        cls,
        secret_id: str | None,
        src: str | None,
        env: str | None,
        *,
        text: str,
        strict: bool = True,
    ) -> SecretInput:
        """Check and make one from its parts (``text`` names it in errors)."""
        if not secret_id or not _ID.fullmatch(secret_id):
            raise InputError(f"secret {text!r}: needs an id (letters, digits, '_', '.', '-')")
        if src and env:
            raise InputError(f"secret {text!r}: give src or env, not both")
        if strict and not src and not env:
            raise InputError(
                f"secret {text!r}: say where its value is",
                hint=f"id={secret_id},src=FILE or id={secret_id},env=VARIABLE",
            )
        if env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
            raise InputError(f"secret {text!r}: {env!r} is not an environment variable name")
        return cls(secret_id, src or None, env or None)

    def absolute(self, base: Path) -> SecretInput:
        """The same secret with a relative ``src`` taken from ``base``."""
        if self.src is None:
            return self
        return SecretInput(self.id, str((base / self.src).resolve()), self.env)

    def to_buildx(self) -> str:
        """The ``--secret`` value (no value of the secret in it: only where it is)."""
        parts = [f"id={self.id}"]
        if self.src is not None:
            parts.append(f"src={self.src}")
        if self.env is not None:
            parts.append(f"env={self.env}")
        return ",".join(parts)


@dataclass(frozen=True, slots=True)
class SshInput:
    """One ``--ssh``: ``default`` (the agent of ``SSH_AUTH_SOCK``) or ``ID=PATH[,PATH]``."""

    id: str
    paths: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SshInput:
        """Read buildx's ``ID[=PATH[,PATH]]``."""
        ssh_id, sep, rest = text.strip().partition("=")
        if not _ID.fullmatch(ssh_id):
            raise InputError(f"ssh {text!r}: expected default or ID=PATH[,PATH]")
        paths = tuple(p for p in rest.split(",") if p) if sep else ()
        if sep and not paths:
            raise InputError(f"ssh {text!r}: no path after '='")
        return cls(ssh_id, paths)

    def to_buildx(self) -> str:
        """The ``--ssh`` value."""
        return self.id + ("=" + ",".join(self.paths) if self.paths else "")


@dataclass(frozen=True, slots=True)
class CacheInput:
    """One ``--cache-from``/``--cache-to``: its ``type`` and the other attributes, in order."""

    type: str
    attrs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> CacheInput:
        """Read buildx's CSV (``type=local,src=DIR``) or a bare registry reference."""
        if "=" not in text:
            ref = text.strip()
            if not ref or any(c.isspace() for c in ref):
                raise InputError(f"cache {text!r}: expected type=...,key=value or a reference")
            return cls("registry", (("ref", ref),))
        pairs = _csv(text, "cache")
        kinds = [v for k, v in pairs if k == "type"]
        if len(kinds) != 1:
            raise InputError(f"cache {text!r}: needs one type= ({', '.join(_CACHE_TYPES)})")
        if kinds[0] not in _CACHE_TYPES:
            raise InputError(
                f"cache {text!r}: unknown type {kinds[0]!r} ({', '.join(_CACHE_TYPES)})"
            )
        return cls(kinds[0], tuple((k, v) for k, v in pairs if k != "type"))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], text: str) -> CacheInput:
        """From ``docker buildx bake --print`` of buildx 0.29 (an object of strings)."""
        values = {str(k): str(v) for k, v in data.items()}
        kind = values.pop("type", "")
        if kind not in _CACHE_TYPES:
            raise InputError(f"cache {text}: unknown type {kind!r}")
        return cls(kind, tuple(sorted(values.items())))

    def get(self, key: str) -> str | None:
        """The attribute's value, or ``None``."""
        return next((v for k, v in self.attrs if k == key), None)

    def absolute(self, base: Path) -> CacheInput:
        """The same cache with a local ``src``/``dest`` taken from ``base``."""
        if self.type != "local":
            return self
        attrs = tuple(
            (k, str((base / v).resolve()) if k in ("src", "dest") else v) for k, v in self.attrs
        )
        return CacheInput(self.type, attrs)

    def to_buildx(self, *, masked: bool = False) -> str:
        """The CSV value; ``masked`` hides credentials (:data:`SENSITIVE_CACHE_KEYS`)."""
        parts = [f"type={self.type}"]
        for key, value in self.attrs:
            shown = "***" if masked and key in SENSITIVE_CACHE_KEYS else value
            field_text = f"{key}={shown}"
            parts.append(f'"{field_text}"' if "," in field_text else field_text)
        return ",".join(parts)


def _pairs(text: str, what: str) -> dict[str, str] | None:
    try:
        return dict(_csv(text, what))
    except InputError:
        return None


def parse_provenance(value: bool | str) -> str | None:
    """``--provenance``'s value: ``false`` (off), ``mode=min``, ``mode=max``; None: buildx's
    default. ``true`` is ``mode=min`` (buildx's default mode)."""
    if value is True or value == "true":
        return "mode=min"
    if value is False or value == "false":
        return "false"
    if isinstance(value, str):
        pairs = _pairs(value, "provenance")
        if (
            pairs is None
            or set(pairs) - {"mode", "builder-id", "version"}
            or pairs.get("mode", "min") not in ("min", "max")
        ):
            raise InputError(f"provenance {value!r}: expected true, false, mode=min or mode=max")
        return value
    raise InputError(f"provenance {value!r}: expected true, false, mode=min or mode=max")


def parse_sbom(value: bool | str) -> str | None:
    """``--sbom``'s value: ``true``, ``false`` or ``generator=IMAGE``."""
    if value is True or value == "true":
        return "true"
    if value is False or value == "false":
        return "false"
    if isinstance(value, str):
        pairs = _pairs(value, "sbom")
        if pairs is None or set(pairs) - {"generator", "disabled"}:
            raise InputError(f"sbom {value!r}: expected true, false or generator=IMAGE")
        return value
    raise InputError(f"sbom {value!r}: expected true, false or generator=IMAGE")


def parse_attest(text: str) -> str:
    """One ``--attest`` entry (``type=provenance,mode=max``, ``type=sbom``), checked."""
    pairs = dict(_csv(text, "attest"))
    if pairs.get("type") not in ("provenance", "sbom"):
        raise InputError(f"attest {text!r}: type=provenance or type=sbom")
    return text


@dataclass(frozen=True, slots=True)
class BuildInputs:
    """Everything a variant passes to buildx beyond context, Dockerfile, args, target, labels.

    Empty by default: a variant without them builds exactly as before. ``provenance`` and
    ``sbom`` are ``None`` for buildx's defaults; ``network`` is a Bake target's (the
    command's ``--network`` applies otherwise).
    """

    secrets: tuple[SecretInput, ...] = ()
    ssh: tuple[SshInput, ...] = ()
    cache_from: tuple[CacheInput, ...] = ()
    cache_to: tuple[CacheInput, ...] = ()
    build_contexts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    provenance: str | None = None
    sbom: str | None = None
    attest: tuple[str, ...] = ()
    no_cache: bool = False
    pull: bool = False
    network: str | None = None

    def __bool__(self) -> bool:
        return self != BuildInputs()
