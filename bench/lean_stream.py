"""Prototype: the leanest verified blob stream from one registry to another.

Not used by polyarch: the measured evidence for the copy path of phase 2 (docs/benchmarks.md,
"Copy: where the CPU goes"). It keeps the promises of polyarch's stream: the blob is hashed
while it streams, the size and digest are checked before the closing ``PUT`` commits it (a
mismatch cancels the upload session instead), memory is one buffer per blob whatever its
size, and each read and write is bounded by the socket timeout. What it drops is every
per-chunk layer between the socket and the hash: the body is read with ``readinto`` into one
reusable buffer (the kernel copies each byte once into it), hashed from a ``memoryview`` of
it, and sent from that same view (the kernel copies it once out). No bytes object is made
per chunk, no generator is resumed per chunk.

Auth, retries, redirects and TLS are not in this prototype (the bench's registries are plain
HTTP and open); the phase-2 plan (docs/benchmarks.md) says where each goes when this becomes
the registry backend's blob stream. The flow is the OCI distribution spec's: ``GET
/v2/<name>/blobs/<digest>``; ``POST /v2/<name>/blobs/uploads/``, one ``PATCH`` of the whole
body with its ``Content-Length``, ``PUT <location>?digest=``.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.parse
from collections.abc import Iterator

__all__ = ["BUFFER_SIZE", "copy_blob_http_client", "copy_blob_urllib3"]

#: One buffer per blob in flight. 1 MiB: large enough that per-read Python work is noise
#: (1,024 reads per GiB), small enough that 4 jobs hold 4 MiB.
BUFFER_SIZE = 1024 * 1024


class CopyFailed(RuntimeError):
    """The blob did not verify, or a registry answered something unexpected."""


def _split(reference: str) -> tuple[str, str]:
    """``host:port/name`` -> (host:port, name)."""
    host, _, name = reference.partition("/")
    return host, name


def _path(location: str) -> str:
    """The path and query of an upload ``Location`` (absolute or relative)."""
    parts = urllib.parse.urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _with_digest(location: str, digest: str) -> str:
    sep = "&" if "?" in location else "?"
    return f"{_path(location)}{sep}{urllib.parse.urlencode({'digest': digest})}"


def copy_blob_http_client(
    source: str, dest: str, digest: str, size: int, *, buffer_size: int = BUFFER_SIZE
) -> None:
    """Stream blob ``digest`` (``size`` bytes) from ``source`` to ``dest`` (``host/name``).

    Raises :class:`CopyFailed` when the content does not verify (the upload is cancelled,
    nothing is committed) or a registry refuses a step.
    """
    src_host, src_name = _split(source)
    dst_host, dst_name = _split(dest)
    getter = http.client.HTTPConnection(src_host, timeout=30)
    putter = http.client.HTTPConnection(dst_host, timeout=30)
    try:
        getter.request("GET", f"/v2/{src_name}/blobs/{digest}")
        body = getter.getresponse()
        if body.status != 200:
            raise CopyFailed(f"GET blob: HTTP {body.status}")
        putter.request("POST", f"/v2/{dst_name}/blobs/uploads/", headers={"Content-Length": "0"})
        started = putter.getresponse()
        started.read()
        location = started.getheader("Location")
        if started.status != 202 or not location:
            raise CopyFailed(f"start upload: HTTP {started.status}")
        putter.putrequest("PATCH", _path(location), skip_accept_encoding=True)
        putter.putheader("Content-Type", "application/octet-stream")
        putter.putheader("Content-Length", str(size))
        putter.endheaders()
        hasher = hashlib.sha256()
        buffer = bytearray(buffer_size)
        view = memoryview(buffer)
        moved = 0
        while moved < size:
            n = body.readinto(view[: min(buffer_size, size - moved)])
            if not n:
                raise CopyFailed(f"GET blob: the body ended after {moved} of {size} bytes")
            chunk = view[:n]
            hasher.update(chunk)
            putter.send(chunk)
            moved += n
        if body.read(1):
            raise CopyFailed(f"GET blob: more than the {size} bytes announced")
        patched = putter.getresponse()
        patched.read()
        location = patched.getheader("Location") or location
        if patched.status not in (202, 204):
            raise CopyFailed(f"PATCH: HTTP {patched.status}")
        if "sha256:" + hasher.hexdigest() != digest:
            putter.request("DELETE", _path(location))
            putter.getresponse().read()
            raise CopyFailed("the content does not match its digest; upload cancelled")
        putter.request("PUT", _with_digest(location, digest), headers={"Content-Length": "0"})
        done = putter.getresponse()
        done.read()
        if done.status != 201:
            raise CopyFailed(f"PUT: HTTP {done.status}")
    finally:
        getter.close()
        putter.close()


def copy_blob_urllib3(
    source: str, dest: str, digest: str, size: int, *, buffer_size: int = BUFFER_SIZE
) -> None:
    """The same flow through urllib3 2's pool: a new bytes object per read, no extra copy."""
    import urllib3  # type: ignore[import-not-found,unused-ignore]  # bench venv only

    pool = urllib3.PoolManager(timeout=30.0, retries=False)
    src_host, src_name = _split(source)
    dst_host, dst_name = _split(dest)
    body = pool.request(
        "GET", f"http://{src_host}/v2/{src_name}/blobs/{digest}", preload_content=False
    )
    if body.status != 200:
        raise CopyFailed(f"GET blob: HTTP {body.status}")
    started = pool.request("POST", f"http://{dst_host}/v2/{dst_name}/blobs/uploads/")
    location = started.headers.get("Location")
    if started.status != 202 or not location:
        raise CopyFailed(f"start upload: HTTP {started.status}")
    hasher = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        moved = 0
        while moved < size:
            chunk = body.read(min(buffer_size, size - moved), decode_content=False)
            if not chunk:
                raise CopyFailed(f"GET blob: the body ended after {moved} of {size} bytes")
            hasher.update(chunk)
            moved += len(chunk)
            yield chunk

    patched = pool.request(
        "PATCH",
        f"http://{dst_host}{_path(location)}",
        body=chunks(),
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
    )
    body.release_conn()
    location = patched.headers.get("Location") or location
    if patched.status not in (202, 204):
        raise CopyFailed(f"PATCH: HTTP {patched.status}")
    if "sha256:" + hasher.hexdigest() != digest:
        pool.request("DELETE", f"http://{dst_host}{_path(location)}")
        raise CopyFailed("the content does not match its digest; upload cancelled")
    done = pool.request("PUT", f"http://{dst_host}{_with_digest(location, digest)}")
    if done.status != 201:
        raise CopyFailed(f"PUT: HTTP {done.status}")
