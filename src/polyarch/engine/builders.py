"""Which builder ``polyarch build`` uses, and how it pushes: the builder choice.

Three answers to ``--builder``:

* ``docker``: the engine's ``docker build`` + ``docker push`` of a per-platform tag;
* ``buildx``: ``docker buildx build`` pushing by digest only (no tag at all). Only drivers
  that implement ``push-by-digest`` can: ``docker-container``, ``kubernetes``, ``remote``.
  The ``docker`` driver, the default builder of every Docker Desktop and docker-ce install,
  refuses it ("push-by-digest is currently not implemented for docker driver"), so asking
  for ``buildx`` on it fails before anything is built (:class:`BuilderUnsuitable`);
* ``auto`` (the default): ``docker buildx inspect`` tells the active builder's driver;
  buildx pushes by digest where the driver can, and a per-platform tag where it cannot
  (``docker buildx build --output type=image,name=REPO:TAG,push=true``; the pushed
  wrapper is then resolved to its platform image, as the ``docker`` path does). Without
  buildx (``docker buildx version`` fails) it is the ``docker`` path.

The buildx builder instance is the one ``docker buildx`` uses: ``BUILDX_BUILDER`` in the
environment, else the one ``docker buildx use`` selected; ``buildx_builder`` names one
explicitly (``docker buildx build --builder NAME``). Which one was used is recorded in each
record's ``builder`` (``buildx:NAME``). Driver names and their abilities are buildx's
(docs.docker.com/build/builders/drivers/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from polyarch.engine.process import ProcessRunner
from polyarch.errors import PolyarchError

__all__ = [
    "BY_DIGEST_DRIVERS",
    "BuilderChoice",
    "BuilderUnsuitable",
    "choose_builder",
    "detect_builder",
    "parse_buildx_inspect",
]

#: buildx drivers that push by digest (``push-by-digest=true``); ``docker`` does not.
BY_DIGEST_DRIVERS: Final = frozenset({"docker-container", "kubernetes", "remote"})

_CREATE_HINT: Final = (
    "create one that can (docker buildx create --use --driver docker-container), choose"
    " another buildx builder, or let the auto builder push per-platform tags"
)


class BuilderUnsuitable(PolyarchError):
    """The builder asked for cannot do what the build needs (no buildx, a docker driver)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class BuilderChoice:
    """How the variants are built and pushed.

    ``kind`` is the command family (``buildx``: ``docker buildx build``; ``docker``:
    ``docker build`` + ``docker push``); ``name`` and ``driver`` are the buildx builder
    instance and its driver (``None`` for ``docker``, or when buildx did not say);
    ``push_by_digest`` tells whether the variant is pushed without any tag (else with the
    spec's per-platform tag); ``explicit_name`` whether ``name`` must be passed to buildx
    (``--builder NAME``) rather than left to buildx's own choice.
    """

    kind: Literal["buildx", "docker"]
    name: str | None = None
    driver: str | None = None
    push_by_digest: bool = False
    explicit_name: bool = False

    @property
    def label(self) -> str:
        """What records say in ``builder``: ``docker``, ``buildx`` or ``buildx:NAME``.

        >>> BuilderChoice("buildx", "ci", "docker-container", True).label
        'buildx:ci'
        """
        if self.kind == "buildx" and self.name:
            return f"buildx:{self.name}"
        return self.kind

    def describe(self) -> str:
        """How it builds: ``buildx builder "default" (docker driver), per-platform tags``."""
        if self.kind == "docker":
            return "docker build + docker push, per-platform tags"
        who = f'buildx builder "{self.name}"' if self.name else "buildx"
        if self.driver:
            who += f" ({self.driver} driver)"
        return who + (", by digest" if self.push_by_digest else ", per-platform tags")


def parse_buildx_inspect(output: str) -> tuple[str | None, str | None]:
    """``(name, driver)`` from ``docker buildx inspect`` output (``None`` where absent).

    The first ``Name:`` and ``Driver:`` lines are the builder's (node lines follow).

    >>> parse_buildx_inspect("Name:   default\\nDriver: docker\\n\\nNodes:\\nName: default\\n")
    ('default', 'docker')
    """
    name = driver = None
    for line in output.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Name" and name is None:
            name = value.strip() or None
        elif key.strip() == "Driver" and driver is None:
            driver = value.strip() or None
    return name, driver


def choose_builder(
    requested: str,
    run: ProcessRunner,
    *,
    docker: str = "docker",
    buildx_builder: str | None = None,
) -> BuilderChoice:
    """Decide how to build, asking ``docker buildx`` what the builder is.

    ``requested`` is ``auto``, ``buildx`` or ``docker``; ``run`` runs ``docker buildx
    version`` and ``docker buildx inspect [NAME]``; ``buildx_builder`` names the buildx
    builder instance (``None``: the one buildx itself would use).

    Returns the :class:`BuilderChoice`. Raises :class:`BuilderUnsuitable` (exit 2) when
    ``buildx`` is asked for but missing, when a named builder does not exist, or when
    ``buildx`` is asked for and the builder's driver cannot push by digest (``docker``).
    An answer without a driver line (an unknown buildx) is taken as able to push by
    digest when ``buildx`` was asked for, and as unable under ``auto`` (a per-platform
    tag works with every driver).
    """
    if requested == "docker":
        return BuilderChoice("docker")
    has_buildx = run([docker, "buildx", "version"]).returncode == 0
    if not has_buildx:
        if requested == "buildx" or buildx_builder:
            raise BuilderUnsuitable(
                "docker buildx is not available (`docker buildx version` failed)",
                hint="install the buildx plugin, or build with the docker builder",
            )
        return BuilderChoice("docker")
    argv = [docker, "buildx", "inspect"] + ([buildx_builder] if buildx_builder else [])
    inspected = run(argv)
    if inspected.returncode != 0:
        last = (inspected.output.strip().splitlines() or ["no output"])[-1]
        who = f'buildx builder "{buildx_builder}"' if buildx_builder else "the buildx builder"
        raise BuilderUnsuitable(
            f"cannot inspect {who}: {last}",
            hint="`docker buildx ls` lists the builders",
        )
    name, driver = parse_buildx_inspect(inspected.output)
    name = buildx_builder or name
    explicit = buildx_builder is not None
    # No driver line: trust an explicit choice; under auto, a tag works with any driver.
    by_digest = requested == "buildx" if driver is None else driver in BY_DIGEST_DRIVERS
    if requested == "buildx" and not by_digest:
        raise BuilderUnsuitable(
            f'buildx builder "{name or "default"}" uses the {driver} driver, which cannot'
            " push by digest",
            hint=_CREATE_HINT,
        )
    return BuilderChoice("buildx", name, driver, by_digest, explicit)


def detect_builder(run: ProcessRunner, docker: str = "docker") -> Literal["buildx", "docker"]:
    """``buildx`` when ``docker buildx version`` works, else ``docker``.

    Only whether buildx is installed: :func:`choose_builder`
    also asks which driver the builder has (what ``auto`` builds with).
    """
    return "buildx" if run([docker, "buildx", "version"]).returncode == 0 else "docker"
