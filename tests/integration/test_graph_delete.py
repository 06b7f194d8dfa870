"""Issue 24, kind 1: a manifest is part of a graph; one command must not break a release.

Untagged manifests are children of tagged indexes, members of nested indexes, subjects
and referrers of signatures and SBOMs. Deleting one because "no tag points at it" breaks
every pull of the release (snok/container-retention-policy#97,
vlaurin/action-ghcr-prune#76, distribution/distribution#3178). Against the real registry:
``delete`` names every tag that reaches a manifest (through indexes, nested indexes and
referrers) and refuses unless ``--force``; ``verify``'s pull check fails when the child a
host would pull is gone; ``prune`` deletes only what no tag reaches.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from polyarch import Context, Reference
from support.cli import assert_one_line_error, run_cli
from support.graphs import push_bundle_release, push_orphans, push_release, push_sbom
from support.images import push_image

pytestmark = pytest.mark.integration

TWO = ["linux/amd64", "linux/arm64"]


def _repo(registry: Any, name: str = "app") -> Reference:
    return Reference.parse(f"{registry.host}/g{uuid.uuid4().hex[:8]}/{name}")


def _at(repo: Reference, digest: object) -> str:
    return f"{repo}@{digest}"


def _present(ctx: Context, repo: Reference, digest: object) -> bool:
    return ctx.repository(repo).head_manifest(str(digest)) is not None


# delete ------------------------------------------------------------------------------


def test_delete_dry_run_names_the_tagged_index_that_reaches_a_child(
    ctx: Context, registry: Any
) -> None:
    """The issue's instance: ``app:v1`` is an index over two images pushed by digest."""
    repo = _repo(registry)
    release = push_release(ctx.repository(repo), "v1", TWO)
    amd64 = release.images[0].digest
    out = run_cli("delete", "--dry-run", _at(repo, amd64))
    assert out.code == 0, out.err
    assert "no tag points at it" not in out.err
    assert "v1" in out.err and release.index.digest.short in out.err, out.err
    plan = run_cli("delete", "--dry-run", "--json", _at(repo, amd64)).json()
    reached = plan["reachedBy"]
    assert [r["tag"] for r in reached] == ["v1"], plan
    assert reached[0]["path"] == [str(release.index.digest), str(amd64)], plan


def test_delete_of_a_reached_child_is_refused_unless_forced(ctx: Context, registry: Any) -> None:
    repo = _repo(registry)
    release = push_release(ctx.repository(repo), "v1", TWO)
    amd64 = release.images[0].digest
    refused = run_cli("delete", "--yes", _at(repo, amd64))
    assert_one_line_error(refused, 2, "v1", "--force")
    assert _present(ctx, repo, amd64), "a refused delete deleted the child"
    assert run_cli("verify", str(repo.with_tag("v1"))).code == 0
    forced = run_cli("delete", "--yes", "--force", "--json", _at(repo, amd64))
    assert forced.code == 0, forced.err
    assert forced.json()["deleted"] is True
    assert not _present(ctx, repo, amd64)


def test_delete_names_the_tag_through_a_nested_index(ctx: Context, registry: Any) -> None:
    """A bundle: ``b1`` -> top index -> inner index (untagged) -> images (untagged)."""
    repo = _repo(registry)
    bundle = push_bundle_release(ctx.repository(repo), "b1")
    assert bundle.inner is not None
    image = bundle.images[1].digest
    plan = run_cli("delete", "--dry-run", "--json", _at(repo, image)).json()
    assert plan["reachedBy"] == [
        {
            "tag": "b1",
            "digest": str(bundle.index.digest),
            "path": [str(bundle.index.digest), str(bundle.inner.digest), str(image)],
        }
    ], plan
    refused = run_cli("delete", "--yes", _at(repo, bundle.inner.digest))
    assert_one_line_error(refused, 2, "b1")
    assert _present(ctx, repo, bundle.inner.digest)


def test_delete_of_a_referrer_of_a_released_image_names_the_release(
    ctx: Context, registry: Any
) -> None:
    """An SBOM attached to a released image (oras attach: subject + tag schema index)."""
    repo = _repo(registry)
    release = push_release(ctx.repository(repo), "v1", TWO)
    sbom = push_sbom(ctx.repository(repo), release.images[0].manifest)
    plan = run_cli("delete", "--dry-run", "--json", _at(repo, sbom.digest)).json()
    # The tag schema tag lists the SBOM but is no release tag: only v1 keeps it.
    assert plan["reachedBy"] == [
        {
            "tag": "v1",
            "digest": str(release.index.digest),
            "path": [
                str(release.index.digest),
                str(release.images[0].digest),
                str(sbom.digest),
            ],
        }
    ], plan
    refused = run_cli("delete", "--yes", _at(repo, sbom.digest))
    assert_one_line_error(refused, 2, "v1")


def test_delete_of_an_unreached_manifest_needs_no_force(ctx: Context, registry: Any) -> None:
    """The kind's other side: nothing reaches an orphan, so it goes without ``--force``."""
    repo = _repo(registry)
    orphans = push_orphans(ctx.repository(repo), "v1", TWO)
    out = run_cli("delete", "--yes", "--json", _at(repo, orphans.index.digest))
    assert out.code == 0, out.err
    assert out.json()["reachedBy"] == []
    assert not _present(ctx, repo, orphans.index.digest)


def test_delete_of_a_tagged_index_says_which_children_become_unreached(
    ctx: Context, registry: Any
) -> None:
    """Deleting ``v1`` itself is what the user asked for; the plan says what it leaves."""
    repo = _repo(registry)
    release = push_release(ctx.repository(repo), "v1", TWO)
    plan = run_cli("delete", "--dry-run", "--json", _at(repo, release.index.digest)).json()
    assert plan["tags"] == ["v1"]
    assert sorted(plan["childrenUnreached"]) == sorted(str(i.digest) for i in release.images)


# verify -------------------------------------------------------------------------------


def test_verify_pull_fails_when_the_child_a_host_pulls_is_missing(
    ctx: Context, registry: Any
) -> None:
    repo = _repo(registry)
    release = push_release(ctx.repository(repo), "v1", TWO)
    ctx.repository(repo).delete_manifest(release.images[0].digest)
    out = run_cli("verify", "--json", str(repo.with_tag("v1")))
    assert out.code == 1, out.err
    pulls = [c for c in out.json()["checks"] if c["check"] == "pull"]
    amd64 = [c for c in pulls if c.get("platform") == "linux/amd64"]
    assert amd64 and all(c["status"] == "fail" for c in amd64), pulls
    assert any("missing" in c["message"] for c in amd64), amd64


# prune --------------------------------------------------------------------------------


def test_prune_dry_run_counts_exactly_what_no_tag_reaches(ctx: Context, registry: Any) -> None:
    repo = _repo(registry)
    storage = ctx.repository(repo)
    release = push_release(storage, "v1", TWO)
    bundle = push_bundle_release(storage, "b1")
    sbom = push_sbom(storage, release.images[1].manifest)
    orphans = push_orphans(storage, "v2", TWO)
    loose = push_image(storage, "linux/s390x", payload=b"pushed by digest, never tagged\n")
    candidates = [
        str(d)
        for d in (
            *orphans.digests,
            loose.digest,
            release.images[0].digest,
            sbom.digest,
            bundle.images[0].digest,
        )
    ]
    out = run_cli(
        "prune", "--dry-run", "--json", str(repo), *(f"--candidate={c}" for c in candidates)
    )
    assert out.code == 0, out.err
    plan = out.json()
    assert plan["schema"] == "polyarch.prune/v1"
    assert sorted(plan["delete"]) == sorted(str(d) for d in (*orphans.digests, loose.digest))
    kept = {k["digest"]: k for k in plan["kept"]}
    assert kept[str(release.images[0].digest)]["reachedBy"][0]["tag"] == "v1"
    assert str(sbom.digest) in kept and str(bundle.images[0].digest) in kept
    assert plan["deleted"] == 0
    for d in orphans.digests:
        assert _present(ctx, repo, d), "a dry run deleted"


def test_prune_deletes_the_unreached_and_the_release_still_verifies(
    ctx: Context, registry: Any
) -> None:
    repo = _repo(registry)
    storage = ctx.repository(repo)
    push_release(storage, "v1", TWO)
    orphans = push_orphans(storage, "v2", TWO)
    args = [f"--candidate={d}" for d in orphans.digests]
    out = run_cli("prune", "--yes", "--json", str(repo), *args)
    assert out.code == 0, out.err
    assert out.json()["deleted"] == len(orphans.digests)
    assert not any(_present(ctx, repo, d) for d in orphans.digests)
    for tag in ("v1", "v2"):
        assert run_cli("verify", str(repo.with_tag(tag))).code == 0


def test_prune_keeps_untagged_manifests_newer_than_asked(ctx: Context, registry: Any) -> None:
    """Fixtures are created "2026-01-01"; a window reaching back before that keeps them."""
    repo = _repo(registry)
    orphans = push_orphans(ctx.repository(repo), "v1", TWO)
    args = [f"--candidate={d}" for d in orphans.digests]
    out = run_cli(
        "prune", "--dry-run", "--json", "--keep-untagged-newer-than", "36500d", str(repo), *args
    )
    assert out.code == 0, out.err
    assert out.json()["delete"] == []


def test_prune_takes_the_untagged_digests_a_vendor_lists(
    ctx: Context, registry: Any, tmp_path: Any
) -> None:
    """A registry cannot list its manifests: the digests come from the vendor's own API, as
    ``aws ecr list-images --output text`` (tab-separated, on stdin) and ``gh api --jq`` (one
    per line, in a file) print them; only what no tag reaches goes."""
    repo = _repo(registry)
    storage = ctx.repository(repo)
    release = push_release(storage, "v1", TWO)
    orphans = push_orphans(storage, "v2", TWO)
    untagged = [*sorted(orphans.digests, key=str), release.images[0].digest]
    listing = tmp_path / "untagged.txt"
    listing.write_text("# gh api ... --jq\n" + "".join(f"{d}\n" for d in untagged))
    plan = run_cli("prune", "--dry-run", "--json", "--candidates", str(listing), str(repo))
    assert plan.code == 0, plan.err
    assert sorted(plan.json()["delete"]) == sorted(str(d) for d in orphans.digests)
    ecr = "\t".join(str(d) for d in untagged) + "\n"
    out = run_cli("prune", "--yes", "--json", "--candidates", "-", str(repo), stdin=ecr)
    assert out.code == 0, out.err
    assert out.json()["deleted"] == len(orphans.digests)
    assert _present(ctx, repo, release.images[0].digest)
    assert run_cli("verify", str(repo.with_tag("v1"))).code == 0
    bad = run_cli("prune", "--dry-run", "--candidates", "-", str(repo), stdin="v1\n")
    assert_one_line_error(bad, 2, "line 1", "--candidates")


def test_prune_of_a_layout_keeps_what_its_entries_reach(
    ctx: Context, registry: Any, tmp_path: Any
) -> None:
    """A layout lists every manifest: a copied release is kept whole, a superseded one goes."""
    repo = _repo(registry)
    storage = ctx.repository(repo)
    push_release(storage, "v1", TWO, seed="old ")
    layout = tmp_path / "out"
    assert run_cli("copy", str(repo.with_tag("v1")), f"oci:{layout}:v1").code == 0
    push_release(storage, "v1", TWO, seed="new ")
    assert run_cli("copy", str(repo.with_tag("v1")), f"oci:{layout}:v1").code == 0
    plan = run_cli("prune", "--dry-run", "--json", f"oci:{layout}").json()
    assert plan["everyManifestListed"] is True
    assert len(plan["delete"]) == 3  # the superseded index and its two images
    out = run_cli("prune", "--yes", f"oci:{layout}")
    assert out.code == 0, out.err
    assert run_cli("verify", f"oci:{layout}:v1").code == 0
    again = run_cli("prune", "--dry-run", "--json", f"oci:{layout}").json()
    assert again["delete"] == []
