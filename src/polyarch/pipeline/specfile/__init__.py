"""The pipeline spec file, ``polyarch.yaml``: find it, read it, validate it.

The spec says what the pipeline builds (one variant per platform, each from its own
context and Dockerfile), where it publishes (one or more repositories, one or more tags)
and how the result is verified. The schema, the defaults and the path rules are in
docs/spec.md. In short:

* ``image`` (required): a repository, or a list of them, without tag or digest;
* ``tags``: a tag or a list of tags, default ``[latest]``;
* ``variants`` (required): a non-empty list of ``platform``, ``context`` (relative to the
  spec file's directory), ``dockerfile`` (relative to the context, as in
  ``docker buildx bake``; default ``Dockerfile``), ``build-args``, ``target``, ``labels``;
* ``verify``: ``run``, ``expect-output``, ``exact`` (default true), ``strict``;
* ``attestations``: ``keep`` (default), ``drop``, or ``referrers`` (each attestation
  manifest written as an OCI 1.1 referrer of its image, out of the index).

The file is read with PyYAML's safe composer only (no object is ever constructed from a
YAML tag) and walked node by node, so every error names the file and the line:
``polyarch.yaml:7: variants[0]: unknown key 'platfrom' (did you mean 'platform'?)``.
Each such error is a :class:`SpecError`, an :class:`~polyarch.errors.InvalidInput`
(exit code 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from polyarch.errors import InvalidInput
from polyarch.files import FileTooLarge, NotARegularFile, read_bytes
from polyarch.pipeline.specfile.model import (
    DEFAULT_TAGS,
    SPEC_FILE_NAMES,
    Attestations,
    Spec,
    SpecError,
    Variant,
    VerifySpec,
)
from polyarch.pipeline.specfile.nodes import _q
from polyarch.pipeline.specfile.reader import _Reader

#: A spec file is a page of YAML; a larger file is not one.
MAX_SPEC_SIZE: Final = 4 * 1024 * 1024

__all__ = [
    "DEFAULT_TAGS",
    "SPEC_FILE_NAMES",
    "Attestations",
    "Spec",
    "SpecError",
    "Variant",
    "VerifySpec",
    "find_spec",
    "load_spec",
]


def find_spec(start: Path | None = None, explicit: str | Path | None = None) -> Path:
    """The spec file to use.

    ``explicit`` (say a ``--file`` option) wins: a file, or a directory holding
    ``polyarch.yaml``/``polyarch.yml``; relative paths are taken from ``start``. Without it,
    ``polyarch.yaml`` or ``polyarch.yml`` in ``start`` (default: the current directory); no
    parent directory is searched. Raises :class:`~polyarch.errors.InvalidInput` when there
    is none, or when both names exist.
    """
    base = Path.cwd() if start is None else Path(start)
    if explicit is not None:
        given = Path(explicit)
        path = given if given.is_absolute() else base / given
        if path.is_dir():
            return _spec_in(path, f"{given}")
        if not path.exists():
            raise InvalidInput(f"spec file {_q(str(given))} does not exist")
        return path
    return _spec_in(base, None)


def _spec_in(directory: Path, shown: str | None) -> Path:
    found = [directory / name for name in SPEC_FILE_NAMES if (directory / name).is_file()]
    where = f"in {shown}" if shown is not None else "in the current directory"
    if not found:
        raise InvalidInput(
            f"no {SPEC_FILE_NAMES[0]} (or {SPEC_FILE_NAMES[1]}) {where}",
            hint="write one (see docs/spec.md) or give the path of the one to use",
            parameter="explicit",
        )
    if len(found) > 1:
        raise InvalidInput(
            f"both {SPEC_FILE_NAMES[0]} and {SPEC_FILE_NAMES[1]} {where}; keep one",
        )
    return found[0]


def load_spec(path: Path, *, paths: bool = True) -> Spec:
    """Read and validate the spec file at ``path``.

    Relative ``context`` paths are taken from the spec file's directory, relative
    ``dockerfile`` paths from the context; both must exist, unless ``paths=False``
    (``publish``, which builds nothing, reads a spec without its build contexts).
    Raises :class:`SpecError` (an :class:`~polyarch.errors.InvalidInput`) naming the file
    and the line of the first problem.

    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = Path(tmp.name)
    >>> for name in ("app-amd64", "app-arm64"):
    ...     (root / name).mkdir()
    ...     _ = (root / name / "Dockerfile").write_text("FROM scratch\\n")
    >>> _ = (root / "polyarch.yaml").write_text('''
    ... image: registry.example.com/metrics-api
    ... tags: [v2.0.0, latest]
    ... variants:
    ...   - {platform: linux/amd64, context: app-amd64}
    ...   - platform: linux/arm64/v8
    ...     context: app-arm64
    ...     build-args: {PYTHON_ENV: production, WORKERS: 4}
    ... ''')
    >>> spec = load_spec(root / "polyarch.yaml")
    >>> [str(t) for t in spec.targets()]
    ['registry.example.com/metrics-api:v2.0.0', 'registry.example.com/metrics-api:latest']
    >>> arm = spec.variant("linux/arm64")
    >>> str(arm.platform), arm.line, dict(arm.build_args), spec.per_platform_tag(arm)
    ('linux/arm64', 6, {'PYTHON_ENV': 'production', 'WORKERS': '4'}, 'v2.0.0-linux-arm64')
    >>> arm.dockerfile == (root / "app-arm64" / "Dockerfile").resolve()
    True
    >>> _ = (root / "polyarch.yaml").write_text("image: registry.example.com/metrics-api\\n"
    ...                                         "variants:\\n  - platfrom: linux/amd64\\n")
    >>> try:
    ...     load_spec(root / "polyarch.yaml")
    ... except SpecError as exc:
    ...     exc.line, exc.detail
    (3, "variants[0]: unknown key 'platfrom' (did you mean 'platform'?)")
    >>> tmp.cleanup()
    """
    path = Path(path)
    shown = str(path)
    try:
        data = read_bytes(path, what="spec file", limit=MAX_SPEC_SIZE)
    except NotARegularFile as exc:
        raise SpecError(shown, None, exc.message.split(": ", 1)[-1]) from None
    except FileTooLarge:
        raise SpecError(shown, None, f"larger than {MAX_SPEC_SIZE // 1024 // 1024} MiB") from None
    except FileNotFoundError:
        raise SpecError(shown, None, "no such file") from None
    except IsADirectoryError:
        raise SpecError(shown, None, "is a directory, not a spec file") from None
    except OSError as exc:
        raise SpecError(shown, None, f"cannot read the file: {exc.strerror or exc}") from None
    return _Reader(shown, path.resolve(), paths).read(data)
