"""A loopback port of the host, reachable inside another network namespace.

An engine started with ``POLYARCH_ENGINE_NETNS=1`` (scripts/engine.sh) lives in a network
namespace of its own: its ``127.0.0.1`` is not the host's, so it cannot reach the test
registry. :class:`LoopbackBridge` listens on ``127.0.0.1:PORT`` *inside* that namespace and
forwards each connection to ``127.0.0.1:PORT`` of the host: loopback on both sides, no
interface, route or firewall rule anywhere. One process holds both ends: the listening
socket is made while the calling thread is in the namespace (``setns(2)``, ``CLONE_NEWNET``),
and a socket stays in the namespace it was made in; every other socket is the host's.
Needs root (``CAP_SYS_ADMIN``), as the engine does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import threading
from pathlib import Path

CLONE_NEWNET = 0x40000000
_CHUNK = 64 * 1024


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def listen_in(netns: Path, port: int) -> socket.socket:
    """A socket listening on ``127.0.0.1:port`` inside the network namespace ``netns``."""
    own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    target = os.open(netns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            server = socket.create_server(("127.0.0.1", port))
        finally:
            _setns(own)  # back to the host's namespace, whatever happened
    finally:
        os.close(target)
        os.close(own)
    return server


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy ``src`` to ``dst`` until end of stream, then half-close ``dst``."""
    try:
        while data := src.recv(_CHUNK):
            dst.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _relay(inner: socket.socket, outer: socket.socket) -> None:
    upstream = threading.Thread(target=_pump, args=(inner, outer), daemon=True)
    upstream.start()
    _pump(outer, inner)
    upstream.join()
    inner.close()
    outer.close()


class LoopbackBridge:
    """``127.0.0.1:port`` inside ``netns`` forwarded to ``127.0.0.1:port`` of the host."""

    def __init__(self, netns: Path, port: int) -> None:
        self.port = port
        self.server = listen_in(netns, port)
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"bridge-{port}")
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                inner, _ = self.server.accept()
            except OSError:
                return  # closed
            try:
                outer = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            except OSError:
                inner.close()
                continue
            outer.settimeout(None)
            threading.Thread(target=_relay, args=(inner, outer), daemon=True).start()

    def close(self) -> None:
        """Stop accepting (connections in flight finish on their own)."""
        self.server.close()
        self._thread.join(timeout=5)
