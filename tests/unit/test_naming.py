"""What a release names, without a registry: per-platform tag names when the tags are rules
(the lead's decision 5: the same version detection, ``sha-<short>`` as the fallback)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from polyarch.engine.process import ProcessResult
from polyarch.errors import InvalidInput
from polyarch.pipeline.naming import build_tag, family_targets
from polyarch.pipeline.specfile import load_spec
from polyarch.pipeline.specfile.model import Spec

SHA = "860c1904a1ce19322e91ac35af1ab07466440c37"


def no_git(argv: Sequence[str]) -> ProcessResult:
    return ProcessResult(128, "fatal: not a git repository")


def _spec(tmp_path: Path, tags: str) -> Spec:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "polyarch.yaml").write_text(
        f"image: ghcr.io/seeds/api\ntags: {tags}\n"
        "variants: [{platform: linux/arm64, context: app}]\n"
    )
    return load_spec(tmp_path / "polyarch.yaml")


RULES = "['type=semver,pattern={{version}}', 'type=semver,pattern={{major}}']"


def test_per_platform_tags_follow_the_version(tmp_path: Path) -> None:
    spec = _spec(tmp_path, RULES)
    named = build_tag(spec, version="v3.14.1", env={}, run=no_git)
    assert named.per_platform_tag(spec.variants[0]) == "3.14.1-linux-arm64"
    tagged = {"GITHUB_REF": "refs/tags/v3.15.0-rc.1", "GITHUB_SHA": SHA}
    from_ci = build_tag(spec, env=tagged, run=no_git)
    assert from_ci.per_platform_tag(spec.variants[0]) == "3.15.0-rc.1-linux-arm64"


def test_without_a_version_the_commit_names_them(tmp_path: Path) -> None:
    spec = _spec(tmp_path, RULES)
    branch = {"GITHUB_REF": "refs/heads/main", "GITHUB_SHA": SHA}
    named = build_tag(spec, env=branch, run=no_git)
    assert named.per_platform_tag(spec.variants[0]) == "sha-860c190-linux-arm64"
    with pytest.raises(InvalidInput, match="no commit to name the per-platform tags after"):
        build_tag(spec, env={}, run=no_git)


def test_plain_tags_are_kept(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "[v2.0.0, latest]")
    assert build_tag(spec, env={}, run=no_git) is spec
    assert [str(t) for t in family_targets(spec.images, ("a", "b"))] == [
        "ghcr.io/seeds/api:a",
        "ghcr.io/seeds/api:b",
    ]
