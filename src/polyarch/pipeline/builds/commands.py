"""The command lines that build a variant: ``docker build`` or ``docker buildx build``.

:func:`docker_build_argv` and :func:`buildx_build_argv` are the command lines of the two
builders (which one: :mod:`polyarch.engine.builders`); they run through
:func:`polyarch.engine.process.run_process`. A variant's build inputs
(:class:`~polyarch.pipeline.specfile.inputs.BuildInputs`: secrets, ssh, caches, build
contexts, attestations, ``no-cache``, ``pull``) become buildx's flags of the same names;
no secret's value is ever in a command line (only its id and where buildx reads it), and
``masked=True`` hides credentials a cache attribute may hold, for the line polyarch shows.

>>> from pathlib import Path
>>> from polyarch.pipeline.specfile.model import Variant
>>> from polyarch.domain.platform import Platform
>>> variant = Variant(Platform.parse("linux/arm64"), Path("/src/app-arm64"),
...                   Path("/src/app-arm64/Dockerfile"), {"PYTHON_ENV": "production"}, "runtime")
>>> " ".join(docker_build_argv(variant, "127.0.0.1:5000/api:v2-linux-arm64", network="none"))
... # doctest: +NORMALIZE_WHITESPACE
'docker build --platform linux/arm64 -f /src/app-arm64/Dockerfile --build-arg
PYTHON_ENV=production --target runtime --network none -t 127.0.0.1:5000/api:v2-linux-arm64
/src/app-arm64'
"""

from __future__ import annotations

from pathlib import Path

from polyarch.pipeline.specfile.inputs import BuildInputs
from polyarch.pipeline.specfile.model import Variant

__all__ = ["buildx_build_argv", "docker_build_argv", "docker_unsupported"]


def _common_args(variant: Variant, network: str | None) -> list[str]:
    args = ["--platform", str(variant.platform), "-f", str(variant.dockerfile)]
    for key, value in variant.build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    if variant.target:
        args += ["--target", variant.target]
    for key, value in variant.labels.items():
        args += ["--label", f"{key}={value}"]
    network = network if network is not None else variant.inputs.network
    if network is not None:
        args += ["--network", network]
    return args


def _docker_inputs(inputs: BuildInputs) -> list[str]:
    """What both ``docker build`` (BuildKit) and ``docker buildx build`` take."""
    args: list[str] = []
    for secret in inputs.secrets:
        args += ["--secret", secret.to_buildx()]
    for ssh in inputs.ssh:
        args += ["--ssh", ssh.to_buildx()]
    if inputs.no_cache:
        args.append("--no-cache")
    if inputs.pull:
        args.append("--pull")
    return args


def _buildx_inputs(inputs: BuildInputs, *, masked: bool) -> list[str]:
    args = _docker_inputs(inputs)
    for cache in inputs.cache_from:
        args += ["--cache-from", cache.to_buildx(masked=masked)]
    for cache in inputs.cache_to:
        args += ["--cache-to", cache.to_buildx(masked=masked)]
    for name, value in inputs.build_contexts.items():
        args += ["--build-context", f"{name}={value}"]
    if inputs.provenance is not None:
        args += ["--provenance", inputs.provenance]
    if inputs.sbom is not None:
        args += ["--sbom", inputs.sbom]
    for attest in inputs.attest:
        args += ["--attest", attest]
    return args


def docker_unsupported(variant: Variant) -> tuple[str, ...]:
    """The variant's inputs that ``docker build`` + ``docker push`` cannot pass (buildx's
    only): ``cache-from``, ``cache-to``, ``build-contexts``, ``provenance``, ``sbom``,
    ``attest``. Empty when the plain builder can build it as the spec says."""
    inputs = variant.inputs
    named = {
        "cache-from": bool(inputs.cache_from),
        "cache-to": bool(inputs.cache_to),
        "build-contexts": bool(inputs.build_contexts),
        "provenance": inputs.provenance is not None,
        "sbom": inputs.sbom is not None,
        "attest": bool(inputs.attest),
    }
    return tuple(name for name, used in named.items() if used)


def docker_build_argv(
    variant: Variant, ref: str, *, network: str | None = None, docker: str = "docker"
) -> list[str]:
    """The plain engine's ``docker build`` command line, tagging the image ``ref``.

    Secrets, ssh, ``--no-cache`` and ``--pull`` are passed (BuildKit's ``docker build``
    takes them); the buildx-only inputs (:func:`docker_unsupported`) are not.
    """
    inputs = _docker_inputs(variant.inputs)
    return [
        docker,
        "build",
        *_common_args(variant, network),
        *inputs,
        "-t",
        ref,
        str(variant.context),
    ]


def buildx_build_argv(
    variant: Variant,
    repository: str,
    metadata_file: Path,
    *,
    network: str | None = None,
    docker: str = "docker",
    builder: str | None = None,
    tag: str | None = None,
    masked: bool = False,
) -> list[str]:
    """The ``docker buildx build`` command line pushing the variant to ``repository``.

    Without ``tag``, by digest only (``push-by-digest=true``: drivers other than
    ``docker``); with ``tag``, to ``repository:tag`` (every driver). ``builder`` names
    the buildx builder instance (``--builder NAME``; ``None``: buildx's own choice).
    ``masked`` writes ``***`` for credentials in cache attributes (the line to show).
    """
    if tag is None:
        output = f"type=image,name={repository},push-by-digest=true,name-canonical=true,push=true"
    else:
        output = f"type=image,name={repository}:{tag},push=true"
    chosen = ["--builder", builder] if builder else []
    return [
        docker,
        "buildx",
        "build",
        *chosen,
        *_common_args(variant, network),
        *_buildx_inputs(variant.inputs, masked=masked),
        "--output",
        output,
        "--metadata-file",
        str(metadata_file),
        str(variant.context),
    ]
