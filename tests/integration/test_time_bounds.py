"""Issue 13 §2-3: bounded time whatever the registry does; token-service failures retried.

Against the real registry (and the test token service) behind
:class:`support.gateproxy.GateProxy`, which makes them misbehave as registries in the
field did: bodies that trickle one byte at a time (manifest, blob, token), a registry
that accepts connections and never answers, a server that never completes a TLS
handshake, a token service answering 500/503/429 once.

No timing assertion is tight: each case runs with a small ``--timeout`` and must end
(with the right outcome) well within a generous limit that the unfixed behaviour blew
through (a trickled manifest took minutes; a never-answering registry 3-6 minutes).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Reference, TransportSettings
from support.cli import Result, run_cli
from support.gateproxy import Action, GateProxy, Hang, Refuse, Seen, Trickle
from support.images import push_index
from support.registry import TokenRegistry

pytestmark = pytest.mark.integration

_PLATFORMS = ["linux/amd64", "linux/arm64"]
#: Seconds: small, so the bounded cases end fast.
TIMEOUT = "2"


def cli(home: Path, *args: str, limit: float = 100, **env: str) -> tuple[Result, float]:
    """The CLI in an empty configuration; its result and how long it took."""
    full = {name: "" for name in os.environ if name.startswith("POLYARCH_")}
    full.update(HOME=str(home), DOCKER_CONFIG=str(home / ".docker"))
    full.update(REGISTRY_AUTH_FILE=str(home / "auth.json"), XDG_RUNTIME_DIR=str(home))
    full.update(env)
    started = time.monotonic()
    result = run_cli(*args, env=full, timeout=limit)
    return result, time.monotonic() - started


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / ".docker").mkdir()
    return tmp_path


@pytest.fixture(scope="module")
def image(registry: Any) -> str:
    """``REPO:v1``: a two-platform index of 3 layers each (8 blobs) on the plain registry."""
    repo = f"bounds{uuid.uuid4().hex[:8]}/app"
    with Context(TransportSettings()) as ctx:
        target = ctx.repository(Reference.parse(f"{registry.host}/{repo}"))
        push_index(target, _PLATFORMS, tag="v1")
    return f"{repo}:v1"


def _when(test: Callable[[Seen], bool], action: Action) -> Callable[[Seen], Action | None]:
    return lambda seen: action if test(seen) else None


def _one_line(result: Result) -> str:
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


# -- trickling bodies ----------------------------------------------------------------------


def test_a_trickling_manifest_is_cut_off(registry: Any, image: str, home: Path) -> None:
    rule = _when(lambda s: s.method == "GET" and "/manifests/" in s.path, Trickle(0.5))
    with GateProxy(registry.host, rule) as proxy:
        result, seconds = cli(home, "inspect", "--timeout", TIMEOUT, f"{proxy.host}/{image}")
    assert result.code == 1
    assert "too little progress" in _one_line(result)
    assert seconds < 60


def test_the_timeout_comes_from_the_environment_too(registry: Any, image: str, home: Path) -> None:
    rule = _when(lambda s: s.method == "GET" and "/manifests/" in s.path, Trickle(0.5))
    with GateProxy(registry.host, rule) as proxy:
        result, seconds = cli(home, "inspect", f"{proxy.host}/{image}", POLYARCH_TIMEOUT=TIMEOUT)
    assert result.code == 1
    assert "too little progress" in _one_line(result)
    assert seconds < 60


def test_a_trickling_blob_is_cut_off(registry: Any, registry2: Any, image: str, home: Path) -> None:
    rule = _when(lambda s: s.method == "GET" and "/blobs/sha256:" in s.path, Trickle(0.5))
    target = f"{registry2.host}/trickle{uuid.uuid4().hex[:8]}/app:v1"
    with GateProxy(registry.host, rule) as proxy:
        result, seconds = cli(home, "copy", "--timeout", TIMEOUT, f"{proxy.host}/{image}", target)
    assert result.code == 1
    assert "too little progress" in _one_line(result)
    assert seconds < 60


def test_a_trickling_token_response_is_cut_off(token_registry: TokenRegistry, home: Path) -> None:
    issuer_host = token_registry.realm.split("/")[2]
    with GateProxy(issuer_host, lambda s: Trickle(0.5)) as issuer_proxy:
        realm = token_registry.realm.replace(issuer_host, issuer_proxy.host)
        with GateProxy(token_registry.host, rewrite={token_registry.realm: realm}) as proxy:
            result, seconds = cli(
                home,
                "inspect",
                "--timeout",
                TIMEOUT,
                f"{proxy.host}/some/app:v1",
                POLYARCH_USERNAME=token_registry.username,
                POLYARCH_PASSWORD=token_registry.password,
            )
    assert result.code == 1
    assert "too little progress" in _one_line(result)
    assert seconds < 60


# -- a registry that never answers ----------------------------------------------------------


def test_a_registry_that_never_answers_stops_the_copy_at_the_first_error(
    registry: Any, image: str, home: Path
) -> None:
    """Before: every blob was retried (by the client, then by the transfer engine) before
    the first error was reported; now the first final failure ends the operation."""
    # Manifests and the tag are answered; every blob request hangs: the copy reaches the
    # blob stage, where every blob used to be retried by the client and then started
    # over by the transfer engine, 4 at a time, before the first error was reported.
    rule = _when(lambda s: "/blobs/" in s.path, Hang())
    with GateProxy(registry.host, rule) as dead:
        target = f"{dead.host}/never{uuid.uuid4().hex[:8]}/app:v1"
        result, seconds = cli(
            home, "copy", "--timeout", "1", f"{registry.host}/{image}", target, limit=110
        )
        blob_requests = [s for s in dead.seen if "/blobs/" in s.path]
    assert result.code == 1
    assert "did not answer in time" in _one_line(result)
    # At most the 4 blobs in flight, each retried by the client's policy (5 attempts):
    # no blob started over, none started after the first failure.
    assert len(blob_requests) <= 4 * 5, len(blob_requests)
    assert seconds < 40


# -- TLS handshake that never completes ------------------------------------------------------


def test_a_loopback_server_that_never_finishes_tls_is_reached_over_http(
    registry: Any, image: str, home: Path
) -> None:
    with GateProxy(registry.host, tls="hang") as proxy:
        result, seconds = cli(home, "inspect", "--timeout", "20", f"{proxy.host}/{image}")
    assert result.code == 0, result.err
    assert seconds < 15  # not the 20 s connect timeout (before: 60 s and more)


# -- token service failures are retried --------------------------------------------------------


@pytest.mark.parametrize(("status", "headers"), [(500, {}), (503, {}), (429, {"Retry-After": "1"})])
@pytest.mark.parametrize("command", ["copy", "create", "verify"])
def test_one_failure_of_the_token_service_is_retried(
    token_registry: TokenRegistry,
    home: Path,
    command: str,
    status: int,
    headers: dict[str, str],
) -> None:
    repo = f"tokens{uuid.uuid4().hex[:8]}"
    settings = TransportSettings(username=token_registry.username, password=token_registry.password)
    with Context(settings) as ctx:
        push_index(
            ctx.repository(Reference.parse(f"{token_registry.host}/{repo}/src")),
            _PLATFORMS,
            tag="v1",
        )
    failed: list[Seen] = []

    def once(seen: Seen) -> Refuse | None:
        if failed:
            return None
        failed.append(seen)
        return Refuse(status, {"Content-Type": "application/json", **headers}, b"{}")

    issuer_host = token_registry.realm.split("/")[2]
    with GateProxy(issuer_host, once) as issuer_proxy:
        realm = token_registry.realm.replace(issuer_host, issuer_proxy.host)
        with GateProxy(token_registry.host, rewrite={token_registry.realm: realm}) as proxy:
            src = f"{proxy.host}/{repo}/src:v1"
            args = {
                "copy": ["copy", src, f"{proxy.host}/{repo}/copied:v1"],
                "create": ["create", "-t", f"{proxy.host}/{repo}/made:v1", src],
                "verify": ["verify", src],
            }[command]
            result, _ = cli(
                home,
                *args,
                POLYARCH_USERNAME=token_registry.username,
                POLYARCH_PASSWORD=token_registry.password,
            )
    assert failed, "the token service was never asked"
    assert result.code == 0, result.err


def test_a_bad_timeout_is_bad_usage(registry: Any, image: str, home: Path) -> None:
    result, _ = cli(home, "inspect", "--timeout", "soon", f"{registry.host}/{image}")
    assert result.code == 2
    assert "--timeout 'soon'" in _one_line(result)
