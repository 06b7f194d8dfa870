"""Issue 25 (the lead's decision 6): an answer lost after the registry acted is no failure.

A ``DELETE`` reaches the registry, which deletes the manifest; its answer is lost (the
connection is reset instead: a load balancer's timeout, a network failure), so the client
sends the ``DELETE`` again, as it may (it is idempotent), and the registry now answers
404. The command was done by its first attempt: it must say so (exit 0), never "not
found". The loss is made by a proxy in front of the real registry
(:class:`support.tamperproxy.Lose`: forward, then reset); the deletion itself is the
registry's, checked directly afterwards.

Measured before the fix: ``delete --yes REPO@DIGEST`` exited 1 with ``manifest
REPO@DIGEST not found`` although the manifest was deleted.
"""

from __future__ import annotations

import uuid

import pytest

from polyarch import Context, Reference, TransportSettings
from support.cli import run_cli
from support.random_blobs import push_random_image
from support.registry import RegistryServer
from support.tamperproxy import Lose, Seen, TamperProxy

pytestmark = pytest.mark.integration


def test_a_delete_whose_answer_was_lost_is_done(registry: RegistryServer) -> None:
    ref = Reference.parse(f"{registry.host}/lost-{uuid.uuid4().hex[:8]}/app:v1")
    with Context(TransportSettings()) as ctx:
        repo = ctx.repository(ref)
        manifest = push_random_image(repo, str(ref), "linux/amd64", layers=1, layer_size=1024)
        repo.put_manifest(manifest, "v1")
    lost: list[Seen] = []

    def first_delete_lost(seen: Seen) -> Lose | None:
        if seen.method == "DELETE" and "/manifests/" in seen.path and not lost:
            lost.append(seen)
            return Lose()
        return None

    with TamperProxy(registry.host, first_delete_lost) as proxy:
        result = run_cli("delete", "--yes", f"{proxy.host}/{ref.repository}@{manifest.digest}")
        deletes = [s for s in proxy.seen if s.method == "DELETE"]
    assert result.code == 0, result.err
    assert "not found" not in result.err
    assert len(deletes) == 2, [(s.method, s.path) for s in proxy.seen]
    with Context(TransportSettings()) as ctx:
        assert ctx.repository(ref).head_manifest(str(manifest.digest)) is None
