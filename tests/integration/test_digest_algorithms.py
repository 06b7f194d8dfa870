"""Issue 24, kind 3: every digest algorithm the specs allow, through every verb.

An image whose config and layer are addressed by ``sha512:`` digests (registered by the
OCI image spec), on the real registry (distribution 2.8, which answers a sha512 upload
with its canonical sha256 in ``Docker-Content-Digest``: the distribution spec allows it;
see :mod:`support.digests`). It must go through ``copy`` (registry to registry, to and
from ``oci:`` layouts), ``create`` and ``verify``. A digest of an algorithm no spec
registers is refused in one line naming where it was found.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.domain import mediatype as mt
from support.cli import assert_one_line_error, run_cli
from support.digests import Sha512Image, push_sha512_image, sha512
from support.images import push_image

pytestmark = pytest.mark.integration


def _name() -> str:
    return f"d{uuid.uuid4().hex[:8]}/app"


@pytest.fixture
def sha512_image(registry: Any) -> tuple[Reference, Sha512Image]:
    name = _name()
    image = push_sha512_image(registry.url, name, "sha512")
    return Reference.parse(f"{registry.host}/{name}:sha512"), image


def test_the_registry_answers_sha512_uploads_with_sha256(
    sha512_image: tuple[Reference, Sha512Image],
) -> None:
    """The premise (the real registry's behaviour): the answer is in another algorithm."""
    _, image = sha512_image
    for asked, answered in image.announced.items():
        assert asked.startswith("sha512:") and answered.startswith("sha256:")


def test_copy_sha512_image_to_another_registry(
    sha512_image: tuple[Reference, Sha512Image], registry2: Any, ctx: Context
) -> None:
    """The issue's instance: ``copy`` exits 1 ``registry stored sha256:...``."""
    ref, image = sha512_image
    dest = Reference.parse(f"{registry2.host}/{_name()}:sha512")
    out = run_cli("copy", str(ref), str(dest))
    assert out.code == 0, out.err
    copied = ctx.repository(dest).get_manifest("sha512")
    assert copied.digest == image.manifest.digest
    assert ctx.repository(dest).blob_size(image.manifest.config.digest) == len(image.config)


def test_copy_sha512_image_to_another_repository_of_the_same_registry(
    sha512_image: tuple[Reference, Sha512Image], registry: Any
) -> None:
    ref, _ = sha512_image
    dest = f"{registry.host}/{_name()}:sha512"
    out = run_cli("copy", str(ref), dest)
    assert out.code == 0, out.err


def test_create_and_verify_with_a_sha512_variant(
    sha512_image: tuple[Reference, Sha512Image], ctx: Context
) -> None:
    ref, _ = sha512_image
    push_image(ctx.repository(ref), "linux/arm64", tag="arm64")
    target = str(ref.with_tag("multi"))
    out = run_cli("create", "-t", target, str(ref), str(ref.with_tag("arm64")))
    assert out.code == 0, out.err
    verified = run_cli("verify", target)
    assert verified.code == 0, verified.out + verified.err


def test_create_to_another_registry_with_a_sha512_variant(
    sha512_image: tuple[Reference, Sha512Image], registry2: Any, ctx: Context
) -> None:
    ref, _ = sha512_image
    push_image(ctx.repository(ref), "linux/arm64", tag="arm64")
    target = f"{registry2.host}/{_name()}:multi"
    out = run_cli("create", "-t", target, str(ref), str(ref.with_tag("arm64")))
    assert out.code == 0, out.err
    verified = run_cli("verify", target)
    assert verified.code == 0, verified.out + verified.err


def test_sha512_through_an_oci_layout(
    sha512_image: tuple[Reference, Sha512Image], registry2: Any, tmp_path: Path
) -> None:
    ref, image = sha512_image
    layout = tmp_path / "out"
    into = run_cli("copy", str(ref), f"oci:{layout}:v1")
    assert into.code == 0, into.err
    config = image.manifest.config.digest
    assert (layout / "blobs" / "sha512" / config.hex).is_file()
    shown = run_cli("inspect", f"oci:{layout}:v1")
    assert shown.code == 0, shown.err
    back = run_cli("copy", f"oci:{layout}:v1", f"{registry2.host}/{_name()}:v1")
    assert back.code == 0, back.err


def _layout_with_layer_digest(root: Path, algorithm: str, encoded: str) -> None:
    """A layout whose one image names a layer by ``algorithm:encoded`` (the blob absent)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    config_digest = __import__("hashlib").sha256(config).hexdigest()
    (blobs / config_digest).write_bytes(config)
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": f"sha256:{config_digest}", "size": 77},
        "layers": [
            {"mediaType": mt.OCI_LAYER_GZIP, "digest": f"{algorithm}:{encoded}", "size": 10}
        ],
    }
    raw = json.dumps(doc).encode()
    digest = __import__("hashlib").sha256(raw).hexdigest()
    (blobs / digest).write_bytes(raw)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": f"sha256:{digest}",
                "size": len(raw),
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))


@pytest.mark.parametrize(
    ("algorithm", "encoded"),
    [
        # blake3: proposed for the image spec (opencontainers/image-spec#1240), not registered.
        ("blake3", "a" * 64),
        # sha384: a valid hash, not one the specs register.
        ("sha384", "b" * 96),
    ],
)
def test_unknown_algorithm_is_refused_in_one_line(
    tmp_path: Path, registry2: Any, algorithm: str, encoded: str
) -> None:
    layout = tmp_path / "odd"
    _layout_with_layer_digest(layout, algorithm, encoded)
    out = run_cli("copy", f"oci:{layout}:v1", f"{registry2.host}/{_name()}:v1")
    assert_one_line_error(out, 1, algorithm, "unsupported algorithm", "layers[0]")


def test_sha512_layer_digest_is_checked_not_trusted(tmp_path: Path, registry2: Any) -> None:
    """A sha512 digest that does not match its bytes is still a mismatch (kind's other side)."""
    layout = tmp_path / "bad"
    _layout_with_layer_digest(layout, "sha512", sha512(b"other")[7:])
    blobs = layout / "blobs" / "sha512"
    blobs.mkdir()
    (blobs / sha512(b"other")[7:]).write_bytes(b"not other")
    out = run_cli("copy", f"oci:{layout}:v1", f"{registry2.host}/{_name()}:v1")
    assert out.code == 1, out.err
    assert "hashes to" in out.err or "bytes" in out.err, out.err


def test_a_manifest_addressed_by_sha512_copies_from_a_layout_to_a_tag(
    sha512_image: tuple[Reference, Sha512Image], registry2: Any, tmp_path: Path, ctx: Context
) -> None:
    """A layout may name the manifest itself by sha512; the registry stores it under the tag
    and announces its sha256 (distribution 2.8 cannot address a manifest by sha512): the
    same bytes, not a mismatch."""
    from polyarch import LayoutRepository
    from polyarch.domain.manifest import parse_manifest

    ref, image = sha512_image
    layout = tmp_path / "sha512-manifest"
    assert run_cli("copy", str(ref), f"oci:{layout}:v0").code == 0
    repo = LayoutRepository(layout)
    by_sha512 = parse_manifest(
        image.manifest.raw, image.manifest.media_type, digest=sha512(image.manifest.raw)
    )
    repo.put_manifest(by_sha512, "v1")
    assert (layout / "blobs" / "sha512" / by_sha512.digest.hex).is_file()
    dest = Reference.parse(f"{registry2.host}/{_name()}:v1")
    out = run_cli("copy", f"oci:{layout}:v1", str(dest))
    assert out.code == 0, out.err
    stored = ctx.repository(dest).get_manifest("v1")
    assert stored.raw == image.manifest.raw


def test_put_of_a_sha512_addressed_manifest_under_a_tag(
    sha512_image: tuple[Reference, Sha512Image], ctx: Context
) -> None:
    """The storage call itself: the registry announces sha256 for a manifest the caller
    names by sha512; the same bytes, so not "registry stored sha256:..."; HEAD by tag works."""
    from polyarch.domain.manifest import parse_manifest

    ref, image = sha512_image
    by_sha512 = parse_manifest(
        image.manifest.raw, image.manifest.media_type, digest=sha512(image.manifest.raw)
    )
    repo = ctx.repository(ref)
    repo.put_manifest(by_sha512, "again")
    head = repo.head_manifest("again")
    assert head is not None and head.digest == image.manifest.digest
