"""verify reads the index's content concurrently, against a real registry.

A 32-platform index of 10 layers each is about 420 round trips; one after the other, a
verify spends its time waiting (bench/release.py, the verify rows). Each read phase of the
index checks (child manifests, configs, blob HEADs) has several reads in flight at once.
Proved without timing: the proxy holds the first read of a phase until a second read of
the same phase reaches it, which only a concurrent verify sends; a sequential one would
wait out the hold and the test fails.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from polyarch import (
    Context,
    CreateRequest,
    Reference,
    TransportSettings,
    VerifyRequest,
    create_index,
)
from polyarch import verify as run_verify
from support.faultproxy import FaultProxy
from support.images import push_image
from support.overlap import Overlap

pytestmark = pytest.mark.integration


def _index(ctx: Context, host: str, platforms: int) -> Reference:
    repo_ref = Reference.parse(f"{host}/t{uuid.uuid4().hex[:8]}/reads")
    repo = ctx.repository(repo_ref)
    sources = []
    for n in range(platforms):
        push_image(repo, f"linux/arch{n}", tag=f"p{n}")
        sources.append(repo_ref.with_tag(f"p{n}"))
    target = repo_ref.with_tag("v1")
    create_index(CreateRequest.build([target], sources), ctx)
    return target


@pytest.mark.parametrize(
    ("method", "part"),
    [("GET", "/manifests/sha256:"), ("HEAD", "/blobs/"), ("GET", "/blobs/")],
    ids=["child-manifests", "blob-heads", "configs"],
)
def test_each_read_phase_has_reads_in_flight_together(
    ctx: Context, registry: Any, method: str, part: str
) -> None:
    target = _index(ctx, registry.host, 4)
    overlap = Overlap(method, part)
    with FaultProxy(registry.host, force=overlap) as proxy:
        through = Reference.parse(str(target).replace(registry.host, proxy.host, 1))
        with Context(TransportSettings()) as proxied:
            report = run_verify(VerifyRequest.build(through), proxied)
    assert report.ok, [str(c) for c in report.checks]
    assert overlap.first.is_set(), f"verify sent no {method} {part} request"
    assert overlap.overlapped, (
        f"the first {method} {part} waited alone: verify read one at a time ({proxy.log})"
    )
