"""Build records: what each variant's build pushed, written once per variant.

A record ties a platform to the digest of the platform image manifest its build pushed
(never a wrapper's). ``verify`` compares a published index against records; the build
pipeline writes them. Two formats are read:

* polyarch records (``polyarch.record/v1``, see docs/records.md)::

    {"schema": "polyarch.record/v1", "platform": "linux/arm64",
     "repository": "registry.example.com/metrics-api", "digest": "sha256:…", ...}

* buildx ``--metadata-file`` outputs: ``containerimage.digest`` (which, with attestations,
  is the wrapper's digest: resolve it against the registry) and, when present,
  ``containerimage.descriptor.platform``.

A path may be a file (one record, or a JSON list of records) or a directory of ``*.json``.

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

from polyarch.digest import Digest
from polyarch.errors import InvalidDigest, InvalidInput, InvalidPlatform
from polyarch.files import load_json
from polyarch.platform import Platform

__all__ = ["RECORD_SCHEMA", "Record", "load_records"]

RECORD_SCHEMA = "polyarch.record/v1"
#: A record file holds a few records; a larger file is not one.
MAX_RECORDS_FILE_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    """One variant's build record."""

    digest: Digest
    platform: Platform | None
    repository: str | None = None
    #: Where it was read from (a file path), for messages.
    origin: str = ""
    #: Everything else the record said (context, dockerfile, revision, builder, time...).
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: object, origin: str = "record") -> Record:
        """Read a polyarch record or a buildx metadata object."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{origin}: a record must be a JSON object")
        if "containerimage.digest" in data and "digest" not in data:
            return cls._from_buildx(data, origin)
        schema = data.get("schema")
        if schema is not None and schema != RECORD_SCHEMA:
            raise InvalidInput(f"{origin}: unknown record schema {schema!r}")
        digest = cls._digest(data.get("digest"), origin)
        platform = cls._platform(data.get("platform"), origin)
        repository = data.get("repository")
        if repository is not None and not isinstance(repository, str):
            raise InvalidInput(f"{origin}: repository must be a string")
        extra = {k: v for k, v in data.items() if k not in ("digest", "platform", "repository")}
        return cls(digest, platform, repository, origin, extra)

    @classmethod
    def _from_buildx(cls, data: Mapping[str, Any], origin: str) -> Record:
        digest = cls._digest(data.get("containerimage.digest"), origin)
        descriptor = data.get("containerimage.descriptor")
        platform = None
        if isinstance(descriptor, Mapping) and descriptor.get("platform") is not None:
            platform = cls._platform(descriptor["platform"], origin)
        name = data.get("image.name")
        repository = None
        if isinstance(name, str) and name:
            # "reg/repo:tag,reg/repo:tag2" or "reg/repo" with push-by-digest.
            repository = name.split(",")[0].split("@")[0]
            last = repository.rsplit("/", 1)[-1]
            if ":" in last:
                repository = repository[: repository.rindex(":")]
        return cls(digest, platform, repository, origin, {"builder": "buildx"})

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
        """The polyarch record form."""
        out: dict[str, Any] = {"schema": RECORD_SCHEMA}
        out["platform"] = str(self.platform) if self.platform else None
        if self.repository:
            out["repository"] = self.repository
        out["digest"] = str(self.digest)
        out.update({k: v for k, v in self.extra.items() if k != "schema"})
        return out


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
            items = data if isinstance(data, list) else [data]
            for i, item in enumerate(items):
                origin = str(file) if len(items) == 1 else f"{file}[{i}]"
                records.append(Record.from_json(item, origin))
    return records
