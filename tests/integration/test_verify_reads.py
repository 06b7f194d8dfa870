"""verify reads the index's content concurrently, against a real registry.

A 32-platform index of 10 layers each is about 420 round trips; one after the other, a
verify spends its time waiting (bench/release.py, the verify rows). Each read phase of the
index checks (child manifests, configs, blob HEADs) has several reads in flight at once.
Proved without timing: the proxy holds the first read of a phase until a second read of
the same phase reaches it, which only a concurrent verify sends; a sequential one would
wait out the hold and the test fails.
"""

from __future__ import annotations

import threading
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
from support.faultproxy import Fault, FaultProxy, RequestInfo
from support.images import push_image

pytestmark = pytest.mark.integration

#: Seconds the first read of a phase waits for a second one: only reached when verify
#: reads one at a time (the failure); a concurrent verify sends the second at once.
HOLD = 20.0


class _Overlap:
    """Holds the first request ``matches`` accepts until a second one arrives."""

    def __init__(self, method: str, part: str) -> None:
        self.method, self.part = method, part
        self.first = threading.Event()
        self.second = threading.Event()
        self.overlapped = False
        self._lock = threading.Lock()

    def __call__(self, info: RequestInfo) -> Fault | None:
        if info.method != self.method or self.part not in info.path:
            return None
        with self._lock:
            holder = not self.first.is_set()
            self.first.set()
        if holder:
            self.overlapped = self.second.wait(HOLD)
        else:
            self.second.set()
        return None


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
    overlap = _Overlap(method, part)
    with FaultProxy(registry.host, force=overlap) as proxy:
        through = Reference.parse(str(target).replace(registry.host, proxy.host, 1))
        with Context(TransportSettings()) as proxied:
            report = run_verify(VerifyRequest.build(through), proxied)
    assert report.ok, [str(c) for c in report.checks]
    assert overlap.first.is_set(), f"verify sent no {method} {part} request"
    assert overlap.overlapped, (
        f"the first {method} {part} waited alone: verify read one at a time ({proxy.log})"
    )
