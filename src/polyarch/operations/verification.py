"""What ``verify`` is asked (:class:`VerifyRequest`) and what it answers (:class:`VerifyReport`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from polyarch.digest import Digest
from polyarch.errors import InvalidInput, InvalidPlatform
from polyarch.location import LayoutReference, Location, parse_location
from polyarch.operations.records import Record, load_records
from polyarch.operations.referrer_checks import parse_required_referrers
from polyarch.platform import Platform
from polyarch.reference import Reference

__all__ = ["VERIFY_SCHEMA", "Check", "Status", "VerifyReport", "VerifyRequest"]

VERIFY_SCHEMA = "polyarch.verify/v1"


class Status(StrEnum):
    """The outcome of one check."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report."""

    check: str
    status: Status
    message: str
    platform: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object."""
        return {
            "check": self.check,
            "status": self.status.value,
            "platform": self.platform,
            "message": self.message,
            "details": self.details,
        }


def _pair(text: str, flag: str) -> tuple[Platform, str]:
    platform_text, sep, value = text.partition("=")
    if not sep or not value:
        raise InvalidInput(f"{flag} {text!r}: expected PLATFORM=VALUE")
    try:
        return Platform.parse(platform_text), value
    except InvalidPlatform as exc:
        raise InvalidInput(f"{flag} {text!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """What to verify and what to expect (the bridge between the CLI and :func:`verify`)."""

    target: Location
    platforms: tuple[Platform, ...] = ()
    expect: tuple[tuple[Platform, Digest], ...] = ()
    records: tuple[Record, ...] = ()
    exact: bool = False
    run: bool = False
    command: tuple[str, ...] | None = None
    expect_output: tuple[tuple[Platform, re.Pattern[str]], ...] = ()
    strict: bool = False
    #: ``--require-referrer``: (artifact type, True for the index itself / False for
    #: every platform image); see operations/referrer_checks.py.
    require_referrers: tuple[tuple[str, bool], ...] = ()

    @classmethod
    def build(
        cls,
        target: str | Location,
        *,
        platforms: Sequence[str | Platform] = (),
        expect: Sequence[str] = (),
        records: Sequence[str | Path] = (),
        exact: bool = False,
        run: bool = False,
        command: Sequence[str] | None = None,
        expect_output: Sequence[str] = (),
        strict: bool = False,
        require_referrers: Sequence[str] = (),
    ) -> VerifyRequest:
        """Validate strings (``P=DIGEST``, ``P=REGEX``, record paths) into a request."""
        ref = target if isinstance(target, Reference | LayoutReference) else parse_location(target)
        plats = tuple(p if isinstance(p, Platform) else Platform.parse(p) for p in platforms)
        expected = []
        for item in expect:
            platform, value = _pair(item, "--expect")
            try:
                expected.append((platform, Digest(value)))
            except InvalidInput as exc:
                raise InvalidInput(f"--expect {item!r}: {exc}") from None
        outputs = []
        for item in expect_output:
            platform, value = _pair(item, "--expect-output")
            try:
                outputs.append((platform, re.compile(value)))
            except re.error as exc:
                raise InvalidInput(
                    f"--expect-output {item!r}: bad regular expression: {exc}"
                ) from None
        if outputs and not run:
            raise InvalidInput("--expect-output needs --run")
        return cls(
            ref,
            plats,
            tuple(expected),
            tuple(load_records(records)),
            exact,
            run,
            tuple(command) if command else None,
            tuple(outputs),
            strict,
            parse_required_referrers(require_referrers),
        )


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Every check, and the verdict."""

    target: Location
    digest: Digest | None
    media_type: str | None
    checks: tuple[Check, ...]
    strict: bool = False

    @property
    def failed(self) -> tuple[Check, ...]:
        """The failing checks."""
        return tuple(c for c in self.checks if c.status is Status.FAIL)

    @property
    def warnings(self) -> tuple[Check, ...]:
        """The warnings."""
        return tuple(c for c in self.checks if c.status is Status.WARN)

    @property
    def ok(self) -> bool:
        """Nothing failed (and, when strict, nothing warned)."""
        return not self.failed and not (self.strict and self.warnings)

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        return {
            "schema": VERIFY_SCHEMA,
            "target": str(self.target),
            "digest": str(self.digest) if self.digest else None,
            "mediaType": self.media_type,
            "ok": self.ok,
            "strict": self.strict,
            "summary": {s.value: sum(c.status is s for c in self.checks) for s in Status},
            "checks": [c.to_json() for c in self.checks],
        }
