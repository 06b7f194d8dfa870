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
from polyarch.content.reach import ReachUnknown
from polyarch.operations.prune import parse_candidates, parse_duration, plan_prune, prune
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
        with pytest.raises(ReachUnknown, match="cannot tell what the tags reach"):
            prune(plan, context)
        assert repo.deleted == []
        prune(plan, context, force=True)
    assert repo.deleted == [orphan.digest]


def test_deletes_disabled_say_so() -> None:
    repo = MemoryRepository("127.0.0.1:5000/app", deletes=False)
    orphan = image(repo, "linux/amd64")
    with MemoryContext(repo) as context:
        plan = plan_prune("127.0.0.1:5000/app", context, candidates=[orphan.digest], now=NOW)
        # The registry backend says why (tests/integration/test_strict_registries.py);
        # prune adds how many went before.
        with pytest.raises(Unsupported, match="0 of 1 deleted"):
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


def _add_entry(root: Path, manifest: object) -> None:
    """An unnamed index.json entry, as ``crane pull`` and ``oras attach --oci-layout`` add."""
    import json

    doc = json.loads((root / "index.json").read_text())
    m = manifest
    doc["manifests"].append(
        {"mediaType": m.media_type, "digest": str(m.digest), "size": m.size}  # type: ignore[attr-defined]
    )
    (root / "index.json").write_text(json.dumps(doc))


def _attached(layout: LayoutRepository, subject: object, text: bytes) -> object:
    """An artifact whose subject is ``subject``, stored by digest (oras attach)."""
    import json

    from polyarch.domain import mediatype as mt
    from polyarch.domain.descriptor import Descriptor
    from polyarch.domain.digest import Digest
    from polyarch.domain.manifest import parse_manifest

    empty = Descriptor(mt.OCI_EMPTY, Digest.of(b"{}"), 2)
    layout.put_blob_bytes(empty, b"{}")
    layer = Descriptor("application/spdx+json", Digest.of(text), len(text))
    layout.put_blob_bytes(layer, text)
    s = subject
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": empty.to_json(),
        "layers": [layer.to_json()],
        "subject": {"mediaType": s.media_type, "digest": str(s.digest), "size": s.size},  # type: ignore[attr-defined]
    }
    made = parse_manifest(json.dumps(doc).encode())
    layout.put_manifest(made)
    return made


def test_prune_keeps_unnamed_layout_entries_and_prunes_their_orphaned_referrers(
    tmp_path: Path,
) -> None:
    """crane pull and buildx write unnamed index.json entries: roots like tags. An oras
    referrer entry goes with its subject (referrers are no roots)."""
    root = tmp_path / "out"
    layout = LayoutRepository(root)
    named = layout_image(layout, b"named")
    layout.put_manifest(named, "v1")
    unnamed = layout_image(layout, b"crane pulled this")
    layout.put_manifest(unnamed)
    _add_entry(root, unnamed)
    kept_sbom = _attached(layout, unnamed, b"sbom of a held image")
    _add_entry(root, kept_sbom)
    gone = layout_image(layout, b"superseded")
    layout.put_manifest(gone)  # a manifest blob only: nothing names it
    orphan_sbom = _attached(layout, gone, b"sbom of a superseded image")
    _add_entry(root, orphan_sbom)
    with Context(TransportSettings()) as ctx:
        plan = plan_prune(f"oci:{root}", ctx, now=NOW)
    assert set(plan.delete) == {gone.digest, orphan_sbom.digest}  # type: ignore[attr-defined]
    assert plan.delete[0] == orphan_sbom.digest  # type: ignore[attr-defined]
    kept = {k.digest: k for k in plan.kept}
    assert kept[unnamed.digest].routes[0].tag is None
    assert kept_sbom.digest in kept  # type: ignore[attr-defined]
    assert plan.listed and plan.to_json()["everyManifestListed"] is True


def test_candidates_as_vendors_list_them() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    ecr = f"{a}\t{b}\n"  # aws ecr list-images --output text
    assert [str(d) for d in parse_candidates(ecr)] == [a, b]
    listed = f"# untagged\n{b}\n\n{a}\n{b}\n"  # gh api ... --jq: one per line
    assert [str(d) for d in parse_candidates(listed)] == [b, a]
    with pytest.raises(InvalidInput, match="line 2") as info:
        parse_candidates(f"{a}\nlatest\n", source="list.txt")
    assert info.value.parameter == "candidates"
