"""Issue 24, kind 2: what works on distribution 2.8 works on registries that refuse more.

The real registry (CNCF distribution 2.8) does the work; a loopback proxy
(:mod:`support.refusals`) answers what a stricter registry answers, byte for byte where
its source is public:

* distribution 3.1.0 with ``tags: maxtags: 100``: ``400 PAGINATION_NUMBER_INVALID`` for
  ``n`` over the cap (distribution/distribution#4844); polyarch asks ``n=1000``;
* immutable tags (ECR ``400 TAG_INVALID``, Harbor ``412 PRECONDITION``;
  aws/containers-roadmap#2179): a tag polyarch need not rewrite is not rewritten, and a
  refused rewrite says it is an immutable tag and what to do;
* a tag list refused (``403 DENIED``) while manifests are served;
* deletes disabled: the real registry itself with ``storage.delete.enabled: false``
  (``405 UNSUPPORTED``; tests/conftest.py's ``no_delete_registry``), no proxy.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from polyarch import Context, Reference
from support.cli import Result, assert_one_line_error, run_cli
from support.gateproxy import GateProxy, Rule
from support.graphs import push_orphans, push_release
from support.images import push_image
from support.refusals import immutable_tags, tag_list_refused, tag_page_cap

pytestmark = pytest.mark.integration

TWO = ["linux/amd64", "linux/arm64"]
#: polyarch.operations.create.parts.PART_TAG_PREFIX
PART_TAG_PREFIX = "polyarch-part-"


def _name() -> str:
    return f"s{uuid.uuid4().hex[:8]}/app"


def _through(proxy: GateProxy, name: str) -> Reference:
    return Reference.parse(f"{proxy.host}/{name}")


def _direct(registry: Any, name: str) -> Reference:
    return Reference.parse(f"{registry.host}/{name}")


def _proxy(registry: Any, rule: Rule) -> Iterator[GateProxy]:
    with GateProxy(registry.host, rule) as proxy:
        yield proxy


def _tags(ctx: Context, ref: Reference) -> list[str]:
    return sorted(ctx.repository(ref).list_tags())


# distribution 3.1: a capped tag page -----------------------------------------------------


@pytest.fixture
def capped(registry: Any) -> Iterator[GateProxy]:
    """distribution 3.1.0 with ``tags: maxtags: 100`` in front of the real registry."""
    yield from _proxy(registry, tag_page_cap(100))


@pytest.fixture(scope="module")
def many_tags(registry: Any) -> tuple[str, list[str]]:
    """A repository with 130 tags (more than one capped page) and a release ``v1``."""
    name = _name()
    with Context() as ctx:
        repo = ctx.repository(_direct(registry, name))
        image = push_image(repo, "linux/amd64", tag="amd64")
        tags = [f"t{i:03d}" for i in range(128)]
        for tag in tags:
            repo.put_manifest(image.manifest, tag)
        push_image(repo, "linux/arm64", tag="arm64")
    return name, sorted([*tags, "amd64", "arm64"])


def test_tags_on_a_registry_that_caps_the_page_size(
    capped: GateProxy, many_tags: tuple[str, list[str]]
) -> None:
    """The issue's instance: ``tags`` exits 1 on distribution 3.1's 400."""
    name, tags = many_tags
    out = run_cli("tags", "--json", str(_through(capped, name)))
    assert out.code == 0, out.err
    assert out.json()["tags"] == tags
    refused = [s for s in capped.seen if s.path.endswith("/tags/list") and s.params("n")]
    assert all(int(s.params("n")[0]) <= 100 for s in refused[1:]), "page size never adapted"


def test_tags_with_an_explicit_page_size_over_the_cap(
    capped: GateProxy, many_tags: tuple[str, list[str]]
) -> None:
    name, tags = many_tags
    out = run_cli("tags", "--json", "--page-size", "500", str(_through(capped, name)))
    assert out.code == 0, out.err
    assert out.json()["tags"] == tags


def test_delete_plan_on_a_registry_that_caps_the_page_size(
    capped: GateProxy, ctx: Context, many_tags: tuple[str, list[str]]
) -> None:
    name, _ = many_tags
    ref = _through(capped, name)
    digest = ctx.repository(ref).get_manifest("amd64").digest
    out = run_cli("delete", "--dry-run", "--json", f"{ref}@{digest}")
    assert out.code == 0, out.err
    assert len(out.json()["tags"]) == 129  # t000..t127 and amd64
    assert out.json()["tagsComplete"] is True


def test_create_append_on_a_registry_that_caps_the_page_size(
    capped: GateProxy, many_tags: tuple[str, list[str]]
) -> None:
    name, _ = many_tags
    ref = _through(capped, name)
    target = str(ref.with_tag(f"v{uuid.uuid4().hex[:6]}"))
    first = run_cli("create", "-t", target, str(ref.with_tag("amd64")))
    assert first.code == 0, first.err
    out = run_cli("create", "--append", "-t", target, str(ref.with_tag("arm64")))
    assert out.code == 0, out.err


# immutable tags -------------------------------------------------------------------------


@pytest.fixture(params=["ecr", "harbor"])
def immutable(request: pytest.FixtureRequest, registry: Any) -> Iterator[GateProxy]:
    """Every existing tag immutable, as ECR and Harbor refuse it."""
    yield from _proxy(registry, immutable_tags(registry.host, request.param))


def _tag_puts(proxy: GateProxy, tag: str) -> list[str]:
    return [s.path for s in proxy.seen if s.method == "PUT" and s.path.endswith(f"/{tag}")]


def test_create_of_an_unchanged_tag_does_not_rewrite_it(
    immutable: GateProxy, registry: Any, ctx: Context
) -> None:
    """Re-running a release job: the tag already holds exactly this index."""
    name = _name()
    direct = _direct(registry, name)
    for platform in TWO:
        push_image(ctx.repository(direct), platform, tag=platform.split("/")[1])
    ref = _through(immutable, name)
    sources = [str(ref.with_tag("amd64")), str(ref.with_tag("arm64"))]
    assert run_cli("create", "-t", str(ref.with_tag("v1")), *sources).code == 0
    immutable.seen.clear()
    again = run_cli("create", "--json", "-t", str(ref.with_tag("v1")), *sources)
    assert again.code == 0, again.err
    assert again.json()["targets"][0]["status"] == "unchanged"
    assert _tag_puts(immutable, "v1") == []


def test_copy_to_an_identical_tag_does_not_rewrite_it(
    immutable: GateProxy, registry: Any, ctx: Context
) -> None:
    name = _name()
    push_release(ctx.repository(_direct(registry, name)), "v1", TWO)
    ref = _through(immutable, name)
    first = run_cli("copy", str(ref.with_tag("v1")), str(ref.with_tag("stable")))
    assert first.code == 0, first.err
    immutable.seen.clear()
    again = run_cli("copy", str(ref.with_tag("v1")), str(ref.with_tag("stable")))
    assert again.code == 0, again.err
    assert _tag_puts(immutable, "stable") == []


def test_append_to_an_immutable_tag_says_so(
    immutable: GateProxy, registry: Any, ctx: Context
) -> None:
    """The tag must change and cannot: one line naming the tag as immutable, no leftovers."""
    name = _name()
    direct = _direct(registry, name)
    release = push_release(ctx.repository(direct), "v1", ["linux/amd64"])
    push_image(ctx.repository(direct), "linux/arm64", tag="arm64")
    ref = _through(immutable, name)
    out = run_cli("create", "--append", "-t", str(ref.with_tag("v1")), str(ref.with_tag("arm64")))
    assert_one_line_error(out, 1, "immutable", f"{ref.with_tag('v1')}")
    assert "new tag" in out.err, out.err  # what to do: publish under a tag that does not exist
    assert ctx.repository(direct).get_manifest("v1").digest == release.index.digest
    assert not [t for t in _tags(ctx, direct) if t.startswith(PART_TAG_PREFIX)]


def test_parallel_appends_to_a_new_immutable_tag(
    immutable: GateProxy, registry: Any, ctx: Context
) -> None:
    """The documented behaviour: the tag is written once; a writer whose entries it lacks
    fails saying the tag is immutable; none leaves part tags behind."""
    name = _name()
    direct = _direct(registry, name)
    for platform in TWO:
        push_image(ctx.repository(direct), platform, tag=platform.split("/")[1])
    ref = _through(immutable, name)
    target = str(ref.with_tag("v1"))
    results: dict[str, Result] = {}

    def job(arch: str) -> None:
        results[arch] = run_cli("create", "--append", "-t", target, str(ref.with_tag(arch)))

    threads = [threading.Thread(target=job, args=(a,)) for a in ("amd64", "arm64")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {"amd64", "arm64"}, results
    index = ctx.repository(direct).get_manifest("v1")
    assert hasattr(index, "manifests")
    held = {str(d.platform) for d in index.manifests}  # type: ignore[union-attr]
    for arch, result in results.items():
        if result.code == 0:
            assert f"linux/{arch}" in held, (arch, result.err)
        else:
            assert_one_line_error(result, 1, "immutable")
            assert f"linux/{arch}" not in held
    assert any(r.code == 0 for r in results.values())
    assert not [t for t in _tags(ctx, direct) if t.startswith(PART_TAG_PREFIX)]


# a refused tag list -----------------------------------------------------------------------


@pytest.fixture
def unlisted(registry: Any) -> Iterator[GateProxy]:
    """Tag lists answered ``403 DENIED``; manifests and blobs served."""
    yield from _proxy(registry, tag_list_refused(anonymous_only=False))


def test_delete_plan_when_the_tag_list_is_refused(
    unlisted: GateProxy, registry: Any, ctx: Context
) -> None:
    name = _name()
    release = push_release(ctx.repository(_direct(registry, name)), "v1", TWO)
    ref = _through(unlisted, name)
    child = f"{ref}@{release.images[0].digest}"
    plan = run_cli("delete", "--dry-run", "--json", child)
    assert plan.code == 0, plan.err
    assert plan.json()["tagsComplete"] is False
    # The lead's rule: a walk that cannot list the tags is a failed operation (exit 1).
    refused = run_cli("delete", "--yes", child)
    assert_one_line_error(refused, 1, "tag list", "--force")
    assert ctx.repository(_direct(registry, name)).head_manifest(release.images[0].digest)


def test_append_when_the_tag_list_is_refused(
    unlisted: GateProxy, registry: Any, ctx: Context
) -> None:
    name = _name()
    direct = _direct(registry, name)
    push_release(ctx.repository(direct), "v1", ["linux/amd64"])
    push_image(ctx.repository(direct), "linux/arm64", tag="arm64")
    ref = _through(unlisted, name)
    out = run_cli("create", "--append", "-t", str(ref.with_tag("v1")), str(ref.with_tag("arm64")))
    assert out.code == 0, out.err
    index = ctx.repository(direct).get_manifest("v1")
    assert len(index.manifests) == 2  # type: ignore[union-attr]


def test_tags_when_anonymous_listing_is_refused(registry: Any, ctx: Context) -> None:
    name = _name()
    push_release(ctx.repository(_direct(registry, name)), "v1", TWO)
    with GateProxy(registry.host, tag_list_refused(anonymous_only=True)) as proxy:
        ref = _through(proxy, name)
        out = run_cli("tags", str(ref), env={"DOCKER_CONFIG": "/nonexistent"})
        assert_one_line_error(out, 1, "tag", "log in")
        # Pulls by tag still work, so inspect and copy work.
        assert run_cli("inspect", str(ref.with_tag("v1"))).code == 0


# deletes disabled (the real registry, configured so) ---------------------------------------


def test_delete_on_a_registry_with_deletes_disabled(no_delete_registry: Any, ctx: Context) -> None:
    ref = _direct(no_delete_registry, _name())
    orphans = push_orphans(ctx.repository(ref), "v1", TWO)
    out = run_cli("delete", "--yes", f"{ref}@{orphans.index.digest}")
    assert_one_line_error(out, 1, "deletes", "disabled")


def test_prune_on_a_registry_with_deletes_disabled(no_delete_registry: Any, ctx: Context) -> None:
    """Refused before anything is deleted, saying why; the dry run still plans."""
    ref = _direct(no_delete_registry, _name())
    orphans = push_orphans(ctx.repository(ref), "v1", TWO)
    args = [f"--candidate={d}" for d in orphans.digests]
    plan = run_cli("prune", "--dry-run", "--json", str(ref), *args)
    assert plan.code == 0, plan.err
    assert len(plan.json()["delete"]) == len(orphans.digests)
    out = run_cli("prune", "--yes", str(ref), *args)
    assert_one_line_error(out, 1, "deletes", "disabled")
    assert all(ctx.repository(ref).head_manifest(d) for d in orphans.digests)
