"""Referrers travel with an image: real cosign signatures and oras SBOMs, real registries.

The release a pipeline publishes: an index signed with ``cosign sign --recursive`` (the
index and both platform images, cosign's tag scheme), an SPDX SBOM attached to the amd64
image with ``oras attach`` (OCI 1.1 ``subject``; distribution 2.8 has no referrers API,
so oras writes the referrers tag schema index) and that SBOM signed too (a referrer of a
referrer). Copied to another repository, to another registry, and re-created there by
``create``, it must verify with ``cosign verify`` and show its SBOM with ``oras
discover`` at every destination.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Index, LayoutRepository, Reference
from support.cli import assert_one_line_error, run_cli
from support.images import PushedImage, push_index
from support.referrers_api import ReferrersFront
from support.require import missing
from support.sigtools import SigTools, find_tools

pytestmark = pytest.mark.integration

SPDX = "application/spdx+json"
SIG = "application/vnd.dev.cosign.simplesigning.v1+json"


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> SigTools:
    """cosign and oras with a fresh key pair (installed by scripts/debian.sh trixie if missing)."""
    bin_dir, reason = find_tools()
    if bin_dir is None:
        missing(reason)
    tools = SigTools(bin_dir, tmp_path_factory.mktemp("sigtools"))
    tools.generate_key_pair()
    return tools


@dataclass
class Release:
    """A signed index with an attached, signed SBOM in ``repo``."""

    repo: Reference
    index: Index
    images: list[PushedImage]
    sbom: str

    @property
    def ref(self) -> str:
        return str(self.repo.with_tag("v1"))

    def at(self, repo: str, digest: object) -> str:
        return f"{repo}@{digest}"


def _release(ctx: Context, registry: Any, tools: SigTools) -> Release:
    repo = Reference.parse(f"{registry.host}/r{uuid.uuid4().hex[:8]}/app")
    index, images = push_index(ctx.repository(repo), ["linux/amd64", "linux/arm64"], tag="v1")
    tools.sign(f"{repo}@{index.digest}", recursive=True)
    sbom = tools.attach_sbom(f"{repo}@{images[0].digest}", SPDX)
    tools.sign(f"{repo}@{sbom}", recursive=False)
    return Release(repo, index, images, sbom)


@pytest.fixture(scope="module")
def release(registry: Any, tools: SigTools) -> Iterator[Release]:
    with Context() as ctx:
        yield _release(ctx, registry, tools)


def _assert_travelled(tools: SigTools, repo: str, release: Release, *, index: bool) -> None:
    """cosign verifies every signed manifest at ``repo``; oras finds the SBOM."""
    digests = [str(i.digest) for i in release.images] + [release.sbom]
    if index:
        digests.append(str(release.index.digest))
    for digest in digests:
        proc = tools.verify(f"{repo}@{digest}")
        assert proc.returncode == 0, (repo, digest, proc.stderr)
    found = tools.discover(f"{repo}@{release.images[0].digest}")
    assert [(r["digest"], r["artifactType"]) for r in found] == [(release.sbom, SPDX)]


def test_the_release_is_signed_at_its_source(tools: SigTools, release: Release) -> None:
    _assert_travelled(tools, str(release.repo), release, index=True)


def test_copy_carries_signatures_and_sbom_to_another_repository(
    tools: SigTools, release: Release, registry: Any
) -> None:
    dest = f"{registry.host}/r{uuid.uuid4().hex[:8]}/promoted"
    cli = run_cli("copy", "--json", release.ref, f"{dest}:v1")
    assert cli.code == 0, cli.err
    out = cli.json()
    assert out["digest"] == str(release.index.digest)
    carried = {(r["digest"], r["form"], r["listedBy"]) for r in out["referrers"]}
    assert (release.sbom, "subject", "tag-schema") in carried
    # index + 2 images + the SBOM, signed with cosign's tag scheme
    assert sum(r["form"] == "cosign" for r in out["referrers"]) == 4
    _assert_travelled(tools, dest, release, index=True)


def test_copy_carries_them_to_another_registry(
    tools: SigTools, release: Release, registry2: Any
) -> None:
    dest = f"{registry2.host}/prod/r{uuid.uuid4().hex[:8]}"
    cli = run_cli("copy", release.ref, f"{dest}:v1")
    assert cli.code == 0, cli.err
    assert "referrers: 5 (5 written)" in cli.out
    _assert_travelled(tools, dest, release, index=True)
    # Copying again writes nothing new and keeps the tag schema index as it is.
    again = run_cli("copy", "--json", release.ref, f"{dest}:v1")
    assert again.code == 0, again.err
    assert {r["status"] for r in again.json()["referrers"]} == {"present"}


def test_create_carries_the_referrers_of_each_source_image(
    tools: SigTools, release: Release, registry2: Any
) -> None:
    dest = f"{registry2.host}/created/r{uuid.uuid4().hex[:8]}"
    sources = [f"{release.repo}@{i.digest}" for i in release.images]
    plan = run_cli("create", "--dry-run", "--json", "-t", f"{dest}:v1", *sources)
    assert plan.code == 0, plan.err
    planned = plan.json()["targets"][0]["referrers"]
    assert {r["status"] for r in planned} == {"would-push"}
    # two image signatures, the SBOM, the SBOM's signature
    assert len(planned) == 4, planned
    cli = run_cli("create", "--json", "-t", f"{dest}:v1", *sources)
    assert cli.code == 0, cli.err
    assert len(cli.json()["targets"][0]["referrers"]) == 4
    _assert_travelled(tools, dest, release, index=False)


def test_without_referrers_the_copy_loses_them(
    tools: SigTools, release: Release, registry2: Any
) -> None:
    """The issue's failure, kept as the control: --no-referrers is what copy used to do."""
    dest = f"{registry2.host}/bare/r{uuid.uuid4().hex[:8]}"
    cli = run_cli("copy", "--no-referrers", "--json", release.ref, f"{dest}:v1")
    assert cli.code == 0, cli.err
    assert cli.json()["referrers"] == []
    proc = tools.verify(f"{dest}@{release.index.digest}")
    assert proc.returncode != 0
    assert "no signatures found" in proc.stderr.lower() or "no matching" in proc.stderr.lower()


def test_inspect_lists_referrers_recursively(release: Release) -> None:
    cli = run_cli("inspect", "--referrers", "--json", release.ref)
    assert cli.code == 0, cli.err
    tree = cli.json()["referrers"]
    assert set(tree) == {str(release.index.digest), *(str(i.digest) for i in release.images)}
    amd64 = tree[str(release.images[0].digest)]
    sbom = next(r for r in amd64 if r["digest"] == release.sbom)
    assert sbom["form"] == "subject" and sbom["artifactType"] == SPDX
    assert [r["form"] for r in sbom["referrers"]] == ["cosign"]  # the SBOM's signature
    assert [r["artifactType"] for r in tree[str(release.index.digest)]] == [SIG]
    human = run_cli("inspect", "--referrers", release.ref)
    assert human.code == 0, human.err
    assert "REFERRERS" in human.out and release.sbom in human.out


def test_verify_requires_referrers(release: Release) -> None:
    ok = run_cli(
        "verify",
        "--json",
        release.ref,
        "--require-referrer",
        SIG,
        "--require-referrer",
        f"index:{SIG}",
    )
    assert ok.code == 0, ok.out
    lines = [c for c in ok.json()["checks"] if c["check"] == "referrers"]
    assert [c["status"] for c in lines] == ["pass"] * 3
    # The SBOM is on amd64 only: arm64 fails, by name.
    bad = run_cli("verify", "--json", release.ref, "--require-referrer", SPDX)
    assert bad.code == 1
    lines = [c for c in bad.json()["checks"] if c["check"] == "referrers"]
    assert {c["platform"]: c["status"] for c in lines} == {
        "linux/amd64": "pass",
        "linux/arm64": "fail",
    }


def test_copy_into_a_layout_keeps_the_sbom(tmp_path: Path, release: Release) -> None:
    dest = f"oci:{tmp_path / 'layout'}:v1"
    cli = run_cli("copy", "--json", release.ref, dest)
    assert cli.code == 0, cli.err
    again = run_cli("inspect", "--referrers", "--json", dest)
    assert again.code == 0, again.err
    amd64 = again.json()["referrers"][str(release.images[0].digest)]
    assert release.sbom in [r["digest"] for r in amd64]


# The referrers API path: a loopback front implementing it per the spec, before a real
# registry (distribution 2.8 lacks it). ---------------------------------------------------


@pytest.fixture(scope="module")
def api_registry(registry2: Any) -> Iterator[ReferrersFront]:
    front = ReferrersFront(registry2.url, page_size=1).start()
    try:
        yield front
    finally:
        front.stop()


def test_copy_to_a_registry_with_the_api_pushes_with_subject_and_no_tag(
    tools: SigTools, release: Release, api_registry: ReferrersFront, ctx: Context
) -> None:
    dest = f"{api_registry.host}/api/r{uuid.uuid4().hex[:8]}"
    cli = run_cli("copy", "--json", release.ref, f"{dest}:v1")
    assert cli.code == 0, cli.err
    listed = {r["digest"]: r["listedBy"] for r in cli.json()["referrers"]}
    assert listed[release.sbom] == "api"
    # The registry lists it itself: no referrers tag schema index was written.
    tags = ctx.repository(Reference.parse(dest)).list_tags()
    assert f"sha256-{str(release.images[0].digest)[7:]}" not in tags
    # Real clients find it through the API, and the signatures verify.
    found = tools.run(
        "oras",
        "discover",
        "--plain-http",
        "--distribution-spec",
        "v1.1-referrers-api",
        "--format",
        "json",
        f"{dest}@{release.images[0].digest}",
    )
    assert release.sbom in found.stdout
    _assert_travelled(tools, dest, release, index=True)
    # And polyarch reads them back through the API (paginated: one entry a page).
    shown = run_cli("inspect", "--referrers", "--json", f"{dest}:v1")
    amd64 = shown.json()["referrers"][str(release.images[0].digest)]
    assert [r["digest"] for r in amd64 if r["form"] == "subject"] == [release.sbom]


def _attach(ctx: Context, repo: Reference, subject: PushedImage, artifact_type: str, n: int) -> str:
    """An OCI 1.1 artifact manifest (empty config, one layer) whose subject is ``subject``."""
    from polyarch.domain import mediatype as mt
    from polyarch.domain.manifest import parse_manifest
    from support.images import push_blob

    store = ctx.repository(repo)
    empty = push_blob(store, mt.OCI_EMPTY, b"{}")
    layer = push_blob(store, "application/octet-stream", f"{artifact_type} {n}".encode())
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": empty.to_json(),
        "layers": [layer.to_json()],
        "subject": subject.manifest.descriptor().to_json(),
    }
    manifest = parse_manifest(json.dumps(doc).encode(), mt.OCI_MANIFEST)
    store.put_manifest(manifest)
    return str(manifest.digest)


@pytest.mark.parametrize("server_filters", [True, False], ids=["filtered", "unfiltered"])
def test_api_listing_follows_pages_and_filters(
    ctx: Context, registry2: Any, server_filters: bool
) -> None:
    """``Link`` pages are followed; ``artifactType`` holds whether or not the server filters."""
    front = ReferrersFront(registry2.url, page_size=2, apply_filters=server_filters).start()
    try:
        repo = Reference.parse(f"{front.host}/pages/r{uuid.uuid4().hex[:8]}")
        index, images = push_index(ctx.repository(repo), ["linux/amd64"], tag="v1")
        kinds = [
            "application/a",
            "application/b",
            "application/a",
            "application/c",
            "application/a",
        ]
        made = [_attach(ctx, repo, images[0], k, n) for n, k in enumerate(kinds)]
        store = ctx.repository(repo)
        assert store.referrers_api()
        everything = store.list_referrers(images[0].digest)
        assert [str(d.digest) for d in everything] == made
        assert len(front.requests) >= 3  # five entries, two a page
        only_a = store.list_referrers(images[0].digest, "application/a")
        assert [str(d.digest) for d in only_a] == [made[0], made[2], made[4]]
        assert store.list_referrers(index.digest) == []
    finally:
        front.stop()


def test_an_sbom_oras_attached_in_a_layout_travels_to_a_registry(
    tools: SigTools, tmp_path: Path, registry2: Any
) -> None:
    """``oras attach --oci-layout`` lists the SBOM in index.json (no tag): it is found there."""
    layout = tmp_path / "layout"
    _, images = push_index(LayoutRepository(layout), ["linux/amd64", "linux/arm64"], tag="v1")
    (tools.home / "layout-sbom.json").write_text('{"spdxVersion":"SPDX-2.3"}')
    attached = tools.run(
        "oras",
        "attach",
        "--oci-layout",
        "--artifact-type",
        SPDX,
        "--format",
        "json",
        f"{layout}@{images[0].digest}",
        f"layout-sbom.json:{SPDX}",
    )
    sbom = json.loads(attached.stdout)["digest"]
    dest = f"{registry2.host}/fromlayout/r{uuid.uuid4().hex[:8]}"
    cli = run_cli("copy", "--json", f"oci:{layout}:v1", f"{dest}:v1")
    assert cli.code == 0, cli.err
    assert [(r["digest"], r["listedBy"]) for r in cli.json()["referrers"]] == [(sbom, "tag-schema")]
    found = tools.discover(f"{dest}@{images[0].digest}")
    assert [(r["digest"], r["artifactType"]) for r in found] == [(sbom, SPDX)]


def test_referrers_only_the_api_lists_reach_a_registry_without_it(
    tools: SigTools, ctx: Context, api_registry: ReferrersFront, registry: Any
) -> None:
    """oras attaches through the API (no tag written); the copy finds it there, writes the tag."""
    source = Reference.parse(f"{api_registry.host}/api-src/r{uuid.uuid4().hex[:8]}")
    _, images = push_index(ctx.repository(source), ["linux/amd64", "linux/arm64"], tag="v1")
    sbom = tools.attach_sbom(f"{source}@{images[1].digest}", SPDX)
    assert f"sha256-{str(images[1].digest)[7:]}" not in ctx.repository(source).list_tags()
    dest = f"{registry.host}/from-api/r{uuid.uuid4().hex[:8]}"
    cli = run_cli("copy", "--json", str(source.with_tag("v1")), f"{dest}:v1")
    assert cli.code == 0, cli.err
    assert [(r["digest"], r["listedBy"]) for r in cli.json()["referrers"]] == [(sbom, "tag-schema")]
    found = tools.discover(f"{dest}@{images[1].digest}")
    assert [(r["digest"], r["artifactType"]) for r in found] == [(sbom, SPDX)]


def test_require_referrer_without_a_type_is_bad_usage() -> None:
    result = run_cli("verify", "127.0.0.1:9/app:v1", "--require-referrer", "index:")
    assert_one_line_error(result, 2, "--require-referrer", "artifact type")


def test_a_registry_answering_405_is_treated_as_having_no_api(
    tools: SigTools, release: Release, registry2: Any
) -> None:
    """Not the spec's 404, but still no API: the tag schema is written and read."""
    front = ReferrersFront(registry2.url, unsupported_status=405).start()
    try:
        name = f"quirky/r{uuid.uuid4().hex[:8]}"
        cli = run_cli("copy", "--json", release.ref, f"{front.host}/{name}:v1")
        assert cli.code == 0, cli.err
        listed = {r["digest"]: r["listedBy"] for r in cli.json()["referrers"]}
        assert listed[release.sbom] == "tag-schema"
        assert front.requests  # the API was asked first
        shown = run_cli("inspect", "--referrers", "--json", f"{front.host}/{name}:v1")
        amd64 = shown.json()["referrers"][str(release.images[0].digest)]
        assert release.sbom in [r["digest"] for r in amd64]
        found = tools.discover(f"{registry2.host}/{name}@{release.images[0].digest}")
        assert [r["digest"] for r in found] == [release.sbom]
    finally:
        front.stop()
