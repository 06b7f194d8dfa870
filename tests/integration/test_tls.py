"""TLS against real registries, through the library and the real CLI.

What README.md and docs/credentials.md promise: HTTPS with verified certificates by
default; a certificate error is reported (with a hint naming ``--ca-file`` and
``--insecure``), never downgraded to plain HTTP; ``--ca-file``, ``SSL_CERT_FILE`` and
``--insecure HOST`` make a private CA's registry work; a plain-HTTP registry on loopback
works without flags.

Each CLI run gets its own user environment: ``HOME``, ``DOCKER_CONFIG``,
``REGISTRY_AUTH_FILE`` and ``XDG_RUNTIME_DIR`` in the test's tmp dir, no ``POLYARCH_*``.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import certifi
import pytest

from polyarch import Context, Reference, TransportError, TransportSettings, inspect, resolve
from support.cli import Result, assert_one_line_error, run_cli
from support.images import push_image
from support.registry import RegistryServer

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Pushed:
    """An image pushed for this module's tests."""

    ref: str
    digest: str


@dataclass(frozen=True)
class Env:
    """An isolated user environment for CLI runs (see the module docstring)."""

    root: Path

    def vars(self, **extra: str) -> dict[str, str]:
        """The environment of a CLI run, plus ``extra``."""
        env = {
            "HOME": str(self.root / "home"),
            "DOCKER_CONFIG": str(self.root / "docker"),
            "REGISTRY_AUTH_FILE": str(self.root / "auth.json"),
            "XDG_RUNTIME_DIR": str(self.root / "runtime"),
        }
        env.update(extra)
        return env

    def cli(self, *args: str, **env: str) -> Result:
        """Run the real CLI in this environment (``env`` adds variables)."""
        return run_cli(*args, env=self.vars(**env))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    """A fresh :class:`Env`, also installed in ``os.environ`` for library calls."""
    box = Env(tmp_path / "env")
    for name in ("home", "docker", "runtime"):
        (box.root / name).mkdir(parents=True)
    for name in list(os.environ):
        if name.startswith("POLYARCH_"):
            monkeypatch.delenv(name)
    for name, value in box.vars().items():
        monkeypatch.setenv(name, value)
    return box


def ca_of(server: RegistryServer) -> str:
    """The CA file of a TLS registry, as a string."""
    assert server.ca_file is not None
    return str(server.ca_file)


def push_test_image(server: RegistryServer, settings: TransportSettings) -> Pushed:
    """Push one image to a fresh repository of ``server``, tagged ``v1``."""
    ref = Reference.parse(f"{server.host}/tls-{uuid.uuid4().hex[:8]}/app")
    with Context(settings) as ctx:
        image = push_image(ctx.repository(ref), "linux/riscv64", tag="v1")
    return Pushed(str(ref.with_tag("v1")), str(image.digest))


@pytest.fixture(scope="module")
def tls_image(tls_registry: RegistryServer) -> Pushed:
    """An image on the TLS registry (pushed trusting its CA)."""
    return push_test_image(tls_registry, TransportSettings(ca_file=ca_of(tls_registry)))


@pytest.fixture(scope="module")
def plain_image(registry: RegistryServer) -> Pushed:
    """An image on the plain-HTTP loopback registry."""
    return push_test_image(registry, TransportSettings())


def assert_resolves(result: Result, digest: str) -> None:
    """``resolve`` succeeded and printed exactly ``digest``."""
    assert result.code == 0, (result.code, result.out, result.err)
    assert result.out.strip() == digest


def test_untrusted_certificate_is_one_line_with_a_hint(
    env: Env, tls_registry: RegistryServer, tls_image: Pushed
) -> None:
    result = env.cli("inspect", tls_image.ref)
    assert_one_line_error(
        result, 1, tls_registry.host, "certificate verification failed", "--ca-file", "--insecure"
    )

    # Never downgraded: with -vv every request went to https://, none to http://.
    verbose = env.cli("-vv", "inspect", tls_image.ref)
    assert verbose.code == 1
    assert f"GET https://{tls_registry.host}/v2/" in verbose.err
    assert f"http://{tls_registry.host}" not in verbose.err

    with Context(TransportSettings()) as ctx, pytest.raises(TransportError) as failed:
        inspect(tls_image.ref, ctx)
    assert "--ca-file" in (failed.value.hint or "")


def test_ca_file_flag(env: Env, tls_registry: RegistryServer, tls_image: Pushed) -> None:
    ca = ca_of(tls_registry)
    assert_resolves(env.cli("--ca-file", ca, "resolve", tls_image.ref), tls_image.digest)
    assert_resolves(env.cli("resolve", "--ca-file", ca, tls_image.ref), tls_image.digest)
    inspected = env.cli("inspect", "--ca-file", ca, tls_image.ref)
    assert inspected.code == 0, inspected.err
    assert "linux/riscv64" in inspected.out

    with Context(TransportSettings(ca_file=ca)) as ctx:
        assert resolve(tls_image.ref, ctx).digest == tls_image.digest


def test_ca_file_errors(env: Env, tls_registry: RegistryServer, tls_image: Pushed) -> None:
    missing = env.cli("--ca-file", str(env.root / "nope.pem"), "inspect", tls_image.ref)
    assert_one_line_error(missing, 2, "--ca-file", "nope.pem")

    not_pem = env.root / "not-a-ca.pem"
    not_pem.write_text("this is not a certificate\n")
    broken = env.cli("--ca-file", str(not_pem), "inspect", tls_image.ref)
    assert_one_line_error(broken, 1, "CA file", "not-a-ca.pem")


def test_insecure_host(env: Env, tls_registry: RegistryServer, tls_image: Pushed) -> None:
    result = env.cli("--insecure", tls_registry.host, "resolve", tls_image.ref)
    assert_resolves(result, tls_image.digest)
    # Still TLS (just unverified): the registry speaks nothing else.
    verbose = env.cli("-vv", "resolve", "--insecure", tls_registry.host, tls_image.ref)
    assert_resolves(verbose, tls_image.digest)
    assert re.search(rf"GET https://{re.escape(tls_registry.host)}/v2/\S+ -> 200", verbose.err)

    # Only the named registry is insecure.
    other = env.cli("--insecure", "127.0.0.1:1", "resolve", tls_image.ref)
    assert_one_line_error(other, 1, tls_registry.host, "certificate verification failed")

    settings = TransportSettings(insecure=frozenset({tls_registry.host}))
    with Context(settings) as ctx:
        assert resolve(tls_image.ref, ctx).digest == tls_image.digest


def test_ssl_cert_file(
    env: Env,
    tls_registry: RegistryServer,
    tls_image: Pushed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca = ca_of(tls_registry)
    result = env.cli("resolve", tls_image.ref, SSL_CERT_FILE=ca, SSL_CERT_DIR="")
    assert_resolves(result, tls_image.digest)

    monkeypatch.setenv("SSL_CERT_FILE", ca)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with Context(TransportSettings()) as ctx:
        assert resolve(tls_image.ref, ctx).digest == tls_image.digest


def test_ca_file_adds_to_ssl_cert_file(
    env: Env, tls_registry: RegistryServer, tls_image: Pushed
) -> None:
    # SSL_CERT_FILE names a public bundle without the private CA: --ca-file adds it.
    public = certifi.where()
    alone = env.cli("resolve", tls_image.ref, SSL_CERT_FILE=public, SSL_CERT_DIR="")
    assert_one_line_error(alone, 1, tls_registry.host, "certificate verification failed")
    combined = env.cli(
        "--ca-file", ca_of(tls_registry), "resolve", tls_image.ref, SSL_CERT_FILE=public
    )
    assert_resolves(combined, tls_image.digest)


def test_plain_http_loopback_registry_needs_no_flags(
    env: Env, registry: RegistryServer, plain_image: Pushed
) -> None:
    assert_resolves(env.cli("resolve", plain_image.ref), plain_image.digest)
    verbose = env.cli("-vv", "resolve", plain_image.ref)
    assert_resolves(verbose, plain_image.digest)
    assert "does not speak TLS; using plain http" in verbose.err
    assert f"GET http://{registry.host}/v2/" in verbose.err
    # --insecure for it is accepted too.
    insecure = env.cli("--insecure", registry.host, "resolve", plain_image.ref)
    assert_resolves(insecure, plain_image.digest)

    with Context(TransportSettings()) as ctx:
        assert resolve(plain_image.ref, ctx).digest == plain_image.digest
