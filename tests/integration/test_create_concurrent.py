"""The --append lost-update guard: 8 writers appending to one tag at the same moment."""

from __future__ import annotations

import multiprocessing
import uuid
from typing import Any

import pytest

from polyarch import Context, CreateRequest, Index, Reference, TransportSettings, create_index
from support.images import push_image

pytestmark = pytest.mark.integration

PLATFORMS = [
    "linux/amd64",
    "linux/arm64",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
]
ROUNDS = 3


def _append(target: str, source: str, barrier: Any, results: Any) -> None:
    """One CI job: wait for the others, then append its platform."""
    with Context(TransportSettings()) as ctx:
        request = CreateRequest.build([target], [source], append=True)
        barrier.wait(timeout=60)
        try:
            result = create_index(request, ctx)
            results.put((source, "ok", result.rounds))
        except Exception as exc:  # reported to the parent, which fails the test
            results.put((source, f"error: {exc}", 0))


def test_eight_parallel_appends_lose_nothing(registry: Any) -> None:
    repo_ref = Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/race")
    with Context(TransportSettings()) as ctx:
        repo = ctx.repository(repo_ref)
        digests = {p: push_image(repo, p, tag=f"p{i}").digest for i, p in enumerate(PLATFORMS)}
    mp = multiprocessing.get_context("fork")
    total_rounds = 0
    for attempt in range(ROUNDS):
        target = str(repo_ref.with_tag(f"race-{attempt}"))
        barrier = mp.Barrier(len(PLATFORMS))
        results = mp.Queue()
        procs = [
            mp.Process(
                target=_append, args=(target, str(repo_ref.with_tag(f"p{i}")), barrier, results)
            )
            for i in range(len(PLATFORMS))
        ]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=180) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert all(status == "ok" for _, status, _ in outcomes), outcomes
        total_rounds += sum(r for _, _, r in outcomes)
        with Context(TransportSettings()) as ctx:
            index = ctx.repository(repo_ref).get_manifest(f"race-{attempt}")
        assert isinstance(index, Index)
        got = {str(d.platform): d.digest for d in index.images}
        assert got == digests, f"round {attempt}: lost {set(digests) - set(got)}"
    # The guard really had to work: with 8 simultaneous writers some re-merged.
    assert total_rounds > len(PLATFORMS) * ROUNDS
