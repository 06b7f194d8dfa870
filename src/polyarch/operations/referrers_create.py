"""The ``create`` side of referrers: each source image's referrers go to every target.

The platform images keep their digests in the new index, so what refers to them in
their source repository (cosign signatures, SBOMs attached with ``oras attach``...)
stays valid at the target; :func:`carry_image_referrers` finds and writes them with
:mod:`polyarch.operations.referrers`. The new index itself has nothing referring to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from polyarch.digest import Digest
from polyarch.operations.referrers import CarriedReferrer, carry_referrers, discover_referrers
from polyarch.operations.sources import Entry
from polyarch.operations.transfer import Transfer
from polyarch.storage.base import Repository

__all__ = ["carry_image_referrers"]


def carry_image_referrers(
    transfer: Transfer, dest: Repository, entries: Sequence[Entry]
) -> tuple[CarriedReferrer, ...]:
    """Write the referrers of each entry's image, from its source repository, into ``dest``.

    ``entries`` are create's index entries (their images already in ``dest``); entries
    read from ``dest`` itself (``--append``) are skipped. With ``transfer.dry_run`` only
    the plan is returned. Raises what :func:`carry_referrers` raises.
    """
    by_source: dict[str, tuple[Repository, list[Digest]]] = {}
    for entry in entries:
        if dest.same_as(entry.repository):
            continue
        _, digests = by_source.setdefault(entry.repository.name, (entry.repository, []))
        digests.append(entry.descriptor.digest)
    done: list[CarriedReferrer] = []
    for source, digests in by_source.values():
        trees = discover_referrers(source, digests)
        done.extend(carry_referrers(transfer, source, dest, trees))
    return tuple(done)
