"""Session fixtures that run real CNCF distribution registries (``docker-registry``).

Every registry fixture is session-scoped and lazy: a registry process starts
only when the first test asking for it runs, and is stopped at session end.
Logs, configs and storage live under pytest's ``tmp_path_factory`` directory,
which pytest keeps for the last few runs (handy when a test fails).

When ``docker-registry`` is not installed the fixtures skip, loudly, unless
the ``CI`` environment variable is set, in which case they fail: CI must not
silently skip the integration tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.registry import (
    BasicAuthRegistry,
    HtpasswdAuth,
    RegistryServer,
    TokenAuth,
    TokenRegistry,
    find_registry_binary,
)
from support.require import missing
from support.token_issuer import TokenIssuer, User

if TYPE_CHECKING:
    from support.engine import Engine
    from support.sigtools import Cosign

# The CLI keeps a blob-info cache in ~/.cache by default (content/blobinfo.py). Tests
# share registries and push identical blobs, so a cache would turn the copies some tests
# count into mounts: off unless a test turns it on with a path of its own.
os.environ.setdefault("POLYARCH_BLOB_CACHE", "off")

MISSING_REGISTRY = "docker-registry not installed: apt-get install docker-registry"
MISSING_HTPASSWD = "htpasswd not installed: apt-get install apache2-utils"


@pytest.fixture(scope="session")
def registry_binary() -> str:
    """Path of the ``docker-registry`` binary (skips, or fails under CI, if missing)."""
    binary = find_registry_binary()
    if binary is None:
        missing(MISSING_REGISTRY)
    return binary


def _serve(server: RegistryServer) -> Iterator[RegistryServer]:
    """Start ``server`` and stop it when the generator is closed."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry(
    registry_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """A plain registry (no auth, no TLS): a started :class:`RegistryServer`.

    Attributes: ``host`` (``127.0.0.1:PORT``), ``url``, ``storage_dir``,
    ``log_path``, ``config_path``, ``startup_seconds``; ``stop()``.
    """
    workdir = tmp_path_factory.mktemp("registry")
    yield from _serve(RegistryServer(binary=registry_binary, workdir=workdir))


@pytest.fixture(scope="session")
def registry2(
    registry_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """A second plain registry with its own storage, for cross-registry tests."""
    workdir = tmp_path_factory.mktemp("registry2")
    yield from _serve(RegistryServer(binary=registry_binary, workdir=workdir))


@pytest.fixture(scope="session")
def no_delete_registry(
    registry_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """A registry that refuses every DELETE: ``storage.delete.enabled: false``, distribution's
    default (``405 UNSUPPORTED``)."""
    workdir = tmp_path_factory.mktemp("no-delete")
    extra = {"storage": {"delete": {"enabled": False}}}
    yield from _serve(RegistryServer(binary=registry_binary, workdir=workdir, extra_config=extra))


@pytest.fixture(scope="session")
def tls_registry(
    registry_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """A plain registry served over HTTPS with a generated CA.

    ``url`` is ``https://127.0.0.1:PORT``; trust ``ca_file`` (or use
    ``ssl_context()``) to talk to it.
    """
    workdir = tmp_path_factory.mktemp("tls-registry")
    yield from _serve(RegistryServer(binary=registry_binary, workdir=workdir, tls=True))


@pytest.fixture(scope="session")
def basic_registry(
    registry_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BasicAuthRegistry]:
    """A registry with htpasswd Basic auth: a :class:`BasicAuthRegistry`.

    Attributes: ``host``, ``url``, ``username``, ``password``, ``auth``
    (the pair) and ``server`` (the :class:`RegistryServer`).
    """
    if shutil.which("htpasswd") is None:
        missing(MISSING_HTPASSWD)
    username, password = "tester", "basic-secret"
    server = RegistryServer(
        binary=registry_binary,
        workdir=tmp_path_factory.mktemp("basic-registry"),
        auth=HtpasswdAuth(username, password),
    )
    for started in _serve(server):
        yield BasicAuthRegistry(started, username, password)


@pytest.fixture(scope="session")
def token_registry(
    registry_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TokenRegistry]:
    """A registry with token auth and its :class:`TokenIssuer`: a :class:`TokenRegistry`.

    Users: ``alice``/``alice-secret`` may pull, push and delete everywhere
    (refresh token ``alice-refresh-token``); ``bob``/``bob-secret`` may only
    pull. Anonymous requests get 401 from the issuer. Tokens live 300 s.
    Tests that change the issuer (``set_expiry``, ``set_anonymous``,
    ``revoke_all``...) should call ``issuer.reset()`` when done.
    """
    workdir = tmp_path_factory.mktemp("token-registry")
    users = {
        "alice": User("alice-secret", {"*": ["pull", "push", "delete"]}, "alice-refresh-token"),
        "bob": User("bob-secret", {"*": ["pull"]}),
    }
    issuer = TokenIssuer(users, workdir=Path(workdir) / "issuer")
    try:
        issuer.start()
        auth = TokenAuth(
            realm=issuer.realm,
            service=issuer.service,
            issuer=issuer.issuer_name,
            rootcertbundle=issuer.cert_path,
        )
        server = RegistryServer(binary=registry_binary, workdir=workdir, auth=auth)
        for started in _serve(server):
            yield TokenRegistry(
                server=started,
                issuer=issuer,
                users=issuer.users,
                username="alice",
                password="alice-secret",
                readonly_username="bob",
                readonly_password="bob-secret",
            )
    finally:
        issuer.stop()


# --- real cosign and oras (signatures, referrers) ---------------------------------------


def _cosign(tmp_path_factory: pytest.TempPathFactory, suite: str) -> Cosign:
    from support.sigtools import Cosign, find_sid_tools, find_tools

    bin_dir, reason = find_sid_tools() if suite == "sid" else find_tools()
    if bin_dir is None:
        missing(reason)
    major = 3 if suite == "sid" else 2
    return Cosign(bin_dir, tmp_path_factory.mktemp(f"cosign{major}"), major)


@pytest.fixture(scope="session")
def cosign2(tmp_path_factory: pytest.TempPathFactory) -> Cosign:
    """Debian 13's cosign 2.5 (and oras 1.2) with a private HOME (support/sigtools.py)."""
    return _cosign(tmp_path_factory, "trixie")


@pytest.fixture(scope="session")
def cosign3(tmp_path_factory: pytest.TempPathFactory) -> Cosign:
    """Debian unstable's cosign 3.1 and oras 1.3 with a private HOME (support/sigtools.py)."""
    return _cosign(tmp_path_factory, "sid")


# --- the Docker engine (e2e tests) -----------------------------------------------------


def _e2e_engines() -> tuple[str, ...]:
    from support.engine import e2e_engines

    return e2e_engines()


@pytest.fixture(scope="session", params=_e2e_engines())
def docker_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """One engine of ``scripts/engine.sh``, active (DOCKER_HOST, DOCKER_CONFIG, PATH) meanwhile.

    Every test that uses it runs once per engine: ``[docker26]`` (Debian 13: Docker 26, buildx
    0.13, containerd 1.7) and ``[docker28]`` (Debian unstable: Docker 28.5, buildx 0.29,
    containerd 2.1); pytest groups the tests by engine, so each engine is activated once.
    Skips, loudly, when the engine does not answer (fails under CI): ``./scripts/test.sh``
    starts both.
    """
    from support.engine import EngineSetupError, activated

    context = activated(request.param)
    try:
        engine = context.__enter__()
    except EngineSetupError as exc:
        missing(str(exc))
    try:
        yield engine
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def busybox_rootfs() -> dict[str, Path]:
    """Debian's ``busybox-static`` for ``linux/amd64`` and ``linux/arm64``: platform -> root.

    Each root holds ``bin/busybox``; see :func:`support.engine.busybox_rootfs` (a
    persistent cache, apt only on a cold cache). Skips, or fails under CI, when apt
    cannot provide them.
    """
    from support.engine import EngineSetupError
    from support.engine import busybox_rootfs as fetch

    try:
        return {platform: fetch(platform) for platform in ("linux/amd64", "linux/arm64")}
    except EngineSetupError as exc:
        missing(str(exc))


# --- time and outcome per tier (printed at the end of the run; scripts/test.sh relies on it) --

TIERS = ("unit", "integration", "e2e")
_tier_seconds: dict[str, float] = dict.fromkeys(TIERS, 0.0)
_tier_outcomes: dict[str, dict[str, int]] = {tier: {} for tier in TIERS}


def tier_of(nodeid: str) -> str:
    """The tier of a test: its folder under tests/; the doctests in src/ are unit tests."""
    for tier in ("integration", "e2e"):
        if nodeid.startswith(f"tests/{tier}/"):
            return tier
    return "unit"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    tier = tier_of(report.nodeid)
    # setup + call + teardown: session and module fixtures (registries, engines' images) are
    # paid by the first test that asks for them, so the sum is the tier's wall time.
    _tier_seconds[tier] += report.duration
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "error" if report.when == "setup" and report.failed else report.outcome
        counts = _tier_outcomes[tier]
        counts[outcome] = counts.get(outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = [tier for tier in TIERS if _tier_outcomes[tier]]
    if not ran:
        return
    terminalreporter.write_sep("-", "time per tier")
    for tier in ran:
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_tier_outcomes[tier].items()))
        terminalreporter.write_line(f"{tier}: {_tier_seconds[tier]:.0f} s ({counts})")
