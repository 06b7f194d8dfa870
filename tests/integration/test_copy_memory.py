"""A copy holds a few chunks per job, whatever the size of the blobs (issue 12, "Copy").

Python memory is measured with :mod:`tracemalloc` around the library call (the
interpreter and its imports are outside the window): what a registry-to-registry copy
allocates while it streams. The budget is the one the RSS goal leaves: peak RSS under
40 MiB for a 1 GiB image with the default ``--jobs`` (4), of which about 33 MiB are the
interpreter and the imports of ``polyarch copy`` (docs/benchmarks.md): 7 MiB for 4 blobs
in flight, less what malloc keeps beyond Python's own allocations.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
import uuid
from typing import Any

import pytest

from polyarch import Context, CopyRequest, Reference, copy_image
from polyarch.content.transfer import DEFAULT_JOBS
from support.random_blobs import push_random_index

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
#: What a copy may hold per blob in flight (its chunks, the HTTP stack's buffers: each
#: socket read of up to 512 KiB, transport/reads.py, is in h11's buffer, extracted from it,
#: hashed and joined into the upload), and besides them. Measured: 3.7 MiB with one job,
#: 7.4 MiB with four.
BUDGET_PER_JOB = 2 * MIB
BUDGET_FIXED = 2 * MIB
#: Each layer is larger than any budget: a copy that buffered a blob would not fit.
LAYER = 16 * MIB


def _copy_peak(ctx: Context, source: Reference, dest: Reference, jobs: int) -> tuple[int, int]:
    """(bytes copied, peak Python memory allocated during the copy)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = copy_image(CopyRequest.build(source, dest, jobs=jobs), ctx)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return result.stats.bytes["copied"], peak


@pytest.mark.parametrize("jobs", [DEFAULT_JOBS, 1])
def test_copy_memory_is_a_few_chunks_per_job(
    ctx: Context, registry: Any, registry2: Any, jobs: int
) -> None:
    tag = f"m{uuid.uuid4().hex[:8]}"
    source = Reference.parse(f"{registry.host}/copy-memory/app:{tag}")
    push_random_index(
        ctx.repository(source), tag, ["linux/amd64", "linux/arm64"], layers=2, layer_size=LAYER
    )
    dest = Reference.parse(f"{registry2.host}/copy-memory-{jobs}/app:{tag}")
    copied, peak = _copy_peak(ctx, source, dest, jobs)
    assert copied >= 4 * LAYER  # every layer streamed, none mounted or skipped
    assert peak < BUDGET_FIXED + jobs * BUDGET_PER_JOB, (
        f"a copy with {jobs} jobs held {peak / MIB:.1f} MiB at its peak"
    )


def _cli_page_faults(*args: str) -> int:
    """Minor page faults of ``python -m polyarch ARGS`` in a fresh process (getrusage(2))."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyarch", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, err.decode(errors="replace")
    return usage.ru_minflt


def test_copy_reuses_its_chunk_memory(ctx: Context, registry: Any, registry2: Any) -> None:
    # Each fresh page the kernel hands a process is a page fault and a page to zero. With
    # 256 KiB chunks and glibc's dynamic mmap threshold unsettled (storage/repository.py), a copy
    # whose chunks went back to the kernel and came again took 3,700 more faults for 32 MiB;
    # one that reuses them takes its working set once (about 2,800 with 512 KiB socket
    # reads). A fresh
    # process, as users run it: the allocator's state depends on the first large blocks a
    # process frees.
    tag = f"f{uuid.uuid4().hex[:8]}"
    source = Reference.parse(f"{registry.host}/copy-faults/app:{tag}")
    push_random_index(
        ctx.repository(source), tag, ["linux/amd64", "linux/arm64"], layers=2, layer_size=LAYER
    )
    dest = f"{registry2.host}/copy-faults/app:{tag}"
    copying = _cli_page_faults("copy", "-q", "--jobs", "1", str(source), dest)
    # The same command again moves no byte (every blob is there): start-up and manifests.
    idle = _cli_page_faults("copy", "-q", "--jobs", "1", str(source), dest)
    # At most half the bytes copied as fresh pages (32 MiB of 64 MiB; measured: 12 to 16
    # MiB, the working set of the 512 KiB socket reads once, and some; chunks that churned
    # took 14 MiB more for every 32 MiB copied, growing with the copy).
    assert copying - idle < 8192, f"{copying - idle} page faults to copy 64 MiB"
