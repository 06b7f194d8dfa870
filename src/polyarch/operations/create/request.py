"""``CreateRequest``: what ``create`` is asked to do, validated before anything is read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from polyarch.content.attestations.links import AttestationMode, attestation_mode
from polyarch.domain.location import LayoutReference, Location, parse_location
from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.errors import InvalidInput
from polyarch.operations.create.annotations import AnnotationSpec, parse_annotations
from polyarch.operations.create.sources import Source
from polyarch.transport.retry import TAG_GUARD_ROUNDS

__all__ = ["TUNABLES", "CreateRequest", "IndexFormat"]

IndexFormat = Literal["oci", "docker"]

#: The keyword arguments :meth:`CreateRequest.build` accepts in ``**tuning``, with their meaning.
TUNABLES: Mapping[str, str] = {
    "guard_attempts": "int, most assemble-write-check rounds of --append before LostUpdate (20)",
    "part_horizon": "float seconds after which an --append part whose writer never "
    "finished is ignored and removed (3600)",
}


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """Everything ``create`` needs: the bridge between the CLI (or a script) and the library.

    Build it with :meth:`build`, which validates strings as a CLI or a script has them.
    """

    targets: tuple[Location, ...]
    sources: tuple[Source, ...]
    platforms: tuple[Platform, ...] = ()
    attestations: AttestationMode = "keep"
    #: None: keep the existing index's format with ``append`` (else OCI), see docs/create.md.
    format: IndexFormat | None = None
    annotations: AnnotationSpec = field(default_factory=AnnotationSpec)
    append: bool = False
    dry_run: bool = False
    #: Carry each source image's signatures, SBOMs, attestations (docs/referrers.md).
    referrers: bool = True
    #: Move a tag even when the new index no longer serves a platform the tag serves now.
    allow_platform_drop: bool = False
    #: Bound on assemble-write-check rounds of ``--append`` (see docs/create.md).
    guard_attempts: int = TAG_GUARD_ROUNDS
    #: Seconds after which the part of an ``--append`` writer that never finished is ignored.
    part_horizon: float = 3600.0

    @classmethod
    def build(
        cls,
        targets: Sequence[str | Location] | str | Location,
        sources: Sequence[str | Location | Source] | str | Location | Source,
        *,
        platforms: Sequence[str | Platform] | str | Platform = (),
        attestations: str = "keep",
        format: str | None = None,
        annotations: Mapping[str, str] | Sequence[str] = (),
        append: bool = False,
        dry_run: bool = False,
        referrers: bool = True,
        allow_platform_drop: bool = False,
        **tuning: Any,
    ) -> CreateRequest:
        """Validate and build a request from strings, as a CLI or a script has them.

        Parameters:
            targets: tags to publish to (``str`` references or parsed ones); a single
                string is one target. A target without a tag gets ``latest``.
            sources: ``SOURCE[=PLATFORM]`` strings, parsed locations or :class:`Source`
                objects; a single string is one source. May be empty with ``append``.
            platforms: ``--platform`` filters for multi-platform sources.
            attestations: ``"keep"``, ``"drop"``, or ``"referrers"`` (each attestation
                manifest written as an OCI 1.1 referrer of its image instead of an index
                entry: :mod:`polyarch.content.attestations.referrers`).
            format: ``"oci"`` (image index) or ``"docker"`` (manifest list); None (the
                default) keeps the format of the index ``append`` edits when every entry
                fits it (a new index is OCI).
            annotations: buildx-syntax ``[TYPE[PLATFORM]:]KEY=VALUE`` strings, or a mapping
                of index annotations (see :mod:`polyarch.operations.create.annotations`).
            append: merge into the index at the first target (``--append``).
            dry_run: compute and report, publish nothing.
            referrers: carry the referrers of each source image (signatures, SBOMs) into
                every target (docs/referrers.md).
            allow_platform_drop: move a target tag even when the new index no longer
                serves a platform the tag serves now (refused by default:
                :mod:`polyarch.operations.create.guard`; ``append`` never drops one).
            tuning: expert knobs, named in :data:`TUNABLES` (``guard_attempts``,
                ``part_horizon``).

        Returns the frozen request. Raises :class:`polyarch.InvalidInput` (and its
        subclasses :class:`polyarch.InvalidReference`, :class:`polyarch.InvalidPlatform``)
        for bad values, and :class:`TypeError` for a keyword that is not a parameter or a
        tunable (naming the valid tunables) or an argument of the wrong type.

        >>> r = CreateRequest.build("127.0.0.1:5000/app:v1", "127.0.0.1:5000/app:v1-amd64")
        >>> [str(t) for t in r.targets], [s.text for s in r.sources]
        (['127.0.0.1:5000/app:v1'], ['127.0.0.1:5000/app:v1-amd64'])
        """
        unknown = sorted(set(tuning) - set(TUNABLES))
        if unknown:
            valid = ", ".join(TUNABLES)
            raise TypeError(
                f"CreateRequest.build() got unexpected keyword argument(s) {', '.join(unknown)}; "
                f"besides its parameters it takes only these tunables: {valid}"
            )
        target_list = _sequence("targets", targets, (str, Reference, LayoutReference))
        source_list = _sequence("sources", sources, (str, Reference, LayoutReference, Source))
        platform_list = _sequence("platforms", platforms, (str, Platform))
        if not target_list:
            raise InvalidInput("no target: give at least one target", parameter="targets")
        refs = tuple(dict.fromkeys(_target(t) for t in target_list))
        srcs = tuple(_source(s) for s in source_list)
        if not srcs and not append:
            raise InvalidInput("no source: give at least one SOURCE image")
        mode = attestation_mode(attestations)
        if format not in ("oci", "docker", None):
            raise InvalidInput(
                f"format must be 'oci' or 'docker', not {format!r}", parameter="format"
            )
        if isinstance(annotations, str):
            annotations = [annotations]
        notes = parse_annotations(annotations)
        if notes and format == "docker":
            raise InvalidInput(
                "annotations need an OCI index: a Docker manifest list has none",
                hint="use the OCI format, or drop the annotations",
                parameter="annotations",
            )
        plats = tuple(p if isinstance(p, Platform) else Platform.parse(p) for p in platform_list)
        numbers = {f.name: f.type for f in fields(cls) if f.name in TUNABLES}
        for name, value in tuning.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"CreateRequest.build(): {name} must be a number ({numbers[name]})")
        return cls(
            refs,
            srcs,
            plats,
            mode,
            None if format is None else "oci" if format == "oci" else "docker",
            notes,
            append,
            dry_run,
            referrers,
            allow_platform_drop=allow_platform_drop,
            **tuning,
        )


def _sequence(name: str, value: object, kinds: tuple[type, ...]) -> list[Any]:
    """A single item (a ``str`` is one item, never a sequence of characters) or a sequence."""
    if isinstance(value, kinds):
        return [value]
    if isinstance(value, Sequence | set | frozenset):
        items = list(value)
        for item in items:
            if not isinstance(item, kinds):
                allowed = " or ".join(k.__name__ for k in kinds)
                raise TypeError(
                    f"CreateRequest.build(): {name} holds a {type(item).__name__}; "
                    f"expected {allowed}"
                )
        return items
    allowed = " or ".join(k.__name__ for k in kinds)
    raise TypeError(
        f"CreateRequest.build(): {name} must be a {allowed} or a sequence of them, "
        f"not {type(value).__name__}"
    )


def _source(value: str | Location | Source) -> Source:
    if isinstance(value, Source):
        return value
    if isinstance(value, Reference | LayoutReference):
        return Source(str(value), value)
    return Source.parse(value)


def _target(value: str | Location) -> Location:
    ref = value if isinstance(value, Reference | LayoutReference) else parse_location(value)
    if ref.digest is not None:
        raise InvalidInput(f"target {ref} names a digest; a target needs a tag")
    return ref if ref.tag else ref.with_tag("latest")
