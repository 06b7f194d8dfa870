"""Descriptors, manifests, indexes and configs: exact bytes, attestations, validation."""

from __future__ import annotations

import json

import pytest

from polyarch import (
    Descriptor,
    Digest,
    DigestMismatch,
    ImageManifest,
    Index,
    InvalidManifest,
    ManifestTooLarge,
    Platform,
    build_index,
    parse_config,
    parse_manifest,
)
from polyarch.domain import mediatype as mt
from support.schema import assert_valid

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64


def _image_doc(media: str = mt.OCI_MANIFEST, **extra: object) -> dict[str, object]:
    config_media = mt.DOCKER_CONFIG if media == mt.DOCKER_MANIFEST else mt.OCI_CONFIG
    layer_media = mt.DOCKER_LAYER if media == mt.DOCKER_MANIFEST else mt.OCI_LAYER_GZIP
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": media,
        "config": {"mediaType": config_media, "digest": D1, "size": 10},
        "layers": [{"mediaType": layer_media, "digest": D2, "size": 20}],
    }
    doc.update(extra)
    return doc


def _wrapper_doc(image: str = D1, subject: str | None = None) -> dict[str, object]:
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": image,
                "size": 500,
                "platform": {"architecture": "arm64", "os": "linux"},
            },
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": D3,
                "size": 566,
                "annotations": {
                    "vnd.docker.reference.digest": subject or image,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
                "platform": {"architecture": "unknown", "os": "unknown"},
            },
        ],
    }


def test_manifest_keeps_exact_bytes() -> None:
    raw = json.dumps(_image_doc(), indent=7).encode()
    m = parse_manifest(raw)
    assert isinstance(m, ImageManifest)
    assert m.raw == raw
    assert m.digest == Digest.of(raw)
    assert m.size == len(raw)
    assert m.config.digest == D1
    assert [layer.size for layer in m.layers] == [20]
    assert m.layers_size == 20
    assert not m.is_attestation


@pytest.mark.parametrize("media", [mt.OCI_MANIFEST, mt.DOCKER_MANIFEST])
def test_media_type_from_body_or_header(media: str) -> None:
    doc = _image_doc(media)
    raw = json.dumps(doc).encode()
    assert parse_manifest(raw).media_type == media
    del doc["mediaType"]
    raw = json.dumps(doc).encode()
    # OCI allows omitting mediaType: then the header decides, else the shape does.
    assert parse_manifest(raw, media).media_type == media
    assert parse_manifest(raw).media_type == mt.OCI_MANIFEST


def test_digest_is_verified() -> None:
    raw = json.dumps(_image_doc()).encode()
    parse_manifest(raw, digest=Digest.of(raw))
    with pytest.raises(DigestMismatch):
        parse_manifest(raw, digest=D1)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b"[" * 100000 + b"]" * 100000, "nested too deeply|not valid JSON"),
        (b'{"schemaVersion":1,"name":"x"}', "schema1"),
        (b'{"schemaVersion":3,"manifests":[]}', "schemaVersion must be 2"),
        (b'{"schemaVersion":2}', "neither an index nor an image manifest"),
        (b'{"schemaVersion":2,"mediaType":"text/plain"}', "unsupported media type"),
        (
            b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":{}}',
            "manifests must be a list",
        ),
        (
            b'{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:1","size":1}]}',
            "manifests\\[0\\].*invalid digest",
        ),
        (
            b'{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"'
            + D1.encode()
            + b'","size":-1}]}',
            "size must be a non-negative integer",
        ),
        (
            b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"'
            + D1.encode()
            + b'","size":1}}',
            "layers must be a list",
        ),
        (b'{"schemaVersion":2,"layers":[]}', "neither an index"),
        (b'{"schemaVersion":2,"manifests":[],"annotations":{"a":1}}', "annotations must map"),
        (
            b'{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"'
            + D1.encode()
            + b'","size":1,"platform":{"os":"linux"}}]}',
            "manifests\\[0\\]",
        ),
    ],
)
def test_malformed(raw: bytes, fragment: str) -> None:
    with pytest.raises(InvalidManifest, match=fragment):
        parse_manifest(raw)


def test_too_large() -> None:
    raw = (
        b'{"schemaVersion":2,"manifests":[],"annotations":{"x":"'
        + b"a" * (4 * 1024 * 1024)
        + b'"}}'
    )
    with pytest.raises(ManifestTooLarge):
        parse_manifest(raw)


def test_wrapper_index() -> None:
    raw = json.dumps(_wrapper_doc()).encode()
    index = parse_manifest(raw)
    assert isinstance(index, Index)
    assert index.is_wrapper
    assert [d.digest for d in index.images] == [D1]
    assert [d.digest for d in index.attestations] == [D3]
    assert index.attestations_for(D1)[0].attestation_subject == D1
    assert index.attestations[0].is_attestation
    assert not index.images[0].is_attestation


def test_wrapper_needs_attestation_of_its_image() -> None:
    index = parse_manifest(json.dumps(_wrapper_doc(subject=D2)).encode())
    assert isinstance(index, Index)
    assert not index.is_wrapper


def test_multi_platform_index_is_not_a_wrapper() -> None:
    entries = [
        Descriptor(mt.OCI_MANIFEST, Digest(D1), 1, Platform("linux", "amd64")),
        Descriptor(mt.OCI_MANIFEST, Digest(D2), 1, Platform("linux", "arm64")),
    ]
    index = build_index(entries)
    assert not index.is_wrapper
    assert len(index.images) == 2


def test_unknown_platform_entry_is_never_an_image() -> None:
    entries = [
        Descriptor(mt.OCI_MANIFEST, Digest(D1), 1, Platform("linux", "amd64")),
        Descriptor(mt.OCI_MANIFEST, Digest(D2), 1, Platform("unknown", "unknown")),
    ]
    index = build_index(entries)
    assert [d.digest for d in index.images] == [D1]


def test_attestation_manifest_forms() -> None:
    old = _image_doc(
        layers=[
            {
                "mediaType": mt.IN_TOTO,
                "digest": D2,
                "size": 5,
                "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
            }
        ]
    )
    m = parse_manifest(json.dumps(old).encode())
    assert isinstance(m, ImageManifest) and m.is_attestation
    new = _image_doc(
        artifactType=mt.DOCKER_ATTESTATION_ARTIFACT,
        config={"mediaType": mt.OCI_EMPTY, "digest": Digest.of(b"{}"), "size": 2},
        subject={"mediaType": mt.OCI_MANIFEST, "digest": D1, "size": 500},
    )
    m = parse_manifest(json.dumps(new).encode())
    assert isinstance(m, ImageManifest) and m.is_attestation
    assert m.subject is not None and m.subject.digest == D1


def test_build_index_is_deterministic_and_valid() -> None:
    entries = [
        Descriptor(mt.OCI_MANIFEST, Digest(D1), 10, Platform("linux", "amd64")),
        Descriptor(mt.OCI_MANIFEST, Digest(D2), 20, Platform("linux", "arm", "v7")),
    ]
    a = build_index(entries, annotations={"b": "2", "a": "1"})
    b = build_index(list(entries), annotations={"a": "1", "b": "2"})
    assert a.raw == b.raw and a.digest == b.digest
    assert_valid(a.raw, mt.OCI_INDEX)
    assert json.loads(a.raw)["manifests"][1]["platform"] == {
        "architecture": "arm",
        "os": "linux",
        "variant": "v7",
    }
    roundtrip = parse_manifest(a.raw)
    assert isinstance(roundtrip, Index)
    assert roundtrip.manifests == a.manifests


def test_build_docker_list_refuses_annotations() -> None:
    with pytest.raises(InvalidManifest, match="annotations"):
        build_index([], media_type=mt.DOCKER_MANIFEST_LIST, annotations={"a": "b"})
    with pytest.raises(InvalidManifest):
        build_index([], media_type=mt.OCI_MANIFEST)


def test_descriptor_roundtrip_and_schema() -> None:
    data = {
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": "application/example",
        "digest": D1,
        "size": 3,
        "urls": ["https://example.com/x"],
        "annotations": {"k": "v"},
        "platform": {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1"},
    }
    d = Descriptor.from_json(data)
    assert d.to_json() == data
    assert d.platform == Platform("windows", "amd64", os_version="10.0.17763.1")
    with pytest.raises(TypeError):
        d.annotations["x"] = "y"  # type: ignore[index]


def test_config_platform() -> None:
    raw = json.dumps(
        {
            "architecture": "arm",
            "os": "linux",
            "variant": "v7",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Entrypoint": ["/app"], "Labels": {"a": "b"}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    assert_valid(raw, mt.OCI_CONFIG)
    c = parse_config(raw)
    assert c.platform == Platform("linux", "arm", "v7")
    assert c.created == "2026-01-01T00:00:00Z"
    assert c.entrypoint == ("/app",)
    assert dict(c.labels) == {"a": "b"}
    assert parse_config(b'{"rootfs":{}}').platform is None
