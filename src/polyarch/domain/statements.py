"""What an attestation says: SLSA provenance and SBOM in-toto statements, summarized (no I/O).

A reviewer of an image asks of its provenance: which predicate (SLSA v0.2 or v1), which
builder and build type, built from which source repository and revision, with which
Dockerfile and build arguments, from which materials (base images, sources); of its SBOM:
which format (SPDX or CycloneDX), how many packages, made by which tool.

Provenance, as BuildKit writes it (moby/buildkit ``docs/attestations/slsa-definitions.md``;
measured with Docker 26 / BuildKit 0.13 and Docker 28.5, ``--provenance=mode=max``):

* SLSA v0.2 (``https://slsa.dev/provenance/v0.2``, the default): ``builder.id``,
  ``buildType``, ``invocation.configSource`` (``uri``, ``digest``, ``entryPoint``: the
  Dockerfile's path), ``invocation.parameters.args`` (``build-arg:NAME``), ``materials``
  (``uri`` a package URL or git URL, ``digest``), ``buildConfig`` in max mode, and
  BuildKit's own ``metadata["https://mobyproject.org/buildkit@v1#metadata"]``: ``vcs``
  (``source``, ``revision``) and, in max mode, ``source.infos`` (the Dockerfile's bytes);
* SLSA v1 (``https://slsa.dev/provenance/v1``, ``version=v1``; BuildKit 0.28+'s default):
  ``buildDefinition`` (``buildType``, ``externalParameters.configSource`` with ``path``,
  ``externalParameters.request.args``, ``resolvedDependencies``,
  ``internalParameters.buildConfig`` in max mode) and ``runDetails`` (``builder.id``,
  ``metadata.buildkit_metadata`` with ``vcs`` and ``source``).

SBOMs: SPDX 2.x JSON (``https://spdx.dev/Document``: ``spdxVersion``, ``packages``,
``creationInfo.creators`` ``Tool: NAME-VERSION``) and CycloneDX JSON
(``https://cyclonedx.org/bom``: ``specVersion``, ``components``, ``metadata.tools`` as a
list (1.4) or ``{"components": [...]}`` (1.5+)).

>>> kind_of("https://slsa.dev/provenance/v1"), kind_of("https://spdx.dev/Document")
('provenance', 'sbom')
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "BUILDKIT_METADATA",
    "CYCLONEDX",
    "PROVENANCE_PREFIX",
    "SPDX",
    "Material",
    "Provenance",
    "Sbom",
    "kind_of",
    "read_provenance",
    "read_sbom",
]

#: Every SLSA provenance predicate type starts with this.
PROVENANCE_PREFIX: Final = "https://slsa.dev/provenance/"
SPDX: Final = "https://spdx.dev/Document"
CYCLONEDX: Final = "https://cyclonedx.org/bom"
#: BuildKit's own metadata key in SLSA v0.2 provenance.
BUILDKIT_METADATA: Final = "https://mobyproject.org/buildkit@v1#metadata"
_BUILD_ARG: Final = "build-arg:"
#: The largest Dockerfile text kept from a provenance (bytes).
MAX_DOCKERFILE: Final = 256 * 1024

Kind = Literal["provenance", "sbom", "other"]


def kind_of(predicate_type: str) -> Kind:
    """``provenance`` (SLSA), ``sbom`` (SPDX, CycloneDX) or ``other``."""
    if predicate_type.startswith(PROVENANCE_PREFIX):
        return "provenance"
    if predicate_type.startswith((SPDX, CYCLONEDX)) or "spdx" in predicate_type:
        return "sbom"
    return "other"


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Material:
    """A build input: a base image (a package URL), a git source, a file."""

    uri: str
    digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/json.md)."""
        return {"uri": self.uri, "digest": self.digest}


@dataclass(frozen=True, slots=True)
class Provenance:
    """What an SLSA provenance statement says about a build."""

    predicate_type: str
    #: ``v0.2`` or ``v1`` (the predicate type's last part).
    slsa_version: str
    builder_id: str | None = None
    build_type: str | None = None
    source_repository: str | None = None
    source_revision: str | None = None
    #: The Dockerfile's path in the context, and its text when recorded (``mode=max``).
    dockerfile: str | None = None
    dockerfile_text: str | None = field(default=None, repr=False)
    build_args: Mapping[str, str] = field(default_factory=dict)
    frontend: str | None = None
    materials: tuple[Material, ...] = ()
    #: ``max`` when the build configuration is recorded, else ``min``.
    mode: str = "min"

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/json.md)."""
        return {
            "predicateType": self.predicate_type,
            "slsaVersion": self.slsa_version,
            "builderId": self.builder_id,
            "buildType": self.build_type,
            "mode": self.mode,
            "source": {"repository": self.source_repository, "revision": self.source_revision},
            "dockerfile": {"path": self.dockerfile, "content": self.dockerfile_text},
            "frontend": self.frontend,
            "buildArgs": dict(self.build_args),
            "materials": [m.to_json() for m in self.materials],
        }


def _materials(items: object) -> tuple[Material, ...]:
    out = []
    for raw in items if isinstance(items, list) else []:
        item = _map(raw)
        uri = _text(item.get("uri"))
        if uri is None:
            continue
        digest = _map(item.get("digest"))
        algorithm = next(iter(sorted(digest)), None)
        value = _text(digest.get(algorithm)) if algorithm else None
        out.append(Material(uri, f"{algorithm}:{value}" if value else None))
    return tuple(out)


def _dockerfile_text(buildkit: Mapping[str, Any], path: str | None) -> str | None:
    """The Dockerfile's bytes BuildKit recorded in max mode (``source.infos[].data``)."""
    for raw in _map(buildkit.get("source")).get("infos") or []:
        info = _map(raw)
        if info.get("language") not in (None, "Dockerfile"):
            continue
        if path and info.get("filename") not in (path, path.rsplit("/", 1)[-1]):
            continue
        data = _text(info.get("data"))
        if data is None:
            continue
        try:
            text = base64.b64decode(data, validate=True)
        except binascii.Error:
            return None
        return text[:MAX_DOCKERFILE].decode("utf-8", "replace")
    return None


def _build_args(args: Mapping[str, Any]) -> dict[str, str]:
    return {
        k[len(_BUILD_ARG) :]: str(v)
        for k, v in sorted(args.items())
        if isinstance(k, str) and k.startswith(_BUILD_ARG)
    }


def read_provenance(statement: Mapping[str, Any]) -> Provenance:
    """Summarize an SLSA provenance statement (v0.2 or v1); fields it lacks are None.

    Never raises for a missing or oddly typed field: provenance is evidence to show, and
    every builder fills it differently.
    """
    predicate_type = str(statement.get("predicateType") or "")
    version = predicate_type.rsplit("/", 1)[-1] if predicate_type else ""
    predicate = _map(statement.get("predicate"))
    if "buildDefinition" in predicate or "runDetails" in predicate:  # SLSA v1
        build = _map(predicate.get("buildDefinition"))
        run = _map(predicate.get("runDetails"))
        external = _map(build.get("externalParameters"))
        request = _map(external.get("request"))
        config = _map(external.get("configSource"))
        buildkit = _map(_map(run.get("metadata")).get("buildkit_metadata"))
        internal = _map(build.get("internalParameters"))
        path = _text(config.get("path"))
        materials = _materials(build.get("resolvedDependencies"))
        return Provenance(
            predicate_type,
            version,
            _text(_map(run.get("builder")).get("id")),
            _text(build.get("buildType")),
            _text(_map(buildkit.get("vcs")).get("source")) or _text(config.get("uri")),
            _text(_map(buildkit.get("vcs")).get("revision")),
            path,
            _dockerfile_text(buildkit, path),
            _build_args(_map(request.get("args"))),
            _text(request.get("frontend")),
            materials,
            "max" if "buildConfig" in internal or _dockerfile_text(buildkit, path) else "min",
        )
    invocation = _map(predicate.get("invocation"))
    config = _map(invocation.get("configSource"))
    parameters = _map(invocation.get("parameters"))
    buildkit = _map(_map(predicate.get("metadata")).get(BUILDKIT_METADATA))
    vcs = _map(buildkit.get("vcs"))
    path = _text(config.get("entryPoint"))
    return Provenance(
        predicate_type,
        version,
        _text(_map(predicate.get("builder")).get("id")),
        _text(predicate.get("buildType")),
        _text(vcs.get("source")) or _text(config.get("uri")),
        _text(vcs.get("revision")),
        path,
        _dockerfile_text(buildkit, path),
        _build_args(_map(parameters.get("args"))),
        _text(parameters.get("frontend")),
        _materials(predicate.get("materials")),
        "max" if "buildConfig" in predicate else "min",
    )


@dataclass(frozen=True, slots=True)
class Sbom:
    """What an SBOM statement says: its format, how many packages, which tools made it."""

    predicate_type: str
    #: ``SPDX`` or ``CycloneDX``.
    format: str
    #: ``SPDX-2.3``, ``1.5``...
    version: str | None
    packages: int
    tools: tuple[str, ...] = ()
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (docs/json.md)."""
        return {
            "predicateType": self.predicate_type,
            "format": self.format,
            "version": self.version,
            "packages": self.packages,
            "tools": list(self.tools),
            "name": self.name,
        }


def _cyclonedx_tools(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    tools = metadata.get("tools")
    items = _map(tools).get("components") if isinstance(tools, Mapping) else tools
    out = []
    for raw in items if isinstance(items, list) else []:
        tool = _map(raw)
        name = _text(tool.get("name"))
        if name:
            version = _text(tool.get("version"))
            out.append(f"{name}-{version}" if version else name)
    return tuple(out)


def read_sbom(statement: Mapping[str, Any]) -> Sbom:
    """Summarize an SPDX or CycloneDX statement; never raises for a missing field."""
    predicate_type = str(statement.get("predicateType") or "")
    predicate = _map(statement.get("predicate"))
    if predicate_type.startswith(CYCLONEDX) or predicate.get("bomFormat") == "CycloneDX":
        components = predicate.get("components")
        return Sbom(
            predicate_type,
            "CycloneDX",
            _text(predicate.get("specVersion")),
            len(components) if isinstance(components, list) else 0,
            _cyclonedx_tools(_map(predicate.get("metadata"))),
            _text(_map(_map(predicate.get("metadata")).get("component")).get("name")),
        )
    packages = predicate.get("packages")
    creators = _map(predicate.get("creationInfo")).get("creators")
    tools = tuple(
        c.removeprefix("Tool:").strip()
        for c in (creators if isinstance(creators, list) else [])
        if isinstance(c, str) and c.startswith("Tool:")
    )
    return Sbom(
        predicate_type,
        "SPDX",
        _text(predicate.get("spdxVersion")),
        len(packages) if isinstance(packages, list) else 0,
        tools,
        _text(predicate.get("name")),
    )
