"""Where the version comes from: ``--version``, GitHub's environment, git (a real repository)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from polyarch.engine.process import ProcessResult
from polyarch.errors import InvalidInput
from polyarch.pipeline.tags.evaluate import evaluate_tags
from polyarch.pipeline.tags.rules import parse_rule
from polyarch.pipeline.version import (
    RefContext,
    detect_ref_context,
    from_git,
    from_github_env,
    from_version,
    strip_credentials,
)

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
SHA = "860c1904a1ce19322e91ac35af1ab07466440c37"


def git_run(argv: Sequence[str]) -> ProcessResult:
    """Run git for real (the unit tier forbids sockets, not processes)."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    return ProcessResult(proc.returncode, proc.stdout + proc.stderr)


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_COMMITTER_DATE": "2024-04-19T11:27:24+02:00",
        "GIT_AUTHOR_DATE": "2024-04-19T11:27:24+02:00",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("x\n")
    _git(path, "add", "README")
    _git(path, "commit", "-q", "-m", "one")
    return path


def test_version_is_a_tag_ref() -> None:
    assert from_version("v3.14.1", now=NOW).ref == "refs/tags/v3.14.1"
    assert from_version("refs/heads/main").ref == "refs/heads/main"
    base = RefContext(sha=SHA, source="github")
    ctx = from_version("3.14.1", base)
    assert (ctx.ref, ctx.sha, ctx.source) == ("refs/tags/3.14.1", SHA, "version")
    for bad in ("", " ", "v1\nv2", "v 1"):
        with pytest.raises(InvalidInput, match="expected a version or a git ref"):
            from_version(bad)


def test_github_env_reads_the_payload(tmp_path: Path) -> None:
    payload = {
        "repository": {
            "default_branch": "main",
            "html_url": "https://github.com/seeds/metrics-api",
            "name": "metrics-api",
            "description": "the seeds' API",
            "license": {"spdx_id": "Apache-2.0"},
        },
        "head_commit": {"id": SHA, "timestamp": "2022-04-19T11:27:24+02:00"},
    }
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    env = {
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_SHA": SHA,
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
    }
    ctx = from_github_env(env, now=NOW)
    assert (ctx.branch, ctx.tag, ctx.short_sha, ctx.source) == ("main", "", "860c190", "github")
    assert ctx.is_default_branch
    assert ctx.commit_date == dt.datetime(2022, 4, 19, 9, 27, 24, tzinfo=dt.UTC)
    assert ctx.repository.license == "Apache-2.0"
    assert ctx.repository.description == "the seeds' API"
    edge = evaluate_tags([parse_rule("type=edge")], ctx)
    assert edge.tags == ("edge",)


def test_github_env_without_payload_builds_the_url_from_the_server() -> None:
    env = {
        "GITHUB_REF": "refs/tags/v1.0.0",
        "GITHUB_SHA": SHA,
        "GITHUB_REPOSITORY": "seeds/metrics-api",
        "GITHUB_SERVER_URL": "https://github.example.com",
        "GITHUB_EVENT_PATH": "/nonexistent/event.json",
    }
    ctx = from_github_env(env, now=NOW)
    assert ctx.repository.url == "https://github.example.com/seeds/metrics-api"
    assert ctx.default_branch is None
    family = evaluate_tags([parse_rule("type=edge")], RefContext(ref="refs/heads/main", now=NOW))
    assert family.tags == ()
    assert "default branch is unknown" in family.warnings[0]


def test_pull_request_target_uses_the_pull_ref(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 42, "pull_request": {"base": {"ref": "main"}}}))
    env = {
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_SHA": SHA,
        "GITHUB_EVENT_NAME": "pull_request_target",
        "GITHUB_EVENT_PATH": str(event),
    }
    ctx = from_github_env(env, now=NOW)
    assert (ctx.ref, ctx.base_ref) == ("refs/pull/42/merge", "main")


def test_a_broken_payload_is_one_line(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{not json")
    with pytest.raises(InvalidInput, match=r"GitHub event payload .*not valid JSON"):
        from_github_env({"GITHUB_REF": "refs/heads/x", "GITHUB_EVENT_PATH": str(event)})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://x-access-token:ghs_S3CR3T@github.com/seeds/api.git",
            "https://github.com/seeds/api",
        ),
        ("git@github.com:seeds/api.git", "https://github.com/seeds/api"),
        ("ssh://git@github.com:22/seeds/api.git", "https://github.com/seeds/api"),
        ("http://127.0.0.1:3000/seeds/api", "http://127.0.0.1:3000/seeds/api"),
        ("/srv/git/api.git", ""),
        ("", ""),
    ],
)
def test_strip_credentials(url: str, shown: str) -> None:
    assert strip_credentials(url) == shown


def test_git_branch(repo: Path) -> None:
    _git(repo, "remote", "add", "origin", "https://user:S3CR3T@example.com/seeds/api.git")
    ctx = from_git(repo, git_run, now=NOW)
    assert (ctx.ref, ctx.source) == ("refs/heads/main", "git")
    assert ctx.sha == _git(repo, "rev-parse", "HEAD")
    assert ctx.commit_date == dt.datetime(2024, 4, 19, 9, 27, 24, tzinfo=dt.UTC)
    assert ctx.repository.url == "https://example.com/seeds/api"
    assert "S3CR3T" not in repr(ctx)


def test_git_tag_at_head_wins_the_highest(repo: Path) -> None:
    for tag in ("v3.14.0", "v3.14.1", "v3.14.1-rc.1", "latest-ish"):
        _git(repo, "tag", tag)
    assert from_git(repo, git_run).ref == "refs/tags/v3.14.1"
    (repo / "README").write_text("y\n")
    _git(repo, "commit", "-qam", "two")
    assert from_git(repo, git_run).ref == "refs/heads/main", "a tag behind HEAD does not count"


def test_not_a_work_tree(tmp_path: Path) -> None:
    ctx = from_git(tmp_path, git_run, now=NOW)
    assert (ctx.ref, ctx.sha, ctx.source) == ("", "", "none")


def test_detect_order(repo: Path) -> None:
    github = {"GITHUB_REF": "refs/heads/ci", "GITHUB_SHA": SHA}
    assert detect_ref_context(version=None, env=github, directory=repo, run=git_run).ref == (
        "refs/heads/ci"
    )
    assert detect_ref_context(version=None, env={}, directory=repo, run=git_run).source == "git"
    given = detect_ref_context(version="v9.0.0", env=github, directory=repo, run=git_run)
    assert (given.ref, given.sha, given.source) == ("refs/tags/v9.0.0", SHA, "version")
