"""polyarch.operations.prune: delete what no tag reaches, and nothing else (issue 24, kind 1).

The graph logic runs over :class:`support.memory_repo.MemoryRepository` (no sockets) and
over a real OCI layout on disk (the layout backend is the product's own code); the real
registry is tests/integration/test_graph_delete.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyarch import Context, InvalidInput, LayoutRepository, TransportSettings, Unsupported
from polyarch.operations.prune import PruneRefused, parse_duration, plan_prune, prune
from polyarch.storage.referrers_tag import referrers_tag
from support.layout_images import layout_image
from support.memory_repo import MemoryRepository, image, index, sbom

NOW = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


class MemoryContext(Context):
    """A Context whose every repository is one MemoryRepository."""

    def __init__(self, repo: MemoryRepository) -> None:
        super().__init__(TransportSettings())
        self.memory = repo

    def repository(self, ref: object) -> MemoryRepository:  # type: ignore[override]
        return self.memory


@pytest.fixture
def repo() -> MemoryRepository:
    return MemoryRepository("127.0.0.1:5000/app")


@pytest.fixture
def ctx(repo: MemoryRepository) -> Iterator[MemoryContext]:
    with MemoryContext(repo) as context:
        yield context


def _release(repo: MemoryRepository, tag: str, seed: str = "") -> list:  # type: ignore[type-arg]
    images = [image(repo, p, seed=seed) for p in ("linux/amd64", "linux/arm64")]
    return [index(repo, images, tag=tag), *images]


def test_only_unreached_candidates_are_deleted(repo: MemoryRepository, ctx: Context) -> None:
    release = _release(repo, "v1")
    old = _release(repo, "v2", seed="old")
    _release(repo, "v2", seed="new")  # v2 moved on: old is unreached
    candidates = [m.digest for m in (*release, *old)]
    plan = plan_prune("127.0.0.1:5000/app", ctx, candidates=candidates, now=NOW)
    assert set(plan.delete) == {m.digest for m in old}
    assert plan.delete[0] == old[0].digest  # the index before its children
    assert {k.digest for k in plan.kept} == {m.digest for m in release}
    assert all(k.reason == "reached" and k.routes[0].tag == "v1" for k in plan.kept)
    done = prune(plan, ctx)
    assert done.done and set(repo.deleted) == {m.digest for m in old}
    assert repo.deleted[0] == old[0].digest
    assert all(m.digest in repo.manifests for m in release)


def test_dangling_referrers_are_found_without_candidates(
    repo: MemoryRepository, ctx: Context
) -> None:
    """On a registry, referrer tags whose subject no tag reaches are the candidates found."""
    release = _release(repo, "v1")
    kept = sbom(repo, release[1])
    orphan = image(repo, "linux/s390x")
    gone = sbom(repo, orphan, text="of an orphan")
    plan = plan_prune("127.0.0.1:5000/app", ctx, now=NOW)
    schema_index = repo.tags[referrers_tag(orphan.digest)]
    assert set(plan.delete) == {schema_index, gone.digest}
    assert plan.delete[0] == schema_index  # the listing before what it lists
    assert kept.digest in {k.digest for k in plan.kept}


def test_keep_untagged_newer_than(repo: MemoryRepository, ctx: Context) -> None:
    young = image(repo, "linux/amd64", created="2026-12-06T00:00:00Z")
    old = image(repo, "linux/amd64", created="2026-01-01T00:00:00.123456789Z")
    wrapper = index(repo, [young])  # an index: its newest child's age
    plan = plan_prune(
        "127.0.0.1:5000/app",
        ctx,
        candidates=[young.digest, old.digest, wrapper.digest],
        keep_newer_than=parse_duration("7d"),
        now=NOW,
    )
    assert plan.delete == (old.digest,)
    assert {k.digest: k.reason for k in plan.kept} == {
        young.digest: "newer",
        wrapper.digest: "newer",
    }


def test_an_incomplete_walk_deletes_nothing_unless_forced(ctx: Context) -> None:
    repo = MemoryRepository("127.0.0.1:5000/app", tags_listable=False)
    orphan = image(repo, "linux/amd64")
    with MemoryContext(repo) as context:
        plan = plan_prune("127.0.0.1:5000/app", context, candidates=[orphan.digest], now=NOW)
        assert not plan.complete and plan.delete == (orphan.digest,)
        with pytest.raises(PruneRefused, match="cannot tell what the tags reach"):
            prune(plan, context)
        assert repo.deleted == []
        prune(plan, context, force=True)
    assert repo.deleted == [orphan.digest]


def test_deletes_disabled_say_so() -> None:
    repo = MemoryRepository("127.0.0.1:5000/app", deletes=False)
    orphan = image(repo, "linux/amd64")
    with MemoryContext(repo) as context:
        plan = plan_prune("127.0.0.1:5000/app", context, candidates=[orphan.digest], now=NOW)
        with pytest.raises(Unsupported, match="does not allow deletes"):
            prune(plan, context)


def test_json_schema(repo: MemoryRepository, ctx: Context) -> None:
    _release(repo, "v1")
    orphan = image(repo, "linux/s390x")
    out = plan_prune("127.0.0.1:5000/app", ctx, candidates=[orphan.digest], now=NOW).to_json()
    assert out["schema"] == "polyarch.prune/v1"
    assert out["delete"] == [str(orphan.digest)]
    assert (out["deleted"], out["dryRun"], out["complete"]) == (0, True, True)


@pytest.mark.parametrize("text", ["7", "d", "-1d", "1y", "1.5h", ""])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid duration"):
        parse_duration(text)


def test_a_repository_not_an_image(ctx: Context) -> None:
    with pytest.raises(InvalidInput, match="name a repository"):
        plan_prune("127.0.0.1:5000/app:v1", ctx)


def test_prune_an_oci_layout(tmp_path: Path) -> None:
    """A layout enumerates every manifest: untagged entries and loose manifest blobs."""
    layout = LayoutRepository(tmp_path / "out")
    tagged = layout_image(layout, b"tagged")
    layout.put_manifest(tagged, "v1")
    loose = layout_image(layout, b"loose")
    layout.put_manifest(loose)  # a blob only: no index.json entry
    with Context(TransportSettings()) as ctx:
        plan = plan_prune(f"oci:{tmp_path / 'out'}", ctx, now=NOW)
        assert plan.delete == (loose.digest,)
        assert [k.digest for k in plan.kept] == [tagged.digest]
        prune(plan, ctx)
    assert layout.head_manifest(str(loose.digest)) is None
    assert layout.head_manifest("v1") is not None
