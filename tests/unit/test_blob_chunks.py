"""Blob bodies are re-chunked once: socket reads joined into CHUNK_SIZE chunks (issue 12)."""

from __future__ import annotations

from polyarch.storage.registry.bodies import coalesce
from polyarch.storage.stream import CHUNK_SIZE

#: What httpcore hands over per socket read (``HTTP11Connection.READ_NUM_BYTES``).
READ = 64 * 1024


def _pieces(total: int, size: int = READ) -> list[bytes]:
    data = bytes(range(256)) * (total // 256 + 1)
    return [data[i : min(i + size, total)] for i in range(0, total, size)]


def test_socket_reads_are_joined_into_chunks_of_chunk_size() -> None:
    pieces = _pieces(3 * CHUNK_SIZE + 1000)
    chunks = list(coalesce(pieces, CHUNK_SIZE))
    assert b"".join(chunks) == b"".join(pieces)
    assert [len(c) for c in chunks] == [CHUNK_SIZE] * 3 + [1000]


def test_uneven_reads_make_chunks_of_at_least_the_size_and_less_than_one_read_more() -> None:
    # Loopback and real networks deliver less than a full read at a time.
    pieces = [p[: 1 + (i * 7919) % READ] for i, p in enumerate(_pieces(40 * READ))]
    chunks = list(coalesce(pieces, CHUNK_SIZE))
    assert b"".join(chunks) == b"".join(pieces)
    assert all(CHUNK_SIZE <= len(c) < CHUNK_SIZE + READ for c in chunks[:-1])
    assert 0 < len(chunks[-1]) < CHUNK_SIZE + READ


def test_a_read_of_a_whole_chunk_is_passed_on_without_a_copy() -> None:
    big = bytes(CHUNK_SIZE)
    (chunk,) = coalesce([big], CHUNK_SIZE)
    assert chunk is big


def test_an_empty_body_gives_no_chunk() -> None:
    assert list(coalesce([], CHUNK_SIZE)) == []
