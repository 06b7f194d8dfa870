"""Issue 25, the pieces on their own: caps, the worker pool, lost DELETE answers, output.

Each piece has its real-component test in ``tests/integration`` (named per test below);
these pin down the edges that a real registry or a real signal cannot be made to hit on
purpose: a ``Content-Length`` just over a cap, a pool whose waiting thread is
interrupted while a task is blocked, a ``DELETE`` whose first answer was lost.
"""

from __future__ import annotations

import io
import signal
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from polyarch.cli.render.streams import GuardedStream, holds_secret
from polyarch.content.pool import WorkerPool
from polyarch.domain.digest import Digest
from polyarch.engine.process import CAPTURE_LIMIT, LINE_LIMIT, run_captured, run_process
from polyarch.errors import BodyTooLarge, Interrupted, ManifestUnknown
from polyarch.pipes import Captured, OutputTooLarge
from polyarch.storage.registry.repository import RegistryRepository
from polyarch.transport.auth.credentials import run_helper
from polyarch.transport.client import RegistryClient
from polyarch.transport.limits import DRAIN_LIMIT, TAG_PAGE_LIMIT
from polyarch.transport.masking import remember
from support.measured import MIB, peak_rss_of_python

DIGEST = Digest.of(b"gone")


# -- body caps (real registry: tests/integration/test_body_caps.py) --------------------------


def test_a_content_length_over_the_cap_is_refused_before_the_body_is_read(
    make: Callable[..., RegistryClient],
) -> None:
    read: list[int] = []

    class Counting(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            read.append(1)
            yield b"{}"

    def handler(request: httpx.Request) -> httpx.Response:
        length = str(TAG_PAGE_LIMIT + 1)
        return httpx.Response(200, headers={"Content-Length": length}, stream=Counting())

    client = make(handler)
    with pytest.raises(BodyTooLarge, match="16 MiB polyarch reads for a tag-list page"):
        client.request(
            "GET",
            "r.example",
            "/v2/a/tags/list",
            body_limit=TAG_PAGE_LIMIT,
            body_kind="a tag-list page",
        )
    assert read == []


def test_an_answer_whose_body_is_not_used_is_drained_then_dropped(
    make: Callable[..., RegistryClient],
) -> None:
    sent: list[int] = []

    class Endless(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            while True:
                sent.append(1)
                yield b" " * 1024

    client = make(lambda request: httpx.Response(201, stream=Endless()))
    response = client.request(
        "PUT", "r.example", "/v2/a/manifests/v1", content=b"{}", expect=(201,)
    )
    assert response.status_code == 201
    assert len(sent) <= DRAIN_LIMIT // 1024 + 1


# -- a DELETE whose answer was lost (real registry: test_lost_answers.py) -----------------------


def test_a_delete_found_missing_after_a_lost_answer_is_done(
    make: Callable[..., RegistryClient],
) -> None:
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        if len(attempts) == 1:
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})

    repo = RegistryRepository(make(handler), "r.example", "app")
    repo.delete_manifest(DIGEST)  # no "not found": the first attempt did it
    assert attempts == ["DELETE", "DELETE"]


def test_a_delete_of_what_is_not_there_is_still_not_found(
    make: Callable[..., RegistryClient],
) -> None:
    repo = RegistryRepository(
        make(lambda r: httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})),
        "r.example",
        "app",
    )
    with pytest.raises(ManifestUnknown):
        repo.delete_manifest(DIGEST)


# -- interrupts (real registry and signals: tests/integration/test_interrupts.py) --------------


def test_a_cancelled_client_sends_nothing_but_cleanups(make: Callable[..., RegistryClient]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(204)

    client = make(handler)
    client.cancel()
    with pytest.raises(Interrupted):
        client.request("GET", "r.example", "/v2/")
    client.request_url(
        "DELETE",
        "https://r.example/v2/a/blobs/uploads/x",
        registry="r.example",
        expect=(204,),
        cleanup=1.0,
    )
    assert seen == ["DELETE"]


def test_the_pool_does_not_wait_for_a_blocked_task_once_interrupted() -> None:
    """The waiting thread's interrupt (here raised by a task's callback in that thread, as
    a signal handler would) ends the run within the grace, and no queued task starts."""
    release = threading.Event()
    started: list[int] = []
    interrupted: list[float] = []

    def blocked(n: int) -> Callable[[], int]:
        def run() -> int:
            started.append(n)
            release.wait(30)
            return n

        return run

    pool = WorkerPool(2, on_interrupt=interrupted.append, grace=0.2)
    # interrupt_main() acts as SIGINT's handler would: Python's, which raises
    # KeyboardInterrupt; a shell starts background jobs with SIGINT ignored, and Python
    # keeps that, so the test puts Python's own handler in place for itself.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _interrupt_main)
    timer.start()
    began = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            pool.run([blocked(n) for n in range(6)])
    finally:
        release.set()
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - began < 5
    assert interrupted == [0.2]
    assert sorted(started) == [0, 1]


def _interrupt_main() -> None:
    import _thread

    _thread.interrupt_main()


def test_the_first_failure_ends_the_pool_and_stops_the_queue() -> None:
    ran: list[int] = []
    failed: list[bool] = []

    def task(n: int) -> Callable[[], int]:
        def run() -> int:
            ran.append(n)
            if n == 0:
                raise ValueError("first")
            time.sleep(0.05)
            return n

        return run

    with pytest.raises(ValueError, match="first"):
        WorkerPool(2, on_failure=lambda: failed.append(True)).run([task(n) for n in range(20)])
    assert failed == [True]
    assert len(ran) < 20


# -- output a program prints (real engine: tests/e2e; real helper: test_body_caps.py) -----------


def test_captured_output_keeps_its_head_and_tail() -> None:
    kept = Captured(10)
    for piece in (b"0123456789", b"abcdefghij", b"KLMNO"):
        kept.add(piece)
    assert kept.value() == b"01234\n[... 15 bytes left out ...]\nKLMNO"


def test_a_command_printing_without_end_keeps_a_bounded_output() -> None:
    script = "head -c 64M /dev/zero | tr '\\0' x; echo; echo last-line"
    done = run_captured(["sh", "-c", script], timeout=120)
    assert done.returncode == 0
    assert len(done.stdout) < 2 * CAPTURE_LIMIT
    assert done.stdout.endswith(b"last-line\n")
    assert b"bytes left out" in done.stdout


def test_a_streamed_line_without_end_is_cut() -> None:
    lines: list[str] = []
    script = "head -c 8M /dev/zero | tr '\\0' x; echo; echo after"
    result = run_process(["sh", "-c", script], on_line=lines.append)
    assert result.returncode == 0
    assert [len(line) for line in lines] == [LINE_LIMIT + len(" [...]"), len("after")]
    assert lines[-1] == "after"


def test_a_credential_helper_printing_without_end_is_stopped() -> None:
    began = time.monotonic()
    with pytest.raises(OutputTooLarge):
        run_helper(["sh", "-c", "cat >/dev/null; exec cat /dev/zero"], input=b"x", timeout=30)
    assert time.monotonic() - began < 10


def test_capturing_a_flood_stays_small() -> None:
    """Peak RSS of a process capturing 300 MiB (``wait4``, as test_body_caps measures it)."""
    code = (
        "from polyarch.engine.process import run_captured;"
        "run_captured(['sh', '-c', 'head -c 300M /dev/zero'], timeout=120)"
    )
    exit_code, peak = peak_rss_of_python(code)
    assert exit_code == 0
    assert peak < 64 * MIB, f"peak RSS {peak / MIB:.0f} MiB"


# -- printed output (real CLI: test_secrets_in_content.py, test_document_fuzz.py) ------------


def test_a_secret_split_across_writes_is_masked() -> None:
    remember("hunter2-secret-value")
    out = io.StringIO()
    stream = GuardedStream(out)
    stream.write("token: hunter2-")
    stream.write("secret-value\n")
    stream.flush()
    assert out.getvalue() == "token: ***\n"
    assert holds_secret(b'{"Env": ["P=hunter2-secret-value"]}')


def test_a_lone_surrogate_is_printed_as_an_escape() -> None:
    raw = io.BytesIO()
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)
    stream = GuardedStream(text)
    stream.write('{"a": "\ud800"}\n')
    stream.flush()
    assert raw.getvalue() == b'{"a": "\\ud800"}\n'
