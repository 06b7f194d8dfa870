"""What ``publish`` answers: the published variants, the index, the reports, the cleanup.

:class:`PublishResult` also renders what a CI job needs: the ``$GITHUB_OUTPUT`` lines
(:meth:`~PublishResult.github_outputs`) and the ``$GITHUB_STEP_SUMMARY`` markdown
(:meth:`~PublishResult.step_summary`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from polyarch.content.records.formats import Record
from polyarch.domain.platform import Platform
from polyarch.errors import PolyarchError
from polyarch.operations.create import CreateResult
from polyarch.operations.sign import SignResult
from polyarch.operations.verify.request import Check, VerifyReport
from polyarch.pipeline.builds.request import record_file_name
from polyarch.pipeline.metadata_file import metadata_file_content
from polyarch.pipeline.naming import Naming
from polyarch.pipeline.specfile.model import Spec, Variant

__all__ = [
    "PUBLISH_SCHEMA",
    "CleanupOutcome",
    "PublishFailed",
    "PublishResult",
    "PublishedVariant",
    "run_output",
    "source_digest",
]

PUBLISH_SCHEMA: Final = "polyarch.publish/v1"


class PublishFailed(PolyarchError):
    """The index is published but does not verify; fix what the failed checks name, publish."""


def source_digest(record: Record) -> str:
    """What to publish from: the BuildKit wrapper the build pushed, else the image."""
    wrapper = record.extra.get("wrapper")
    return wrapper if isinstance(wrapper, str) and wrapper else str(record.digest)


@dataclass(frozen=True, slots=True)
class PublishedVariant:
    """One spec variant and the record it was published from."""

    variant: Variant
    record: Record

    @property
    def source(self) -> str:
        """``REPO@DIGEST``: the ``create`` source (the record's ``wrapper``, if any)."""
        return f"{self.record.repository}@{source_digest(self.record)}"


@dataclass(frozen=True, slots=True)
class CleanupOutcome:
    """What happened to one per-platform tag."""

    reference: str
    deleted: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        """``{"reference", "deleted", "message"}``."""
        return {"reference": self.reference, "deleted": self.deleted, "message": self.message}


@dataclass(frozen=True, slots=True)
class PublishResult:
    """The published index, the verification of each image, and the cleanup."""

    spec: Spec
    variants: tuple[PublishedVariant, ...]
    create: CreateResult
    #: One report per repository published to (its first tag); empty with ``verify=False``
    #: and in a dry run.
    reports: tuple[VerifyReport, ...]
    cleanup: tuple[CleanupOutcome, ...] = ()
    #: With a signing key: what was signed, per image of the spec.
    signatures: tuple[SignResult, ...] = ()
    #: Where the index went and why (the tag family, its version, the annotations);
    #: ``None``: the spec's own tags.
    naming: Naming | None = None

    @property
    def digest(self) -> str:
        """The index digest, the same at every tag."""
        return str(self.create.digest)

    @property
    def tags(self) -> list[str]:
        """Every reference published (or, in a dry run, to publish): each image, each tag."""
        if self.naming is not None:
            return [str(t) for t in self.naming.targets]
        return [str(t) for t in self.spec.targets()]

    @property
    def version(self) -> str | None:
        """The tag family's version (``org.opencontainers.image.version``), when known."""
        return self.naming.version if self.naming is not None else None

    @property
    def dry_run(self) -> bool:
        """True when nothing was written (``dry_run``)."""
        return self.create.dry_run

    def metadata_file(self) -> dict[str, Any]:
        """What ``--metadata-file`` holds: ``docker buildx imagetools create``'s keys."""
        index = self.create.index
        targets = [t.reference for t in self.create.targets]
        return metadata_file_content(index.media_type, str(index.digest), index.size, targets)

    @property
    def ok(self) -> bool:
        """True when every verification passed (or none was asked for)."""
        return all(r.ok for r in self.reports)

    def raise_for_failures(self) -> None:
        """Raise :class:`PublishFailed` naming the failed checks (none failed: do nothing)."""
        for report in self.reports:
            if not report.ok:
                checks = report.failed or report.warnings
                named = "; ".join(
                    f"{c.check}{' ' + c.platform if c.platform else ''}: {c.message}"
                    for c in checks[:3]
                )
                more = f" (and {len(checks) - 3} more)" if len(checks) > 3 else ""
                raise PublishFailed(
                    f"verification of {report.target} failed: {named}{more}",
                    hint=f"the index {self.digest} is published at every tag; fix the "
                    "variant and publish again",
                )

    def write_records(self, directory: str | Path) -> list[Path]:
        """Write each variant's resolved record to ``directory/<os>-<arch>[-<variant>].json``.

        The records name the platform image's digest next to the wrapper's (and the
        repository it was found in): ``verify --records`` can use them after the untagged
        wrappers are garbage-collected. Returns the paths written; raises ``OSError``.
        """
        written = []
        for item in self.variants:
            path = Path(directory) / record_file_name(item.variant.platform)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(item.record.to_json(), indent=2) + "\n")
            os.replace(tmp, path)
            written.append(path)
        return written

    def attestation_count(self, variant: PublishedVariant) -> int:
        """How many attestation manifests the index carries for ``variant``'s image."""
        for entry in self.create.entries:
            if entry.descriptor.digest == variant.record.digest:
                return len(entry.attestations)
        return 0

    def run_check(self, platform: Platform) -> Check | None:
        """The ``run`` line of the first report for ``platform``, if it ran."""
        for report in self.reports[:1]:
            for check in report.checks:
                if check.check == "run" and check.platform == str(platform):
                    return check
        return None

    def github_outputs(self) -> str:
        """``digest=…``, ``tags=…`` (and ``version=…`` when known) lines, as appended to
        ``$GITHUB_OUTPUT``."""
        version = f"version={self.version}\n" if self.version else ""
        return f"digest={self.digest}\ntags={','.join(self.tags)}\n{version}"

    def step_summary(self) -> str:
        """A markdown summary for ``$GITHUB_STEP_SUMMARY``: one row per platform."""
        verdict = "verified" if self.ok else "**verification failed**"
        verdict = verdict if self.reports else "not verified"
        lines = [
            f"### polyarch publish: `{self.tags[0]}` ({verdict})",
            "",
            f"Index `{self.digest}` published to " + ", ".join(f"`{t}`" for t in self.tags) + ".",
            "",
            "| platform | digest | source record | run result |",
            "| --- | --- | --- | --- |",
        ]
        for item in self.variants:
            run = _run_text(self.run_check(item.variant.platform))
            cells = (
                item.variant.platform,
                f"`{item.record.digest}`",
                f"`{item.record.origin}`",
                run,
            )
            lines.append("| " + " | ".join(_cell(str(c)) for c in cells) + " |")
        failed = [c for r in self.reports for c in r.failed]
        if failed:
            lines += ["", "Failed checks:", ""]
            lines += [f"- {c.check} {c.platform or ''}: {_cell(c.message)}" for c in failed]
        notes = [c for c in self.cleanup if not c.deleted]
        if notes:
            lines += ["", "Per-platform tags left in place:", ""]
            lines += [f"- `{c.reference}`: {c.message}" for c in notes]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        """``polyarch.publish/v1``: digest, tags, variants, create, verify, cleanup."""
        return {
            "schema": PUBLISH_SCHEMA,
            "digest": self.digest,
            "tags": self.tags,
            "version": self.version,
            "dryRun": self.dry_run,
            "held": [
                {"tag": tag, "higher": higher}
                for tag, higher in (self.naming.held if self.naming else ())
            ],
            "ok": self.ok,
            "variants": [
                {
                    "platform": str(v.variant.platform),
                    "digest": str(v.record.digest),
                    "wrapper": str(v.record.wrapper) if v.record.wrapper else None,
                    "attestations": self.attestation_count(v),
                    "record": v.record.origin,
                    # The evidence resolved, to keep: verify --records takes it as a record
                    # after the wrapper is garbage-collected.
                    "resolved": v.record.to_json(),
                }
                for v in self.variants
            ],
            "create": self.create.to_json(),
            "verify": [r.to_json() for r in self.reports],
            "cleanup": [c.to_json() for c in self.cleanup],
            "signatures": [s.to_json() for s in self.signatures],
        }


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def run_output(check: Check) -> str:
    """The first non-blank line the container printed, or ``""``."""
    output = check.details.get("output")
    if not isinstance(output, str):
        return ""
    return next((line.strip() for line in output.splitlines() if line.strip()), "")


def _run_text(check: Check | None) -> str:
    if check is None:
        return "not run"
    said = run_output(check)
    return f"{check.status.value}: {check.message}" + (f" ({said})" if said else "")
