"""What one ``copy`` is asked (:class:`CopyRequest`) and what it did (:class:`CopyResult`).

The result's JSON is the documented ``polyarch.copy/v1`` object (docs/json.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from polyarch.content.attestations.links import AttestationMode, attestation_mode
from polyarch.content.referrers.carry import CarriedReferrer
from polyarch.content.transfer import DEFAULT_JOBS, TransferStats
from polyarch.domain.digest import Digest
from polyarch.domain.location import DEFAULT_TAG, LayoutReference, Location, parse_location
from polyarch.domain.platform import Platform
from polyarch.errors import InvalidInput

__all__ = ["COPY_SCHEMA", "CopyRequest", "CopyResult"]

COPY_SCHEMA = "polyarch.copy/v1"


@dataclass(frozen=True, slots=True)
class CopyRequest:
    """What to copy where (the bridge between the CLI and :func:`copy_image`)."""

    source: Location
    destination: Location
    platforms: tuple[Platform, ...] = ()
    attestations: AttestationMode = "keep"
    jobs: int = DEFAULT_JOBS
    #: Carry signatures, SBOMs and attestations attached to the image (docs/referrers.md).
    referrers: bool = True

    @classmethod
    def build(
        cls,
        source: str | Location,
        destination: str | Location,
        *,
        platforms: Sequence[str | Platform] = (),
        attestations: str = "keep",
        jobs: int = DEFAULT_JOBS,
        referrers: bool = True,
    ) -> CopyRequest:
        """Validate strings into a request; the destination tag defaults to the source's."""
        src = parse_location(source) if isinstance(source, str) else source
        dst = parse_location(destination) if isinstance(destination, str) else destination
        mode = attestation_mode(attestations)
        if jobs < 1 or jobs > 64:
            raise InvalidInput(f"jobs must be between 1 and 64, not {jobs}", parameter="jobs")
        if dst.digest is not None and (platforms or mode != "keep"):
            raise InvalidInput(
                f"destination {dst} names a digest, but a filtered copy makes a new index"
            )
        if dst.tag is None and dst.digest is None and src.tag is not None:
            dst = dst.with_tag(src.tag)
        if isinstance(dst, LayoutReference) and dst.implicit_tag:
            # A layout entry without a tag is out of reach of oci:DIR[:TAG]: docs/layouts.md.
            dst = dst.with_tag(DEFAULT_TAG)
        plats = tuple(p if isinstance(p, Platform) else Platform.parse(p) for p in platforms)
        return cls(src, dst, plats, mode, jobs, referrers)


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What was copied and how."""

    source: Location
    destination: Location
    source_digest: Digest
    digest: Digest
    media_type: str
    stats: TransferStats
    seconds: float
    platforms: tuple[str, ...] = field(default=())
    referrers: tuple[CarriedReferrer, ...] = ()

    @property
    def filtered(self) -> bool:
        """True when the destination holds a sub-index (new digest)."""
        return self.digest != self.source_digest

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        return {
            "schema": COPY_SCHEMA,
            "source": str(self.source),
            "destination": str(self.destination),
            "sourceDigest": str(self.source_digest),
            "digest": str(self.digest),
            "mediaType": self.media_type,
            "platforms": list(self.platforms),
            "transfer": self.stats.to_json(),
            "seconds": round(self.seconds, 3),
            "referrers": [r.to_json() for r in self.referrers],
        }
