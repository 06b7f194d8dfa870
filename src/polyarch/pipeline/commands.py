"""The commands the build runs, and how they are run (injectable, for tests).

:func:`docker_build_argv` and :func:`buildx_build_argv` are the command lines of the two
builders; :func:`run_process` runs a command and streams its output line by line (a
:class:`ProcessRunner`; tests pass a fake one that records the command lines).

>>> from pathlib import Path
>>> from polyarch.pipeline.spec import Variant
>>> from polyarch.platform import Platform
>>> variant = Variant(Platform.parse("linux/arm64"), Path("/src/app-arm64"),
...                   Path("/src/app-arm64/Dockerfile"), {"PYTHON_ENV": "production"}, "runtime")
>>> " ".join(docker_build_argv(variant, "127.0.0.1:5000/api:v2-linux-arm64", network="none"))
... # doctest: +NORMALIZE_WHITESPACE
'docker build --platform linux/arm64 -f /src/app-arm64/Dockerfile --build-arg
PYTHON_ENV=production --target runtime --network none -t 127.0.0.1:5000/api:v2-linux-arm64
/src/app-arm64'
"""

from __future__ import annotations

import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

from polyarch.pipeline.spec import Variant

__all__ = [
    "ProcessResult",
    "ProcessRunner",
    "buildx_build_argv",
    "detect_builder",
    "docker_build_argv",
    "run_process",
]

#: Lines of a command's output kept in :attr:`ProcessResult.output`.
_TAIL_LINES: Final = 200


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """How a command ended: its exit code and the tail of its output (stdout and stderr)."""

    returncode: int
    output: str


class ProcessRunner(Protocol):
    """Runs a command, handing each output line to ``on_line`` (tests inject a fake)."""

    def __call__(
        self, argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
    ) -> ProcessResult:
        """Run ``argv`` to completion; never raises because the command failed."""
        ...


def run_process(
    argv: Sequence[str], *, on_line: Callable[[str], None] | None = None
) -> ProcessResult:
    """Run ``argv`` with stdout and stderr merged, streaming each line to ``on_line``.

    A missing program is exit code 127, as a shell says it; the output keeps the last
    200 lines.
    """
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    try:
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as exc:
        message = f"{argv[0]}: {exc.strerror or exc}"
        if on_line is not None:
            on_line(message)
        return ProcessResult(127, message)
    assert proc.stdout is not None
    with proc:
        for raw in proc.stdout:
            line = raw.rstrip("\r\n")
            tail.append(line)
            if on_line is not None:
                on_line(line)
    return ProcessResult(proc.wait(), "\n".join(tail))


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


def detect_builder(run: ProcessRunner, docker: str = "docker") -> Literal["buildx", "docker"]:
    """``buildx`` when ``docker buildx version`` works, else ``docker``.

    Only whether buildx is installed: :func:`polyarch.pipeline.builders.choose_builder`
    also asks which driver the builder has (what ``auto`` builds with).
    """
    return "buildx" if run([docker, "buildx", "version"]).returncode == 0 else "docker"
