"""polyarch.content.reach against the real registry: the walk ``delete`` and ``prune`` use.

The graph of :mod:`support.graphs` on CNCF distribution 2.8 (no referrers API: the SBOM is
found through the referrers tag schema): every route and every unreached manifest as the
unit tests claim for the in-memory repository, and each manifest read once.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.content.reach import walk
from polyarch.operations.prune import plan_prune
from polyarch.storage.referrers_tag import referrers_tag
from support.faultproxy import FaultProxy
from support.graphs import push_bundle_release, push_orphans, push_release, push_sbom
from support.overlap import Overlap

pytestmark = pytest.mark.integration

TWO = ["linux/amd64", "linux/arm64"]


def test_walk_a_real_repository(ctx: Context, registry: Any) -> None:
    ref = Reference.parse(f"{registry.host}/r{uuid.uuid4().hex[:8]}/app")
    repo = ctx.repository(ref)
    release = push_release(repo, "v1", TWO)
    bundle = push_bundle_release(repo, "b1")
    sbom = push_sbom(repo, release.images[0].manifest)
    orphans = push_orphans(repo, "v2", TWO)
    reach = walk(repo)
    assert reach.complete, reach.problems
    assert referrers_tag(release.images[0].digest) not in reach.roots
    assert bundle.inner is not None
    (nested,) = reach.routes_to(bundle.images[0].digest)
    assert nested.path == (bundle.index.digest, bundle.inner.digest, bundle.images[0].digest)
    (via,) = reach.routes_to(sbom.digest)
    assert via.path == (release.index.digest, release.images[0].digest, sbom.digest)
    assert via.kinds == ("child", "referrer")
    assert not any(reach.is_reached(d) for d in orphans.digests)
    schema = repo.head_manifest(referrers_tag(release.images[0].digest))
    assert schema is not None and reach.is_reached(schema.digest)


def test_plan_prune_on_a_real_repository(ctx: Context, registry: Any) -> None:
    ref = Reference.parse(f"{registry.host}/r{uuid.uuid4().hex[:8]}/app")
    repo = ctx.repository(ref)
    release = push_release(repo, "v1", TWO)
    orphans = push_orphans(repo, "v2", TWO)
    plan = plan_prune(ref, ctx, candidates=[*orphans.digests, release.images[0].digest])
    assert set(plan.delete) == orphans.digests
    assert plan.delete[0] == orphans.index.digest
    assert [k.routes[0].tag for k in plan.kept] == ["v1"]


@pytest.mark.parametrize(
    ("method", "part"),
    [("HEAD", "/manifests/t"), ("GET", "/manifests/sha256:")],
    ids=["tags", "manifests"],
)
def test_the_walk_reads_several_tags_and_manifests_at_once(
    ctx: Context, registry: Any, method: str, part: str
) -> None:
    # A registry names no tag's digest in its tag list: one HEAD per tag (10,000 tags one
    # after the other took 28 s, bench/release.py), then the manifests they reach, level by
    # level. The proxy holds the first of each until a second arrives (support/overlap.py).
    ref = Reference.parse(f"{registry.host}/r{uuid.uuid4().hex[:8]}/app")
    repo = ctx.repository(ref)
    for n in range(3):
        push_release(repo, f"t{n}", TWO)
    overlap = Overlap(method, part)
    with FaultProxy(registry.host, force=overlap) as proxy, Context() as proxied:
        through = proxied.repository(Reference.parse(str(ref).replace(registry.host, proxy.host)))
        reach = walk(through)
    assert reach.complete, reach.problems
    assert sorted(reach.roots) == ["t0", "t1", "t2"]
    assert overlap.first.is_set(), f"the walk sent no {method} {part}"
    assert overlap.overlapped, f"the walk read one {method} {part} at a time ({proxy.log})"
