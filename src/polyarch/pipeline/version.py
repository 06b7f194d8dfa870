"""Which version is released: the git ref, the commit and the repository, from where they are.

Tag rules (:mod:`polyarch.pipeline.tags`) and the default index annotations are computed
from a :class:`RefContext`, found in this order (:func:`detect_ref_context`):

1. ``--version`` (``version=``): ``v3.14.1`` means the tag ref ``refs/tags/v3.14.1``; a
   text starting with ``refs/`` is taken as the ref itself (``refs/heads/main``);
2. the GitHub Actions environment, when ``GITHUB_REF`` or ``GITHUB_SHA`` is set: the ref,
   the commit and the event as docker/metadata-action reads them (``src/context.ts``:
   ``pull_request_target`` uses ``refs/pull/<number>/merge``; with
   ``DOCKER_METADATA_PR_HEAD_SHA=true`` a pull request's head commit), and from the event
   payload (``GITHUB_EVENT_PATH``) the default branch, ``base_ref``, the commit's date and
   the repository's name, description, URL and licence (metadata-action asks the GitHub
   API for the last three; polyarch reads the payload, which holds them, and needs no
   token or network);
3. git in the spec's directory: ``refs/heads/<branch>``, or, when ``HEAD`` carries a tag,
   ``refs/tags/<tag>`` (the highest version among them), the commit, its date, ``origin``'s
   URL (credentials removed) and its default branch.

Where none applies the context is empty (no ref, no commit): rules that need one give no
tag, as in metadata-action.

Where polyarch differs from metadata-action's git context (``context: git``): a branch
whose ``HEAD`` carries a tag is released as the tag (a release run by hand from the tagged
commit gets its version tags); metadata-action takes the branch.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal

from polyarch.engine.process import ProcessResult
from polyarch.errors import InvalidInput
from polyarch.files import load_json
from polyarch.pipeline.tags.semver import SemVer

__all__ = [
    "DEFAULT_SHORT_SHA_LENGTH",
    "RefContext",
    "RepositoryInfo",
    "detect_ref_context",
    "from_git",
    "from_github_env",
    "from_version",
    "strip_credentials",
]

#: metadata-action's ``defaultShortShaLength`` (``DOCKER_METADATA_SHORT_SHA_LENGTH`` overrides).
DEFAULT_SHORT_SHA_LENGTH: Final = 7
#: The event payload is read up to this size (GitHub caps webhook payloads at 25 MB).
MAX_EVENT_PAYLOAD: Final = 32 * 1024 * 1024
# Events that always run on the default branch's last commit (metadata-action's
# is_default_branch: "create", "discussion", "issues", "schedule", matched as substrings).
_DEFAULT_BRANCH_EVENTS: Final = ("create", "discussion", "issues", "schedule")
_SHA: Final = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")

Source = Literal["version", "github", "git", "none"]
#: Runs a command without a shell and returns how it ended (``run_process`` without output).
Run = Callable[[Sequence[str]], ProcessResult]


@dataclass(frozen=True, slots=True)
class RepositoryInfo:
    """The repository behind the release, for the default ``org.opencontainers.image.*``.

    ``url`` is the web address (``https://github.com/seeds/metrics-api``, never with
    credentials); ``name``, ``description`` and ``license`` (an SPDX identifier) are
    empty when unknown.
    """

    url: str = ""
    name: str = ""
    description: str = ""
    license: str = ""


@dataclass(frozen=True, slots=True)
class RefContext:
    """The ref, the commit and what surrounds them, as the tag rules see them.

    ``ref`` is a full git ref (``refs/tags/v3.14.1``, ``refs/heads/main``,
    ``refs/pull/15/merge``) or empty; ``sha`` the full commit id or empty; ``event_name``
    GitHub's (``push``, ``pull_request``, ``schedule``...) or empty. ``now`` is the instant
    of the release (``{{date}}``, ``org.opencontainers.image.created``); ``source`` says
    where the context came from.
    """

    ref: str = ""
    sha: str = ""
    event_name: str = ""
    default_branch: str | None = None
    base_ref: str = ""
    commit_date: dt.datetime | None = None
    repository: RepositoryInfo = field(default_factory=RepositoryInfo)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    short_sha_length: int = DEFAULT_SHORT_SHA_LENGTH
    source: Source = "none"

    @property
    def branch(self) -> str:
        """The branch of a ``refs/heads/`` ref, else empty (metadata-action's ``{{branch}}``)."""
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else ""

    @property
    def tag(self) -> str:
        """The tag of a ``refs/tags/`` ref, else empty (``{{tag}}``)."""
        return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else ""

    @property
    def short_sha(self) -> str:
        """The commit id cut to ``short_sha_length`` (``{{sha}}``, ``type=sha``)."""
        return self.sha[: self.short_sha_length]

    @property
    def is_default_branch(self) -> bool:
        """metadata-action's ``{{is_default_branch}}``.

        The ref with ``refs/heads/`` removed equals the payload's default branch, or the
        event is one that only runs on the default branch (``create``, ``discussion``,
        ``issues``, ``schedule``).
        """
        branch = self.ref.removeprefix("refs/heads/")
        if not branch:
            return False
        if self.default_branch is not None and branch == self.default_branch:
            return True
        return any(name in self.event_name for name in _DEFAULT_BRANCH_EVENTS)


def from_version(
    version: str, base: RefContext | None = None, *, now: dt.datetime | None = None
) -> RefContext:
    """The context for ``--version TEXT``: ``v3.14.1`` is the tag ref ``refs/tags/v3.14.1``.

    ``refs/...`` is taken as a ref as it is. The commit and the repository come from
    ``base`` (the CI environment or git) when given. Raises
    :class:`~polyarch.errors.InvalidInput` for an empty or multi-line text.

    >>> from_version("v3.14.1").ref
    'refs/tags/v3.14.1'
    """
    text = version.strip()
    if not text or any(c in text for c in "\r\n\0") or " " in text:
        raise InvalidInput(
            f"version {version!r}: expected a version or a git ref, e.g. v3.14.1",
            parameter="version",
        )
    ref = text if text.startswith("refs/") else f"refs/tags/{text}"
    start = base or RefContext()
    return replace(start, ref=ref, source="version", now=now or start.now)


def _payload(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        return {}
    try:
        data = load_json(path, what="GitHub event payload", limit=MAX_EVENT_PAYLOAD)
    except FileNotFoundError:
        return {}  # metadata-action reads no payload when the file is not there
    return data if isinstance(data, dict) else {}


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _short_sha_length(env: Mapping[str, str]) -> int:
    text = env.get("DOCKER_METADATA_SHORT_SHA_LENGTH", "")
    if not text:
        return DEFAULT_SHORT_SHA_LENGTH
    if not text.isdigit():
        raise InvalidInput(
            f"DOCKER_METADATA_SHORT_SHA_LENGTH is not a valid number: {text!r}",
            parameter="env",
        )
    return int(text)


def from_github_env(env: Mapping[str, str], *, now: dt.datetime | None = None) -> RefContext:
    """The context GitHub Actions gives a job (``GITHUB_*`` and the event payload).

    Follows docker/metadata-action's workflow context (``src/context.ts``,
    ``src/meta.ts``); see the module docstring. Raises
    :class:`~polyarch.errors.InvalidInput` when ``GITHUB_EVENT_PATH`` names a file that is
    not a JSON document, or ``DOCKER_METADATA_SHORT_SHA_LENGTH`` is not a number.
    """
    payload = _payload(env)
    event = env.get("GITHUB_EVENT_NAME", "")
    ref = env.get("GITHUB_REF", "")
    sha = env.get("GITHUB_SHA", "")
    if "pull_request_target" in event:
        ref = f"refs/pull/{_get(payload, 'number')}/merge"
    if env.get("DOCKER_METADATA_PR_HEAD_SHA", "").lower() == "true" and "pull_request" in event:
        sha = _text(_get(payload, "pull_request", "head", "sha")) or sha
    base_ref = ""
    if ref.startswith("refs/tags/") and _text(_get(payload, "base_ref")):
        base_ref = _text(_get(payload, "base_ref")).removeprefix("refs/heads/")
    elif ref.startswith("refs/pull/"):
        base_ref = _text(_get(payload, "pull_request", "base", "ref"))
    commit_date = None
    commits = _get(payload, "commits")
    if isinstance(commits, list):
        for commit in commits:
            if _get(commit, "id") == sha:
                commit_date = _timestamp(_get(commit, "timestamp"))
    if commit_date is None and _get(payload, "head_commit", "id") == sha:
        commit_date = _timestamp(_get(payload, "head_commit", "timestamp"))
    repo = _get(payload, "repository") or {}
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    url = _text(_get(repo, "html_url"))
    if not url and env.get("GITHUB_REPOSITORY"):
        url = f"{server}/{env['GITHUB_REPOSITORY']}"
    default_branch = _text(_get(repo, "default_branch")) or None
    return RefContext(
        ref=ref,
        sha=sha,
        event_name=event,
        default_branch=default_branch,
        base_ref=base_ref,
        commit_date=commit_date,
        repository=RepositoryInfo(
            url=strip_credentials(url),
            name=_text(_get(repo, "name")),
            description=_text(_get(repo, "description")),
            license=_text(_get(repo, "license", "spdx_id")),
        ),
        now=now or dt.datetime.now(dt.UTC),
        short_sha_length=_short_sha_length(env),
        source="github",
    )


def strip_credentials(url: str) -> str:
    """``url`` as a web address without user or password; ``git@host:o/r.git`` as https.

    A remote such as ``https://x-access-token:TOKEN@github.com/o/r.git`` must never reach
    an annotation (secrets never appear anywhere).

    >>> strip_credentials("https://user:s3cr3t@github.com/seeds/metrics-api.git")
    'https://github.com/seeds/metrics-api'
    >>> strip_credentials("git@github.com:seeds/metrics-api.git")
    'https://github.com/seeds/metrics-api'
    """
    text = url.strip()
    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):(?!//)(.+)", text)
    if scp:
        text = f"https://{scp[1]}/{scp[2]}"
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        return ""
    if not parts.scheme or not parts.hostname:
        return ""  # not a URL (a local path): nothing to show
    scheme = "https" if parts.scheme in ("ssh", "git", "git+ssh") else parts.scheme
    # An ssh port means nothing over https; an http(s) port is part of the address.
    host = parts.hostname + (f":{port}" if port and scheme == parts.scheme else "")
    path = parts.path.removesuffix(".git")
    return urllib.parse.urlunsplit((scheme, host, path, "", ""))


def _git(run: Run, directory: Path, *args: str) -> str | None:
    result = run(["git", "-C", str(directory), *args])
    if result.returncode != 0:
        return None
    return result.output.strip()


def from_git(directory: Path, run: Run, *, now: dt.datetime | None = None) -> RefContext:
    """The context of the git work tree holding ``directory`` (empty when it is none).

    ``run`` runs git (tests pass a fake). See the module docstring for the ref chosen.
    """
    sha = _git(run, directory, "rev-parse", "--verify", "-q", "HEAD") or ""
    if not _SHA.fullmatch(sha):
        return RefContext(now=now or dt.datetime.now(dt.UTC))
    ref = ""
    tags = (_git(run, directory, "tag", "--points-at", "HEAD") or "").split()
    versions = sorted(
        ((v, t) for t in tags if (v := SemVer.parse(t)) is not None), key=lambda vt: vt[0]
    )
    if versions:
        ref = f"refs/tags/{versions[-1][1]}"
    elif tags:
        ref = f"refs/tags/{sorted(tags)[0]}"
    else:
        ref = _git(run, directory, "symbolic-ref", "-q", "HEAD") or ""
    commit_date = _timestamp(_git(run, directory, "show", "-s", "--format=%cI", "HEAD"))
    origin = _git(run, directory, "remote", "get-url", "origin") or ""
    head = _git(run, directory, "symbolic-ref", "-q", "refs/remotes/origin/HEAD") or ""
    url = strip_credentials(origin) if origin else ""
    return RefContext(
        ref=ref,
        sha=sha,
        default_branch=head.removeprefix("refs/remotes/origin/") or None,
        commit_date=commit_date,
        repository=RepositoryInfo(url=url, name=url.rstrip("/").rsplit("/", 1)[-1] if url else ""),
        now=now or dt.datetime.now(dt.UTC),
        source="git",
    )


def detect_ref_context(
    *,
    version: str | None,
    env: Mapping[str, str],
    directory: Path,
    run: Run,
    now: dt.datetime | None = None,
) -> RefContext:
    """The context in polyarch's order: ``version``, else GitHub's environment, else git.

    With ``version``, the commit and repository still come from the environment or git
    (they name the revision in the annotations). When GitHub's environment gives no
    commit date (a ``workflow_dispatch`` payload has none), git's is used if the commit
    is checked out.
    """
    if env.get("GITHUB_REF") or env.get("GITHUB_SHA"):
        found = from_github_env(env, now=now)
        if found.commit_date is None and found.sha:
            date = _timestamp(_git(run, directory, "show", "-s", "--format=%cI", found.sha))
            found = replace(found, commit_date=date)
    else:
        found = from_git(directory, run, now=now)
    if version is not None:
        return from_version(version, found)
    return found
