"""Build records: what each variant's build pushed, written once per variant.

A record ties a platform to the digest of the platform image manifest its build pushed
(never a wrapper's). ``verify`` compares a published index against records; the build
pipeline writes them. Two formats are read:

* polyarch records (``polyarch.record/v1``, see docs/records.md)::

    {"schema": "polyarch.record/v1", "platform": "linux/arm64",
     "repository": "registry.example.com/metrics-api", "digest": "sha256:…", ...}

* buildx ``--metadata-file`` outputs (docker/buildx ``writeMetadataFile``): with
  attestations on, ``containerimage.digest`` and ``containerimage.descriptor`` name the
  BuildKit *wrapper* index (the descriptor has no platform): such a record is
  *unresolved* until the wrapper is read where ``image.name`` says it was pushed
  (:func:`polyarch.content.records.evidence.resolve_record`); without a wrapper
  (provenance off) the descriptor is the image manifest's, with its ``platform``, and
  ``containerimage.config.digest`` names its config.
* ``docker buildx bake --metadata-file`` outputs: one buildx metadata object per target,
  keyed by target name (records named ``FILE[target]``); keys that are not targets, such
  as ``buildx.build.warnings``, are skipped.

A path may be a file (one record, a JSON list of records, or a bake metadata file) or a
directory of ``*.json``.

>>> r = Record.from_json({"schema": "polyarch.record/v1", "platform": "linux/arm64",
...                       "digest": "sha256:" + "a" * 64})
>>> str(r.platform), r.digest.short
('linux/arm64', 'sha256:aaaaaaaaaaaa')
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyarch.domain import mediatype
from polyarch.domain.digest import Digest
from polyarch.domain.document import refuse_lone_surrogates
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidDigest, InvalidInput, InvalidPlatform
from polyarch.files import load_json

__all__ = ["RECORD_SCHEMA", "Record", "load_records"]

RECORD_SCHEMA = "polyarch.record/v1"
#: A record file holds a few records; a larger file is not one.
MAX_RECORDS_FILE_SIZE = 16 * 1024 * 1024


#: The keys of one buildx metadata object (docker/buildx ``decodeExporterResponse``).
_BUILDX_KEYS = ("containerimage.digest", "containerimage.descriptor", "buildx.build.ref")


@dataclass(frozen=True, slots=True)
class Record:
    """One variant's build record.

    ``digest`` is the platform image manifest's digest when ``resolved`` (a polyarch
    record, or buildx metadata of a push without a wrapper). An unresolved record (buildx
    metadata naming a wrapper, or not saying what it names) holds what the build pushed:
    resolve it against the registry before comparing it with an index.
    """

    digest: Digest
    platform: Platform | None
    repository: str | None = None
    #: Where it was read from (a file path), for messages.
    origin: str = ""
    #: Everything else the record said (context, dockerfile, revision, builder, time...).
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Whether ``digest`` is known to be the platform image manifest's (not a wrapper's).
    resolved: bool = True
    #: Every repository the build pushed to (``image.name`` may name several), first
    #: ``repository``; where the wrapper is looked up.
    locations: tuple[str, ...] = ()

    @property
    def wrapper(self) -> Digest | None:
        """The BuildKit wrapper index the build pushed, when the record names one."""
        return _optional_digest(self.extra.get("wrapper"))

    @property
    def config(self) -> Digest | None:
        """The image config's digest (the image ID), when the record has it."""
        return _optional_digest(self.extra.get("config"))

    @property
    def repositories(self) -> tuple[str, ...]:
        """Where the build pushed: ``locations``, else ``repository`` (may be empty)."""
        if self.locations:
            return self.locations
        return (self.repository,) if self.repository else ()

    @classmethod
    def from_json(cls, data: object, origin: str = "record") -> Record:
        """Read a polyarch record or a buildx metadata object."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{origin}: a record must be a JSON object")
        refuse_lone_surrogates(data, origin, InvalidInput)
        if "digest" not in data and any(k in data for k in _BUILDX_KEYS):
            return cls._from_buildx(data, origin)
        schema = data.get("schema")
        if schema is not None and schema != RECORD_SCHEMA:
            raise InvalidInput(f"{origin}: unknown record schema {schema!r}")
        resolved = data.get("digest") is not None or "wrapper" not in data
        digest = cls._digest(data.get("digest") if resolved else data.get("wrapper"), origin)
        platform = cls._platform(data.get("platform"), origin)
        repository = data.get("repository")
        if repository is not None and not isinstance(repository, str):
            raise InvalidInput(f"{origin}: repository must be a string")
        for key in ("wrapper", "config"):
            if data.get(key) is not None:
                cls._digest(data[key], f"{origin}: {key}")
        extra = {k: v for k, v in data.items() if k not in ("digest", "platform", "repository")}
        return cls(digest, platform, repository, origin, extra, resolved)

    @classmethod
    def _from_buildx(cls, data: Mapping[str, Any], origin: str) -> Record:
        if data.get("containerimage.digest") is None:
            raise InvalidInput(
                f"{origin}: buildx metadata without containerimage.digest",
                hint="the build pushed no image: build it with push enabled",
            )
        digest = cls._digest(data.get("containerimage.digest"), origin)
        descriptor = data.get("containerimage.descriptor")
        platform = None
        kind = None
        if isinstance(descriptor, Mapping):
            if descriptor.get("platform") is not None:
                platform = cls._platform(descriptor["platform"], origin)
            if isinstance(descriptor.get("mediaType"), str):
                kind = descriptor["mediaType"]
        extra: dict[str, Any] = {"builder": "buildx"}
        if isinstance(data.get("buildx.build.ref"), str):
            extra["ref"] = data["buildx.build.ref"]
        if isinstance(data.get("image.name"), str):
            extra["image.name"] = data["image.name"]
        config = data.get("containerimage.config.digest")
        if config is not None:
            extra["config"] = str(cls._digest(config, f"{origin}: containerimage.config.digest"))
        # With attestations the descriptor is the wrapper index's; an image manifest's
        # descriptor (provenance off) is the image itself. Without a descriptor, unknown.
        resolved = kind is not None and mediatype.is_image_manifest(kind)
        if kind is not None and mediatype.is_index(kind):
            extra["wrapper"] = str(digest)
        locations = _repositories(data.get("image.name"))
        repository = locations[0] if locations else None
        return cls(digest, platform, repository, origin, extra, resolved, locations)

    @staticmethod
    def _digest(value: object, origin: str) -> Digest:
        if not isinstance(value, str):
            raise InvalidInput(f"{origin}: missing digest")
        try:
            return Digest(value)
        except InvalidDigest as exc:
            raise InvalidInput(f"{origin}: {exc}") from None

    @staticmethod
    def _platform(value: object, origin: str) -> Platform | None:
        if value is None:
            return None
        try:
            if isinstance(value, str):
                return Platform.parse(value)
            if isinstance(value, Mapping):
                return Platform.from_oci(value)
        except InvalidPlatform as exc:
            raise InvalidInput(f"{origin}: {exc}") from None
        raise InvalidInput(f"{origin}: platform must be a string or an object")

    def to_json(self) -> dict[str, Any]:
        """The polyarch record form (an unresolved record: ``digest`` null, ``wrapper`` set)."""
        out: dict[str, Any] = {"schema": RECORD_SCHEMA}
        out["platform"] = str(self.platform) if self.platform else None
        if self.repository:
            out["repository"] = self.repository
        out["digest"] = str(self.digest) if self.resolved else None
        out.update({k: v for k, v in self.extra.items() if k != "schema"})
        if not self.resolved:
            out["wrapper"] = str(self.digest)
        return out


def _optional_digest(value: object) -> Digest | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return Digest(value)
    except InvalidDigest:
        return None


def _repositories(name: object) -> tuple[str, ...]:
    """The repositories of buildx's ``image.name``: ``reg/repo:tag,reg/repo@sha256:…``."""
    if not isinstance(name, str):
        return ()
    found: list[str] = []
    for item in name.split(","):
        repository = item.strip().split("@")[0]
        last = repository.rsplit("/", 1)[-1]
        if ":" in last:
            repository = repository[: repository.rindex(":")]
        if repository and repository not in found:
            found.append(repository)
    return tuple(found)


def _is_bake(data: object) -> bool:
    """A ``docker buildx bake --metadata-file`` object: buildx metadata keyed by target."""
    if not isinstance(data, Mapping) or "digest" in data or "schema" in data:
        return False
    if any(k in data for k in _BUILDX_KEYS):
        return False
    return any(isinstance(v, Mapping) and any(k in v for k in _BUILDX_KEYS) for v in data.values())


def _files(path: Path) -> Iterable[Path]:
    if path.is_dir():
        # Everything but directories: a FIFO named *.json is refused by name, not skipped.
        found = sorted(p for p in path.rglob("*.json") if not p.is_dir())
        if not found:
            raise InvalidInput(f"records: no *.json file in {path}")
        return found
    if not os.path.lexists(path):
        raise InvalidInput(f"records: {path} does not exist")
    return [path]


def load_records(paths: Iterable[str | Path]) -> list[Record]:
    """Read every record under ``paths`` (files or directories).

    Each file is read through :mod:`polyarch.files`: a regular file only (a FIFO or a
    device is refused by name, never waited on), at most 16 MiB, UTF-8 JSON; every
    problem is an :class:`InvalidInput` naming the file.
    """
    records: list[Record] = []
    for given in paths:
        for file in _files(Path(given)):
            try:
                data = load_json(file, what="records file", limit=MAX_RECORDS_FILE_SIZE)
            except OSError as exc:
                raise InvalidInput(
                    f"records file {file}: cannot read it ({exc.strerror or exc})"
                ) from None
            if _is_bake(data):
                # Targets in file order; "buildx.build.warnings" and the like are no target.
                for target, item in data.items():
                    if isinstance(item, Mapping) and any(k in item for k in _BUILDX_KEYS):
                        records.append(Record.from_json(item, f"{file}[{target}]"))
                continue
            items = data if isinstance(data, list) else [data]
            for i, item in enumerate(items):
                origin = str(file) if len(items) == 1 else f"{file}[{i}]"
                records.append(Record.from_json(item, origin))
    return records
