"""Issue 24, kind 4: one platform rule everywhere, so polyarch never fails its own output.

Docker manifest lists of Alpine and busybox images have ``linux/arm/v6`` and
``linux/arm/v7`` entries whose configs say ``arm`` with no variant (containers/common#1295).
``create`` accepts such an entry (a config that names no variant does not contradict the
entry's variant: :func:`polyarch.operations.create.sources._final_platform`), so ``verify`` must
judge it by the same rule, on the source and on polyarch's own output, and say so as a
note. A config that does name another variant, architecture or OS version still
contradicts the entry, for both.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from polyarch import Context, Platform, Reference
from polyarch.domain import mediatype as mt
from polyarch.domain.manifest import build_index
from support.cli import run_cli
from support.images import PushedImage, push_image
from support.index_shapes import windows

pytestmark = pytest.mark.integration


def _repo(registry: Any) -> Reference:
    return Reference.parse(f"{registry.host}/p{uuid.uuid4().hex[:8]}/app")


def _list(
    ctx: Context, repo: Reference, tag: str, entries: list[tuple[str, Platform]], *, docker: bool
) -> list[PushedImage]:
    """An index of images whose entries claim ``entry`` and whose configs say ``config``."""
    storage = ctx.repository(repo)
    images = [
        push_image(
            storage, claimed, docker=docker, config_platform=config, payload=claimed.encode()
        )
        for claimed, config in entries
    ]
    media = mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX
    index = build_index([i.manifest.descriptor(i.platform) for i in images], media_type=media)
    storage.put_manifest(index, tag)
    return images


ARM = Platform("linux", "arm")


def _configs(out: Any) -> dict[str, dict[str, Any]]:
    return {c["platform"]: c for c in out.json()["checks"] if c["check"] == "configs"}


def test_verify_docker_list_whose_arm_configs_name_no_variant(ctx: Context, registry: Any) -> None:
    """The issue's instance, on the source."""
    repo = _repo(registry)
    _list(ctx, repo, "alpine", [("linux/arm/v6", ARM), ("linux/arm/v7", ARM)], docker=True)
    out = run_cli("verify", "--json", str(repo.with_tag("alpine")))
    assert out.code == 0, out.out
    v6 = _configs(out)["linux/arm/v6"]
    assert v6["status"] == "pass", v6
    assert "no variant" in v6["message"], v6


def test_verify_passes_polyarchs_own_output(ctx: Context, registry: Any) -> None:
    """The issue's instance, on what ``create`` republished from it."""
    repo = _repo(registry)
    _list(ctx, repo, "alpine", [("linux/arm/v6", ARM), ("linux/arm/v7", ARM)], docker=True)
    made = run_cli("create", "-t", str(repo.with_tag("out")), str(repo.with_tag("alpine")))
    assert made.code == 0, made.err
    out = run_cli("verify", str(repo.with_tag("out")))
    assert out.code == 0, out.out


@pytest.mark.parametrize(
    ("claimed", "config"),
    [
        ("linux/arm/v5", ARM),  # Debian armel images: config "arm", no variant
        ("linux/arm/v8", ARM),  # 32-bit userland on ARMv8 (arm32v8 images)
        ("linux/arm64/v8", Platform("linux", "arm64")),
        ("linux/arm64", Platform("linux", "arm64", "v8")),
        ("linux/arm/v7", Platform("linux", "arm", "v7")),
    ],
)
def test_verify_and_create_agree_on_compatible_configs(
    ctx: Context, registry: Any, claimed: str, config: Platform
) -> None:
    repo = _repo(registry)
    _list(ctx, repo, "src", [(claimed, config), ("linux/amd64", Platform("linux", "amd64"))],
          docker=False)  # fmt: skip
    verified = run_cli("verify", str(repo.with_tag("src")))
    made = run_cli("create", "-t", str(repo.with_tag("out")), str(repo.with_tag("src")))
    assert (verified.code, made.code) == (0, 0), (verified.out, made.err)
    assert run_cli("verify", str(repo.with_tag("out"))).code == 0


@pytest.mark.parametrize(
    ("claimed", "config"),
    [
        ("linux/arm/v6", Platform("linux", "arm", "v7")),  # a config that names its variant
        ("linux/arm/v8", Platform("linux", "arm64")),  # another architecture
    ],
)
def test_verify_and_create_agree_on_contradicting_configs(
    ctx: Context, registry: Any, claimed: str, config: Platform
) -> None:
    """The kind's other side: a real contradiction fails both, not only one."""
    repo = _repo(registry)
    _list(ctx, repo, "src", [(claimed, config)], docker=False)
    verified = run_cli("verify", str(repo.with_tag("src")))
    made = run_cli("create", "-t", str(repo.with_tag("out")), str(repo.with_tag("src")))
    assert verified.code == 1, verified.out
    assert made.code != 0, made.out
    assert "config says" in made.err, made.err


def test_verify_fails_an_entry_whose_os_version_its_config_contradicts(
    ctx: Context, registry: Any
) -> None:
    """Windows hosts pick entries by ``os.version`` (containerd's windowsVersionMatcher): an
    entry claiming Server 2022 over a Server 2019 config sends 2022 hosts a 2019 image."""
    repo = _repo(registry)
    _list(
        ctx, repo, "win",
        [(windows("10.0.20348.2700").format_all(), windows("10.0.17763.6189"))],
        docker=False,
    )  # fmt: skip
    out = run_cli("verify", "--json", str(repo.with_tag("win")))
    assert out.code == 1, out.out
    config = next(iter(_configs(out).values()))
    assert config["status"] == "fail" and "10.0.17763" in config["message"], config
    # create judges it by the same rule: refused, naming both.
    made = run_cli("create", "-t", str(repo.with_tag("out")), str(repo.with_tag("win")))
    assert made.code != 0 and "config says" in made.err and "10.0.17763" in made.err, made.err


def test_resolve_and_verify_pick_the_same_arm_entry(ctx: Context, registry: Any) -> None:
    repo = _repo(registry)
    images = _list(ctx, repo, "alpine", [("linux/arm/v6", ARM), ("linux/arm/v7", ARM)], docker=True)
    for image, host in zip(images, ("linux/arm/v6", "linux/arm/v7"), strict=True):
        out = run_cli("resolve", "--platform", host, str(repo.with_tag("alpine")))
        assert out.code == 0, out.err
        assert out.out.split()[0] == image.digest
