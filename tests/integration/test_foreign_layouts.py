"""Issue 24, kind 6: layouts written by other tools.

skopeo names entries by full references (``oci:DIR:rancher/pause:3.6``), crane leaves them
untagged or names them by the whole reference (``--annotate-ref``), oras adds untagged
child entries, ``docker save`` (containerd store) lists platforms and attestations whose
blobs it never saved, and buildx ``--output type=oci`` writes one untagged index. polyarch
must list, address and copy what such a layout holds, and every message about a layout
must be true. skopeo, crane and oras are the real tools (:mod:`support.foreign_layouts`);
``docker save`` and buildx are byte-faithful imitations of the code that writes them.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.domain.manifest import build_index
from support.cli import assert_one_line_error, run_cli
from support.foreign_layouts import buildx_oci_layout, docker_save_layout, run_tool
from support.graphs import Release, push_release
from support.images import attestation_entry, push_attestation, push_image

pytestmark = pytest.mark.integration

TWO = ["linux/amd64", "linux/arm64"]


def _name() -> str:
    return f"l{uuid.uuid4().hex[:8]}/app"


@pytest.fixture
def release(registry: Any, ctx: Context) -> tuple[Reference, Release]:
    ref = Reference.parse(f"{registry.host}/{_name()}:v1")
    return ref, push_release(ctx.repository(ref), "v1", TWO)


def _attested(ctx: Context, ref: Reference, tag: str) -> None:
    """A BuildKit multi-platform index: two images and their provenance attestations."""
    repo = ctx.repository(ref)
    images = [push_image(repo, p, payload=f"attested {p}\n".encode()) for p in TWO]
    attestations = [push_attestation(repo, i.manifest) for i in images]
    entries = [i.manifest.descriptor(i.platform) for i in images]
    entries += [attestation_entry(a, i.digest) for a, i in zip(attestations, images, strict=True)]
    repo.put_manifest(build_index(entries), tag)


def _dest(registry2: Any) -> str:
    return f"{registry2.host}/{_name()}"


# skopeo: full references as names ---------------------------------------------------------


@pytest.fixture
def skopeo_layout(release: tuple[Reference, Release], tmp_path: Path) -> tuple[Path, Release]:
    """Two images named ``rancher/pause:3.6`` and ``docker.io/library/app:v1`` by skopeo."""
    ref, rel = release
    other = ref.with_tag("v2")
    with Context() as ctx:
        push_release(ctx.repository(other), "v2", ["linux/s390x"])
    layout = tmp_path / "skopeo"
    for source, name in ((ref, "rancher/pause:3.6"), (other, "docker.io/library/app:v1")):
        run_tool(
            "skopeo", "copy", "--all", "--src-tls-verify=false",
            f"docker://{source}", f"oci:{layout}:{name}", home=tmp_path,
        )  # fmt: skip
    return layout, rel


def test_tags_lists_names_that_are_full_references(skopeo_layout: tuple[Path, Release]) -> None:
    layout, _ = skopeo_layout
    out = run_cli("tags", "--json", f"oci:{layout}")
    assert out.code == 0, out.err
    assert sorted(out.json()["tags"]) == ["docker.io/library/app:v1", "rancher/pause:3.6"]


def test_a_layout_of_named_images_never_holds_no_image(
    skopeo_layout: tuple[Path, Release],
) -> None:
    """The instance: ``inspect oci:DIR`` said "the layout holds no image yet"."""
    layout, _ = skopeo_layout
    out = run_cli("inspect", f"oci:{layout}")
    assert_one_line_error(out, 1, "rancher/pause:3.6", "docker.io/library/app:v1")
    assert "no image" not in out.err


def test_address_an_entry_by_its_full_reference_name(
    skopeo_layout: tuple[Path, Release], registry2: Any
) -> None:
    """skopeo's own syntax: ``oci:DIR:NAME``, the name split off at the layout directory."""
    layout, rel = skopeo_layout
    shown = run_cli("inspect", "--json", f"oci:{layout}:rancher/pause:3.6")
    assert shown.code == 0, shown.err
    assert shown.json()["digest"] == str(rel.index.digest)
    dest = f"{_dest(registry2)}:3.6"
    copied = run_cli("copy", f"oci:{layout}:rancher/pause:3.6", dest)
    assert copied.code == 0, copied.err
    assert run_cli("verify", dest).code == 0


def test_copy_into_a_layout_under_a_full_reference_name(
    release: tuple[Reference, Release], tmp_path: Path
) -> None:
    """Writing what skopeo reads back: ``oci:DIR:rancher/pause:3.6``."""
    ref, _ = release
    layout = tmp_path / "out"
    out = run_cli("copy", str(ref), f"oci:{layout}:rancher/pause:3.6")
    assert out.code == 0, out.err
    index = json.loads((layout / "index.json").read_text())
    names = [
        m.get("annotations", {}).get("org.opencontainers.image.ref.name")
        for m in index["manifests"]
    ]
    assert names == ["rancher/pause:3.6"]
    back = run_tool("skopeo", "inspect", "--raw", f"oci:{layout}:rancher/pause:3.6", home=tmp_path)
    assert json.loads(back)["manifests"]


# crane: untagged entries, or names that are whole references -------------------------------


def test_crane_layout_of_untagged_entries(
    release: tuple[Reference, Release], registry2: Any, tmp_path: Path, ctx: Context
) -> None:
    ref, rel = release
    other = ref.with_tag("v2")
    push_release(ctx.repository(other), "v2", ["linux/s390x"])
    layout = tmp_path / "crane"
    for source in (ref, other):
        run_tool("crane", "pull", "--insecure", "--format=oci", str(source), str(layout),
                 home=tmp_path)  # fmt: skip
    tags = run_cli("tags", "--json", f"oci:{layout}")
    assert tags.code == 0 and tags.json()["tags"] == [], tags.err
    out = run_cli("inspect", f"oci:{layout}")
    assert_one_line_error(out, 1, "2 untagged")  # true, and says how to read them
    copied = run_cli("copy", f"oci:{layout}@{rel.index.digest}", f"{_dest(registry2)}:v1")
    assert copied.code == 0, copied.err


def test_crane_annotate_ref_names_an_entry_by_its_whole_reference(
    release: tuple[Reference, Release], registry2: Any, tmp_path: Path
) -> None:
    ref, _ = release
    layout = tmp_path / "crane-ref"
    run_tool("crane", "pull", "--insecure", "--format=oci", "--annotate-ref", str(ref),
             str(layout), home=tmp_path)  # fmt: skip
    tags = run_cli("tags", "--json", f"oci:{layout}")
    assert tags.json()["tags"] == [str(ref)], tags.out
    copied = run_cli("copy", f"oci:{layout}:{ref}", f"{_dest(registry2)}:v1")
    assert copied.code == 0, copied.err


# oras: tags plus untagged child entries ------------------------------------------------------


def test_oras_layout_with_child_entries(
    release: tuple[Reference, Release], registry2: Any, tmp_path: Path
) -> None:
    ref, _ = release
    layout = tmp_path / "oras"
    run_tool("oras", "cp", "--from-plain-http", "--to-oci-layout", str(ref), f"{layout}:v1",
             home=tmp_path)  # fmt: skip
    tags = run_cli("tags", "--json", f"oci:{layout}")
    assert tags.json()["tags"] == ["v1"], tags.out
    # Only one tag: oci:DIR reads it, as the layout holds one tagged image.
    shown = run_cli("inspect", f"oci:{layout}")
    assert shown.code == 0, shown.err
    copied = run_cli("copy", f"oci:{layout}:v1", f"{_dest(registry2)}:v1")
    assert copied.code == 0, copied.err


# docker save (containerd image store): blobs of other platforms never saved -----------------


@pytest.fixture
def saved(registry: Any, ctx: Context, tmp_path: Path) -> Path:
    """``docker save`` of an attested two-platform image after pulling linux/amd64 only."""
    name = _name()
    ref = Reference.parse(f"{registry.host}/{name}:v1")
    _attested(ctx, ref, "v1")
    layout = tmp_path / "saved"
    docker_save_layout(
        ctx.repository(ref), "v1", layout,
        host=registry.host, repository=name, pulled="linux/amd64",
    )  # fmt: skip
    return layout


def test_docker_save_layout_is_listed_and_inspected(saved: Path) -> None:
    tags = run_cli("tags", "--json", f"oci:{saved}")
    assert tags.json()["tags"] == ["v1"], tags.out
    shown = run_cli("inspect", f"oci:{saved}:v1")
    assert shown.code == 0, shown.err


def test_copy_of_a_platform_never_saved_names_it_and_the_option(
    saved: Path, registry2: Any
) -> None:
    out = run_cli("copy", f"oci:{saved}:v1", f"{_dest(registry2)}:v1")
    assert_one_line_error(out, 1, "linux/arm64", "not saved", "--platform linux/amd64")


def test_copy_of_the_saved_platform_names_the_missing_attestation(
    saved: Path, registry2: Any
) -> None:
    out = run_cli("copy", "--platform", "linux/amd64", f"oci:{saved}:v1", f"{_dest(registry2)}:v1")
    assert_one_line_error(out, 1, "attestation", "linux/amd64", "--attestations drop")


def test_copy_of_what_was_saved(saved: Path, registry2: Any) -> None:
    dest = f"{_dest(registry2)}:v1"
    out = run_cli(
        "copy", "--platform", "linux/amd64", "--attestations", "drop", f"oci:{saved}:v1", dest
    )
    assert out.code == 0, out.err
    assert run_cli("verify", dest).code == 0


def test_verify_of_a_saved_layout_names_what_was_not_saved(saved: Path) -> None:
    out = run_cli("verify", "--json", f"oci:{saved}:v1")
    assert out.code == 1
    failed = [c for c in out.json()["checks"] if c["status"] == "fail"]
    assert any("linux/arm64" in (c.get("platform") or "") for c in failed), failed
    assert not any("Traceback" in c["message"] for c in failed)


# buildx --output type=oci ------------------------------------------------------------------


@pytest.mark.parametrize("name", [None, "registry.example/team/app:1.0"])
def test_buildx_oci_output(
    registry: Any, registry2: Any, ctx: Context, tmp_path: Path, name: str | None
) -> None:
    ref = Reference.parse(f"{registry.host}/{_name()}:v1")
    _attested(ctx, ref, "v1")
    layout = tmp_path / "buildx"
    index = buildx_oci_layout(ctx.repository(ref), "v1", layout, name=name)
    shown = run_cli("inspect", "--json", f"oci:{layout}")
    assert shown.code == 0, shown.err
    assert shown.json()["digest"] == str(index.digest)
    dest = f"{_dest(registry2)}:v1"
    copied = run_cli("copy", f"oci:{layout}", dest)
    assert copied.code == 0, copied.err
    assert run_cli("verify", dest).code == 0
