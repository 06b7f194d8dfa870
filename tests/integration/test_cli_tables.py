"""Every table the CLI prints, on a real pseudo-terminal 60, 80, 120 and 200 columns wide.

The convention (src/polyarch/cli/render.py): identifying columns are never cut, digests
are ``sha256:`` + 12 hex digits or whole with ``--no-trunc``, a row that does not fit
wraps onto an indented continuation line. What is asserted is what the terminal shows:
no line longer than the terminal (which would wrap it where it pleases), no ellipsis,
every platform and every digest whole on one line.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import build_index
from support.images import PushedImage, attestation_entry, push_attestation, push_image
from support.terminal import Screen, run_cli_pty

pytestmark = pytest.mark.integration

WIDTHS = (60, 80, 120, 200)
PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "windows/amd64"]
WHOLE = re.compile(r"sha256:[0-9a-f]{64}")
SHORT = re.compile(r"sha256:[0-9a-f]{12}(?![0-9a-f])")


@dataclass(frozen=True)
class Pushed:
    ref: Reference
    images: list[PushedImage]
    attestations: list[Digest]
    single: Reference


@pytest.fixture(scope="module")
def pushed(registry: Any) -> Pushed:
    """An index of five images (two with attestations) and a single image, pushed."""
    repo_ref = Reference.parse(f"{registry.host}/tables-{uuid.uuid4().hex[:8]}/app")
    with Context() as ctx:
        repo = ctx.repository(repo_ref)
        images = [push_image(repo, p, extra_layers=2) for p in PLATFORMS]
        entries = [i.manifest.descriptor(i.platform) for i in images]
        attestations = []
        for image in images[:2]:
            attestation = push_attestation(repo, image.manifest)
            attestations.append(attestation.digest)
            entries.append(attestation_entry(attestation, image.digest))
        repo.put_manifest(build_index(entries), "v1")
        push_image(repo, "linux/arm64", tag="single", extra_layers=1)
    return Pushed(repo_ref.with_tag("v1"), images, attestations, repo_ref.with_tag("single"))


def assert_visible(screen: Screen, *, no_trunc: bool = False) -> None:
    """Nothing the terminal would have to wrap or that was cut.

    A whole digest (71 characters) cannot fit a 60-column terminal: there, and only
    there, a line may be longer, and it is the digest alone (with its indent).
    """
    assert screen.code == 0, screen.text
    assert "…" not in screen.text and "..." not in screen.text, screen.text
    for line in screen.overlong():
        assert WHOLE.fullmatch(line.strip()), (screen.columns, line, screen.text)
        assert screen.columns < 71 + 4, (screen.columns, line)
    if not no_trunc:
        # Outside the header lines (whole on purpose), digests are the 12-hex prefix.
        body = [line for line in screen.lines if not line.startswith("  ")]
        assert not any(WHOLE.search(line) for line in body), screen.text


def line_with(screen: Screen, *fragments: str) -> str:
    """The one line holding every fragment (each whole)."""
    found = [line for line in screen.lines if all(f in line for f in fragments)]
    assert found, (fragments, screen.text)
    return found[0]


def header_columns(screen: Screen, headers: Sequence[str]) -> None:
    """Every header is shown, whole (on the first header line or a continuation line)."""
    for header in headers:
        assert re.search(rf"(^|\s){re.escape(header)}(\s|$)", screen.text, re.M), (
            header,
            screen.text,
        )


@pytest.mark.parametrize("columns", WIDTHS)
def test_inspect_index_table(pushed: Pushed, columns: int) -> None:
    screen = run_cli_pty("inspect", str(pushed.ref), columns=columns)
    assert_visible(screen)
    header_columns(screen, ["PLATFORM", "KIND", "DIGEST", "SIZE", "ATTESTS"])
    for image in pushed.images:
        line_with(screen, str(image.platform), image.digest.short)
    for digest in pushed.attestations:
        line_with(screen, "unknown/unknown", "attestation", digest.short)
    # The attestations name the platform they attest, whole.
    attests = [line for line in screen.lines if "linux/amd64" in line]
    assert len(attests) == 2, screen.text
    if columns >= 80:
        # Wide enough: one line per entry, nothing on continuation lines.
        for image in pushed.images:
            line_with(screen, str(image.platform), "image", image.digest.short, " B")


@pytest.mark.parametrize("columns", WIDTHS)
def test_inspect_index_no_trunc(pushed: Pushed, columns: int) -> None:
    screen = run_cli_pty("inspect", "--no-trunc", str(pushed.ref), columns=columns)
    assert_visible(screen, no_trunc=True)
    for image in pushed.images:
        assert any(str(image.digest) in line for line in screen.lines), screen.text
        assert any(str(image.platform) in line for line in screen.lines), screen.text
    if columns >= 120:
        for image in pushed.images:
            line_with(screen, str(image.platform), str(image.digest))


@pytest.mark.parametrize("columns", WIDTHS)
def test_inspect_image_table(pushed: Pushed, columns: int) -> None:
    screen = run_cli_pty("inspect", str(pushed.single), columns=columns)
    assert_visible(screen)
    header_columns(screen, ["LAYER", "MEDIA TYPE", "SIZE"])
    assert any(WHOLE.search(line) for line in screen.lines[:4]), screen.text
    layer_lines = [line for line in screen.lines if SHORT.match(line)]
    assert len(layer_lines) == 2, screen.text
    assert "application/vnd.oci.image.layer.v1.tar+gzip" in screen.text


@pytest.mark.parametrize("columns", WIDTHS)
def test_verify_table(pushed: Pushed, columns: int) -> None:
    wrong = "linux/arm64=sha256:" + "0" * 64
    screen = run_cli_pty(
        "verify", str(pushed.ref), "--expect", wrong, "--platform", "linux/amd64", columns=columns
    )
    assert screen.code == 1, screen.text
    assert "…" not in screen.text, screen.text
    for line in screen.overlong():
        assert WHOLE.search(line) and columns < 80, (columns, line)
    header_columns(screen, ["STATUS", "CHECK", "PLATFORM", "DETAIL"])
    line_with(screen, "fail", "digests", "linux/arm64")
    # The digests in the failure's detail are whole, each on one line.
    assert any("sha256:" + "0" * 64 in line for line in screen.lines), screen.text
    assert any(str(pushed.images[1].digest) in line for line in screen.lines), screen.text
    line_with(screen, "FAILED")


def test_tables_off_a_terminal_are_never_wrapped(pushed: Pushed) -> None:
    """A pipe has no width: one line per row, whatever $COLUMNS is not set to."""
    from support.cli import run_cli

    result = run_cli("inspect", str(pushed.ref), env={"COLUMNS": ""})
    assert result.code == 0, result.err
    for image in pushed.images:
        assert any(
            str(image.platform) in line and image.digest.short in line and " B" in line
            for line in result.out.splitlines()
        ), result.out
