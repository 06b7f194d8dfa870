"""Issue 24, kind 5: edits keep what they do not change, the index's media type included.

``create --append`` onto a Docker manifest list, without ``--format``, published an OCI
index and said only "unchanged/added". An edit keeps the existing media type when every
child fits it; a conversion happens only when asked (``--format``) or when a child does
not fit, and then it is named in the plan and in ``--json`` (``conversion``). The same
holds for every verb that rewrites an index without being asked to change its format
(``copy --platform``: a sub-index of a Docker list is a Docker list). Real registry.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.domain import mediatype as mt
from support.cli import run_cli
from support.graphs import push_release
from support.images import push_image

pytestmark = pytest.mark.integration


def _repo(registry: Any) -> Reference:
    return Reference.parse(f"{registry.host}/f{uuid.uuid4().hex[:8]}/app")


def _media_type(ctx: Context, ref: Reference) -> str:
    return ctx.repository(ref).get_manifest(ref.identifier).media_type


def test_append_to_a_docker_list_keeps_a_docker_list(ctx: Context, registry: Any) -> None:
    """The issue's instance."""
    repo = _repo(registry)
    push_release(ctx.repository(repo), "v1", ["linux/amd64"], docker=True)
    push_image(ctx.repository(repo), "linux/arm64", tag="arm64", docker=True)
    out = run_cli(
        "create", "--json", "--append", "-t", str(repo.with_tag("v1")), str(repo.with_tag("arm64"))
    )
    assert out.code == 0, out.err
    assert out.json()["mediaType"] == mt.DOCKER_MANIFEST_LIST
    assert out.json()["conversion"] is None
    assert _media_type(ctx, repo.with_tag("v1")) == mt.DOCKER_MANIFEST_LIST


def test_append_of_an_oci_child_to_a_docker_list_names_the_conversion(
    ctx: Context, registry: Any
) -> None:
    """A child that does not fit a Docker list: converted, and the plan says so."""
    repo = _repo(registry)
    push_release(ctx.repository(repo), "v1", ["linux/amd64"], docker=True)
    push_image(ctx.repository(repo), "linux/arm64", tag="arm64")  # an OCI manifest
    args = ["--append", "-t", str(repo.with_tag("v1")), str(repo.with_tag("arm64"))]
    plan = run_cli("create", "--dry-run", *args)
    assert plan.code == 0, plan.err
    assert "Docker manifest list" in plan.out and "OCI image index" in plan.out, plan.out
    out = run_cli("create", "--json", *args)
    assert out.code == 0, out.err
    assert out.json()["conversion"] == {
        "from": mt.DOCKER_MANIFEST_LIST,
        "to": mt.OCI_INDEX,
        "because": str(repo.with_tag("arm64")),
    }


def test_append_with_an_explicit_format_converts_and_says_so(ctx: Context, registry: Any) -> None:
    repo = _repo(registry)
    push_release(ctx.repository(repo), "v1", ["linux/amd64"], docker=True)
    push_image(ctx.repository(repo), "linux/arm64", tag="arm64", docker=True)
    out = run_cli(
        "create", "--json", "--append", "--format", "oci",
        "-t", str(repo.with_tag("v1")), str(repo.with_tag("arm64")),
    )  # fmt: skip
    assert out.code == 0, out.err
    assert out.json()["mediaType"] == mt.OCI_INDEX
    assert out.json()["conversion"]["to"] == mt.OCI_INDEX


def test_append_to_an_oci_index_keeps_an_oci_index(ctx: Context, registry: Any) -> None:
    """The kind's other side: OCI stays OCI, even when every child is a Docker manifest."""
    repo = _repo(registry)
    push_release(ctx.repository(repo), "v1", ["linux/amd64"], docker=False)
    push_image(ctx.repository(repo), "linux/arm64", tag="arm64", docker=True)
    out = run_cli(
        "create", "--json", "--append", "-t", str(repo.with_tag("v1")), str(repo.with_tag("arm64"))
    )
    assert out.code == 0, out.err
    assert _media_type(ctx, repo.with_tag("v1")) == mt.OCI_INDEX


def test_copy_of_some_platforms_of_a_docker_list_keeps_a_docker_list(
    ctx: Context, registry: Any
) -> None:
    repo = _repo(registry)
    push_release(ctx.repository(repo), "v1", ["linux/amd64", "linux/arm64"], docker=True)
    out = run_cli(
        "copy", "--platform", "linux/arm64", str(repo.with_tag("v1")), str(repo.with_tag("arm"))
    )
    assert out.code == 0, out.err
    assert _media_type(ctx, repo.with_tag("arm")) == mt.DOCKER_MANIFEST_LIST
