"""Build test images by pushing blobs and manifests through the library.

Each image is real content: a gzip'd tar layer holding one file, a config whose
``rootfs.diff_ids`` match it, and a manifest that references both. The wrapper form is
what Docker 29 / BuildKit push for one platform: an OCI index with the image and a
provenance attestation manifest (platform ``unknown/unknown``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import uuid
from dataclasses import dataclass
from typing import Any

from polyarch import Context, CreateRequest, Reference, create_index
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, build_index, parse_manifest
from polyarch.domain.platform import Platform
from polyarch.storage.repository import Repository


def _dumps(doc: dict[str, Any]) -> bytes:
    # Indented on purpose: registries must keep our bytes, not re-serialize them.
    return json.dumps(doc, indent=3).encode()


def make_layer(content: bytes, name: str = "hello.txt") -> tuple[bytes, Digest]:
    """A reproducible tar.gz layer with one file; returns (compressed bytes, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = 0
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(content))
    uncompressed = raw.getvalue()
    compressed = gzip.compress(uncompressed, mtime=0)
    return compressed, Digest("sha256:" + hashlib.sha256(uncompressed).hexdigest())


@dataclass(frozen=True)
class PushedImage:
    """An image the tests pushed: its manifest and the platform its config names."""

    manifest: ImageManifest
    platform: Platform
    tag: str | None

    @property
    def digest(self) -> Digest:
        return self.manifest.digest


def push_blob(repo: Repository, media_type: str, data: bytes) -> Descriptor:
    """Push bytes as a blob and return its descriptor."""
    desc = Descriptor(media_type, Digest.of(data), len(data))
    if repo.blob_size(desc.digest) is None:
        repo.put_blob_bytes(desc, data)
    return desc


def push_image(
    repo: Repository,
    platform: Platform | str,
    *,
    tag: str | None = None,
    docker: bool = False,
    payload: bytes | None = None,
    config_platform: Platform | bool | None = True,
    extra_layers: int = 0,
) -> PushedImage:
    """Push a single-platform image (Docker schema2 when ``docker``, else OCI).

    ``config_platform=False`` writes a config with no os/architecture (to test the
    "platform missing" path); a Platform writes that one instead of ``platform``.
    """
    plat = Platform.parse(platform) if isinstance(platform, str) else platform
    layer_media = mediatype.DOCKER_LAYER if docker else mediatype.OCI_LAYER_GZIP
    config_media = mediatype.DOCKER_CONFIG if docker else mediatype.OCI_CONFIG
    manifest_media = mediatype.DOCKER_MANIFEST if docker else mediatype.OCI_MANIFEST
    body = payload if payload is not None else f"hello from {plat}\n".encode()
    layers: list[Descriptor] = []
    diff_ids: list[str] = []
    for i in range(1 + extra_layers):
        compressed, diff_id = make_layer(body + (b"#%d" % i if i else b""))
        layers.append(push_blob(repo, layer_media, compressed))
        diff_ids.append(diff_id)
    config: dict[str, Any] = {}
    if config_platform is not False:
        cplat = plat if config_platform is True or config_platform is None else config_platform
        config.update(cplat.to_oci())
    config.update(
        {
            "created": "2026-01-01T00:00:00Z",
            "config": {"Entrypoint": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "polyarch tests"}],
        }
    )
    config_desc = push_blob(repo, config_media, _dumps(config))
    doc = {
        "schemaVersion": 2,
        "mediaType": manifest_media,
        "config": config_desc.to_json(),
        "layers": [d.to_json() for d in layers],
    }
    raw = _dumps(doc)
    manifest = parse_manifest(raw, manifest_media)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest, tag)
    if tag is not None:
        repo.put_manifest(manifest)  # also by digest, as pushes by digest do
    return PushedImage(manifest, plat, tag)


def push_attestation(
    repo: Repository, subject: ImageManifest, *, source: str = "deadbeef"
) -> ImageManifest:
    """Push a BuildKit-style provenance attestation manifest (older, dummy-config form)."""
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "_", "digest": {"sha256": subject.digest.hex}}],
        "predicate": {
            "builder": {"id": ""},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "invocation": {"configSource": {"entryPoint": "Dockerfile"}},
            "metadata": {
                "https://mobyproject.org/buildkit@v1#metadata": {"vcs": {"revision": source}}
            },
            "materials": [],
        },
    }
    layer = Descriptor(
        mediatype.IN_TOTO,
        Digest.of(_dumps(statement)),
        len(_dumps(statement)),
        annotations={"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
    )
    push_blob(repo, mediatype.IN_TOTO, _dumps(statement))
    config = {
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    config_desc = push_blob(repo, mediatype.OCI_CONFIG, _dumps(config))
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatype.OCI_MANIFEST,
        "config": config_desc.to_json(),
        "layers": [layer.to_json()],
    }
    manifest = parse_manifest(_dumps(doc), mediatype.OCI_MANIFEST)
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest)
    return manifest


@dataclass(frozen=True)
class PushedWrapper:
    """A Docker 29-style single-platform push: wrapper index, image, attestation."""

    index: Index
    image: PushedImage
    attestation: ImageManifest


def push_wrapper(
    repo: Repository, platform: Platform | str, *, tag: str, source: str = "deadbeef"
) -> PushedWrapper:
    """Push what ``docker push`` of a BuildKit-built image pushes: a wrapper index."""
    image = push_image(repo, platform, payload=f"wrapped {platform}\n".encode())
    attestation = push_attestation(repo, image.manifest, source=source)
    entries = [
        image.manifest.descriptor(image.platform),
        attestation_entry(attestation, image.digest),
    ]
    index = build_index(entries)
    repo.put_manifest(index, tag)
    return PushedWrapper(index, image, attestation)


def attestation_entry(attestation: ImageManifest, image: Digest) -> Descriptor:
    """The index entry of ``attestation`` as BuildKit writes it: ``unknown/unknown``, annotated
    with the digest of the image it attests (``vnd.docker.reference.digest``)."""
    return Descriptor(
        attestation.media_type,
        attestation.digest,
        attestation.size,
        platform=Platform("unknown", "unknown"),
        annotations={
            "vnd.docker.reference.digest": str(image),
            "vnd.docker.reference.type": "attestation-manifest",
        },
    )


def push_index(
    repo: Repository, platforms: list[str], *, tag: str, docker: bool = False
) -> tuple[Index, list[PushedImage]]:
    """Push one image per platform and a multi-platform index over them."""
    images = [push_image(repo, p, docker=docker) for p in platforms]
    media = mediatype.DOCKER_MANIFEST_LIST if docker else mediatype.OCI_INDEX
    index = build_index([i.manifest.descriptor(i.platform) for i in images], media_type=media)
    repo.put_manifest(index, tag)
    return index, images


def staged_release(ctx: Context, host: str, tag: str = "v1") -> tuple[Reference, Index]:
    """A release as ``create`` publishes it, in a new repository of ``host``: (tag, index).

    linux/amd64 a plain image of three layers, linux/arm64 a Docker 29 wrapper (image
    plus provenance attestation).
    """
    repo_ref = Reference.parse(f"{host}/t{uuid.uuid4().hex[:8]}/staging")
    repo = ctx.repository(repo_ref)
    push_image(repo, "linux/amd64", tag="amd64", extra_layers=2)
    push_wrapper(repo, "linux/arm64", tag="arm64")
    target = repo_ref.with_tag(tag)
    sources = [repo_ref.with_tag("amd64"), repo_ref.with_tag("arm64")]
    return target, create_index(CreateRequest.build([target], sources), ctx).index
