"""Serve a test HTTP server from a daemon thread, and stop it cleanly."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


def serve(server: ThreadingHTTPServer, name: str) -> threading.Thread:
    """Serve ``server`` forever from a daemon thread (handler threads are daemons too)."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread


def shutdown(server: ThreadingHTTPServer | None, thread: threading.Thread | None) -> None:
    """Stop serving, close the socket, wait (bounded) for the thread; ``None`` is a no-op."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=5)
