"""``polyarch matrix``: the CI build matrix, one entry per variant, from the spec.

GitHub Actions runs one build job per variant with ``strategy.matrix: ${{ fromJson(...) }}``
on the matrix this module computes::

    {"include": [{"platform": "linux/amd64", "runner": "ubuntu-24.04",
                  "artifact": "records-linux-amd64"}, ...]}

``runner`` is, in this order: ``--runner PLATFORM=LABEL[,LABEL]`` (``runner=`` here), the
variant's ``runner:`` in the spec, else GitHub's hosted label that runs the platform
natively (:data:`NATIVE_RUNNERS`). A runner with several labels (self-hosted:
``[self-hosted, linux, arm64]``) is a JSON list, which ``runs-on`` takes as it is.
``artifact`` is a name ``actions/upload-artifact`` accepts, unique per variant (the
record file's stem). A Bake-defined variant also carries its ``target``.

Native defaults (GitHub's "standard GitHub-hosted runners", docs.github.com/en/actions/
reference/runners/github-hosted-runners; Linux arm64 runners are generally available
for public repositories since 2025-08-07 and run ``ubuntu-24.04-arm``):

============== =====================
platform       runner
============== =====================
linux/amd64    ``ubuntu-24.04``
linux/arm64    ``ubuntu-24.04-arm``
============== =====================

Any other platform (``linux/arm/v7``, ``linux/s390x``, ``linux/riscv64``...) has no
GitHub-hosted machine that runs it natively (the arm64 runners' CPUs do not execute
32-bit Arm code): the matrix says so in one line unless a runner is named, for example a
self-hosted one or ``ubuntu-24.04`` with QEMU.

>>> from polyarch.domain.platform import Platform
>>> native_runner(Platform.parse("linux/arm64/v8"))
'ubuntu-24.04-arm'
>>> print(github_output_line("matrix", {"include": []}))
matrix={"include":[]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from polyarch.domain.platform import Platform
from polyarch.errors import InvalidInput, InvalidPlatform
from polyarch.pipeline.specfile.model import Variant

__all__ = [
    "NATIVE_RUNNERS",
    "MatrixEntry",
    "NoNativeRunner",
    "build_matrix",
    "github_output_line",
    "native_runner",
    "parse_runner_overrides",
]

#: GitHub-hosted labels that run a platform natively, keyed by (os, architecture, variant).
NATIVE_RUNNERS: Final[Mapping[tuple[str, str, str | None], str]] = {
    ("linux", "amd64", None): "ubuntu-24.04",
    ("linux", "arm64", None): "ubuntu-24.04-arm",
}


class NoNativeRunner(InvalidInput):
    """No GitHub-hosted runner runs this platform natively; name the runner to use."""


def _key(platform: Platform) -> tuple[str, str, str | None]:
    p = platform.normalized()
    return (p.os, p.architecture, p.variant or None)


def native_runner(platform: Platform) -> str | None:
    """GitHub's hosted label that runs ``platform`` natively, or ``None``."""
    return NATIVE_RUNNERS.get(_key(platform))


@dataclass(frozen=True, slots=True)
class MatrixEntry:
    """One build job: the variant's platform, its runner labels, its artifact name."""

    platform: Platform
    runner: tuple[str, ...]
    artifact: str
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``include`` entry (one label as a string, several as a list)."""
        out: dict[str, Any] = {
            "platform": str(self.platform),
            "runner": self.runner[0] if len(self.runner) == 1 else list(self.runner),
            "artifact": self.artifact,
        }
        if self.target is not None:
            out["target"] = self.target
        return out


def parse_runner_overrides(values: Sequence[str]) -> dict[Platform, tuple[str, ...]]:
    """``--runner PLATFORM=LABEL[,LABEL]`` values, keyed by normalized platform.

    Raises :class:`~polyarch.errors.InvalidInput` for a value without ``=``, a bad
    platform, an empty or spaced label, or a platform given twice.
    """
    out: dict[Platform, tuple[str, ...]] = {}
    for value in values:
        platform_text, sep, labels_text = value.partition("=")
        if not sep:
            raise InvalidInput(
                f"runner {value!r}: expected PLATFORM=LABEL, e.g. linux/arm64=ubuntu-24.04-arm",
                parameter="runners",
            )
        try:
            platform = Platform.parse(platform_text).normalized()
        except InvalidPlatform as exc:
            raise InvalidInput(f"runner {value!r}: {exc.message}", parameter="runners") from None
        labels = tuple(label.strip() for label in labels_text.split(","))
        if not all(labels) or any(any(c.isspace() for c in label) for label in labels):
            raise InvalidInput(f"runner {value!r}: empty or spaced label", parameter="runners")
        if platform in out:
            raise InvalidInput(f"runner {value!r}: {platform} given twice", parameter="runners")
        out[platform] = labels
    return out


def build_matrix(
    variants: Sequence[Variant],
    overrides: Mapping[Platform, tuple[str, ...]] | None = None,
    *,
    targets: Mapping[Platform, str] | None = None,
) -> list[MatrixEntry]:
    """One entry per variant, in spec order (see the module docstring for the runner).

    ``targets`` names each platform's Bake target (default: the variant's own
    ``bake_target``). Raises :class:`NoNativeRunner` for the
    first variant with no runner, and :class:`~polyarch.errors.InvalidInput` for an
    override naming a platform no variant builds.
    """
    overrides = dict(overrides or {})
    known = {v.platform.normalized() for v in variants}
    for platform in overrides:
        if platform not in known:
            names = ", ".join(str(p) for p in known)
            raise InvalidInput(
                f"runner for {platform}: no variant builds it ({names})", parameter="runners"
            )
    entries = []
    for variant in variants:
        platform = variant.platform.normalized()
        runner = overrides.get(platform) or variant.runner
        if not runner:
            default = native_runner(platform)
            if default is None:
                raise NoNativeRunner(
                    f"{platform} has no native GitHub-hosted runner",
                    hint=f"name one: runner: in the spec, or a runner {platform}=LABEL "
                    "(a self-hosted runner, or ubuntu-24.04 with QEMU)",
                    parameter="runners",
                )
            runner = (default,)
        stem = "-".join(
            part for part in (platform.os, platform.architecture, platform.variant) if part
        )
        entries.append(
            MatrixEntry(
                platform,
                tuple(runner),
                f"records-{stem}",
                (targets or {}).get(platform) or variant.bake_target,
            )
        )
    return entries


def github_output_line(name: str, value: Any) -> str:
    """``NAME=<compact JSON>``, one line, as appended to ``$GITHUB_OUTPUT``."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    return f"{name}={text}"
