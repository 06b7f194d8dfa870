"""The OCI image layout backend, on real files in ``tmp_path`` (no sockets)."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from polyarch.domain import mediatype as mt
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import ImageManifest, Index, Manifest, build_index, parse_manifest
from polyarch.domain.platform import Platform
from polyarch.errors import (
    BlobUnknown,
    DigestMismatch,
    InvalidDigest,
    InvalidInput,
    InvalidReference,
    ManifestTooLarge,
    ManifestUnknown,
    NameUnknown,
    SizeMismatch,
)
from polyarch.storage.layout.repository import REF_NAME, LayoutNotFound, LayoutRepository
from polyarch.storage.repository import BlobMounting
from support.layout_images import CONFIG, LAYER
from support.layout_images import blob as _blob
from support.layout_images import layout_image as _image
from support.schema import assert_valid


def _index_of(*images: Manifest) -> Index:
    platform = Platform.parse("linux/amd64")
    return build_index([m.descriptor(platform) for m in images if isinstance(m, ImageManifest)])


def _index_json(path: Path) -> dict[str, object]:
    doc: dict[str, object] = json.loads((path / "index.json").read_bytes())
    return doc


def _blob_path(path: Path, digest: str) -> Path:
    algorithm, _, hex_ = digest.partition(":")
    return path / "blobs" / algorithm / hex_


def _leftovers(path: Path) -> list[str]:
    return [str(p) for p in path.rglob(".tmp-*")]


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return tmp_path / "out"


@pytest.fixture
def repo(layout: Path) -> LayoutRepository:
    return LayoutRepository(layout)


# Blobs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_blob_round_trip(repo: LayoutRepository, layout: Path, algorithm: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks
    desc = _blob(data, algorithm=algorithm)
    assert repo.blob_size(desc.digest) is None
    repo.put_blob(desc, iter([data[:1000], b"", data[1000:]]))
    assert repo.blob_size(desc.digest) == len(data)
    with repo.open_blob(desc) as reader:
        chunks = list(reader)
    assert b"".join(chunks) == data
    assert len(chunks) > 1
    assert _blob_path(layout, desc.digest).read_bytes() == data
    repo.put_blob(desc, [data])  # already there: skipped
    assert _leftovers(layout) == []


def test_put_blob_mismatch_leaves_nothing(repo: LayoutRepository, layout: Path) -> None:
    desc = _blob(b"the real content")
    with pytest.raises(DigestMismatch):
        repo.put_blob(desc, [b"other content!!!"])
    with pytest.raises(SizeMismatch):
        repo.put_blob(desc, [b"short"])
    with pytest.raises(SizeMismatch):
        repo.put_blob(desc, [b"the real content", b"and more"])
    assert repo.blob_size(desc.digest) is None
    assert list((layout / "blobs" / "sha256").iterdir()) == []


def test_put_blob_interrupted_stream_leaves_nothing(repo: LayoutRepository, layout: Path) -> None:
    def chunks() -> object:
        yield b"part"
        raise OSError("source went away")

    with pytest.raises(OSError, match="went away"):
        repo.put_blob(_blob(b"partial"), chunks())  # type: ignore[arg-type]
    assert list((layout / "blobs" / "sha256").iterdir()) == []


def test_corrupted_blob_detected_on_read(repo: LayoutRepository, layout: Path) -> None:
    desc = _blob(LAYER)
    repo.put_blob_bytes(desc, LAYER)
    path = _blob_path(layout, desc.digest)
    path.write_bytes(LAYER[:-1] + b"!")
    with pytest.raises(DigestMismatch), repo.open_blob(desc) as reader:
        b"".join(reader)
    path.write_bytes(LAYER + b"x")
    with pytest.raises(SizeMismatch):
        repo.read_blob(desc)


def test_missing_blob(repo: LayoutRepository) -> None:
    desc = _blob(b"absent")
    with pytest.raises(BlobUnknown, match=r"oci:.*@sha256:"):
        repo.open_blob(desc)
    with pytest.raises(BlobUnknown):
        repo.delete_blob(desc.digest)


def test_delete_blob(repo: LayoutRepository) -> None:
    desc = _blob(b"gone soon")
    repo.put_blob_bytes(desc, b"gone soon")
    repo.delete_blob(desc.digest)
    assert repo.blob_size(desc.digest) is None


# Manifests and tags -------------------------------------------------------------------


def test_manifest_round_trip_by_tag_and_digest(repo: LayoutRepository) -> None:
    image = _image(repo)
    index = _index_of(image)
    repo.put_manifest(image)
    repo.put_manifest(index, "v1")
    got = repo.get_manifest("v1")
    assert isinstance(got, Index)
    assert got.raw == index.raw and got.digest == index.digest
    child = repo.get_manifest(str(image.digest))
    assert isinstance(child, ImageManifest) and child.raw == image.raw
    assert repo.head_manifest("v1") == Descriptor(mt.OCI_INDEX, index.digest, index.size)
    assert repo.head_manifest(str(image.digest)) == Descriptor(
        mt.OCI_MANIFEST, image.digest, image.size
    )
    assert repo.head_manifest("v2") is None
    assert repo.head_manifest("sha256:" + "0" * 64) is None
    assert repo.list_tags() == ["v1"]


def test_written_layout_validates(repo: LayoutRepository, layout: Path) -> None:
    image = _image(repo)
    repo.put_manifest(image)
    repo.put_manifest(_index_of(image), "v1")
    repo.put_manifest(image, "single")
    assert_valid(json.loads((layout / "oci-layout").read_bytes()), "oci-layout")
    assert json.loads((layout / "oci-layout").read_bytes()) == {"imageLayoutVersion": "1.0.0"}
    index = _index_json(layout)
    assert_valid(index, mt.OCI_INDEX)
    assert index["mediaType"] == mt.OCI_INDEX
    assert index["manifests"] == [
        {
            "mediaType": mt.OCI_INDEX,
            "digest": str(_index_of(image).digest),
            "size": _index_of(image).size,
            "annotations": {REF_NAME: "v1"},
        },
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": str(image.digest),
            "size": image.size,
            "annotations": {REF_NAME: "single"},
        },
    ]
    assert_valid(image.raw, mt.OCI_MANIFEST)
    assert _leftovers(layout) == []


def test_retag_replaces_in_place(repo: LayoutRepository, layout: Path) -> None:
    one, two = _image(repo), _image(repo, b"other layer")
    for tag in ("a", "b", "c"):
        repo.put_manifest(one, tag)
    repo.put_manifest(two, "b")
    assert repo.list_tags() == ["a", "b", "c"]
    assert repo.get_manifest("b").digest == two.digest
    assert repo.get_manifest("a").digest == one.digest
    assert len(_index_json(layout)["manifests"]) == 3  # type: ignore[arg-type]


def test_put_manifest_without_tag_writes_only_the_blob(
    repo: LayoutRepository, layout: Path
) -> None:
    image = _image(repo)
    repo.put_manifest(image)
    assert _index_json(layout)["manifests"] == []
    assert repo.list_tags() == []
    assert repo.get_manifest(image.digest).raw == image.raw
    with pytest.raises(ManifestUnknown):
        repo.get_manifest("latest")


def test_put_manifest_refuses_bad_tags(repo: LayoutRepository) -> None:
    image = _image(repo)
    for bad in ("../escape", "a//b", "a/../b", "/abs", ".hidden", "", "x" * 129):
        with pytest.raises(InvalidReference, match="invalid tag"):
            repo.put_manifest(image, bad)
    assert repo.list_tags() == []


def test_put_manifest_under_a_full_reference_name(repo: LayoutRepository) -> None:
    """skopeo writes oci:DIR:rancher/pause:3.6 as the entry's ref.name (image-spec grammar)."""
    image = _image(repo)
    repo.put_manifest(image, "rancher/pause:3.6")
    assert repo.list_tags() == ["rancher/pause:3.6"]
    assert repo.get_manifest("rancher/pause:3.6").digest == image.digest


def test_unknown_manifest_names_the_location(repo: LayoutRepository) -> None:
    with pytest.raises(LayoutNotFound, match=r"oci:.*out: no such directory"):
        repo.get_manifest("v9")
    _image(repo)
    with pytest.raises(ManifestUnknown, match=r"oci:.*out:v9"):
        repo.get_manifest("v9")
    with pytest.raises(ManifestUnknown, match=r"oci:.*out@sha256:0000"):
        repo.get_manifest("sha256:" + "0" * 64)


def test_delete_manifest_removes_tags_and_blob(repo: LayoutRepository) -> None:
    image, other = _image(repo), _image(repo, b"x")
    repo.put_manifest(image, "a")
    repo.put_manifest(other, "b")
    repo.put_manifest(image, "c")
    repo.delete_manifest(image.digest)
    assert repo.list_tags() == ["b"]
    assert repo.blob_size(image.digest) is None
    with pytest.raises(ManifestUnknown):
        repo.delete_manifest(image.digest)
    repo.put_manifest(image)  # untagged: only the blob
    repo.delete_manifest(image.digest)
    assert repo.head_manifest(image.digest) is None


def test_manifest_too_large(repo: LayoutRepository) -> None:
    data = b"{" + b" " * (4 * 1024 * 1024) + b"}"
    desc = _blob(data, mt.OCI_MANIFEST)
    repo.put_blob_bytes(desc, data)
    with pytest.raises(ManifestTooLarge, match="4 MiB"):
        repo.get_manifest(desc.digest)


def test_corrupted_manifest_detected(repo: LayoutRepository, layout: Path) -> None:
    image = _image(repo)
    repo.put_manifest(image, "v1")
    _blob_path(layout, image.digest).write_bytes(image.raw.replace(b"2", b"3", 1))
    with pytest.raises(DigestMismatch):
        repo.get_manifest("v1")
    with pytest.raises(DigestMismatch):
        repo.get_manifest(image.digest)


def test_index_entry_with_wrong_size(repo: LayoutRepository, layout: Path) -> None:
    image = _image(repo)
    repo.put_manifest(image, "v1")
    doc = _index_json(layout)
    doc["manifests"][0]["size"] += 1  # type: ignore[index]
    (layout / "index.json").write_text(json.dumps(doc))
    with pytest.raises(SizeMismatch, match=r"index\.json says"):
        repo.get_manifest("v1")


def test_foreign_fields_are_kept(repo: LayoutRepository, layout: Path) -> None:
    image = _image(repo)
    repo.put_manifest(image, "v1")
    doc = _index_json(layout)
    doc["annotations"] = {"org.example.tool": "skopeo"}
    entry = doc["manifests"][0]  # type: ignore[index]
    entry["annotations"]["io.containerd.image.name"] = "docker.io/library/app:v1"
    entry["platform"] = {"architecture": "amd64", "os": "linux"}
    untagged = {"mediaType": mt.OCI_MANIFEST, "digest": str(image.digest), "size": image.size}
    doc["manifests"].append(untagged)  # type: ignore[attr-defined]
    (layout / "index.json").write_text(json.dumps(doc))
    repo.put_manifest(image, "v2")
    after = _index_json(layout)
    assert after["annotations"] == {"org.example.tool": "skopeo"}
    assert after["manifests"][:2] == [entry, untagged]  # type: ignore[index]
    assert repo.list_tags() == ["v1", "v2"]


def test_reads_a_layout_written_by_another_tool(layout: Path) -> None:
    """skopeo-style: pretty JSON, no index mediaType, a Docker manifest, extra blobs dir."""
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.DOCKER_MANIFEST,
            "config": _blob(CONFIG, mt.DOCKER_CONFIG).to_json(),
            "layers": [_blob(LAYER, mt.DOCKER_LAYER).to_json()],
        },
        indent=3,
    ).encode()
    digest = Digest.of(raw)
    for data in (raw, CONFIG, LAYER):
        path = _blob_path(layout, Digest.of(data))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (layout / "blobs" / "sha512").mkdir()
    (layout / "oci-layout").write_text('{\n  "imageLayoutVersion": "1.0.0"\n}\n')
    entry = {"mediaType": mt.DOCKER_MANIFEST, "digest": digest, "size": len(raw)}
    index = {"schemaVersion": 2, "manifests": [{**entry, "annotations": {REF_NAME: "latest"}}]}
    (layout / "index.json").write_text(json.dumps(index, indent=2))
    repo = LayoutRepository(layout)
    manifest = repo.get_manifest("latest")
    assert isinstance(manifest, ImageManifest)
    assert manifest.media_type == mt.DOCKER_MANIFEST and manifest.raw == raw
    assert repo.read_blob(manifest.config) == CONFIG
    assert repo.list_tags() == ["latest"]


def test_layout_without_index_json_reads_as_empty(layout: Path) -> None:
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    repo = LayoutRepository(layout)
    assert repo.list_tags() == []
    assert repo.head_manifest("v1") is None
    image = _image(repo)
    repo.put_manifest(image, "v1")
    assert_valid(_index_json(layout), mt.OCI_INDEX)


def test_copy_between_layouts_with_transfer(tmp_path: Path) -> None:
    from polyarch.content.transfer import Transfer

    source, dest = LayoutRepository(tmp_path / "a"), LayoutRepository(tmp_path / "b")
    images = [_image(source, os.urandom(100_000)) for _ in range(3)]
    for image in images:
        source.put_manifest(image)
    transfer = Transfer(jobs=4)
    assert transfer.manifests(dest, [(source, m) for m in images]) == 3
    index = build_index(m.descriptor(Platform.parse("linux/amd64")) for m in images)
    dest.put_manifest(index, "v1")
    assert dest.get_manifest("v1").raw == index.raw
    for image in images:
        for blob in image.blobs:
            assert dest.read_blob(blob, max_size=1 << 20) == source.read_blob(
                blob, max_size=1 << 20
            )
    assert transfer.stats.manifests_pushed == 3
    assert _leftovers(tmp_path) == []


# What is not a layout -----------------------------------------------------------------


def test_missing_or_empty_directory_is_an_empty_layout(layout: Path) -> None:
    repo = LayoutRepository(layout)
    assert repo.head_manifest("v1") is None
    assert repo.blob_size(Digest.of(b"x")) is None
    with pytest.raises(NameUnknown, match="oci:"):
        repo.list_tags()
    assert not layout.exists()  # reading creates nothing
    layout.mkdir()
    assert repo.list_tags() == []
    repo.put_blob_bytes(_blob(b"x"), b"x")
    assert (layout / "oci-layout").is_file()


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"README": "hello"}, "not an OCI image layout (no oci-layout file)"),
        ({"oci-layout": "not json"}, "oci-layout is not a JSON object"),
        ({"oci-layout": "[]"}, "oci-layout is not a JSON object"),
        ({"oci-layout": '{"imageLayoutVersion": "2.0.0"}'}, "imageLayoutVersion '2.0.0'"),
        ({"oci-layout": "{}"}, "imageLayoutVersion None"),
        ({"index.json": "{}"}, "no oci-layout file"),
    ],
)
def test_not_a_layout(layout: Path, files: dict[str, str], fragment: str) -> None:
    layout.mkdir()
    for name, text in files.items():
        (layout / name).write_text(text)
    repo = LayoutRepository(layout)
    for action in (
        lambda: repo.get_manifest("v1"),
        repo.list_tags,
        lambda: repo.put_blob_bytes(_blob(b"x"), b"x"),
    ):
        with pytest.raises(InvalidInput) as info:
            action()
        assert fragment in info.value.message
        assert str(layout) in info.value.message
        assert "\n" not in info.value.one_line()
    assert sorted(p.name for p in layout.iterdir()) == sorted(files)  # nothing written


@pytest.mark.parametrize(
    ("index", "fragment"),
    [
        ("{not json", "index.json is not valid JSON"),
        ("[]", "not an OCI index"),
        ('{"schemaVersion": 1, "manifests": []}', "schemaVersion must be 2"),
        ('{"schemaVersion": 2}', "manifests must be a list"),
        (
            f'{{"schemaVersion": 2, "mediaType": "{mt.OCI_MANIFEST}", "manifests": []}}',
            "not an OCI index",
        ),
        (
            '{"schemaVersion": 2, "manifests": [{"mediaType": "x/y", "size": 1,'
            ' "digest": "sha256:../../../etc/passwd"}]}',
            "invalid digest",
        ),
    ],
)
def test_bad_index_json(layout: Path, index: str, fragment: str) -> None:
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(index)
    repo = LayoutRepository(layout)
    with pytest.raises(InvalidInput, match=fragment) as info:
        repo.get_manifest("v1")
    assert f"oci:{layout}: index.json" in info.value.message
    with pytest.raises(InvalidInput, match=fragment):
        repo.put_manifest(_image(repo), "v1")


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        LayoutRepository("")
    repo = LayoutRepository(tmp_path / "out")
    crafted = Descriptor(mt.OCI_LAYER, "sha256:../../../etc/passwd", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidDigest):
        repo.put_blob(crafted, [b"x"])
    with pytest.raises(InvalidDigest):
        repo.open_blob(crafted)


def test_path_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match="not a directory"):
        LayoutRepository(tmp_path / "file").get_manifest("v1")


# Path safety --------------------------------------------------------------------------


def test_crafted_ref_names_do_not_escape(repo: LayoutRepository, layout: Path) -> None:
    image = _image(repo)
    repo.put_manifest(image, "ok")
    doc = _index_json(layout)
    for name in ("../../etc/passwd", "/../x", "a/../../b", "x:y"):
        entry = {"mediaType": mt.OCI_MANIFEST, "digest": str(image.digest), "size": image.size}
        doc["manifests"].append({**entry, "annotations": {REF_NAME: name}})  # type: ignore[attr-defined]
    (layout / "index.json").write_text(json.dumps(doc))
    # Names outside image-spec's ref.name grammar are not listed; "x:y" follows it.
    assert repo.list_tags() == ["ok", "x:y"]
    with pytest.raises(InvalidReference):
        repo.get_manifest("../../etc/passwd")
    with pytest.raises(InvalidDigest):
        repo.get_manifest("sha256:../../etc/passwd")
    with pytest.raises(InvalidDigest):
        repo.blob_size("sha256:../../../etc/passwd")  # type: ignore[arg-type]


def test_symlinked_blob_is_refused(repo: LayoutRepository, layout: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_bytes(b"secret")
    desc = _blob(b"secret")
    repo.put_blob_bytes(_blob(b"x"), b"x")
    _blob_path(layout, desc.digest).symlink_to(outside)
    with pytest.raises(InvalidInput, match="symbolic link"):
        repo.open_blob(desc)
    with pytest.raises(InvalidInput, match="symbolic link"):
        repo.blob_size(desc.digest)
    with pytest.raises(InvalidInput, match="symbolic link"):
        repo.get_manifest(desc.digest)
    # Writing the blob replaces the link with verified content; the outside file is untouched.
    repo.put_blob_bytes(desc, b"secret")
    assert not _blob_path(layout, desc.digest).is_symlink()
    assert outside.read_bytes() == b"secret"


def test_symlinked_blob_directory_is_refused(layout: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "sha256").mkdir(parents=True)
    desc = _blob(b"data")
    (elsewhere / "sha256" / desc.digest.hex).write_bytes(b"data")
    repo = LayoutRepository(layout)
    repo.put_blob_bytes(_blob(b"x"), b"x")
    (layout / "blobs" / "sha256" / _blob(b"x").digest.hex).unlink()
    (layout / "blobs" / "sha256").rmdir()
    (layout / "blobs").rmdir()
    (layout / "blobs").symlink_to(elsewhere)
    with pytest.raises(InvalidInput, match="blobs is a symbolic link"):
        repo.open_blob(desc)
    with pytest.raises(InvalidInput, match="blobs is a symbolic link"):
        repo.put_blob_bytes(_blob(b"y"), b"y")
    assert sorted(p.name for p in (elsewhere / "sha256").iterdir()) == [desc.digest.hex]


def test_fifo_blob_is_refused_without_hanging(repo: LayoutRepository, layout: Path) -> None:
    desc = _blob(b"fifo")
    repo.put_blob_bytes(_blob(b"x"), b"x")
    os.mkfifo(_blob_path(layout, desc.digest))
    with pytest.raises(InvalidInput, match="not a regular file"):
        repo.open_blob(desc)


# Identity and mounts ------------------------------------------------------------------


def test_same_as_and_no_mounting(
    layout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout.mkdir()
    (tmp_path / "link").symlink_to(layout)
    monkeypatch.chdir(tmp_path)
    a = LayoutRepository(layout)
    b = LayoutRepository("./out")
    c = LayoutRepository(tmp_path / "link")
    other = LayoutRepository(tmp_path / "other")
    assert a.name == f"oci:{layout}" and b.name == "oci:./out"
    assert a.same_as(b) and a.same_as(c)
    assert not a.same_as(other)
    # A layout has no cross-repository mount: content of the same directory is simply
    # there (same_as), anything else is streamed.
    assert not isinstance(a, BlobMounting)


# Concurrency --------------------------------------------------------------------------


def _tag_many(path: str, raw: bytes, prefix: str, count: int) -> None:
    repo = LayoutRepository(path)
    manifest = parse_manifest(raw)
    for i in range(count):
        repo.put_manifest(manifest, f"{prefix}-{i}")


def test_concurrent_tag_writes_lose_nothing(repo: LayoutRepository, layout: Path) -> None:
    one, two = _image(repo), _image(repo, b"second")
    spawn = multiprocessing.get_context("spawn")
    workers = [
        spawn.Process(target=_tag_many, args=(str(layout), m.raw, prefix, 20))
        for m, prefix in ((one, "a"), (two, "b"))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    tags = repo.list_tags()
    assert sorted(tags) == sorted([f"a-{i}" for i in range(20)] + [f"b-{i}" for i in range(20)])
    assert repo.get_manifest("a-7").digest == one.digest
    assert repo.get_manifest("b-19").digest == two.digest
    assert_valid(_index_json(layout), mt.OCI_INDEX)
    assert _leftovers(layout) == []
