"""The metrics-api example (examples/metrics-api), made buildable against a given registry.

Used by ``scripts/demo.sh`` (through ``scripts/demo_support.py``) and the e2e tests: the
example is copied to a work directory, each variant's context gets the busybox-static
binary of its platform (Debian's package, see :func:`support.engine.busybox_rootfs`;
never committed), and the spec's ``image`` line is pointed at the registry. The spec
does no environment expansion, so the copy is the way to name a dynamic port.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from polyarch.pipeline.specfile import load_spec
from support.engine import busybox_rootfs

#: The example, in the repository.
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "metrics-api"
_IMAGE_LINE = re.compile(r"^image:.*$", re.MULTILINE)


def prepare_example(
    dest: Path,
    image: str,
    *,
    rootfs: Mapping[str, Path] | None = None,
    source: Path = EXAMPLE,
) -> Path:
    """Copy the example to ``dest`` (replacing it), add busybox, set ``image``; the spec path.

    ``rootfs`` maps a platform to a busybox-static root (``bin/busybox`` inside), as the
    ``busybox_rootfs`` fixture gives; platforms it lacks are fetched (cached) from apt.
    """
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("busybox"))
    spec_path = dest / "polyarch.yaml"
    text = spec_path.read_text()
    text, count = _IMAGE_LINE.subn(f"image: {image}", text, count=1)
    if count != 1:
        raise ValueError(f"{spec_path}: no 'image:' line to point at {image}")
    spec_path.write_text(text)
    for variant in load_spec(spec_path).variants:
        platform = str(variant.platform)
        root = (rootfs or {}).get(platform) or busybox_rootfs(platform)
        shutil.copy2(root / "bin" / "busybox", variant.context / "busybox")
    return spec_path
