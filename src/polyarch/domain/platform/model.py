"""The :class:`Platform` value: parse, normalize, format, read and write OCI JSON."""

from __future__ import annotations

import json
import platform as _stdlib_platform
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from polyarch.domain.platform.names import (
    _COMPONENT_RE,
    _KNOWN_ARCH,
    _KNOWN_OS,
    _OS_RE,
    _decode_option,
    _encode_option,
    _machine_arch,
    _normalize_arch,
    _normalize_os,
    _quote,
)
from polyarch.errors import InvalidPlatform

__all__ = ["Platform"]


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI image platform: what an image (or an index entry) needs to run.

    ``os`` and ``architecture`` use Go's names (``linux``, ``amd64``, ``arm64``...);
    ``variant`` qualifies the CPU (``v7`` for arm, ``v2``/``v3`` for amd64); ``os_version``
    and ``os_features`` are the OCI ``os.version`` and ``os.features`` fields, used by
    Windows images. Instances hold the values they were built with; use
    :meth:`normalized` for the canonical spelling. Equality compares fields as they are.

    >>> Platform("linux", "arm", "v7").to_oci()
    {'architecture': 'arm', 'os': 'linux', 'variant': 'v7'}
    """

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls, text: str, *, default_os: str = "linux", default_arch: str | None = None
    ) -> Platform:
        """Parse a platform specifier with containerd's ``platforms.Parse`` rules.

        Accepted forms are ``os``, ``arch``, ``os/arch`` and ``os/arch/variant``; the OS
        may carry options, ``os(version)``, ``os(version+feature+...)`` or
        ``os(+feature)``, where ``%``, ``+``, ``(``, ``)`` and ``/`` are percent-encoded.
        OS, architecture and variant are lowercased and normalized as containerd does
        (``Linux/x86_64`` is ``linux/amd64``, ``armel`` is ``arm/v6``); the OS version
        and features keep their case. Details that follow containerd exactly:

        * two or three parts are taken as ``os/arch[/variant]``, known or not, so
          ``arm64/v8`` is OS ``arm64`` with architecture ``v8``: write ``linux/arm64/v8``;
        * with two parts arm's ``v7`` is implied (``linux/armhf`` is ``linux/arm``); with
          three an explicit variant stays (``linux/arm/v7``, ``linux/arm64/v8``), except
          ``amd64/v1``, which is plain ``amd64``;
        * a single word is an OS if Go knows it (``linux``, ``windows``, ``macos``...)
          and then gets ``default_arch``; otherwise it must be an architecture Go knows
          and gets ``default_os``.

        ``default_arch`` is ``arch`` or ``arch/variant``; ``None`` means the machine
        running polyarch (:meth:`host`). An ``arm/v7`` default loses its implied ``v7``.

        Raises :class:`InvalidPlatform` (a :class:`ValueError`) with a one-line message
        quoting ``text``, e.g. ``invalid platform "linux/": empty architecture``.

        >>> str(Platform.parse("armel")), str(Platform.parse("windows", default_arch="amd64"))
        ('linux/arm/v6', 'windows/amd64')
        >>> Platform.parse("windows(10.0.17763+win32k)/amd64").os_features
        ('win32k',)
        """
        if not isinstance(text, str):
            raise InvalidPlatform(f"invalid platform {text!r}: not a string")
        quoted = _quote(text)
        if not text:
            raise InvalidPlatform(f"invalid platform {quoted}: empty specifier")
        if "*" in text:
            raise InvalidPlatform(f"invalid platform {quoted}: wildcards are not supported")
        parts = text.split("/")
        if len(parts) > 3:
            raise InvalidPlatform(
                f"invalid platform {quoted}: too many components (want os[/arch[/variant]])"
            )

        os_part = parts[0]
        if not os_part:
            raise InvalidPlatform(f"invalid platform {quoted}: empty os")
        match = _OS_RE.fullmatch(os_part)
        if match is None:
            raise InvalidPlatform(
                f"invalid platform {quoted}: invalid os {_quote(os_part)} (want a name of "
                "letters, digits, '_' or '-', optionally followed by (version+feature...))"
            )
        for name, part in zip(("architecture", "variant"), parts[1:], strict=False):
            if not part:
                raise InvalidPlatform(f"invalid platform {quoted}: empty {name}")
            if not _COMPONENT_RE.fullmatch(part):
                raise InvalidPlatform(
                    f"invalid platform {quoted}: invalid {name} {_quote(part)} "
                    "(allowed: letters, digits, '_', '.', '-')"
                )

        os = _normalize_os(match.group(1))
        os_version = _decode_option(match.group(2) or "", "os version", text)
        features: list[str] = []
        if match.group(3):
            for raw in match.group(3)[1:].split("+"):
                feature = _decode_option(raw, "os feature", text)
                if feature:
                    features.append(feature)
        base = cls(os, "", "", os_version, tuple(features))

        if len(parts) == 1:
            if os in _KNOWN_OS:
                arch, variant = _default_arch(default_arch)
                return replace(base, architecture=arch, variant=variant)
            arch, variant = _normalize_arch(parts[0], "")
            if arch == "arm" and variant == "v7":
                variant = ""
            if arch in _KNOWN_ARCH:
                return cls(_normalize_os(default_os), arch, variant)
            raise InvalidPlatform(
                f"invalid platform {quoted}: unknown operating system or architecture"
            )
        if len(parts) == 2:
            arch, variant = _normalize_arch(parts[1], "")
            if arch == "arm" and variant == "v7":
                variant = ""
            return replace(base, architecture=arch, variant=variant)
        arch, variant = _normalize_arch(parts[1], parts[2])
        if arch == "arm64" and not variant:
            variant = "v8"
        return replace(base, architecture=arch, variant=variant)

    @classmethod
    def host(cls) -> Platform:
        """The platform of the machine running polyarch, normalized.

        The OS is always ``linux`` (the images polyarch handles are Linux images, even
        when built on macOS); the architecture comes from :func:`platform.machine`
        (``x86_64`` is ``amd64``, ``aarch64`` is ``arm64``, ``armv7l`` is ``arm/v7``...),
        or is ``unknown`` when Python cannot tell. No CPU feature level is detected, so
        an amd64 host has no ``v2``/``v3`` variant.
        """
        arch, variant = _machine_arch(_stdlib_platform.machine())
        return cls("linux", arch, variant).normalized()

    def normalized(self) -> Platform:
        """containerd's ``platforms.Normalize``: the canonical form of this platform.

        The OS is lowercased (``macos`` becomes ``darwin``, an empty OS ``linux``); the
        architecture and variant are canonical (``aarch64`` becomes ``arm64``, ``x86_64``
        ``amd64``, ``i386`` ``386``, ``armhf`` ``arm/v7``, ``armel`` ``arm/v6``, plain
        ``arm`` ``arm/v7``, ``arm64/v8`` plain ``arm64``, ``amd64/v1`` plain ``amd64``);
        OS features are sorted, without duplicates. The OS version is kept as is.

        >>> str(Platform("Linux", "aarch64", "v8").normalized())
        'linux/arm64'
        """
        arch, variant = _normalize_arch(self.architecture, self.variant)
        return Platform(
            _normalize_os(self.os),
            arch,
            variant,
            self.os_version,
            tuple(sorted(set(self.os_features))),
        )

    def __str__(self) -> str:
        """containerd's ``platforms.Format``: ``os/arch[/variant]`` (``unknown`` if no OS)."""
        if not self.os:
            return "unknown"
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)

    def format_all(self) -> str:
        """containerd's ``platforms.FormatAll``: like ``str()``, plus the OS options.

        The OS version and the OS features (sorted, empty and duplicate ones dropped)
        go in parentheses after the OS, percent-encoding ``%``, ``+``, ``(``, ``)`` and
        ``/``, so that :meth:`parse` reads them back.

        >>> Platform("windows", "amd64", os_version="10.0.17763.1", os_features=("win32k",)
        ...          ).format_all()
        'windows(10.0.17763.1+win32k)/amd64'
        """
        if not self.os:
            return "unknown"
        features = "+".join(_encode_option(f) for f in sorted(set(self.os_features)) if f)
        options = _encode_option(self.os_version) + (f"+{features}" if features else "")
        head = f"{self.os}({options})" if options else self.os
        return "/".join(part for part in (head, self.architecture, self.variant) if part)

    @classmethod
    def from_oci(cls, data: Mapping[str, Any]) -> Platform:
        """Read an OCI ``platform`` JSON object (as found in an index or image config).

        ``os`` and ``architecture`` must be non-empty strings; ``variant`` and
        ``os.version`` strings; ``os.features`` a list of strings. A JSON ``null`` counts
        as absent for the optional fields; other keys are ignored. Values are kept as
        given (not normalized). Raises :class:`InvalidPlatform` otherwise.

        >>> Platform.from_oci({"architecture": "arm64", "os": "linux", "variant": "v8"})
        Platform(os='linux', architecture='arm64', variant='v8', os_version='', os_features=())
        """
        if not isinstance(data, Mapping):
            raise InvalidPlatform(f"invalid platform {data!r}: not a JSON object")
        shown = _show_object(data)

        def required(key: str) -> str:
            value = data.get(key)
            if not isinstance(value, str) or not value:
                what = "missing" if value is None else "must be a non-empty string"
                raise InvalidPlatform(f"invalid platform {shown}: {_quote(key)} {what}")
            return value

        def optional(key: str) -> str:
            value = data.get(key)
            if value is None:
                return ""
            if not isinstance(value, str):
                raise InvalidPlatform(f"invalid platform {shown}: {_quote(key)} must be a string")
            return value

        features = data.get("os.features")
        if features is None:
            features = []
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise InvalidPlatform(
                f'invalid platform {shown}: "os.features" must be a list of strings'
            )
        return cls(
            os=required("os"),
            architecture=required("architecture"),
            variant=optional("variant"),
            os_version=optional("os.version"),
            os_features=tuple(features),
        )

    def to_oci(self) -> dict[str, Any]:
        """This platform as an OCI ``platform`` JSON object.

        Keys come in the order Docker and BuildKit write them (the field order of the
        image-spec Go struct): ``architecture``, ``os``, ``os.version``, ``os.features``,
        ``variant``; empty optional fields are left out.
        """
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    @property
    def is_unknown(self) -> bool:
        """Whether the OS or the architecture is ``unknown``.

        BuildKit lists attestation manifests in an index as ``unknown/unknown``; no
        host runs them, and :func:`compatible` never matches them.
        """
        return self.os.lower() == "unknown" or self.architecture.lower() == "unknown"


def _show_object(data: Mapping[str, Any]) -> str:
    """A short one-line JSON rendering of ``data`` for error messages."""
    try:
        text = json.dumps(dict(data), ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(data)
    return text if len(text) <= 200 else text[:197] + "..."


def _default_arch(default_arch: str | None) -> tuple[str, str]:
    """Architecture and variant given to a specifier naming only an OS."""
    if default_arch is None:
        host = Platform.host()
        arch, variant = host.architecture, host.variant
    else:
        parts = default_arch.split("/")
        if not 1 <= len(parts) <= 2 or not all(_COMPONENT_RE.fullmatch(p) for p in parts):
            raise InvalidPlatform(
                f"invalid default architecture {_quote(default_arch)}: want arch[/variant]"
            )
        arch, variant = _normalize_arch(parts[0], parts[1] if len(parts) == 2 else "")
    if arch == "arm" and variant == "v7":
        variant = ""
    return arch, variant
