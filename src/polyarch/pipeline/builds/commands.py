"""The command lines that build a variant: ``docker build`` or ``docker buildx build``.

:func:`docker_build_argv` and :func:`buildx_build_argv` are the command lines of the two
builders (which one: :mod:`polyarch.engine.builders`); they run through
:func:`polyarch.engine.process.run_process`.

>>> from pathlib import Path
>>> from polyarch.pipeline.specfile import Variant
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

from polyarch.pipeline.specfile.model import Variant

__all__ = ["buildx_build_argv", "docker_build_argv"]


def _common_args(variant: Variant, network: str | None) -> list[str]:
    args = ["--platform", str(variant.platform), "-f", str(variant.dockerfile)]
    for key, value in variant.build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    if variant.target:
        args += ["--target", variant.target]
    for key, value in variant.labels.items():
        args += ["--label", f"{key}={value}"]
    if network is not None:
        args += ["--network", network]
    return args


def docker_build_argv(
    variant: Variant, ref: str, *, network: str | None = None, docker: str = "docker"
) -> list[str]:
    """The plain engine's ``docker build`` command line, tagging the image ``ref``."""
    return [docker, "build", *_common_args(variant, network), "-t", ref, str(variant.context)]


def buildx_build_argv(
    variant: Variant,
    repository: str,
    metadata_file: Path,
    *,
    network: str | None = None,
    docker: str = "docker",
    builder: str | None = None,
    tag: str | None = None,
) -> list[str]:
    """The ``docker buildx build`` command line pushing the variant to ``repository``.

    Without ``tag``, by digest only (``push-by-digest=true``: drivers other than
    ``docker``); with ``tag``, to ``repository:tag`` (every driver). ``builder`` names
    the buildx builder instance (``--builder NAME``; ``None``: buildx's own choice).
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
        "--output",
        output,
        "--metadata-file",
        str(metadata_file),
        str(variant.context),
    ]
