"""Issue 24, "Also": a signed schema1 manifest as real registries serve it.

The real registry (distribution 2.8 with schema1 enabled, :mod:`support.schema1`) serves a
signed schema1 manifest re-signed with its own key, announcing the digest of the
canonical payload: the served bytes never hash to it. That is not tampering: polyarch
says "schema1 ... unsupported" with its hint, as when the digests agree, whether the
manifest is asked for by tag or by the digest the registry announced.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.cli import assert_one_line_error, run_cli
from support.registry import RegistryServer
from support.schema1 import SCHEMA1_CONFIG, SIGNED, Schema1Push, push_schema1

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def schema1_registry(
    registry_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    server = RegistryServer(
        binary=registry_binary,
        workdir=Path(tmp_path_factory.mktemp("schema1")),
        extra_config=SCHEMA1_CONFIG,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pushed(schema1_registry: RegistryServer) -> tuple[str, Schema1Push]:
    repo = f"old{uuid.uuid4().hex[:8]}/app"
    return f"{schema1_registry.host}/{repo}", push_schema1(schema1_registry.url, repo, "v1")


def test_the_registry_announces_the_canonical_digest(
    schema1_registry: RegistryServer, pushed: tuple[str, Schema1Push]
) -> None:
    """The premise: served bytes and announced digest disagree, by design."""
    name, push = pushed
    path = name.partition("/")[2]
    got = httpx.get(f"{schema1_registry.url}/v2/{path}/manifests/v1", headers={"Accept": SIGNED})
    assert got.headers["Content-Type"] == SIGNED
    assert got.headers["Docker-Content-Digest"] == push.digest
    assert b'"signatures"' in got.content and got.content != push.canonical


@pytest.mark.parametrize("verb", ["inspect", "resolve", "config"])
def test_schema1_by_tag_is_unsupported_not_a_mismatch(
    pushed: tuple[str, Schema1Push], verb: str
) -> None:
    name, _ = pushed
    out = run_cli(verb, f"{name}:v1")
    assert_one_line_error(out, 1, "schema1", "unsupported")
    assert "hashes to" not in out.err and "mismatch" not in out.err.lower()


def test_schema1_by_announced_digest_is_unsupported_not_a_mismatch(
    pushed: tuple[str, Schema1Push],
) -> None:
    name, push = pushed
    out = run_cli("inspect", f"{name}@{push.digest}")
    assert_one_line_error(out, 1, "schema1", "unsupported")


def test_schema1_source_of_create_and_copy(pushed: tuple[str, Schema1Push], registry: Any) -> None:
    name, _ = pushed
    for args in (
        ("create", "-t", f"{registry.host}/s1/app:v1", f"{name}:v1"),
        ("copy", f"{name}:v1", f"{registry.host}/s1/app:v1"),
    ):
        out = run_cli(*args)
        assert_one_line_error(out, 1, "schema1", "unsupported")
