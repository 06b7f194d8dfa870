"""What ``verify`` is asked (:class:`VerifyRequest`) and what it answers (:class:`VerifyReport`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from polyarch.content.records.formats import Record, load_records
from polyarch.domain.digest import Digest
from polyarch.domain.location import LayoutReference, Location, parse_location
from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.domain.signing.keyless import KeylessPolicy
from polyarch.domain.signing.keys import PublicKey
from polyarch.errors import InvalidInput, InvalidPlatform
from polyarch.files import read_bytes

__all__ = [
    "INDEX_QUALIFIER",
    "TRUSTED_ROOT_LIMIT",
    "VERIFY_SCHEMA",
    "Check",
    "Status",
    "VerifyReport",
    "VerifyRequest",
    "keyless_policy",
    "parse_required_referrers",
]

VERIFY_SCHEMA = "polyarch.verify/v1"
#: ``--require-referrer index:TYPE`` asks it of the index itself, not of each image.
INDEX_QUALIFIER: Final = "index:"


def parse_required_referrers(values: Sequence[str]) -> tuple[tuple[str, bool], ...]:
    """``TYPE`` or ``index:TYPE`` into (artifact type, on the index); InvalidInput if empty.

    >>> parse_required_referrers(["application/spdx+json", "index:application/x"])
    (('application/spdx+json', False), ('application/x', True))
    """
    out: list[tuple[str, bool]] = []
    for value in values:
        on_index = value.startswith(INDEX_QUALIFIER)
        artifact_type = value[len(INDEX_QUALIFIER) :] if on_index else value
        if not artifact_type.strip() or any(c.isspace() for c in artifact_type):
            raise InvalidInput(
                f"required referrer {value!r}: expected an artifact type, e.g. "
                "application/spdx+json (index:TYPE for the index itself)",
                parameter="require_referrers",
            )
        out.append((artifact_type, on_index))
    return tuple(dict.fromkeys(out))


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


def _pair(text: str, name: str) -> tuple[Platform, str]:
    platform_text, sep, value = text.partition("=")
    if not sep or not value:
        raise InvalidInput(f"{name} {text!r}: expected PLATFORM=VALUE", parameter=name)
    try:
        return Platform.parse(platform_text), value
    except InvalidPlatform as exc:
        raise InvalidInput(f"{name} {text!r}: {exc}", parameter=name) from None


_Pairs = Sequence[str] | Mapping[Platform | str, Any]


def _pairs(given: _Pairs, name: str) -> list[tuple[Platform, Any, str]]:
    """``(platform, value, as written)`` for each ``P=VALUE`` string or mapping item.

    A single string is refused: ``expect="linux/amd64=sha256:..."`` would otherwise be
    read character by character.
    """
    if isinstance(given, str | bytes):
        raise TypeError(
            f"{name} must be a list of 'PLATFORM=VALUE' strings or a mapping of platform "
            f"to value, not a single string ({given!r}); wrap it in a list"
        )
    if isinstance(given, Mapping):
        out = []
        for key, value in given.items():
            shown = (
                f"{key}={value}" if not isinstance(value, re.Pattern) else f"{key}={value.pattern}"
            )
            try:
                platform = key if isinstance(key, Platform) else Platform.parse(key)
            except InvalidPlatform as exc:
                raise InvalidInput(f"{name} {shown!r}: {exc}", parameter=name) from None
            out.append((platform, value, shown))
        return out
    return [(*_pair(item, name), item) for item in given]


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
    #: every platform image); see operations/verify/referrers.py.
    require_referrers: tuple[tuple[str, bool], ...] = ()
    #: Public keys, any of which may have signed (``--key``): the ``signatures`` check.
    keys: tuple[PublicKey, ...] = ()
    #: Whose keyless signatures count (``--certificate-identity``...): ``signatures`` too.
    keyless: KeylessPolicy | None = None

    @property
    def checks_signatures(self) -> bool:
        """Whether the ``signatures`` check runs (keys or a keyless policy given)."""
        return bool(self.keys) or self.keyless is not None

    @classmethod
    def build(
        cls,
        target: str | Location,
        *,
        platforms: Sequence[str | Platform] = (),
        expect: Sequence[str] | Mapping[Platform | str, Digest | str] = (),
        records: Sequence[str | Path] = (),
        exact: bool = False,
        run: bool = False,
        command: Sequence[str] | None = None,
        expect_output: Sequence[str] | Mapping[Platform | str, re.Pattern[str] | str] = (),
        strict: bool = False,
        require_referrers: Sequence[str] = (),
        keys: Sequence[str | Path | PublicKey] = (),
        certificate_identity: str | None = None,
        certificate_oidc_issuer: str | None = None,
        trusted_root: str | Path | None = None,
    ) -> VerifyRequest:
        """Validate what :func:`~polyarch.operations.verify.verify` is asked into a request.

        ``target``: a reference (``REGISTRY/REPO:TAG``) or an ``oci:DIR[:TAG]`` layout.
        ``platforms``: platforms that must be in the index (strings are read with
        :meth:`Platform.parse`). ``expect``: the digest each platform's entry must have,
        as ``"P=DIGEST"`` strings or a mapping ``{P: DIGEST}``. ``records``: build record
        files or directories (polyarch records, buildx metadata files). ``exact``: no
        platform beyond the expected ones. ``run``: start each platform's image with the
        local Docker engine; ``command`` replaces its CMD. ``expect_output``: a regular
        expression each platform's output must match (``"P=REGEX"`` strings or a mapping
        ``{P: REGEX}``; needs ``run``). ``strict``: warnings fail too.
        ``require_referrers``: artifact types each image (``index:TYPE``: the index) must
        have a referrer of. ``keys``: public key files (``cosign.pub``) or keys, any of
        which may have signed the index and each image (the ``signatures`` check,
        docs/signatures.md). ``certificate_identity``, ``certificate_oidc_issuer`` and
        ``trusted_root`` (a ``trusted_root.json`` file), all three together: whose keyless
        signatures count, verified offline (needs ``polyarch[keyless]``).

        Raises :class:`~polyarch.errors.InvalidInput` (its ``parameter`` names the
        argument) for a value that cannot be read, and :class:`TypeError` for a single
        string where a list or a mapping is expected.

        >>> request = VerifyRequest.build(
        ...     "127.0.0.1:5000/app:1.0",
        ...     expect={"linux/arm64": "sha256:" + "5e" * 32},
        ...     run=True,
        ...     expect_output={"linux/arm64": "aarch64"},
        ... )
        >>> [(str(p), d.short) for p, d in request.expect]
        [('linux/arm64', 'sha256:5e5e5e5e5e5e')]
        """
        ref = target if isinstance(target, Reference | LayoutReference) else parse_location(target)
        if isinstance(records, str | Path):
            records = [records]
        if isinstance(platforms, str):
            platforms = [platforms]
        plats = tuple(p if isinstance(p, Platform) else Platform.parse(p) for p in platforms)
        expected = []
        for platform, value, shown in _pairs(expect, "expect"):
            try:
                expected.append((platform, Digest(str(value))))
            except InvalidInput as exc:
                raise InvalidInput(f"expect {shown!r}: {exc}", parameter="expect") from None
        outputs = []
        for platform, value, shown in _pairs(expect_output, "expect_output"):
            try:
                pattern = value if isinstance(value, re.Pattern) else re.compile(str(value))
            except re.error as exc:
                raise InvalidInput(
                    f"expect_output {shown!r}: bad regular expression: {exc}",
                    parameter="expect_output",
                ) from None
            outputs.append((platform, pattern))
        if outputs and not run:
            raise InvalidInput(
                "expected output can only be checked when the images are run",
                parameter="run",
            )
        if isinstance(keys, str | Path):
            keys = [keys]
        public = tuple(k if isinstance(k, PublicKey) else PublicKey.from_file(k) for k in keys)
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
            public,
            keyless_policy(certificate_identity, certificate_oidc_issuer, trusted_root),
        )


#: The largest trusted root read (Sigstore's public one is about 10 KiB).
TRUSTED_ROOT_LIMIT: Final = 4 * 1024 * 1024


def keyless_policy(
    identity: str | None, issuer: str | None, trusted_root: str | Path | None
) -> KeylessPolicy | None:
    """The keyless policy of the three options, None when none is given.

    Raises :class:`~polyarch.errors.InvalidInput` when only some are given (a keyless
    signature is checked against a trusted root *and* an identity *and* its issuer, as
    ``cosign verify --certificate-identity ... --certificate-oidc-issuer ...`` requires
    both), or when the trusted root file cannot be read or is no trusted root, and
    :class:`~polyarch.domain.signing.keyless.KeylessUnavailable` without the sigstore
    library.
    """
    given = {
        "certificate_identity": identity,
        "certificate_oidc_issuer": issuer,
        "trusted_root": trusted_root,
    }
    if not any(given.values()):
        return None
    absent = [name for name, value in given.items() if not value]
    if absent:
        raise InvalidInput(
            "keyless verification needs a certificate identity, its OIDC issuer and a "
            f"trusted root; {', '.join(absent)} missing",
            parameter=absent[0],
        )
    assert identity and issuer and trusted_root
    try:
        root = read_bytes(trusted_root, what="trusted root", limit=TRUSTED_ROOT_LIMIT)
    except FileNotFoundError:
        raise InvalidInput(
            f"trusted root {trusted_root}: no such file", parameter="trusted_root"
        ) from None
    policy = KeylessPolicy(root, identity, issuer)
    policy.verifier  # noqa: B018 - read the trusted root now: a bad file is bad input (exit 2)
    return policy


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
