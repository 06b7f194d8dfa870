"""Safe reading of the user's files (issue 13 #4): the helper, and every kind of file read.

Each kind of file polyarch reads from the environment (Docker and podman auth files,
records, spec files, OCI layout files) is tried with the same bad inputs: a FIFO (must
be refused, never waited on), a huge sparse file (refused after ``limit`` bytes, so
memory stays bounded), bytes that are not UTF-8 (an error naming the file).
"""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from polyarch.content.records.formats import load_records
from polyarch.errors import InvalidInput
from polyarch.files import (
    FileTooLarge,
    NotARegularFile,
    UnreadableFile,
    load_json,
    read_bytes,
    read_text,
)
from polyarch.pipeline.specfile import load_spec
from polyarch.pipeline.specfile.model import SpecError
from polyarch.storage.layout.repository import LayoutRepository
from polyarch.transport.auth.credentials import CredentialResolver

CANARY = "canary-s3cret-PASSWORD-7f3a"
HUGE = 3 * 1024**3  # the size of the config.json; sparse, so it costs no disk


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """A read that blocks on a FIFO fails the test after 10 s instead of hanging the run."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("a read blocked: the FIFO was opened blocking")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _huge(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        file.write(b'{"auths": {')
        file.truncate(HUGE)
    return path


# -- the helper ---------------------------------------------------------------------------


def test_regular_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}')  # a byte-order mark is accepted
    assert load_json(path, what="test file") == {"a": 1}
    assert read_bytes(path, what="test file", limit=11) == path.read_bytes()


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path / "fifo")
    with pytest.raises(NotARegularFile, match=r"test file .*fifo: is a FIFO, not a regular file"):
        read_bytes(fifo, what="test file")


@pytest.mark.parametrize("kind", ["directory", "socket", "character device"])
def test_other_kinds_are_refused(tmp_path: Path, kind: str) -> None:
    if kind == "directory":
        path = tmp_path / "d"
        path.mkdir()
    elif kind == "socket":
        path = tmp_path / "s"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    else:
        path = Path("/dev/null")
    try:
        with pytest.raises(NotARegularFile, match=f"is a {kind}"):
            read_bytes(path, what="test file")
    finally:
        if kind == "socket":
            server.close()


def test_symbolic_link_refused_when_not_followed(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("{}")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    assert load_json(tmp_path / "link", what="test file") == {}
    with pytest.raises(NotARegularFile, match="symbolic link"):
        read_bytes(tmp_path / "link", what="test file", follow_symlinks=False)


def test_size_is_bounded(tmp_path: Path) -> None:
    path = _huge(tmp_path / "big.json")
    with pytest.raises(FileTooLarge, match=r"big\.json: larger than 1 MiB"):
        read_bytes(path, what="test file", limit=1024 * 1024)


def test_decoding_errors_name_the_file_never_the_content(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"password": "' + CANARY.encode() + b'\xe9"}')
    with pytest.raises(UnreadableFile) as info:
        read_text(path, what="test file")
    assert "latin1.json: not UTF-8 text (invalid byte at offset" in info.value.message
    path.write_text('{"password": "' + CANARY + '"')
    with pytest.raises(UnreadableFile) as info:
        load_json(path, what="test file")
    assert "latin1.json: not valid JSON (line 1, column" in info.value.message
    assert CANARY not in info.value.one_line()
    assert info.value.exit_code == 2


def test_missing_file_is_left_to_the_caller(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_bytes(tmp_path / "none", what="test file")


# -- every reader of the user's files uses it ---------------------------------------------


def _docker_config(tmp_path: Path, name: str) -> tuple[Path, Callable[[], object]]:
    path = tmp_path / "docker" / name
    resolver = CredentialResolver(environ={"DOCKER_CONFIG": str(path.parent)}, home=tmp_path)
    return path.parent / "config.json", lambda: resolver.resolve("r.example")


def _podman_auth(tmp_path: Path, name: str) -> tuple[Path, Callable[[], object]]:
    path = tmp_path / "podman" / "auth.json"
    environ = {"DOCKER_CONFIG": str(tmp_path / "nodocker"), "REGISTRY_AUTH_FILE": str(path)}
    resolver = CredentialResolver(environ=environ, home=tmp_path)
    return path, lambda: resolver.resolve("r.example")


def _records(tmp_path: Path, name: str) -> tuple[Path, Callable[[], object]]:
    path = tmp_path / "records" / "rec.json"
    return path, lambda: load_records([path])


def _spec(tmp_path: Path, name: str) -> tuple[Path, Callable[[], object]]:
    path = tmp_path / "spec" / "polyarch.yaml"
    return path, lambda: load_spec(path)


def _layout_index(tmp_path: Path, name: str) -> tuple[Path, Callable[[], object]]:
    root = tmp_path / "layout"
    root.mkdir()
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return root / "index.json", lambda: LayoutRepository(root).list_tags()


READERS = {
    "docker-config": _docker_config,
    "podman-auth": _podman_auth,
    "records": _records,
    "spec": _spec,
    "layout-index": _layout_index,
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_fifo_is_refused_by_name(tmp_path: Path, reader: str) -> None:
    path, read = READERS[reader](tmp_path, "fifo")
    _fifo(path)
    with pytest.raises(InvalidInput) as info:
        read()
    assert info.value.exit_code == 2
    assert "FIFO" in info.value.one_line()
    assert path.name in info.value.one_line()
    assert "does not exist" not in info.value.one_line()  # issue 13 #7, --records


@pytest.mark.parametrize("reader", ["docker-config", "podman-auth", "records", "spec"])
def test_huge_file_is_refused_without_reading_it(tmp_path: Path, reader: str) -> None:
    path, read = READERS[reader](tmp_path, "huge")
    _huge(path)
    with pytest.raises(InvalidInput) as info:
        read()  # reads at most the cap: a 3 GiB read would take seconds and 6 GiB
    assert info.value.exit_code == 2
    assert path.name in info.value.one_line()
    assert "larger than" in info.value.one_line()


@pytest.mark.parametrize("reader", ["docker-config", "podman-auth", "records"])
def test_non_utf8_names_the_file(tmp_path: Path, reader: str) -> None:
    path, read = READERS[reader](tmp_path, "latin1")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"auths": {"r.example": {"auth": "' + CANARY.encode() + b'\xff"}}}')
    with pytest.raises(InvalidInput) as info:
        read()
    line = info.value.one_line()
    assert info.value.exit_code == 2
    assert str(path) in line
    assert "not UTF-8" in line
    assert CANARY not in line


def test_spec_fifo_is_a_spec_error(tmp_path: Path) -> None:
    path = _fifo(tmp_path / "polyarch.yaml")
    with pytest.raises(SpecError, match="is a FIFO"):
        load_spec(path)


def test_records_directory_refuses_a_fifo_inside(tmp_path: Path) -> None:
    _fifo(tmp_path / "recs" / "a.json")
    with pytest.raises(InvalidInput, match=r"a\.json: is a FIFO"):
        load_records([tmp_path / "recs"])


def test_helper_output_is_bounded(tmp_path: Path) -> None:
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"credsStore": "big"}))
    helper = tmp_path / "bin" / "docker-credential-big"
    helper.parent.mkdir()
    helper.write_text("#!/bin/sh\nhead -c 3000000 /dev/zero\n")
    helper.chmod(0o755)
    environ = {"DOCKER_CONFIG": str(config.parent), "PATH": f"{helper.parent}:/usr/bin:/bin"}
    resolver = CredentialResolver(environ=environ, home=tmp_path)
    with pytest.raises(Exception, match="printed more than 1 MiB"):
        resolver.resolve("r.example")


def test_cli_records_fifo_names_the_real_cause(tmp_path: Path) -> None:
    """Issue 13 #7: `--records` given a FIFO said "does not exist"."""
    from support.cli import assert_one_line_error, run_cli

    fifo = _fifo(tmp_path / "rec.json")
    result = run_cli("verify", "--records", str(fifo), "127.0.0.1:9/app:v1", timeout=30)
    assert_one_line_error(result, 2, f"records file {fifo}: is a FIFO, not a regular file")
