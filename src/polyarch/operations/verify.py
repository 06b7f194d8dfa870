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

from polyarch.operations.checks import Verifier
from polyarch.operations.context import Context, borrowed
from polyarch.operations.runner import DockerRunner
from polyarch.operations.verification import Check, Status, VerifyReport, VerifyRequest

__all__ = ["Check", "Status", "VerifyReport", "VerifyRequest", "verify"]


def verify(
    request: VerifyRequest,
    context: Context | None = None,
    *,
    runner: DockerRunner | None = None,
) -> VerifyReport:
    """Run every check against ``request.target``; never raises for a failed check.

    Raises only for bad input or when the target cannot be read at all.
    """
    with borrowed(context) as ctx:
        return Verifier(request, ctx, runner or DockerRunner()).run()
