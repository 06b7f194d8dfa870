"""The ``oci:`` layout rules (issue 11 #2) and crash leftovers (issue 13 #6), on real files.

Default tags follow the peers: a tagless read takes ``latest`` (regctl's ``ocidir://``),
else the layout's only image (skopeo's ``oci:`` transport); errors say what is wrong and
what the layout has; a writer killed mid-write leaves temporary files that the next
writer removes, while a live writer's are never touched.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from polyarch.content.context import Context
from polyarch.domain.digest import Digest
from polyarch.domain.location import LayoutReference
from polyarch.errors import InvalidInput, ManifestUnknown
from polyarch.storage.layout.repository import LayoutNotFound, LayoutRepository
from support.layout_images import blob as _blob
from support.layout_images import layout_image as _image


def _tmp_files(path: Path) -> list[Path]:
    return sorted(path.rglob(".tmp-*"))


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return tmp_path / "out"


def _implicit(layout: Path) -> LayoutRepository:
    """The repository ``oci:DIR`` (no tag) gets, as the Context builds it."""
    with Context() as ctx:
        repo = ctx.repository(LayoutReference.parse(f"oci:{layout}"))
    assert isinstance(repo, LayoutRepository)
    return repo


# -- default tags --------------------------------------------------------------------------


def test_tagless_read_finds_the_only_image(layout: Path) -> None:
    """The issue's case: copy SRC:1.0-amd64 oci:DIR writes 1.0-amd64; oci:DIR reads it."""
    writer = LayoutRepository(layout)
    image = _image(writer, b"amd64")
    writer.put_manifest(image, "1.0-amd64")
    assert _implicit(layout).get_manifest("latest").digest == image.digest
    # An explicit tag never falls back, and head_manifest answers for the tag itself.
    with pytest.raises(ManifestUnknown, match=r"has tags: 1\.0-amd64"):
        LayoutRepository(layout).get_manifest("latest")
    assert _implicit(layout).head_manifest("latest") is None


def test_tagless_read_prefers_latest(layout: Path) -> None:
    writer = LayoutRepository(layout)
    first, second = _image(writer, b"one"), _image(writer, b"two")
    writer.put_manifest(first, "v1")
    writer.put_manifest(second, "latest")
    assert _implicit(layout).get_manifest("latest").digest == second.digest


def test_tagless_read_of_several_images_lists_the_tags(layout: Path) -> None:
    writer = LayoutRepository(layout)
    writer.put_manifest(_image(writer, b"one"), "1.0-amd64")
    writer.put_manifest(_image(writer, b"two"), "1.0-arm64")
    with pytest.raises(ManifestUnknown) as info:
        _implicit(layout).get_manifest("latest")
    line = info.value.one_line()
    assert "the layout has tags: 1.0-amd64, 1.0-arm64" in line
    assert f"oci:{layout}:TAG" in line


def test_same_image_under_two_tags_is_one_image(layout: Path) -> None:
    writer = LayoutRepository(layout)
    image = _image(writer, b"one")
    writer.put_manifest(image, "a")
    writer.put_manifest(image, "b")
    assert _implicit(layout).get_manifest("latest").digest == image.digest


def test_unknown_tag_lists_tags_and_untagged_entries(layout: Path) -> None:
    writer = LayoutRepository(layout)
    writer.put_manifest(_image(writer, b"one"), "v1")
    index = json.loads((layout / "index.json").read_text())
    untagged = dict(index["manifests"][0])
    untagged.pop("annotations")
    index["manifests"].append(untagged)
    (layout / "index.json").write_text(json.dumps(index))
    with pytest.raises(ManifestUnknown) as info:
        writer.get_manifest("v2")
    assert "has tags: v1; 1 untagged manifest(s)" in info.value.one_line()


def test_empty_layout_says_so(layout: Path) -> None:
    LayoutRepository(layout).put_blob_bytes(_blob(b"x"), b"x")
    with pytest.raises(ManifestUnknown, match="holds no image yet"):
        LayoutRepository(layout).get_manifest("v1")


# -- not a layout ----------------------------------------------------------------------------


def test_missing_directory_is_not_a_layout(layout: Path) -> None:
    repo = LayoutRepository(layout)
    for read in (lambda: repo.get_manifest("v1"), repo.list_tags):
        with pytest.raises(LayoutNotFound, match="no such directory, so not an OCI image layout"):
            read()
    layout.mkdir()
    with pytest.raises(LayoutNotFound, match="an empty directory, not an OCI image layout"):
        repo.get_manifest("v1")
    assert repo.head_manifest("v1") is None  # a destination to be: nothing there yet


def test_write_creates_the_directory_not_its_parents(tmp_path: Path) -> None:
    deep = tmp_path / "nonexistent" / "deep" / "dir"
    with pytest.raises(InvalidInput) as info:
        LayoutRepository(deep).put_blob_bytes(_blob(b"x"), b"x")
    assert f"the parent directory {deep.parent} does not exist" in info.value.one_line()
    assert not (tmp_path / "nonexistent").exists()
    LayoutRepository(tmp_path / "new").put_blob_bytes(_blob(b"x"), b"x")
    assert (tmp_path / "new" / "oci-layout").is_file()


def test_no_lock_file_in_the_layout(layout: Path) -> None:
    writer = LayoutRepository(layout)
    writer.put_manifest(_image(writer, b"one"), "v1")
    writer.delete_tag("v1")
    assert sorted(p.name for p in layout.iterdir()) == ["blobs", "index.json", "oci-layout"]


@pytest.mark.parametrize(
    ("path", "make", "said"),
    [
        ("index.json", os.mkfifo, "index.json is a FIFO, not a regular file"),
        ("oci-layout", os.mkdir, "oci-layout is a directory, not a regular file"),
        ("blobs", lambda p: Path(p).write_text("x"), "blobs is a regular file, not a directory"),
    ],
)
def test_a_path_that_is_not_what_it_must_be_is_named(
    layout: Path, path: str, make: object, said: str
) -> None:
    writer = LayoutRepository(layout)
    image = _image(writer, b"one")
    writer.put_manifest(image, "v1")
    target = layout / path
    if target.is_dir():
        for child in sorted(target.rglob("*"), reverse=True):
            child.unlink() if not child.is_dir() else child.rmdir()
        target.rmdir()
    else:
        target.unlink()
    make(str(target))  # type: ignore[operator]
    with pytest.raises(InvalidInput) as info:
        LayoutRepository(layout).get_manifest(str(image.digest))
    assert said in info.value.one_line()


# -- crash leftovers (issue 13 #6) -----------------------------------------------------------


def _slow_writer(path: str, ready: Connection, go: Connection) -> None:
    """Write a blob whose stream stops half-way until told to go on."""
    data = b"x" * (4 * 1024 * 1024)

    def chunks() -> Iterator[bytes]:
        yield data[: len(data) // 2]
        ready.send("half")
        go.recv()
        yield data[len(data) // 2 :]

    LayoutRepository(path).put_blob(_blob(data), chunks())


def _start_writer(layout: Path) -> tuple[multiprocessing.Process, Connection]:
    ctx = multiprocessing.get_context("fork")
    ready_r, ready_w = ctx.Pipe(duplex=False)
    go_r, go_w = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_slow_writer, args=(str(layout), ready_w, go_r))
    proc.start()
    assert ready_r.poll(30), "the writer did not start"
    ready_r.recv()
    return proc, go_w


def test_killed_writer_leftovers_are_removed_by_the_next_writer(layout: Path) -> None:
    LayoutRepository(layout).put_blob_bytes(_blob(b"seed"), b"seed")
    proc, _go = _start_writer(layout)
    os.kill(proc.pid or 0, signal.SIGKILL)
    proc.join(30)
    leftovers = _tmp_files(layout)
    assert len(leftovers) == 1 and leftovers[0].parent.name == "sha256"
    assert leftovers[0].stat().st_size == 2 * 1024 * 1024
    LayoutRepository(layout).put_blob_bytes(_blob(b"next"), b"next")
    assert _tmp_files(layout) == []


def test_a_live_writers_temporary_file_is_never_removed(layout: Path) -> None:
    LayoutRepository(layout).put_blob_bytes(_blob(b"seed"), b"seed")
    proc, go = _start_writer(layout)
    try:
        live = _tmp_files(layout)
        assert len(live) == 1
        LayoutRepository(layout).put_blob_bytes(_blob(b"other"), b"other")  # cleans
        assert _tmp_files(layout) == live
        go.send("go")
        proc.join(30)
        assert proc.exitcode == 0
    finally:
        if proc.is_alive():
            proc.kill()
    data = b"x" * (4 * 1024 * 1024)
    assert LayoutRepository(layout).blob_size(Digest.of(data)) == len(data)
    assert _tmp_files(layout) == []


def test_legacy_unlocked_temporary_files_are_removed(layout: Path) -> None:
    LayoutRepository(layout).put_blob_bytes(_blob(b"seed"), b"seed")
    stale = [layout / ".tmp-0123456789abcdef", layout / "blobs" / "sha256" / ".tmp-feedc0de"]
    for path in stale:
        path.write_bytes(b"partial")
    LayoutRepository(layout).put_blob_bytes(_blob(b"next"), b"next")
    assert _tmp_files(layout) == []


def _writer(path: str, seed: int) -> None:
    repo = LayoutRepository(path)  # a fresh process: cleans on its first write
    for i in range(20):
        data = b"%d-%d " % (seed, i) * 5000
        repo.put_blob(_blob(data), iter([data[:7000], data[7000:]]))


def test_concurrent_writers_cleaning_lose_nothing(layout: Path) -> None:
    """Eight processes write at once, each removing stale files as it starts: every blob of
    every writer lands, and nothing temporary is left."""
    LayoutRepository(layout).put_blob_bytes(_blob(b"seed"), b"seed")
    (layout / "blobs" / "sha256" / ".tmp-1-dead").write_bytes(b"from a killed writer")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(layout), n)) for n in range(8)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    repo = LayoutRepository(layout)
    for n in range(8):
        for i in range(20):
            data = b"%d-%d " % (n, i) * 5000
            assert repo.blob_size(Digest.of(data)) == len(data)
    assert _tmp_files(layout) == []


def test_a_layout_created_between_two_looks_is_a_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that missed the marker while another writer created the layout.

    Seen in CI: ``copy`` into a new ``oci:`` directory with several jobs; one job's
    ``blob_size`` read no ``oci-layout``, then listed the directory after another job had
    created it (marker, blobs/, index.json) and called it "not an OCI image layout". The
    window is made deterministic here: the first read of the marker finds nothing.
    """
    from polyarch.storage.layout import files as layoutfs

    repo = LayoutRepository(tmp_path / "dst")
    _image(repo, b"layer")  # the layout exists: marker, blobs/, index.json
    real = layoutfs.read_file
    calls = {"n": 0}

    def first_read_misses(*args: object, **kwargs: object) -> bytes:
        calls["n"] += 1
        if calls["n"] == 1:
            raise FileNotFoundError("oci-layout")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(layoutfs, "read_file", first_read_misses)
    fresh = LayoutRepository(tmp_path / "dst")  # a reader that has not checked it yet
    assert fresh.list_tags() == []
    assert calls["n"] >= 2
