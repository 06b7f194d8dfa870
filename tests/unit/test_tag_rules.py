"""Tag rules evaluated as docker/metadata-action evaluates them: its own test cases.

The cases below restate docker/metadata-action's ``__tests__/meta.test.ts`` (commit
dc802804, 2026-07-02), named as there (``push07``, ``tag11``...): the GitHub environment
of each ``__tests__/fixtures/event_*.env`` file (ref, commit, event, and what the event
payload says: default branch, ``base_ref``, pull request number), the ``tags`` and
``flavor`` inputs, and the expected version, other tags and ``latest``. Upstream pins
"now" (and, through its moment mock, every date) to 2020-01-10T00:30:00Z; here the
payloads carry no commit time, so ``commit_date`` is "now" too. The environment goes
through :func:`polyarch.pipeline.version.from_github_env` with a payload file written
here, so the GitHub context is tested with the rules.

Cases upstream that test what polyarch deliberately does differently are below the
table, each with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from polyarch.errors import InvalidInput
from polyarch.pipeline.tags.evaluate import TagFamily, evaluate_tags, sanitize_tag
from polyarch.pipeline.tags.rules import (
    DEFAULT_PRIORITIES,
    Flavor,
    TagRuleError,
    parse_flavor,
    parse_rule,
)
from polyarch.pipeline.tags.semver import SemVer
from polyarch.pipeline.version import RefContext, from_github_env, from_version

NOW = dt.datetime(2020, 1, 10, 0, 30, tzinfo=dt.UTC)
SHA_DEV = "860c1904a1ce19322e91ac35af1ab07466440c37"
SHA_MASTER = "266574110acf203503badf966df2ea24b5d732d7"
SHA_INVALID = "983315b5e8d46e46fc4c49869e85e7ee5fb289ba"
SHA_PR = "a9c8c5828b91be19d9728548b24759e352367ef1"
SHA_PR_HEAD = "3370e228f2209994d57af4427fe64e71bb79ac96"
REPO = {"default_branch": "master", "html_url": "https://github.com/docker/test-docker-action"}
PR = {"number": 15, "pull_request": {"base": {"ref": "master"}, "head": {"sha": SHA_PR_HEAD}}}

# What each upstream fixture says: GITHUB_REF, GITHUB_SHA, GITHUB_EVENT_NAME, payload.
ENVS: dict[str, tuple[str, str, str, dict[str, Any] | None]] = {
    "push_dev": ("refs/heads/dev", SHA_DEV, "push", {"repository": REPO}),
    "push_master": ("refs/heads/master", SHA_MASTER, "push", {"repository": REPO}),
    "push_invalidchars": ("refs/heads/my/feature#1245", SHA_INVALID, "push", {"repository": REPO}),
    "workflow_dispatch": ("refs/heads/master", SHA_DEV, "workflow_dispatch", {"repository": REPO}),
    "tag_release1": ("refs/tags/release1", SHA_DEV, "push", None),
    "tag_20200110-RC2": ("refs/tags/20200110-RC2", SHA_DEV, "push", None),
    "tag_v1.1.1": (
        "refs/tags/v1.1.1",
        SHA_DEV,
        "push",
        {"repository": REPO, "base_ref": "refs/heads/master"},
    ),
    "tag_v2.0.8-beta.67": ("refs/tags/v2.0.8-beta.67", SHA_DEV, "push", None),
    "tag_sometag": ("refs/tags/sometag", SHA_DEV, "push", None),
    "tag_p1-v1.0.0": ("refs/tags/p1/v1.0.0", SHA_DEV, "push", None),
    "tag_1.2": ("refs/tags/1.2", SHA_DEV, "push", None),
    "tag_1.1beta2": ("refs/tags/1.1beta2", SHA_DEV, "push", None),
    "tag_1.0dev4": ("refs/tags/1.0dev4", SHA_DEV, "push", None),
    "tag_1.2.3rc2": ("refs/tags/1.2.3rc2", SHA_DEV, "push", None),
    "tag_1.2post1": ("refs/tags/1.2post1", SHA_DEV, "push", None),
    "tag_v1.2.3rc2": ("refs/tags/v1.2.3rc2", SHA_DEV, "push", None),
    "pull_request": ("refs/pull/15/merge", SHA_PR, "pull_request", {**PR, "repository": REPO}),
    "pull_request_target": (
        "refs/heads/master",
        SHA_MASTER,
        "pull_request_target",
        {**PR, "repository": REPO},
    ),
    "schedule": ("refs/heads/master", SHA_DEV, "schedule", {}),
    "release_created": ("refs/tags/v1.1.1", SHA_DEV, "release", {}),
}

# metadata-action's tags when the input is empty (src/tag.ts Transform).
DEFAULT_RULES = [
    "type=schedule",
    "type=ref,event=branch",
    "type=ref,event=tag",
    "type=ref,event=pr",
]
SEMVER3 = ["type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}",
           "type=semver,pattern={{major}}"]  # fmt: skip
DATES = [
    "type=raw,value=mytag-{{branch}}",
    "type=raw,value=mytag-{{date 'YYYYMMDD'}}",
    "type=raw,value=mytag-cd-{{commit_date 'YYYYMMDD'}}",
    "type=raw,value=mytag-{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
    "type=raw,value=mytag-tag-{{tag}}",
    "type=raw,value=mytag-baseref-{{base_ref}}",
    "type=raw,value=mytag-defbranch,enable={{is_default_branch}}",
]
L = "sha-860c1904a1ce19322e91ac35af1ab07466440c37"

# (upstream name, env, tags input (None: the defaults), flavor, main, partial, latest)
CASES: list[tuple[str, str, list[str] | None, list[str], str | None, list[str], bool]] = [
    ("null02", "none", ["type=sha", "type=raw,{{branch}}"], [], None, [], False),
    ("push01", "push_dev", None, [], "dev", [], False),
    ("push02", "push_master", ["type=edge"], [], "edge", [], False),
    ("push03", "push_master", None, [], "master", [], False),
    ("push04", "workflow_dispatch", ["type=edge"], [], "edge", [], False),
    ("push07", "push_dev", ["type=ref,event=branch", "type=sha"], [], "dev", ["sha-860c190"],
     False),
    ("push08", "push_master", ["type=edge", "type=sha"], [], "edge", ["sha-2665741"], False),
    ("push09", "push_dev", ["type=edge,branch=dev", "type=sha"], [], "edge", ["sha-860c190"],
     False),
    ("push10", "push_master", ["type=edge,branch=dev", "type=sha"], [], "sha-2665741", [], False),
    ("push11", "push_invalidchars", ["type=edge", "type=sha"], [], "sha-983315b", [], False),
    ("push12", "push_invalidchars",
     ["type=semver,pattern={{version}}", "type=pep440,pattern={{version}}", "type=edge"],
     [], None, [], False),
    ("push13", "push_master", ["type=ref,priority=2000,event=branch", "type=edge"], [],
     "master", ["edge"], False),
    ("push14", "push_master",
     ["type=semver,pattern={{version}},value=v1.2.3",
      "type=pep440,pattern={{version}},value=v1.2.3",
      "type=edge"], [], "1.2.3", ["edge"], True),
    ("push15", "push_master", ["type=match,pattern=v(.*),group=1,value=v1.2.3", "type=edge"], [],
     "1.2.3", ["edge"], True),
    ("push16", "push_master",
     ["type=match,enable=false,pattern=v(.*),group=1,value=v1.2.3", "type=edge"], [],
     "edge", [], False),
    ("push17", "push_master", DATES, [], "mytag-master",
     ["mytag-20200110", "mytag-cd-20200110", "mytag-20200110-093000", "mytag-tag-",
      "mytag-baseref-", "mytag-defbranch"], False),
    ("push18", "push_dev", ["type=ref,event=branch", "type=sha,format=long"], [], "dev", [L],
     False),
    ("push19", "push_dev",
     ["type=edge,branch=master", "type=ref,event=branch,enable=false", "type=sha,format=long",
      "type=raw,value=defbranch,enable={{is_default_branch}}"], [], L, [], False),
    ("push22", "push_dev",
     ["type=edge,branch=master", "type=sha,format=long",
      "type=raw,value=notdefbranch,enable={{is_not_default_branch}}"], [],
     "notdefbranch", [L], False),
    ("push35", "push_master",
     ['type=semver,pattern={{version}},value=p1/v1.2.3,"match=v(\\d.\\d.\\d)$"',
      'type=pep440,pattern={{version}},value=p1/v1.2.3,"match=v(\\d.\\d.\\d)$"', "type=edge"],
     [], "1.2.3", ["edge"], True),
    ("tag01", "tag_release1", None, [], "release1", [], True),
    ("tag02", "tag_20200110-RC2", None, [], "20200110-RC2", [], True),
    ("tag03", "tag_20200110-RC2", ["type=match,pattern=\\d{8}"], ["latest=false"], "20200110", [],
     False),
    ("tag04", "tag_20200110-RC2", ["type=match,pattern=(.*)-RC,group=1"], ["latest=false"],
     "20200110", [], False),
    ("tag05", "tag_v1.1.1", ['type=match,"pattern=\\d.\\d.\\d"'], [], "1.1.1", [], True),
    ("tag06", "tag_v1.1.1", ['type=match,"pattern=^v(\\d.\\d.\\d)$",group=1'], [], "1.1.1", [],
     True),
    ("tag07", "tag_v2.0.8-beta.67", ['type=match,"pattern=\\d.\\d.\\d-(alpha|beta).\\d+"'], [],
     "2.0.8-beta.67", [], True),
    ("tag08", "tag_v2.0.8-beta.67", ['type=match,"pattern=\\d.\\d"'], [], "2.0", [], True),
    ("tag09", "tag_v2.0.8-beta.67",
     ['type=match,"pattern=v(.*)-beta.(.*)",group=1',
      'type=match,"pattern=v(.*)-beta.(.*)",group=2'],
     [], "2.0.8", ["67"], True),
    ("tag10", "tag_sometag", ['type=match,"pattern=\\d.\\d"'], [], None, [], False),
    ("tag11", "tag_v1.1.1", SEMVER3, [], "1.1.1", ["1.1", "1"], True),
    ("tag12", "tag_v1.1.1",
     ["type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}.{{patch}}"], [],
     "1.1.1", [], True),
    ("tag13", "tag_v2.0.8-beta.67",
     ["type=semver,pattern={{major}}.{{minor}}", "type=semver,pattern={{major}}"], [],
     "2.0.8-beta.67", [], False),
    ("tag14", "tag_sometag", ["type=ref,event=tag", *SEMVER3], ["latest=false"], "sometag", [],
     False),
    ("tag15", "tag_v2.0.8-beta.67",
     ["type=raw,priority=2000,foo", "type=semver,pattern={{version}}",
      'type=match,"pattern=\\d.\\d"'],
     [], "foo", ["2.0.8-beta.67", "2.0"], False),
    ("tag16", "tag_v1.1.1", ["type=raw,priority=2000,foo", "type=ref,event=tag", "type=edge"], [],
     "foo", ["v1.1.1"], False),
    ("tag17", "tag_p1-v1.0.0",
     ['type=match,"pattern=/^v(\\d.\\d.\\d)$/ig",group=1', "type=match,pattern=\\d.\\d.\\d",
      "type=match,pattern=\\d.\\d", "type=ref,event=pr", "type=sha"], [],
     "1.0.0", ["1.0", "sha-860c190"], True),
    ("tag18", "tag_p1-v1.0.0",
     ["type=match,pattern=p1/v(\\d.\\d.\\d),group=1", "type=match,pattern=p1/v(\\d.\\d),group=1",
      "type=match,pattern=p1/v(\\d.\\d),group=3", "type=ref,event=pr", "type=sha"], [],
     "1.0.0", ["1.0", "sha-860c190"], True),
    ("tag19", "tag_p1-v1.0.0",
     ["type=match,pattern=p1/v(\\d.\\d.\\d),group=1",
      "type=match,pattern=p1/v(\\d.\\d),group=1,suffix=", "type=ref,event=pr", "type=sha"],
     ["suffix=-dev"], "1.0.0-dev", ["1.0", "sha-860c190-dev"], True),
    ("tag20", "tag_v1.1.1",
     ["type=raw,{{tag}}-{{sha}}-foo", "type=raw,{{base_ref}}-foo",
      "type=raw,defbranch-foo,enable={{is_default_branch}}"], [],
     "v1.1.1-860c190-foo", ["master-foo"], False),
    ("tag21", "tag_v1.1.1",
     ["type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}.{{patch}}"],
     ["suffix=-dev,onlatest=true"], "1.1.1-dev", [], True),
    ("tag22", "tag_v1.1.1",
     ["type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}.{{patch}}"],
     ["prefix=foo-,onlatest=true", "suffix=-dev,onlatest=true"], "foo-1.1.1-dev", [], True),
    ("tag23", "tag_v1.1.1",
     ["type=pep440,pattern={{raw}}", "type=pep440,pattern={{major}}.{{minor}}"],
     [], "v1.1.1", ["1.1"], True),
    ("tag24", "tag_1.2",
     ["type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}"], [],
     "1.2", [], True),
    ("tag25", "tag_1.1beta2",
     ["type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"], [],
     "1.1b2", [], False),
    ("tag26", "tag_1.0dev4",
     ["type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"], [],
     "1.0.dev4", [], False),
    ("tag27", "tag_1.2.3rc2",
     ["type=pep440,pattern={{raw}}", "type=pep440,pattern={{version}}",
      "type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"], [],
     "1.2.3rc2", [], False),
    ("tag28", "tag_v1.1.1",
     ["type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}.{{patch}}",
      "type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"], [],
     "1.1.1", ["1.1", "1"], True),
    ("tag29", "tag_1.2post1",
     ["type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}",
      "type=pep440,pattern={{major}}"], [], "1.2.post1", [], False),
    ("tag31", "tag_v2.0.8-beta.67", ["type=semver,pattern={{raw}}"], [], "v2.0.8-beta.67", [],
     False),
    ("tag32", "tag_v1.2.3rc2",
     ["type=pep440,pattern={{raw}}", "type=pep440,pattern={{major}}.{{minor}}"], [],
     "v1.2.3rc2", ["1.2.3rc2"], False),
    ("tag34", "tag_p1-v1.0.0", ['type=semver,pattern={{version}},"match=v(\\d.\\d.\\d)$"'], [],
     "1.0.0", [], True),
    ("latest01", "tag_release1", ['type=match,"pattern=^release\\d{1,2}"'], [], "release1", [],
     True),
    ("latest02", "tag_20200110-RC2", ['type=match,"pattern=^\\d+-RC\\d{1,2}"'], [],
     "20200110-RC2", [], True),
    ("latest03", "tag_20200110-RC2", ["type=match,pattern=\\d{8}"], [], "20200110", [], True),
    ("latest05", "tag_v1.1.1", None, [], "v1.1.1", [], True),
    ("latest06", "tag_v2.0.8-beta.67", ['type=match,"pattern=\\d.\\d.\\d"'], [], "2.0.8", [], True),
    ("latest07", "tag_v1.1.1", ["type=ref,event=tag"], ["latest=false"], "v1.1.1", [], False),
    ("pr01", "pull_request", None, [], "pr-15", [], False),
    ("pr03", "pull_request", ["type=ref,event=pr", "type=sha"], [], "pr-15", ["sha-a9c8c58"],
     False),
    ("pr04", "pull_request", ["type=sha,priority=2000", "type=ref,event=pr"], [], "sha-a9c8c58",
     ["pr-15"], False),
    ("pr05", "pull_request", ["type=ref,event=pr"], ["prefix=glo-", "suffix=-bal"], "pr-15-bal",
     [], False),
    ("pr06", "pull_request", ["type=ref,event=pr,prefix="], ["prefix=glo-", "suffix=-bal"],
     "15-bal", [], False),
    ("pr07", "pull_request_target", ["type=sha,priority=2000", "type=ref,event=pr"], [],
     "sha-2665741", ["pr-15"], False),
    ("pr09", "pull_request_target",
     ["type=ref,event=tag", "type=ref,event=pr", "type=ref,event=branch", "type=sha",
      "type=sha,format=long"], [],
     "pr-15", ["sha-2665741", "sha-266574110acf203503badf966df2ea24b5d732d7"], False),
    ("pr10", "pull_request_target",
     ["type=raw,value=mytag-{{base_ref}}", "type=raw,mytag-defbranch,enable={{is_default_branch}}"],
     [], "mytag-master", [], False),
    ("pr11", "pull_request",
     ["type=raw,value=mytag-{{base_ref}}", "type=raw,mytag-defbranch,enable={{is_default_branch}}"],
     [], "mytag-master", [], False),
    ("schedule01", "schedule", None, [], "nightly", ["master"], False),
    ("schedule02", "schedule",
     ["type=schedule,pattern={{date 'YYYYMMDD'}}",
      "type=schedule,pattern=source-date-{{commit_date 'YYYY-MM-DD'}}"], [],
     "20200110", ["source-date-2020-01-10"], False),
    ("schedule03", "schedule", ["type=schedule,pattern={{date 'YYYYMMDD-HHmmss'}}"], [],
     "20200110-003000", [], False),
    ("schedule05", "schedule", ["type=schedule", "type=sha"], [], "nightly", ["sha-860c190"],
     False),
    ("schedule06", "schedule",
     ["type=schedule", "type=sha,priority=2000",
      "type=raw,value=defbranch,enable={{is_default_branch}}"], [],
     "sha-860c190", ["nightly", "defbranch"], False),
    ("schedule07", "schedule", ["type=schedule"], ["prefix=glo-", "suffix=-bal"],
     "glo-nightly-bal", [], False),
    ("schedule08", "schedule",
     ["type=schedule,pattern={{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
      "type=schedule,pattern=src-{{commit_date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}"], [],
     "20200110-093000", ["src-20200110-093000"], False),
    ("release01", "release_created", None, [], "v1.1.1", [], True),
    ("release02", "release_created",
     ["type=ref,event=tag", "type=raw,value=baseref-{{base_ref}}",
      "type=raw,value=defbranch,enable={{is_default_branch}}"], [],
     "v1.1.1", ["baseref-"], True),
    ("raw01", "push_dev",
     ["type=ref,event=branch", "type=raw,my", "type=raw,custom", "type=raw,tags"],
     [], "dev", ["my", "custom", "tags"], False),
    ("raw03", "tag_release1",
     ["type=ref,event=tag", "type=raw,my", "type=raw,custom", "type=raw,tags"], [],
     "release1", ["my", "custom", "tags"], True),
    ("raw04", "tag_20200110-RC2",
     ["type=match,pattern=\\d{8}", "type=raw,my", "type=raw,custom", "type=raw,tags"],
     ["latest=false"], "20200110", ["my", "custom", "tags"], False),
    ("raw05", "tag_v1.1.1", [*SEMVER3, "type=raw,my", "type=raw,custom", "type=raw,tags"], [],
     "1.1.1", ["1.1", "1", "my", "custom", "tags"], True),
    ("raw06", "tag_v1.1.1", ["type=raw,my", "type=raw,custom", "type=raw,tags"], [],
     "my", ["custom", "tags"], False),
    ("raw07", "push_dev",
     ["type=ref,priority=90,event=branch", "type=raw,my", "type=raw,custom", "type=raw,tags"],
     ["latest=true"], "my", ["custom", "tags", "dev"], True),
    ("raw08", "push_dev",
     ["type=match,pattern=\\d{8}", "type=raw,my", "type=raw,custom", "type=raw,tags"],
     ["latest=false"], "my", ["custom", "tags"], False),
    ("raw09", "push_dev",
     ["type=match,pattern=\\d{8}", "type=raw,my,prefix=foo-,suffix=-bar", "type=raw,custom",
      "type=raw,tags"], ["latest=false", "prefix=glo-", "suffix=-bal"],
     "foo-my-bar", ["glo-custom-bal", "glo-tags-bal"], False),
    ("raw10", "push_dev", ["type=raw,foo", "type=raw,bar,enable=false", "type=raw,baz,enable=true"],
     ["latest=false"], "foo", ["baz"], False),
]  # fmt: skip

PR_HEAD_CASES = [
    ("pr03", "pull_request", ["type=ref,event=pr", "type=sha"], "pr-15", ["sha-3370e22"]),
    ("pr04", "pull_request", ["type=sha,priority=2000", "type=ref,event=pr"], "sha-3370e22",
     ["pr-15"]),
    ("pr07", "pull_request_target", ["type=sha,priority=2000", "type=ref,event=pr"], "sha-3370e22",
     ["pr-15"]),
]  # fmt: skip


def _context(tmp_path: Path, env_name: str, extra: dict[str, str] | None = None) -> RefContext:
    if env_name == "none":
        return from_github_env({}, now=NOW)
    ref, sha, event, payload = ENVS[env_name]
    env = {"GITHUB_REF": ref, "GITHUB_SHA": sha, "GITHUB_EVENT_NAME": event, **(extra or {})}
    if payload is not None:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(payload))
        env["GITHUB_EVENT_PATH"] = str(path)
    return from_github_env(env, now=NOW)


def _family(ctx: RefContext, tags: list[str] | None, flavor: list[str]) -> TagFamily:
    rules = [parse_rule(text) for text in (DEFAULT_RULES if tags is None else tags)]
    return evaluate_tags(rules, ctx, parse_flavor(flavor))


@pytest.mark.parametrize(
    ("name", "env", "tags", "flavor", "main", "partial", "latest"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_metadata_action_cases(
    tmp_path: Path,
    name: str,
    env: str,
    tags: list[str] | None,
    flavor: list[str],
    main: str | None,
    partial: list[str],
    latest: bool,
) -> None:
    family = _family(_context(tmp_path, env), tags, flavor)
    assert (family.version, family.latest) == (main, latest), name
    parsed = parse_flavor(flavor)
    latest_tag = (
        (parsed.prefix if parsed.prefix_latest else "")
        + "latest"
        + (parsed.suffix if parsed.suffix_latest else "")
    )
    expected = ([] if main is None else [main, *partial]) + ([latest_tag] if latest else [])
    assert list(family.tags) == expected, name


@pytest.mark.parametrize(("name", "env", "tags", "main", "partial"), PR_HEAD_CASES)
def test_pr_head_sha(
    tmp_path: Path, name: str, env: str, tags: list[str], main: str, partial: list[str]
) -> None:
    """``DOCKER_METADATA_PR_HEAD_SHA=true``: the pull request's head commit (``pr-head-sha``)."""
    ctx = _context(tmp_path, env, {"DOCKER_METADATA_PR_HEAD_SHA": "true"})
    assert ctx.sha == SHA_PR_HEAD
    family = _family(ctx, tags, [])
    assert (family.version, list(family.tags[1:])) == (main, partial), name


def test_short_sha_length(tmp_path: Path) -> None:
    ctx = _context(tmp_path, "push_dev", {"DOCKER_METADATA_SHORT_SHA_LENGTH": "12"})
    assert _family(ctx, ["type=sha"], []).tags == ("sha-860c1904a1ce",)
    with pytest.raises(InvalidInput, match="not a valid number"):
        _context(tmp_path, "push_dev", {"DOCKER_METADATA_SHORT_SHA_LENGTH": "x"})


def test_warnings_are_metadata_actions(tmp_path: Path) -> None:
    family = _family(_context(tmp_path, "tag_sometag"), ["type=semver,pattern={{version}}"], [])
    assert family.tags == ()
    assert family.warnings == ("sometag is not a valid semver. More info: https://semver.org/",)


# --- where polyarch deliberately differs ------------------------------------------------


def test_pr12_unquoted_date_format_is_refused() -> None:
    """Upstream pr12: ``{{commit_date YYYY-MM-DD}}`` (unquoted) is a Handlebars path lookup
    that finds nothing, so moment formats with its default and the tag is
    ``2020-01-10T00-30-00Z``, never what was meant. polyarch refuses it when read."""
    with pytest.raises(
        TagRuleError, match="argument 'YYYY-MM-DD-HHmmSS' of commit_date is not quoted"
    ):
        parse_rule("type=raw,value={{commit_date YYYY-MM-DD-HHmmSS}}")


def test_unknown_expression_and_attribute_are_refused() -> None:
    """metadata-action renders an unknown name as empty text and ignores unknown attributes."""
    with pytest.raises(TagRuleError, match=r"unknown expression \{\{vesion\}\}"):
        parse_rule("type=semver,pattern={{vesion}}")
    with pytest.raises(TagRuleError, match="type=sha takes no 'formt'"):
        parse_rule("type=sha,formt=long")
    with pytest.raises(TagRuleError, match="not a whole number"):
        parse_rule("type=raw,value=x,priority=high")


def test_latest_not_moved_below_the_highest_release() -> None:
    """docker/metadata-action#80, #326: a patch of an older line takes ``latest`` upstream."""
    rules = [parse_rule(text) for text in SEMVER3]
    old_line = from_version("v3.13.9", now=NOW)
    assert evaluate_tags(rules, old_line).tags == ("3.13.9", "3.13", "3", "latest")
    family = evaluate_tags(rules, old_line, existing=["3.14.1", "3.14", "3", "latest", "sha-x"])
    assert family.tags == ("3.13.9", "3.13")
    assert (family.latest, family.held_latest) == (False, "3.14.1")
    assert family.held == (("3", "3.14.1"), ("latest", "3.14.1"))
    newer = evaluate_tags(rules, from_version("v3.14.2", now=NOW), existing=["3.14.1"])
    assert newer.tags[-1] == "latest"
    again = evaluate_tags(rules, from_version("v3.14.1", now=NOW), existing=["3.14.1", "latest"])
    assert again.latest, "re-publishing the highest release keeps latest"
    # A prerelease above every release does not hold latest back.
    assert evaluate_tags(rules, from_version("v3.14.2", now=NOW), existing=["4.0.0-rc.1"]).latest


def test_no_floating_tag_moves_backwards() -> None:
    """The lead's rule: {{major}} and {{major}}.{{minor}} stay on the highest release of
    their line; the version tag is always made; prefixes are taken off existing tags."""
    rules = [parse_rule(text) for text in SEMVER3]
    patch = evaluate_tags(rules, from_version("v3.13.9", now=NOW), existing=["3.13.10", "3.14.1"])
    assert patch.tags == ("3.13.9",)
    assert patch.held == (("3.13", "3.13.10"), ("3", "3.14.1"), ("latest", "3.14.1"))
    other_major = evaluate_tags(rules, from_version("v2.9.0", now=NOW), existing=["3.14.1"])
    assert other_major.tags == ("2.9.0", "2.9", "2")
    # Prereleases and non-versions there hold nothing; the same release moves nothing back.
    rerun = evaluate_tags(
        rules, from_version("v3.14.1", now=NOW), existing=["3.14.1", "3.15.0-rc.1", "edge"]
    )
    assert rerun.tags == ("3.14.1", "3.14", "3", "latest")
    prefixed = [parse_rule(f"{text},prefix=py-") for text in SEMVER3]
    held = evaluate_tags(prefixed, from_version("v3.13.9", now=NOW), existing=["py-3.14.1"])
    assert held.tags == ("py-3.13.9", "py-3.13")
    assert held.held[0] == ("py-3", "3.14.1")


def test_latest_from_a_rule_and_the_flavor_appears_once() -> None:
    rules = [parse_rule("type=semver,pattern={{version}}"), parse_rule("latest")]
    assert evaluate_tags(rules, from_version("v1.2.3", now=NOW)).tags == ("1.2.3", "latest")


def test_a_tag_still_invalid_after_sanitizing_is_refused() -> None:
    with pytest.raises(InvalidInput, match="makes '-x', which is not a valid tag"):
        evaluate_tags([parse_rule("type=raw,value=/x")], from_version("v1", now=NOW))


def test_no_html_escaping() -> None:
    """Handlebars escapes ``=`` in ``{{branch}}`` to ``&#x3D;`` (then ``-x3D-``); not here."""
    ctx = RefContext(ref="refs/heads/a=b", now=NOW)
    assert evaluate_tags([parse_rule("type=raw,value={{branch}}")], ctx).tags == ("a-b",)


# --- parsing: metadata-action's __tests__/tag.test.ts and flavor.test.ts ----------------


@pytest.mark.parametrize(
    ("text", "kind", "priority", "fields"),
    [
        ("type=schedule,enable=true,pattern={{date 'YYYYMMDD'}}", "schedule", 1000,
         {"pattern": "{{date 'YYYYMMDD'}}"}),
        ("type=semver,priority=1,enable=true,pattern={{version}},value=v1.0.0", "semver", 1,
         {"pattern": "{{version}}", "value": "v1.0.0"}),
        ('type=semver,pattern={{version}},value=p1/v1.0.0,"match=v(\\d.\\d.\\d)$"', "semver", 900,
         {"match": "v(\\d.\\d.\\d)$"}),
        ('type=match,enable=true,"pattern=^v(\\d.\\d.\\d)$",group=1', "match", 800,
         {"match": "^v(\\d.\\d.\\d)$", "group": 1}),
        ("type=edge,enable=true,branch=master", "edge", 700, {"branch": "master"}),
        ("type=ref,event=pr", "ref", 600, {"event": "pr", "prefix": "pr-"}),
        ("acustomtag", "raw", 200, {"value": "acustomtag"}),
        ("type=raw,enable=false,value=acustomtag5", "raw", 200, {"enable": "false"}),
        ("type=sha", "sha", 100, {"prefix": "sha-", "format": "short"}),
        ("type=sha,prefix=", "sha", 100, {"prefix": ""}),
        ("type=sha,format=long", "sha", 100, {"format": "long"}),
    ],
)  # fmt: skip
def test_parse(text: str, kind: str, priority: int, fields: dict[str, object]) -> None:
    rule = parse_rule(text)
    assert (rule.type, rule.priority) == (kind, priority)
    assert rule.priority == (priority if "priority=" in text else DEFAULT_PRIORITIES[kind])
    for key, want in fields.items():
        got = getattr(rule, key)
        assert (got.source if hasattr(got, "source") else got) == want, key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type=match,enable=true,pattern=v(.*),group=foo", "invalid match group"),
        ("type=ref,event=foo", "invalid event 'foo'"),
        ("type=ref", "missing event attribute"),
        ("type=raw", "missing value attribute"),
        ("type=semver", "missing pattern attribute"),
        ("type=match", "missing pattern attribute"),
        ("type=foo", "unknown type 'foo'"),
        ("type=sha,format=foo", "invalid format 'foo'"),
        ("type=match,pattern=(", "bad regular expression"),
        ('type=raw,"value=a', "not CSV fields"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TagRuleError, match=message) as info:
        parse_rule(text)
    assert info.value.exit_code == 2


def test_transform_sorts_by_priority_keeping_order() -> None:
    """tag.test.ts ``transform``: schedule, semver, match, edge, ref x3, raw, sha."""
    texts = ["type=ref,event=branch", "type=ref,event=tag", "type=ref,event=pr", "type=schedule",
             "type=sha", "type=raw,foo", "type=edge", "type=semver,pattern={{version}}",
             'type=match,"pattern=\\d.\\d.\\d",group=0']  # fmt: skip
    from polyarch.pipeline.tags.rules import sort_rules

    got = [(r.type, r.event) for r in sort_rules(parse_rule(t) for t in texts)]
    assert got == [("schedule", None), ("semver", None), ("match", None), ("edge", None),
                   ("ref", "branch"), ("ref", "tag"), ("ref", "pr"), ("raw", None),
                   ("sha", None)]  # fmt: skip


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["latest=true"], Flavor("true")),
        (["latest=auto"], Flavor()),
        (["prefix=sha-"], Flavor(prefix="sha-")),
        (["latest=false", "prefix=dev-", "suffix=-alpine"],
         Flavor("false", "dev-", False, "-alpine")),
        (["prefix=dev-,onlatest=true"], Flavor(prefix="dev-", prefix_latest=True)),
        (["prefix=dev-,onlatest=true", "suffix=-alpine,onlatest=true"],
         Flavor("auto", "dev-", True, "-alpine", True)),
    ],
)  # fmt: skip
def test_flavor(entries: list[str], expected: Flavor) -> None:
    assert parse_flavor(entries) == expected


@pytest.mark.parametrize(
    "entries", [["randomstr", "latest=auto"], ["unknwown=foo"], ["latest"], ["latest=foo"]]
)
def test_flavor_errors(entries: list[str]) -> None:
    """flavor.test.ts: the entries metadata-action refuses."""
    with pytest.raises(TagRuleError):
        parse_flavor(entries)


# --- semver (node-semver's strict valid()) ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("v1.1.1", "1.1.1"),
        ("1.2.3", "1.2.3"),
        (" 1.2.3 ", "1.2.3"),
        ("v2.0.8-beta.67", "2.0.8-beta.67"),
        ("1.0.0+build.5", "1.0.0"),
        ("1.0.0-rc.1+build", "1.0.0-rc.1"),
        ("1.2", None),
        ("01.2.3", None),
        ("1.2.3-01", None),
        ("=1.2.3", None),
        ("V1.2.3", None),
        ("1.2.3rc2", None),
        ("v" + "1" * 17 + ".0.0", None),
    ],
)
def test_semver(text: str, version: str | None) -> None:
    parsed = SemVer.parse(text)
    assert (parsed.version if parsed else None) == version


def test_semver_order() -> None:
    texts = ["1.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
             "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "0.9.9", "2.0.0"]  # fmt: skip
    ordered = sorted(texts, key=lambda t: SemVer.parse(t) or SemVer(t, 0, 0, 0))
    assert ordered == ["0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                       "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0"]  # fmt: skip


def test_sanitize() -> None:
    assert sanitize_tag("my/feature#1245") == "my-feature-1245"
    assert sanitize_tag("a..b__c") == "a..b__c"
