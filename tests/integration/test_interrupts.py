"""Issue 25, kind 1: a user's interrupt stops the work now.

Ctrl-C (SIGINT to the process group, as a terminal sends it) in the middle of a transfer:
blobs not yet started are never started, blobs in flight are abandoned (their upload
sessions cancelled where the registry allows it: CNCF distribution does, ``DELETE`` on
the session), the command exits 130 with one line, no tag has moved, and the same command
run again completes.

"In the middle" is an event, not a delay: a proxy in front of the real registry
(:mod:`support.tamperproxy`) holds the upload ``PATCH``es (or the source blob ``GET``s)
of the copy until the test releases them; the signal goes out once ``--jobs`` of them are
held. Whether the command stopped "now" is then an event too: it ended while its requests
were still held, before the test released them (a 5 s wait is only the hang guard that
decides when to release them), and nothing was started or committed after the signal.
For a copy between two layouts (no network to hold), the process is stopped with SIGSTOP
once its first blob is complete, the blobs complete and in flight are counted, and SIGINT
is delivered with SIGCONT.

Measured before the fix (``jobs`` 4, 12 layers): the pool runs every queued blob before
the interrupt is reported; ``copy`` between two registries exited 130 only after all 12
layers were copied (17.5 s in the issue's run).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, CopyRequest, Reference, TransportSettings, copy_image
from polyarch.domain.manifest import ImageManifest
from polyarch.domain.platform import Platform
from polyarch.storage.layout.repository import LayoutRepository
from support.measured import Measured, Started, exited_within, finish, signal_group, start_cli
from support.random_blobs import push_image_manifest, push_random_blob
from support.registry import RegistryServer
from support.tamperproxy import Hold, Seen, TamperProxy

pytestmark = pytest.mark.integration

LAYERS = 12
#: Small enough to generate fast, large enough to be streamed (PATCH) like any layer.
LAYER_SIZE = 1024 * 1024
#: The copy's default --jobs: the pool the interrupt must stop.
JOBS = 4
#: A hang guard, not the assertion: how long the test waits for the command to end on its
#: own before it releases the held requests (so that a command that waits for them ends).
GUARD = 5.0
#: The exit code of a command ended by SIGINT (128 + 2), SIGTERM (128 + 15).
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclass(frozen=True)
class Image:
    """A 12-layer single-platform image: tag ``ref`` in registry A."""

    ref: Reference
    manifest: ImageManifest


@pytest.fixture(scope="module")
def image(registry: RegistryServer) -> Image:
    ref = Reference.parse(f"{registry.host}/interrupts-{uuid.uuid4().hex[:8]}/app:v1")
    with Context(TransportSettings()) as ctx:
        repo = ctx.repository(ref)
        layers = [
            push_random_blob(repo, f"{ref.repository}#{i}", LAYER_SIZE) for i in range(LAYERS)
        ]
        manifest = push_image_manifest(repo, Platform.parse("linux/amd64"), layers)
        repo.put_manifest(manifest, ref.tag)
    return Image(ref, manifest)


@pytest.fixture(scope="module")
def layout_source(image: Image, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same image in an OCI layout: ``oci:DIR:v1``."""
    directory = tmp_path_factory.mktemp("interrupt-source") / "layout"
    with Context(TransportSettings()) as ctx:
        copy_image(CopyRequest.build(image.ref, f"oci:{directory}:v1"), ctx)
    return f"oci:{directory}:v1"


@dataclass(frozen=True)
class Interrupted:
    """What a command did around the signal."""

    result: Measured
    #: The command ended while the proxy still held its requests (before the guard).
    ended_while_held: bool
    before: list[Seen]
    after: list[Seen]


def _kill(started: Started) -> None:
    if started.proc.poll() is None:
        signal_group(started, signal.SIGKILL)


def interrupt_when_held(
    args: list[str],
    proxy: TamperProxy,
    held: int,
    signum: int = signal.SIGINT,
    *,
    then: Callable[[Started], None] | None = None,
) -> Interrupted:
    """Start the CLI, signal it once ``held`` of its requests are held, report what followed.

    ``then`` (given the started command) runs after the signal, before the guard.
    """
    started = start_cli(*args)
    try:
        if not proxy.wait_held(held, timeout=120):
            _kill(started)
            failed = finish(started, 30)
            raise AssertionError(
                f"never {held} requests in flight: {[(s.method, s.path) for s in proxy.seen]}; "
                f"exit {failed.code}: {failed.err[-800:]}"
            )
        mark = len(proxy.seen)
        signal_group(started, signum)
        if then is not None:
            then(started)
        ended = exited_within(started, GUARD)
    finally:
        proxy.release()
    result = finish(started, 300)
    seen = proxy.seen
    return Interrupted(result, ended, seen[:mark], seen[mark:])


def _uploads(seen: list[Seen], method: str) -> list[Seen]:
    return [s for s in seen if s.method == method and "/blobs/uploads/" in s.path]


def upload_outcome(run: Interrupted, signum: int = signal.SIGINT) -> dict[str, Any]:
    """The facts an interrupted transfer into a registry is judged by."""
    opened = {s.path for s in _uploads(run.before, "PATCH")}
    committed = {s.path for s in _uploads(run.before + run.after, "PUT")}
    cancelled = {s.path for s in _uploads(run.after, "DELETE")}
    return {
        "exit code": run.result.code,
        "ended while its uploads were held": run.ended_while_held,
        "upload sessions opened after the signal": len(_uploads(run.after, "POST")),
        "blobs committed after the signal": len(
            [s for s in _uploads(run.after, "PUT") if s.param("digest")]
        ),
        "held sessions not cancelled": len(opened - committed - cancelled),
    }


def expected_outcome(signum: int = signal.SIGINT) -> dict[str, Any]:
    return {
        "exit code": EXIT_CODES[signum],
        "ended while its uploads were held": True,
        "upload sessions opened after the signal": 0,
        "blobs committed after the signal": 0,
        "held sessions not cancelled": 0,
    }


def _hold_patches(seen: Seen) -> Hold | None:
    return Hold() if seen.method == "PATCH" and "/blobs/uploads/" in seen.path else None


def _hold_blob_reads(seen: Seen) -> Hold | None:
    return Hold() if seen.method == "GET" and "/blobs/sha256:" in seen.path else None


def assert_one_clean_line(result: Measured) -> None:
    """The interrupt is reported in one ``error:`` line (``-q``: nothing else), no traceback."""
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err


def _tag_in(registry: RegistryServer, ref: str) -> object:
    """What ``ref`` (on ``registry``, by its proxy-less name) points at now, or None."""
    parsed = Reference.parse(ref)
    with Context(TransportSettings()) as ctx:
        direct = ctx.repository(Reference.parse(f"{registry.host}/{parsed.repository}"))
        return direct.head_manifest(parsed.tag or "latest")


def _temp_files(directory: Path) -> list[str]:
    return sorted(str(p) for p in directory.rglob(".tmp-*"))


# -- registry to registry -------------------------------------------------------------------


COMMANDS: dict[str, Callable[[str, str], list[str]]] = {
    "copy": lambda source, target: ["copy", "-q", source, target],
    "create": lambda source, target: ["create", "-q", "-t", target, source],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_sigint_stops_a_transfer_between_registries(
    image: Image, registry2: RegistryServer, command: str
) -> None:
    with TamperProxy(registry2.host, _hold_patches) as proxy:
        target = f"{proxy.host}/interrupted-{uuid.uuid4().hex[:8]}/app:v1"
        args = COMMANDS[command](str(image.ref), target)
        run = interrupt_when_held(args, proxy, JOBS)
        outcome = upload_outcome(run)
        assert outcome == expected_outcome(), f"{outcome}; stderr: {run.result.err[-600:]!r}"
        assert_one_clean_line(run.result)
        assert _tag_in(registry2, target) is None, "the tag moved"

        again = start_cli(*args)
        rerun = finish(again, 300)
    assert rerun.code == 0, rerun.err
    assert _tag_in(registry2, target) is not None


def test_sigterm_stops_a_copy_the_same_way(image: Image, registry2: RegistryServer) -> None:
    """CI runners and ``docker stop`` end a job with SIGTERM: the same clean stop, exit 143."""
    with TamperProxy(registry2.host, _hold_patches) as proxy:
        target = f"{proxy.host}/terminated-{uuid.uuid4().hex[:8]}/app:v1"
        run = interrupt_when_held(
            ["copy", "-q", str(image.ref), target], proxy, JOBS, signal.SIGTERM
        )
    outcome = upload_outcome(run, signal.SIGTERM)
    assert outcome == expected_outcome(signal.SIGTERM), (
        f"{outcome}; stderr: {run.result.err[-600:]!r}"
    )
    assert _tag_in(registry2, target) is None, "the tag moved"


def test_a_second_sigint_ends_the_cleanup_at_once(image: Image, registry2: RegistryServer) -> None:
    """The first Ctrl-C cancels the upload sessions; a second one does not wait for that."""

    def hold(seen: Seen) -> Hold | None:
        uploads = "/blobs/uploads/" in seen.path
        return Hold() if uploads and seen.method in ("PATCH", "DELETE") else None

    cancels: list[bool] = []

    def second(started: Started) -> None:
        # The cleanup is under way once a session's DELETE is held: then Ctrl-C again.
        cancels.append(proxy.wait_held(JOBS + 1, timeout=GUARD))
        signal_group(started, signal.SIGINT)

    with TamperProxy(registry2.host, hold) as proxy:
        target = f"{proxy.host}/twice-{uuid.uuid4().hex[:8]}/app:v1"
        run = interrupt_when_held(["copy", "-q", str(image.ref), target], proxy, JOBS, then=second)
    outcome = {
        "a session cancel was sent after the first SIGINT": cancels == [True],
        "ended while its requests were held": run.ended_while_held,
        "exit code": run.result.code,
    }
    assert outcome == {
        "a session cancel was sent after the first SIGINT": True,
        "ended while its requests were held": True,
        "exit code": 130,
    }, f"{outcome}; stderr: {run.result.err[-600:]!r}"


def test_sigint_while_a_source_read_stalls(
    image: Image, registry: RegistryServer, registry2: RegistryServer
) -> None:
    """``create`` reads its sources in a pool: a stalled read must not outlive Ctrl-C."""
    with Context(TransportSettings()) as ctx:
        other = image.ref.with_tag("other")
        ctx.repository(other).put_manifest(image.manifest, other.tag)

    def hold(seen: Seen) -> Hold | None:
        return Hold() if seen.method == "GET" and seen.path.endswith("/manifests/other") else None

    with TamperProxy(registry.host, hold) as proxy:
        target = f"{registry2.host}/stalled-{uuid.uuid4().hex[:8]}/app:v1"
        stalled = f"{proxy.host}/{image.ref.repository}:other"
        run = interrupt_when_held(["create", "-q", "-t", target, str(image.ref), stalled], proxy, 1)
    outcome = {"exit code": run.result.code, "ended while its read was held": run.ended_while_held}
    expected = {"exit code": 130, "ended while its read was held": True}
    assert outcome == expected, f"{outcome}; stderr: {run.result.err[-600:]!r}"
    assert _tag_in(registry2, target) is None


# -- oci: layouts -------------------------------------------------------------------------------


def test_sigint_stops_a_copy_into_a_layout(
    image: Image, registry: RegistryServer, tmp_path: Path
) -> None:
    layout = tmp_path / "target"
    with TamperProxy(registry.host, _hold_blob_reads) as proxy:
        source = f"{proxy.host}/{image.ref.repository}:v1"
        args = ["copy", "-q", source, f"oci:{layout}:v1"]
        run = interrupt_when_held(args, proxy, JOBS)
        outcome = {
            "exit code": run.result.code,
            "ended while its reads were held": run.ended_while_held,
            "blob reads started after the signal": len(
                [s for s in run.after if s.method == "GET" and "/blobs/" in s.path]
            ),
            "tag written": LayoutRepository(layout).head_manifest("v1") is not None,
            "temporary files left": _temp_files(layout),
        }
        assert outcome == {
            "exit code": 130,
            "ended while its reads were held": True,
            "blob reads started after the signal": 0,
            "tag written": False,
            "temporary files left": [],
        }, f"{outcome}; stderr: {run.result.err[-600:]!r}"
        rerun = finish(start_cli(*args), 300)
    assert rerun.code == 0, rerun.err
    assert LayoutRepository(layout).get_manifest("v1").digest == image.manifest.digest


def test_sigint_stops_a_copy_out_of_a_layout(layout_source: str, registry2: RegistryServer) -> None:
    with TamperProxy(registry2.host, _hold_patches) as proxy:
        target = f"{proxy.host}/from-layout-{uuid.uuid4().hex[:8]}/app:v1"
        args = ["copy", "-q", layout_source, target]
        run = interrupt_when_held(args, proxy, JOBS)
        outcome = upload_outcome(run)
        assert outcome == expected_outcome(), f"{outcome}; stderr: {run.result.err[-600:]!r}"
        assert _tag_in(registry2, target) is None, "the tag moved"
        rerun = finish(start_cli(*args), 300)
    assert rerun.code == 0, rerun.err


#: The layout-to-layout copy moves more bytes, so that it is still running when stopped.
BIG_LAYER = 16 * 1024 * 1024


def _blob_files(layout: Path) -> tuple[int, int]:
    """(complete blob files, temporary files) under ``layout/blobs``."""
    names = [p.name for p in (layout / "blobs").rglob("*") if p.is_file()]
    temps = sum(1 for n in names if n.startswith(".tmp-"))
    return len(names) - temps, temps


def test_sigint_stops_a_copy_between_layouts(tmp_path: Path) -> None:
    source = tmp_path / "source"
    repo = LayoutRepository(source)
    source.mkdir()
    layers = [push_random_blob(repo, f"big#{i}", BIG_LAYER) for i in range(LAYERS)]
    manifest = push_image_manifest(repo, Platform.parse("linux/amd64"), layers)
    repo.put_manifest(manifest, "v1")
    target = tmp_path / "target"
    args = ["copy", "-q", f"oci:{source}:v1", f"oci:{target}:v1"]

    started = start_cli(*args)
    try:
        deadline = time.monotonic() + 120
        tick = threading.Event()
        while started.proc.poll() is None and time.monotonic() < deadline:
            if (target / "blobs").is_dir() and _blob_files(target)[0] >= 1:
                break
            tick.wait(0.005)
        assert started.proc.poll() is None, "the copy ended before it could be interrupted"
        # Frozen while the work is counted; the interrupt is taken when it runs again.
        signal_group(started, signal.SIGSTOP)
        complete, in_flight = _blob_files(target)
        signal_group(started, signal.SIGINT)
        signal_group(started, signal.SIGCONT)
        ended = exited_within(started, GUARD)
    except BaseException:
        _kill(started)
        raise
    result = finish(started, 300)
    complete_after, temps_after = _blob_files(target)
    outcome = {
        "exit code": result.code,
        "ended within the guard": ended,
        "blobs started after the signal": max(0, complete_after - complete - in_flight),
        "temporary files left": temps_after,
        "tag written": LayoutRepository(target).head_manifest("v1") is not None,
    }
    assert outcome == {
        "exit code": 130,
        "ended within the guard": True,
        "blobs started after the signal": 0,
        "temporary files left": 0,
        "tag written": False,
    }, (
        f"{outcome}; {complete} complete and {in_flight} in flight at the signal; "
        f"stderr: {result.err[-600:]!r}"
    )
    rerun = finish(start_cli(*args), 300)
    assert rerun.code == 0, rerun.err
    assert os.path.isfile(target / "index.json")
