"""The blob-info cache file on its own: bounded, shared by processes, never fatal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from polyarch.content.blobinfo import BlobInfoCache, default_cache_path

D = "sha256:" + "b" * 64


def test_default_location_and_off_switch() -> None:
    assert default_cache_path({"HOME": "/h"}) == Path("/h/.cache/polyarch/blob-info.sqlite3")
    assert default_cache_path({"XDG_CACHE_HOME": "/x"}) == Path("/x/polyarch/blob-info.sqlite3")
    assert default_cache_path({"POLYARCH_BLOB_CACHE": "/c/f.db"}) == Path("/c/f.db")
    for off in ("off", "0", "", "OFF"):
        assert default_cache_path({"POLYARCH_BLOB_CACHE": off}) is None


def test_candidates_newest_first_excluding_the_destination(tmp_path: Path) -> None:
    cache = BlobInfoCache(tmp_path / "c.db")
    for repo in ("a", "b", "c", "d"):
        cache.record("reg:5000", repo, D)
    assert cache.candidates("reg:5000", D, exclude="d") == ["c", "b", "a"]
    assert cache.candidates("reg:5000", D, exclude="d", limit=1) == ["c"]
    assert cache.candidates("other:5000", D, exclude="x") == []
    cache.forget("reg:5000", "c", D)
    assert cache.candidates("reg:5000", D, exclude="d") == ["b", "a"]


def test_size_is_bounded(tmp_path: Path) -> None:
    cache = BlobInfoCache(tmp_path / "c.db", max_entries=10)
    for n in range(600):
        cache.record("reg", f"r{n}", D)
    rows = cache._run("SELECT COUNT(*) FROM blobs", ())
    assert int(rows[0][0]) <= 10 + 256  # pruned every 256 writes down to max_entries
    cache._prune()
    assert int(cache._run("SELECT COUNT(*) FROM blobs", ())[0][0]) == 10
    assert cache.candidates("reg", D, exclude="x", limit=1) == ["r599"]


def test_an_unusable_location_is_ignored(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = BlobInfoCache(blocker / "sub" / "c.db")
    cache.record("reg", "r", D)  # no exception: the cache is only an optimization
    assert cache.candidates("reg", D, exclude="x") == []


def test_concurrent_processes_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    script = (
        "import sys\n"
        "from polyarch.content.blobinfo import BlobInfoCache\n"
        "c = BlobInfoCache(__import__('pathlib').Path(sys.argv[1]))\n"
        "for i in range(200): c.record('reg', f'{sys.argv[2]}-{i}', 'sha256:' + 'b' * 64)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), f"p{n}"]) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    cache = BlobInfoCache(path)
    assert int(cache._run("SELECT COUNT(*) FROM blobs", ())[0][0]) == 800
