"""The one table layout (cli/render.py), with the columns of build and publish tables.

The real-terminal tests (tests/integration/test_cli_tables.py) drive inspect and verify
through a pty; build and publish need a Docker engine, so their column shapes are laid
out here directly, at the same widths, with the same assertions.
"""

from __future__ import annotations

import pytest

from polyarch.cli.render.output import format_digest
from polyarch.cli.render.table import Column, table_lines
from polyarch.domain.digest import Digest

DIGEST = Digest("sha256:" + "5ec6f70a1b2c" + "d" * 52)
RECORD = "/home/ci/work/metrics-api/.polyarch/records/linux-arm-v7.json"
PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le"]


@pytest.mark.parametrize("width", [60, 80, 120, 200])
@pytest.mark.parametrize("no_trunc", [False, True])
def test_publish_and_build_tables(width: int, no_trunc: bool) -> None:
    digest = format_digest(DIGEST, no_trunc=no_trunc)
    shapes = [
        (
            [
                Column("PLATFORM"),
                Column("DIGEST"),
                Column("RECORD", wrap=True),
                Column("ATTESTATIONS"),
            ],
            [[p, digest, RECORD, "1"] for p in PLATFORMS],
        ),
        (
            [Column("PLATFORM"), Column("DIGEST"), Column("TAG"), Column("RECORD", wrap=True)],
            [[p, digest, "v2.0.0-" + p.replace("/", "-"), RECORD] for p in PLATFORMS],
        ),
        (
            [Column("PLATFORM"), Column("RUN"), Column("OUTPUT", wrap=True)],
            [[p, "pass", "metrics-api 2.0.0 listening on :8080 " * 3] for p in PLATFORMS],
        ),
    ]
    for columns, rows in shapes:
        lines = [line.plain for line in table_lines(columns, rows, width)]
        text = "\n".join(lines)
        for line in lines:
            # Only a whole digest, longer than the terminal, may be (a path is wrapped).
            if len(line) > width:
                assert line.strip() == str(DIGEST), (width, line)
        for platform in PLATFORMS:
            assert any(platform in line.split() for line in lines), text
        for column in columns:
            assert column.header in text
        if columns[1].header == "DIGEST":
            assert sum(digest in line.split() for line in lines) == len(PLATFORMS), text
        assert "…" not in text


def test_fits_on_one_line_when_wide_enough() -> None:
    columns = [Column("PLATFORM"), Column("DIGEST"), Column("DETAIL", wrap=True)]
    rows = [["linux/amd64", DIGEST.short, "short"]]
    lines = [line.plain for line in table_lines(columns, rows, 80)]
    assert lines == [
        "PLATFORM     DIGEST               DETAIL",
        "linux/amd64  sha256:5ec6f70a1b2c  short",
    ]


def test_unlimited_width_never_wraps() -> None:
    rows = [["linux/amd64", str(DIGEST), "word " * 100]]
    lines = table_lines([Column("A"), Column("B"), Column("C", wrap=True)], rows, None)
    assert len(lines) == 2


def test_format_digest() -> None:
    assert format_digest(DIGEST) == "sha256:5ec6f70a1b2c"
    assert format_digest(str(DIGEST), no_trunc=True) == str(DIGEST)
    assert format_digest(None) == "-"
    assert format_digest("not-a-digest") == "not-a-digest"


def test_free_text_wraps_at_spaces_and_splits_only_long_non_digest_words() -> None:
    columns = [Column("CHECK"), Column("DETAIL", wrap=True)]
    detail = f"index has {DIGEST}, {RECORD} recorded another"
    lines = [line.plain for line in table_lines(columns, [["digests", detail]], 60)]
    assert any(line.strip() == f"{DIGEST}," for line in lines), lines
    assert all(len(line) <= 60 or str(DIGEST) in line for line in lines), lines
    assert RECORD in "".join(line.strip() for line in lines)  # split, nothing lost
