"""Whether an index entry's platform agrees with its image config: the one rule.

``create`` decides an entry's platform from its config and what the entry claims;
``verify`` judges published entries against their configs. Both ask
:func:`config_agreement`, so polyarch never fails its own output:

* OS and architecture must be equal, normalized (containerd's ``platforms.Normalize``:
  ``aarch64`` is ``arm64``);
* the variant is compared only when both name one: Alpine and busybox lists
  carry ``linux/arm/v6`` and ``linux/arm/v7`` entries whose configs say ``arm`` with no
  variant (containers/common#1295), as Debian's ``armel`` images say ``arm`` for
  ``arm/v5``. Normalizing such a config would invent ``v7`` for it, so the entry's
  variant stands, and the agreement says so in a note;
* ``os.version`` is compared when both name one: Windows hosts pick entries by it
  (containerd's ``windowsVersionMatcher``), so an entry claiming Server 2022
  (``10.0.20348``) over a Server 2019 config (``10.0.17763``) sends 2022 hosts a 2019
  image. Windows versions agree when major, minor and build agree (the revision is a
  patch level).

>>> from polyarch.domain.platform.model import Platform
>>> config_agreement(Platform.parse("linux/arm/v6"), Platform("linux", "arm")).note
'the config names no variant (linux/arm); the entry says v6'
>>> config_agreement(Platform.parse("linux/arm/v6"), Platform.parse("linux/arm/v7")).agrees
False
"""

from __future__ import annotations

from dataclasses import dataclass

from polyarch.domain.platform.model import Platform

__all__ = ["Agreement", "config_agreement"]

#: Architectures whose name implies a variant (containerd: armhf is arm/v7, armel arm/v6).
_VARIANT_NAMES = frozenset({"armhf", "armel"})


@dataclass(frozen=True, slots=True)
class Agreement:
    """The outcome of :func:`config_agreement`."""

    agrees: bool
    #: For a contradiction: what differs (``architecture``, ``variant``, ``os.version``...).
    conflict: str | None = None
    #: For an agreement worth saying (the config names no variant), one line.
    note: str | None = None


def _names_variant(config: Platform) -> bool:
    return bool(config.variant) or config.architecture.lower() in _VARIANT_NAMES


def _windows_build(version: str) -> tuple[str, ...]:
    """``10.0.20348.2700`` -> ``("10", "0", "20348")``: what a Windows host matches on."""
    parts = version.split(".")
    return tuple(parts[:3]) if len(parts) >= 3 else tuple(parts)


def config_agreement(claimed: Platform, config: Platform) -> Agreement:
    """Whether ``claimed`` (an index entry's or a user's platform) agrees with ``config``.

    Returns an :class:`Agreement`: ``agrees`` False with the ``conflict`` named when
    they contradict; True otherwise, with a ``note`` when the config names no variant
    and the claim does.
    """
    want, truth = claimed.normalized(), config.normalized()
    if want.os != truth.os:
        return Agreement(False, "os")
    if want.architecture != truth.architecture:
        return Agreement(False, "architecture")
    note = None
    if _names_variant(config) and _names_variant(claimed):
        if want.variant != truth.variant:
            return Agreement(False, "variant")
    elif _names_variant(claimed) and want.variant != truth.variant:
        note = f"the config names no variant ({config}); the entry says {want.variant}"
    if claimed.os_version and config.os_version:
        same = (
            _windows_build(claimed.os_version) == _windows_build(config.os_version)
            if truth.os == "windows"
            else claimed.os_version == config.os_version
        )
        if not same:
            return Agreement(False, "os.version")
    return Agreement(True, note=note)
