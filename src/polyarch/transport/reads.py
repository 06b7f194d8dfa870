"""How much one socket read takes: 512 KiB, not httpcore's 64 KiB.

httpcore reads a response in ``READ_NUM_BYTES`` pieces (64 KiB since encode/httpcore#136,
which raised it from 4 KiB for the same reason), and each piece goes once through h11's
event parser, httpcore's and httpx's body iterators and polyarch's verifying stream. A blob
copy is then mostly that per-piece Python work, not hashing. Measured: ``polyarch copy`` of a
1 GiB image (4 layers, 4 jobs) between loopback registries, CPU of the whole process and
its peak RSS, medians of 3 (docs/benchmarks.md):

=========  ========  =========
read       CPU       peak RSS
=========  ========  =========
64 KiB     4.0 s     32 MiB
256 KiB    3.3 s     37 MiB
512 KiB    2.2 s     43 MiB
1 MiB      2.2 s     56 MiB
=========  ========  =========

Each blob in flight holds a few pieces (the socket's, h11's buffer, the one extracted from
it, the upload's), so the size is a trade of CPU against memory; 512 KiB takes the CPU
gain for 11 MiB. A read returns what the socket has, up to the size: small responses
(manifests, tokens) are read as before.

httpx has no setting for it; httpcore names it as a class attribute of its HTTP/1.1
connection, which is what :func:`widen_socket_reads` sets, once, when the first real
transport is built. If a later httpcore drops the attribute, nothing is set, reads stay at
httpcore's size, and ``tests/unit/test_transport_reads.py`` fails to say so.
"""

from __future__ import annotations

import functools
from typing import Final

__all__ = ["SOCKET_READ_BYTES", "widen_socket_reads"]

#: Bytes one socket read of a response may take.
SOCKET_READ_BYTES: Final = 512 * 1024


@functools.cache
def widen_socket_reads() -> bool:
    """Let httpcore's HTTP/1.1 connections read :data:`SOCKET_READ_BYTES` at a time.

    Returns whether httpcore had the setting (its HTTP/1.1 connection's
    ``READ_NUM_BYTES``); sets it at most once per process, never lowers it.
    """
    # Imported here, not with the module: storage/stream.py reads SOCKET_READ_BYTES from
    # this module, and a layout-only command has no use for the HTTP stack.
    from httpcore._sync.http11 import HTTP11Connection

    current = getattr(HTTP11Connection, "READ_NUM_BYTES", None)
    if not isinstance(current, int):
        return False
    if current < SOCKET_READ_BYTES:
        HTTP11Connection.READ_NUM_BYTES = SOCKET_READ_BYTES
    return True
