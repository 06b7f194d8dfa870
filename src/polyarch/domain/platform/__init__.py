"""Container platforms with containerd's semantics: parse, normalize, format, match, pick.

A :class:`Platform` is the OCI ``platform`` object (``os``, ``architecture``,
``variant``, ``os.version``, ``os.features``). The rules follow
``github.com/containerd/platforms``, which is what containerd, BuildKit and
nerdctl use:

* :meth:`Platform.parse` reads a specifier such as ``linux/arm64``, ``arm64`` or
  ``windows(10.0.17763)/amd64`` the way ``platforms.Parse`` does;
* :meth:`Platform.normalized` is ``platforms.Normalize`` (``aarch64`` becomes
  ``arm64``, ``armhf`` becomes ``arm/v7``...);
* ``str(platform)`` is ``platforms.Format`` and :meth:`Platform.format_all` is
  ``platforms.FormatAll``;
* :func:`compatible` and :func:`select` are the matcher and the ordering of
  ``platforms.Only(host)``: what a host of that platform can run and which index
  entry it pulls.

>>> p = Platform.parse("Linux/AArch64")
>>> str(p), p.to_oci()
('linux/arm64', {'architecture': 'arm64', 'os': 'linux'})
>>> compatible("linux/arm64", "linux/arm/v7"), compatible("linux/amd64", "linux/amd64/v2")
(True, False)
>>> select("linux/amd64/v3", ["linux/386", "linux/amd64", "linux/amd64/v2", "linux/arm64"])
2
"""

from polyarch.domain.platform.matching import compatible, select
from polyarch.domain.platform.model import Platform

__all__ = ["Platform", "compatible", "select"]
