"""The content the scenarios move: many small single-platform images, one big index."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.measure import MIB, Bench, progress
from polyarch.content.context import Context
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index, build_index
from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.storage.repository import Repository
from polyarch.storage.stream import CHUNK_SIZE
from support.random_blobs import push_image_manifest

PLATFORMS = [
    *(
        f"linux/{a}"
        for a in (
            "amd64", "arm64", "arm/v5", "arm/v6", "arm/v7", "386", "ppc64le", "ppc64",
            "s390x", "riscv64", "mips", "mipsle", "mips64", "mips64le", "loong64",
        )
    ),
    *(f"freebsd/{a}" for a in ("amd64", "arm64", "386", "arm/v6", "arm/v7", "riscv64", "ppc64le")),
    *(f"netbsd/{a}" for a in ("amd64", "arm64", "386")),
    *(f"openbsd/{a}" for a in ("amd64", "arm64", "386")),
    "illumos/amd64", "solaris/amd64", "aix/ppc64", "dragonfly/amd64",
]  # fmt: skip
#: The unprivileged user skopeo runs as when the bench runs as root (see :func:`skopeo_cmd`).


def platforms(n: int) -> list[Platform]:
    """``n`` distinct platforms: the 32 above, then Windows releases (distinct os.version).

    Every tool accepts these (docker manifest, buildx imagetools and polyarch alike), and
    no two share a normalized platform, so polyarch's duplicate check never trips.
    """
    chosen = [Platform.parse(p) for p in PLATFORMS[:n]]
    for i in range(max(0, n - len(chosen))):
        chosen.append(Platform("windows", "amd64", os_version=f"10.0.{20348 + i}.1"))
    return chosen


def verify_index(reference: str, platforms: int) -> None:
    """Check that ``reference`` is an index with ``platforms`` images (not timed)."""
    ref = Reference.parse(reference)
    assert ref.tag is not None
    with Context() as ctx:
        manifest = ctx.repository(ref).get_manifest(ref.tag)
    if not isinstance(manifest, Index) or len(manifest.images) != platforms:
        raise RuntimeError(f"{reference}: expected an index of {platforms} images")


# The big image -------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerFile:
    """A generated layer on disk and its descriptor."""

    path: Path
    descriptor: Descriptor
    diff_id: str


def make_layer(path: Path, size: int, seed: int) -> LayerFile:
    """Write a gzip layer of ``size`` random bytes (stored, level 0: valid and fast).

    Random data does not compress, so level 0 gives the same bytes on the wire as any
    level would, at no CPU cost. Memory stays at one chunk.
    """
    rng = random.Random(seed)
    compressor = zlib.compressobj(0, zlib.DEFLATED, 31)
    compressed, uncompressed = hashlib.sha256(), hashlib.sha256()
    written = 0
    with path.open("wb") as out:
        remaining = size
        while remaining:
            chunk = rng.randbytes(min(CHUNK_SIZE, remaining))
            remaining -= len(chunk)
            uncompressed.update(chunk)
            for data in (compressor.compress(chunk), b"" if remaining else compressor.flush()):
                compressed.update(data)
                out.write(data)
                written += len(data)
    descriptor = Descriptor(
        mediatype.OCI_LAYER_GZIP, Digest("sha256:" + compressed.hexdigest()), written
    )
    return LayerFile(path, descriptor, "sha256:" + uncompressed.hexdigest())


def file_chunks(path: Path) -> Iterator[bytes]:
    """The file in ``CHUNK_SIZE`` pieces (a streamed upload body)."""
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            yield chunk


def push_big_image(bench: Bench, reference: str) -> tuple[Index, list[LayerFile], float]:
    """Generate 4 layers and push a 2-platform index of 2 layers per image.

    Returns the index, the layer files and the seconds the library took to upload them.
    """
    ref = Reference.parse(reference)
    directory = bench.tempdir("layers")
    progress(f"generating 4 layers of {bench.layer_size // MIB} MiB in {directory}")
    layers = [make_layer(directory / f"layer{i}.gz", bench.layer_size, i) for i in range(4)]
    uploaded = 0.0
    with Context() as ctx:
        repo = ctx.repository(ref)
        progress(f"pushing them to {reference} with polyarch's library (streamed from files)")
        entries = []
        images = (("linux/amd64", layers[:2]), ("linux/arm64", layers[2:]))
        for p, (plat, pair) in enumerate(images):
            started = time.perf_counter()
            for layer in pair:
                repo.put_blob(layer.descriptor, file_chunks(layer.path))
            uploaded += time.perf_counter() - started
            entries.append(image_manifest(repo, Platform.parse(plat), pair, p))
        index = build_index(entries)
        assert ref.tag is not None
        repo.put_manifest(index, ref.tag)
    return index, layers, uploaded


def image_manifest(
    repo: Repository, plat: Platform, layers: Sequence[LayerFile], seed: int
) -> Descriptor:
    """Push a config and manifest over ``layers``; the descriptor for the index."""
    config = {
        "created": "2026-01-01T00:00:00Z",
        "config": {"Entrypoint": ["/bin/true"], "Labels": {"bench.seed": str(seed)}},
    }
    manifest = push_image_manifest(
        repo,
        plat,
        [layer.descriptor for layer in layers],
        diff_ids=[layer.diff_id for layer in layers],
        config=config,
    )
    return manifest.descriptor(plat)


def check_copy(reference: str, digest: Digest) -> None:
    """Check that ``reference`` now holds the index ``digest`` (not timed)."""
    ref = Reference.parse(reference)
    assert ref.tag is not None
    with Context() as ctx:
        found = ctx.repository(ref).head_manifest(ref.tag)
    if found is None or found.digest != digest:
        raise RuntimeError(f"{reference}: expected {digest}, found {found and found.digest}")


def installed_polyarch(venv: Path) -> Path:
    """``pip install .`` of this checkout into ``venv``, bytecode compiled: the CLI users run.

    The project's own venv is an editable install, and these machines set
    ``PYTHONDONTWRITEBYTECODE=1``: measured there, every start would recompile polyarch.
    """
    root = Path(__file__).resolve().parent.parent
    progress(f"installing polyarch from {root} into {venv} (pip install ., compileall)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(root)],
        check=True,
    )
    subprocess.run([str(python), "-m", "compileall", "-q", str(venv / "lib")], check=True)
    return venv / "bin" / "polyarch"
