"""``verify``: proof that a published tag is what was built, complete, and starts everywhere.

"The index was created" proves nothing. ``verify`` is the gate a release job runs after
publishing: every check is one line (pass / fail / warn, with the reason), and the
report is ``ok`` only when nothing failed (and, with ``strict``, nothing warned).

>>> from polyarch import Context, VerifyRequest, verify
>>> request = VerifyRequest.build("127.0.0.1:5000/metrics-api:v2.0.0",  # doctest: +SKIP
...                               platforms=["linux/amd64", "linux/arm64"], exact=True)
>>> with Context() as ctx:                                             # doctest: +SKIP
...     report = verify(request, ctx)
>>> report.ok, [(c.check, c.status) for c in report.checks][:2]      # doctest: +SKIP
(True, [('kind', 'pass'), ('platforms', 'pass')])
"""

from __future__ import annotations

from polyarch.content.context import Context, borrowed
from polyarch.engine.runner import DockerRunner
from polyarch.operations.verify.checks import run_checks
from polyarch.operations.verify.request import Check, Status, VerifyReport, VerifyRequest
from polyarch.operations.verify.state import VerifyState

__all__ = ["Check", "Status", "VerifyReport", "VerifyRequest", "verify"]


def verify(
    request: VerifyRequest,
    context: Context | None = None,
    *,
    runner: DockerRunner | None = None,
) -> VerifyReport:
    """Run every check against ``request.target``; a failed check is a result, not an error.

    ``request`` is a :class:`~polyarch.operations.verify.request.VerifyRequest` (build one
    with :meth:`VerifyRequest.build
    <polyarch.operations.verify.request.VerifyRequest.build>`: expected platforms,
    ``{platform: digest}`` expectations, build records, ``exact``, ``run``, ``strict``).
    ``context`` (a :class:`~polyarch.content.context.Context`; default: one made from
    the environment and closed afterwards) holds the registry connections. ``runner``
    starts the images for ``run`` (default: a
    :class:`~polyarch.engine.runner.DockerRunner` on the local Docker engine).

    The checks, in order (docs/verify.md): ``kind`` (an index), ``platforms``,
    ``records`` and ``digests`` (each expected platform's entry is the recorded
    digest), ``children``, ``configs`` (each image's config names its platform),
    ``blobs``, ``attestations`` (in the index or as referrers of each image), ``pull``
    (the entry each host would pull, with containerd's matcher), ``provenance``, and, when
    asked, ``referrers``, ``signatures`` (cosign signatures of the index and each image,
    checked cryptographically: ``keys`` or a ``keyless`` policy) and ``run``.

    Returns a :class:`~polyarch.operations.verify.request.VerifyReport`: ``checks`` (one
    :class:`~polyarch.operations.verify.request.Check` per line: ``check``, ``status``
    pass / warn / fail, ``platform``, ``message``, ``details``), ``digest`` and
    ``media_type`` of the target, and ``ok`` (nothing failed and, with ``strict``,
    nothing warned). Raises :class:`~polyarch.errors.InvalidInput` for bad input, and
    :class:`~polyarch.errors.PolyarchError` subclasses (``ManifestUnknown``,
    ``TransportError``, ``Unauthorized``...) only when the target cannot be read at all.

    >>> from polyarch import Context, VerifyRequest
    >>> request = VerifyRequest.build(
    ...     "127.0.0.1:5000/app:1.0",
    ...     platforms=["linux/amd64", "linux/arm64"],
    ...     expect={"linux/arm64": "sha256:" + "5e" * 32},
    ...     exact=True,
    ... )
    >>> with Context() as ctx:                                    # doctest: +SKIP
    ...     report = verify(request, ctx)
    ...     print(report.ok, [c.check for c in report.failed])
    False ['digests']
    """
    with borrowed(context) as ctx:
        return run_checks(VerifyState(request, ctx, runner or DockerRunner()))
