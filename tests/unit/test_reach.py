"""polyarch.content.reach: what the tags of a repository reach (issue 24, kind 1)."""

from __future__ import annotations

from polyarch.content.reach import is_referrer_tag, walk
from polyarch.storage.referrers_tag import referrers_tag
from support.memory_repo import MemoryRepository, image, index, sbom


def _release(repo: MemoryRepository, tag: str, seed: str = "") -> tuple:  # type: ignore[type-arg]
    amd64 = image(repo, "linux/amd64", seed=seed)
    arm64 = image(repo, "linux/arm64", seed=seed)
    return index(repo, [amd64, arm64], tag=tag), amd64, arm64


def test_children_of_a_tagged_index_are_reached() -> None:
    repo = MemoryRepository()
    top, amd64, arm64 = _release(repo, "v1")
    reach = walk(repo)
    assert reach.complete
    assert reach.reached == {top.digest, amd64.digest, arm64.digest}
    (route,) = reach.routes_to(amd64.digest)
    assert (route.tag, route.path, route.kinds) == ("v1", (top.digest, amd64.digest), ("child",))
    assert route.to_json() == {
        "tag": "v1",
        "digest": str(top.digest),
        "path": [str(top.digest), str(amd64.digest)],
    }


def test_nested_index_members_are_reached_through_the_inner_index() -> None:
    repo = MemoryRepository()
    amd64 = image(repo, "linux/amd64")
    inner = index(repo, [amd64])
    top = index(repo, [inner], tag="b1", annotations={"org.opencontainers.image.title": "b"})
    reach = walk(repo)
    (route,) = reach.routes_to(amd64.digest)
    assert route.path == (top.digest, inner.digest, amd64.digest)


def test_every_tag_that_reaches_a_manifest_has_its_shortest_route() -> None:
    repo = MemoryRepository()
    top, amd64, _ = _release(repo, "v1")
    repo.put_manifest(top, "latest")
    repo.put_manifest(amd64, "v1-amd64")
    routes = walk(repo).routes_to(amd64.digest)
    assert [(r.tag, len(r.path)) for r in routes] == [("latest", 2), ("v1", 2), ("v1-amd64", 1)]


def test_a_referrer_of_a_reached_image_is_reached_and_its_tag_is_no_root() -> None:
    repo = MemoryRepository()
    top, amd64, _ = _release(repo, "v1")
    doc = sbom(repo, amd64)
    reach = walk(repo)
    assert referrers_tag(amd64.digest) not in reach.roots
    (route,) = reach.routes_to(doc.digest)
    assert route.path == (top.digest, amd64.digest, doc.digest)
    assert route.kinds == ("child", "referrer")


def test_a_referrer_of_an_unreached_image_is_unreached() -> None:
    repo = MemoryRepository()
    orphan = image(repo, "linux/s390x")
    doc = sbom(repo, orphan)
    reach = walk(repo)
    assert not reach.is_reached(orphan.digest)
    assert not reach.is_reached(doc.digest)


def test_routes_to_excluding_the_manifest_itself() -> None:
    """Deleting ``v1``'s index removes ``v1``: what else reaches it?"""
    repo = MemoryRepository()
    top, _, _ = _release(repo, "v1")
    other = index(repo, [top], tag="bundle")
    reach = walk(repo)
    assert [r.tag for r in reach.routes_to(top.digest)] == ["bundle", "v1"]
    assert [r.tag for r in reach.routes_to(top.digest, excluding=[top.digest])] == ["bundle"]
    assert [r.tag for r in reach.routes_to(top.digest, excluding=[other.digest])] == ["v1"]


def test_reached_without_says_which_children_become_unreached() -> None:
    repo = MemoryRepository()
    top, amd64, arm64 = _release(repo, "v1")
    repo.put_manifest(arm64, "arm64")
    reach = walk(repo)
    left = reach.reached_without([top.digest])
    assert amd64.digest not in left and arm64.digest in left


def test_a_missing_child_is_reached_and_recorded() -> None:
    repo = MemoryRepository()
    _, amd64, _ = _release(repo, "v1")
    del repo.manifests[amd64.digest]
    reach = walk(repo)
    assert reach.complete
    assert reach.missing == {amd64.digest}
    assert reach.is_reached(amd64.digest)


def test_a_refused_tag_list_makes_the_walk_incomplete() -> None:
    repo = MemoryRepository(tags_listable=False)
    _release(repo, "v1")
    reach = walk(repo)
    assert not reach.complete
    assert "tag list" in reach.problems[0] and "cannot be read" in reach.problems[0]
    assert reach.reached == frozenset()


def test_each_manifest_is_read_once() -> None:
    repo = MemoryRepository()
    top, amd64, arm64 = _release(repo, "v1")
    index(repo, [amd64, arm64], tag="v1-again", annotations={"x": "y"})
    repo.reads.clear()
    walk(repo)
    for digest in (top.digest, amd64.digest, arm64.digest):
        assert repo.reads.count(str(digest)) == 1, digest


def test_referrer_tags_are_recognized() -> None:
    hexa = "a" * 64
    assert is_referrer_tag(f"sha256-{hexa}")
    assert is_referrer_tag(f"sha256-{hexa}.att")
    assert not is_referrer_tag(f"sha256-{hexa}.other")
    assert not is_referrer_tag("latest")
