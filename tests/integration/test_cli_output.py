"""What the CLI prints, against a real registry: JSON errors, -q failures, one platform rule."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from polyarch import Context, InvalidInput, PlatformNotFound, Reference, inspect, resolve
from support.cli import Result, assert_one_line_error, run_cli
from support.images import push_image, push_index

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pushed(registry: Any) -> dict[str, Reference]:
    repo_ref = Reference.parse(f"{registry.host}/out-{uuid.uuid4().hex[:8]}/app")
    with Context() as ctx:
        repo = ctx.repository(repo_ref)
        push_index(repo, ["linux/amd64", "linux/arm64"], tag="multi")
        push_image(repo, "linux/amd64", tag="amd64")
        push_image(repo, "linux/386", tag="i386")
        push_image(repo, "linux/amd64", tag="latest")
    tags = ("multi", "amd64", "i386", "nope")
    return {"bare": repo_ref, **{tag: repo_ref.with_tag(tag) for tag in tags}}


def assert_json_error(result: Result, code: int, kind: str, *fragments: str) -> dict[str, Any]:
    """The line on stderr, and the documented error object on stdout (docs/json.md)."""
    assert_one_line_error(result, code, *fragments)
    error = result.json()
    assert set(error) == {"schema", "kind", "message", "hint", "exitCode"}, error
    assert error["schema"] == "polyarch.error/v1"
    assert (error["kind"], error["exitCode"]) == (kind, code), error
    assert "\n" not in error["message"]
    assert error["message"] in result.err
    for fragment in fragments:
        assert fragment in error["message"] + (error["hint"] or ""), (fragment, error)
    return error


def test_json_errors_from_the_registry_from_input_and_from_usage(
    pushed: dict[str, Reference],
) -> None:
    missing = run_cli("inspect", "--json", str(pushed["nope"]))
    assert_json_error(missing, 1, "ManifestUnknown", "nope")
    bad_ref = run_cli("resolve", "--json", "Bad Ref")
    assert_json_error(bad_ref, 2, "InvalidReference", "Bad Ref")
    usage = run_cli("verify", "--json", "--no-such-flag", str(pushed["multi"]))
    error = assert_json_error(usage, 2, "UsageError", "--no-such-flag")
    assert error["hint"] == "see 'polyarch verify --help'"
    # Without --json: the one line only, stdout empty.
    plain = run_cli("inspect", str(pushed["nope"]))
    assert_one_line_error(plain, 1, "nope")
    assert plain.out == ""


def test_json_as_a_global_option(pushed: dict[str, Reference]) -> None:
    ok = run_cli("--json", "inspect", str(pushed["multi"]))
    assert ok.code == 0, ok.err
    assert ok.json()["schema"] == "polyarch.inspect/v1"
    resolved = run_cli("--json", "resolve", "--platform", "linux/arm64", str(pushed["multi"]))
    assert resolved.json()["platform"] == "linux/arm64"
    failed = run_cli("--json", "resolve", str(pushed["multi"]))
    error = assert_json_error(failed, 2, "InvalidInput", "multi-platform index", "--platform")
    assert "--platform" not in error["message"]  # the library's words; the CLI's hint
    assert error["hint"] == "see --platform"


def test_inspect_raw_and_json_are_refused_together(pushed: dict[str, Reference]) -> None:
    both = run_cli("inspect", "--raw", "--json", str(pushed["multi"]))
    assert_json_error(both, 2, "UsageError", "--raw", "--json")


@pytest.mark.parametrize("command", ["inspect", "resolve"])
def test_one_platform_rule_for_a_single_image(pushed: dict[str, Reference], command: str) -> None:
    """A single image asked for with a platform a host of it would not pull: exit 1."""
    refused = run_cli(command, "--platform", "linux/arm64", str(pushed["amd64"]))
    assert_one_line_error(
        refused, 1, "single image for linux/amd64", "a linux/arm64 host would not pull it"
    )
    # An amd64 host runs 386 images (containerd's matcher): both commands accept it.
    accepted = run_cli(command, "--platform", "linux/amd64", str(pushed["i386"]))
    assert accepted.code == 0, accepted.err
    same = run_cli(command, "--platform", "linux/amd64", str(pushed["amd64"]))
    assert same.code == 0, same.err


def test_one_platform_rule_in_the_library(pushed: dict[str, Reference]) -> None:
    with Context() as ctx:
        for call in (inspect, resolve):
            with pytest.raises(PlatformNotFound, match="would not pull") as caught:
                call(pushed["amd64"], ctx, platform="linux/arm64")
            assert caught.value.parameter == "platform"
        assert inspect(pushed["i386"], ctx, platform="linux/amd64").kind == "image"
        with pytest.raises(InvalidInput) as needs:
            resolve(pushed["multi"], ctx)
        assert needs.value.parameter == "platform"
        assert "--" not in needs.value.one_line()


def test_verify_quiet_failure_names_the_failed_checks(pushed: dict[str, Reference]) -> None:
    wrong = "linux/arm64=sha256:" + "0" * 64
    failed = run_cli("verify", "-q", "--expect", wrong, "--platform", "s390x", str(pushed["multi"]))
    assert failed.code == 1
    assert failed.out == ""
    assert_one_line_error(
        failed, 1, str(pushed["multi"]), "digests (linux/arm64)", "platforms (linux/s390x)"
    )
    passed = run_cli("verify", "-q", "--platform", "linux/arm64", str(pushed["multi"]))
    assert (passed.code, passed.out, passed.err) == (0, "", "")


def test_verify_json_keeps_the_report_on_failure(pushed: dict[str, Reference]) -> None:
    wrong = "linux/arm64=sha256:" + "0" * 64
    failed = run_cli("--json", "verify", "--expect", wrong, str(pushed["multi"]))
    assert failed.code == 1
    report = json.loads(failed.out)
    assert report["schema"] == "polyarch.verify/v1" and report["ok"] is False


def test_json_reference_is_what_was_read_fully_normalized(pushed: dict[str, Reference]) -> None:
    """docs/json.md: no tag given means ``:latest`` was read, and the JSON says so."""
    bare = str(pushed["bare"])
    assert ":" not in bare.rsplit("/", 1)[1]
    for command in ("inspect", "resolve"):
        shown = run_cli(command, "--json", bare)
        assert shown.code == 0, shown.err
        assert shown.json()["reference"] == f"{bare}:latest"
    tagged = run_cli("inspect", "--json", str(pushed["amd64"])).json()
    assert tagged["reference"] == str(pushed["amd64"])
    pinned = f"{bare}@{tagged['digest']}"
    assert run_cli("resolve", "--json", pinned).json()["reference"] == pinned


def test_create_exit_codes_are_the_documented_ones(pushed: dict[str, Reference]) -> None:
    """docs/create.md: a source that is not there is exit 1; a malformed one exit 2."""
    target = str(pushed["bare"].with_tag("created"))
    unknown = run_cli("create", "-t", target, str(pushed["nope"]))
    assert_one_line_error(unknown, 1, "nope")
    malformed = run_cli("create", "-t", target, str(pushed["bare"]) + ":-x")
    assert_one_line_error(malformed, 2, '"-x"')


def test_create_table_digests_short_or_whole(pushed: dict[str, Reference]) -> None:
    target = str(pushed["bare"].with_tag("both"))
    sources = [str(pushed["amd64"]), str(pushed["i386"])]
    short = run_cli("create", "-t", target, *sources)
    assert short.code == 0, short.err
    whole = run_cli("create", "--no-trunc", "-t", target, *sources)
    assert whole.code == 0, whole.err
    with Context() as ctx:
        digests = [resolve(s, ctx).digest for s in sources]
    for digest in digests:
        row = next(line for line in short.out.splitlines() if digest.short in line)
        assert str(digest) not in row
        assert any(str(digest) in line for line in whole.out.splitlines()), whole.out
