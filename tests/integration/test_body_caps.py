"""Issue 25, kind 3: every body polyarch reads into memory has a bound.

A hostile or broken registry or token service answers with its real status and headers,
then a body that never ends (:class:`support.tamperproxy.Endless`, in front of the real
registry and the real token issuer), on each answer a client reads whole: a token, a
tag-list page, a referrers page (read by every ``copy``), an upload ``POST``/``PATCH``/
``PUT`` answer, a mount answer, a manifest ``PUT`` answer, a ``DELETE`` answer, the
``/v2/`` ping of ``login``. A credential helper that prints without end is the same case
on a pipe. Each runs through the real CLI as a child process, whose own peak RSS
(``wait4``) is measured.

The rule checked: the child's peak RSS stays under :data:`RSS_BOUND` (a bare command is
about 30-45 MiB), the body was cut by the client long before the proxy's 256 MiB hard
stop (fewer than :data:`STREAM_BOUND` bytes written), and the command either succeeded
(a body it had no use for was not read) or failed in one line naming the host, exit 1.

Measured before the fix: every case read the body whole: the proxy reached its 256 MiB
hard stop and the child's peak RSS passed 256 MiB (the figures are in each failure).
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Reference, TransportSettings
from support.measured import MIB, Measured, run_measured
from support.random_blobs import push_random_image
from support.registry import BasicAuthRegistry, RegistryServer, TokenRegistry
from support.tamperproxy import Endless, Seen, TamperProxy

pytestmark = pytest.mark.integration

#: Peak RSS a command may reach whatever a server sends (caps of a few MiB on top of a
#: 30-45 MiB process, with room for the allocator).
RSS_BOUND = 150 * MIB
#: Bytes of an endless body a client may take before it hangs up (its cap plus socket
#: buffers), far below the proxy's hard stop.
STREAM_BOUND = 64 * MIB


@dataclass(frozen=True)
class Source:
    """A small image tagged ``v1`` in registry A."""

    ref: Reference
    digest: str


@pytest.fixture(scope="module")
def source(registry: RegistryServer) -> Source:
    ref = Reference.parse(f"{registry.host}/caps-{uuid.uuid4().hex[:8]}/app:v1")
    with Context(TransportSettings()) as ctx:
        repo = ctx.repository(ref)
        manifest = push_random_image(repo, str(ref), "linux/amd64", layers=2, layer_size=65536)
        repo.put_manifest(manifest, "v1")
    return Source(ref, str(manifest.digest))


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An empty user environment: no credentials from the machine's own config."""
    (tmp_path / ".docker").mkdir()
    return {
        "HOME": str(tmp_path),
        "DOCKER_CONFIG": str(tmp_path / ".docker"),
        "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "POLYARCH_USERNAME": "",
        "POLYARCH_PASSWORD": "",
    }


def assert_bounded(result: Measured, proxy: TamperProxy | None, host: str) -> None:
    """Peak RSS and bytes taken bounded; success, or one clean line naming ``host``."""
    facts: dict[str, Any] = {"peak RSS MiB": round(result.max_rss / MIB, 1)}
    if proxy is not None:
        facts["MiB of the endless body taken"] = round(proxy.streamed / MIB, 1)
        facts["bodies read to the proxy's hard stop"] = proxy.exhausted
    lines = [line for line in result.err.splitlines() if line.strip()]
    facts["exit"] = result.code
    facts["stderr"] = lines[-3:]
    problems = []
    if result.max_rss >= RSS_BOUND:
        problems.append(f"peak RSS over {RSS_BOUND // MIB} MiB")
    if proxy is not None and (proxy.streamed >= STREAM_BOUND or proxy.exhausted):
        problems.append("the body was read on and on")
    if result.code != 0:
        clean = (
            result.code == 1
            and len(lines) == 1
            and lines[0].startswith("error: ")
            and host in lines[0]
            and "Traceback" not in result.err
        )
        if not clean:
            problems.append(f"not one clean error line naming {host} with exit 1")
    assert not problems, f"{'; '.join(problems)}: {facts}"


def _fresh(host: str) -> str:
    return f"{host}/caps-{uuid.uuid4().hex[:8]}/app"


def _uploads(method: str, *, final: bool | None = None) -> Callable[[Seen], bool]:
    def matches(seen: Seen) -> bool:
        if seen.method != method or "/blobs/uploads/" not in seen.path:
            return False
        if seen.param("mount") is not None:
            return False
        return final is None or (seen.param("digest") is not None) == final

    return matches


#: JSON-looking starts, so that a client that parses while it reads sees a valid prefix.
_TAGS = b'{"name":"app","tags":["v1"'
_ERRORS = b'{"errors":[{"code":"NAME_UNKNOWN","message":"'


@dataclass(frozen=True)
class Case:
    """One answer made endless: which requests, how, and the command that meets it."""

    when: Callable[[Seen], bool]
    endless: Endless
    #: (proxy host, source) -> CLI arguments.
    args: Callable[[str, Source], list[str]]


CASES: dict[str, Case] = {
    "tag-list page": Case(
        lambda s: s.method == "GET" and s.path.endswith("/tags/list"),
        Endless(prefix=_TAGS),
        lambda proxy, src: ["tags", f"{proxy}/{src.ref.repository}"],
    ),
    "tag-list page with a 1 TiB Content-Length": Case(
        lambda s: s.method == "GET" and s.path.endswith("/tags/list"),
        Endless(prefix=_TAGS, length=1 << 40),
        lambda proxy, src: ["tags", f"{proxy}/{src.ref.repository}"],
    ),
    "referrers page (copy)": Case(
        lambda s: s.method == "GET" and "/referrers/" in s.path,
        Endless(prefix=_ERRORS),
        lambda proxy, src: ["copy", "-q", f"{proxy}/{src.ref.repository}:v1", "{registry2}"],
    ),
    "upload POST answer": Case(
        _uploads("POST"),
        Endless(),
        lambda proxy, src: ["copy", "-q", str(src.ref), f"{_fresh(proxy)}:v1"],
    ),
    "upload PATCH answer": Case(
        _uploads("PATCH"),
        Endless(),
        lambda proxy, src: ["copy", "-q", str(src.ref), f"{_fresh(proxy)}:v1"],
    ),
    "upload PUT answer": Case(
        _uploads("PUT", final=True),
        Endless(),
        lambda proxy, src: ["copy", "-q", str(src.ref), f"{_fresh(proxy)}:v1"],
    ),
    "mount answer": Case(
        lambda s: s.method == "POST" and s.param("mount") is not None,
        Endless(),
        lambda proxy, src: [
            "copy",
            "-q",
            f"{proxy}/{src.ref.repository}:v1",
            f"{_fresh(proxy)}:v1",
        ],
    ),
    "manifest PUT answer": Case(
        lambda s: s.method == "PUT" and "/manifests/" in s.path,
        Endless(),
        lambda proxy, src: ["copy", "-q", str(src.ref), f"{_fresh(proxy)}:v1"],
    ),
    "manifest DELETE answer": Case(
        lambda s: s.method == "DELETE" and "/manifests/" in s.path,
        Endless(),
        lambda proxy, src: ["delete", "--yes", "{deletable}"],
    ),
    "tag DELETE answer": Case(
        lambda s: s.method == "DELETE" and "/manifests/" in s.path,
        Endless(prefix=_ERRORS),
        lambda proxy, src: ["delete", f"{proxy}/{src.ref.repository}:v1"],
    ),
    "/v2/ ping of login": Case(
        lambda s: s.method == "GET" and s.path in ("/v2", "/v2/"),
        Endless(prefix=b"{"),
        lambda proxy, src: ["login", "--username", "someone", "--password-stdin", proxy],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_endless_answer_of_the_registry_is_cut(
    source: Source,
    registry: RegistryServer,
    registry2: RegistryServer,
    home: dict[str, str],
    case: str,
) -> None:
    spec = CASES[case]
    with TamperProxy(registry.host, lambda s: spec.endless if spec.when(s) else None) as proxy:
        args = spec.args(proxy.host, source)
        if "{deletable}" in args:  # a manifest of its own to delete
            ref = Reference.parse(f"{_fresh(registry.host)}:v1")
            with Context(TransportSettings()) as ctx:
                repo = ctx.repository(ref)
                manifest = push_random_image(repo, str(ref), "linux/amd64", layers=1, layer_size=64)
                repo.put_manifest(manifest, "v1")
            deletable = f"{proxy.host}/{ref.repository}@{manifest.digest}"
            args = [deletable if a == "{deletable}" else a for a in args]
        args = [f"{_fresh(registry2.host)}:v1" if a == "{registry2}" else a for a in args]
        stdin = b"not-needed-by-an-anonymous-registry\n" if args[0] == "login" else b""
        result = run_measured(*args, env=home, stdin=stdin)
        matched = [s for s in proxy.seen if spec.when(s)]
        assert matched, f"the command never sent the request this case is about: {result.err}"
        assert_bounded(result, proxy, proxy.host)


def test_an_endless_token_answer_is_cut(
    token_registry: TokenRegistry, home: dict[str, str]
) -> None:
    issuer_host = token_registry.realm.split("/")[2]
    with TamperProxy(issuer_host, lambda s: Endless(prefix=b'{"token":"')) as issuer:
        realm = token_registry.realm.replace(issuer_host, issuer.host)
        with TamperProxy(token_registry.host, rewrite={token_registry.realm: realm}) as proxy:
            env = {
                **home,
                "POLYARCH_USERNAME": token_registry.username,
                "POLYARCH_PASSWORD": token_registry.password,
            }
            result = run_measured("inspect", f"{proxy.host}/some/app:v1", env=env)
        assert issuer.seen, "the token service was never asked"
        assert_bounded(result, issuer, issuer.host)


@pytest.fixture
def endless_helper(tmp_path: Path, home: dict[str, str]) -> Iterator[dict[str, str]]:
    """A credential helper whose answer is 300 MiB long (then it exits 0)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-endless"
    helper.write_text("#!/bin/sh\ncat >/dev/null\nexec head -c 300M /dev/zero\n")
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    yield {**home, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_a_credential_helper_that_prints_without_end_is_cut(
    basic_registry: BasicAuthRegistry, endless_helper: dict[str, str]
) -> None:
    config = Path(endless_helper["DOCKER_CONFIG"]) / "config.json"
    config.write_text(f'{{"credHelpers": {{"{basic_registry.host}": "endless"}}}}')
    result = run_measured("inspect", f"{basic_registry.host}/some/app:v1", env=endless_helper)
    assert_bounded(result, None, "docker-credential-endless")
