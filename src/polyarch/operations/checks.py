"""The checks behind ``verify``, each producing one or more report lines.

Passing checks are summarized; every failure is its own line, naming the platform and
the digest concerned, so a person reads the report at a glance.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from polyarch import mediatype
from polyarch.descriptor import Descriptor
from polyarch.digest import Digest
from polyarch.errors import ContentError, NotFound, PolyarchError
from polyarch.manifest import ImageManifest, Index
from polyarch.operations.attestation_links import link_problem
from polyarch.operations.checks_content import (
    effective_index,
    external_layers,
    mixed_media_types,
    nested_children,
)
from polyarch.operations.context import Context
from polyarch.operations.images import attestations_by_subject, fetch_config, required_blobs
from polyarch.operations.matching import EntryPlatforms, Selected, platform_key
from polyarch.operations.record_evidence import Evidence, compare_evidence, record_evidence
from polyarch.operations.referrer_checks import check_required_referrers
from polyarch.operations.runner import DockerRunner
from polyarch.operations.verification import Check, Status, VerifyReport, VerifyRequest
from polyarch.platform import Platform, compatible

__all__ = ["COMMON_HOSTS", "Verifier"]

#: Host platforms the pull simulation tries, besides the expected ones.
COMMON_HOSTS = tuple(
    Platform.parse(p)
    for p in (
        "linux/amd64",
        "linux/amd64/v2",
        "linux/amd64/v3",
        "linux/386",
        "linux/arm64",
        "linux/arm/v7",
        "linux/arm/v6",
        "linux/ppc64le",
        "linux/s390x",
        "linux/riscv64",
    )
)
_FAMILY = {"386": "x86", "amd64": "x86", "arm": "arm", "arm64": "arm"}
PROVENANCE = "slsa.dev/provenance"
SBOM_MARKERS = ("spdx", "cyclonedx")


@dataclass(frozen=True, slots=True)
class _Expected:
    platform: Platform
    digest: Digest | None
    origin: str
    evidence: Evidence | None = None


def _family(p: Platform) -> tuple[str, str]:
    return p.os, _FAMILY.get(p.architecture, p.architecture)


def _same(a: Platform, b: Platform) -> bool:
    ka, kb = platform_key(a), platform_key(b)
    return ka[:3] == kb[:3] and (not ka[3] or not kb[3] or ka[3] == kb[3])


def _predicate_types(manifest: ImageManifest) -> list[str]:
    return [
        layer.annotations.get("in-toto.io/predicate-type", "")
        for layer in manifest.layers
        if layer.media_type == mediatype.IN_TOTO
    ]


def _revision(statement: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """Source revision and materials of an SLSA provenance statement (v0.2 or v1)."""
    predicate = statement.get("predicate")
    if not isinstance(predicate, Mapping):
        return None, []
    revision: str | None = None
    materials: list[str] = []
    metadata = predicate.get("metadata")
    if isinstance(metadata, Mapping):  # SLSA v0.2, BuildKit's own metadata
        bk = metadata.get("https://mobyproject.org/buildkit@v1#metadata")
        vcs = bk.get("vcs") if isinstance(bk, Mapping) else None
        if isinstance(vcs, Mapping) and isinstance(vcs.get("revision"), str):
            revision = vcs["revision"]
    for item in predicate.get("materials") or []:
        if isinstance(item, Mapping) and isinstance(item.get("uri"), str):
            materials.append(item["uri"])
    build = predicate.get("buildDefinition")
    if isinstance(build, Mapping):  # SLSA v1
        deps = build.get("resolvedDependencies") or []
        materials += [
            d["uri"] for d in deps if isinstance(d, Mapping) and isinstance(d.get("uri"), str)
        ]
        run = predicate.get("runDetails")
        meta = run.get("metadata") if isinstance(run, Mapping) else None
        bk = meta.get("buildkit_metadata") if isinstance(meta, Mapping) else None
        vcs = bk.get("vcs") if isinstance(bk, Mapping) else None
        if isinstance(vcs, Mapping) and isinstance(vcs.get("revision"), str):
            revision = revision or vcs["revision"]
    return revision, sorted(set(materials))


class Verifier:
    """Runs every check for one request and collects the report lines."""

    def __init__(self, request: VerifyRequest, ctx: Context, runner: DockerRunner) -> None:
        self.request = request
        self.ctx = ctx
        self.runner = runner
        self.repo = ctx.repository(request.target)
        self.checks: list[Check] = []
        #: The one platform rule (containerd's), children read once: see operations/matching.
        self.entry_platforms = EntryPlatforms(self.repo)
        self._original: Index | None = None
        self._labels: dict[Digest, str] = {}

    def add(
        self, check: str, status: Status, message: str, platform: object = None, **details: Any
    ) -> None:
        """Record one report line."""
        self.checks.append(
            Check(check, status, message, str(platform) if platform else None, details)
        )

    def run(self) -> VerifyReport:
        """Every check, in the documented order."""
        top = self.repo.get_manifest(self.request.target.identifier)
        if not isinstance(top, Index):
            self._not_an_index(top)
            return self._report(top.digest, top.media_type)
        kind = "BuildKit wrapper (one image)" if top.is_wrapper else "multi-platform index"
        self.add(
            "kind",
            Status.PASS,
            f"{kind}: {len(top.images)} image(s), {len(top.attestations)} attestation(s)",
            mediaType=top.media_type,
        )
        mixed_media_types(self, top)
        self._original = top
        top = effective_index(self, top, self.entry_platforms)
        expected = self._expected(top)
        self._platforms(top, expected)
        self._digests(top, expected)
        children = self._children(top)
        self._configs(top, children)
        self._blobs(children)
        self._attestations(top, children)
        self._pull(top, expected)
        self._provenance(top, children)
        if self.request.require_referrers:  # operations/referrer_checks.py
            check_required_referrers(self, top)
        if self.request.run:
            self._run(top, expected)
        return self._report(top.digest, top.media_type)

    def _report(self, digest: Digest, media_type: str) -> VerifyReport:
        return VerifyReport(
            self.request.target, digest, media_type, tuple(self.checks), self.request.strict
        )

    def _not_an_index(self, manifest: ImageManifest) -> None:
        what = "an attestation manifest" if manifest.is_attestation else "a single image manifest"
        platform = None
        if not manifest.is_attestation:
            try:
                platform = fetch_config(self.repo, manifest).platform
            except PolyarchError:
                platform = None
        self.add(
            "kind",
            Status.FAIL,
            f"{self.request.target} is {what}"
            + (f" ({platform})" if platform else "")
            + ", not an index or manifest list",
            mediaType=manifest.media_type,
        )

    # 2, 3: what was expected ------------------------------------------------------------

    def _expected(self, top: Index) -> list[_Expected]:
        out = [_Expected(p, None, "--platform") for p in self.request.platforms]
        out += [_Expected(p, d, "--expect") for p, d in self.request.expect]
        images = frozenset(d.digest for d in top.images)
        for record in self.request.records:
            # Which evidence survives (resolved record, wrapper, config digest): its own module.
            evidence = record_evidence(record, self.ctx, self.repo, images)
            if evidence.problem is not None:
                self.add("records", Status.FAIL, f"{record.origin}: {evidence.problem}",
                         evidence.platform, evidence=evidence.kind)  # fmt: skip
            if evidence.platform is None:
                continue
            out.append(_Expected(evidence.platform, evidence.digest, record.origin, evidence))
        return out

    def _platforms(self, top: Index, expected: list[_Expected]) -> None:
        images = top.images
        for d in images:
            if d.platform is None and not d.is_index:
                self.add("platforms", Status.FAIL, f"image entry {d.digest} has no platform")
        keyed: dict[tuple[Any, ...], list[Descriptor]] = defaultdict(list)
        for d in images:
            if d.platform is not None:
                keyed[platform_key(d.platform)].append(d)
        for group in keyed.values():
            if len(group) > 1:
                names = ", ".join(f"{d.platform} ({d.digest.short})" for d in group)
                self.add(
                    "platforms", Status.FAIL, f"duplicate platform: {names}", group[0].platform
                )
        present = [d.platform for d in images if d.platform is not None]
        wanted: list[Platform] = []
        for e in expected:
            if not any(_same(e.platform, w) for w in wanted):
                wanted.append(e.platform)
        for w in wanted:
            if any(_same(w, p) for p in present):
                self.add("platforms", Status.PASS, "present", w)
            else:
                origins = sorted({e.origin for e in expected if _same(e.platform, w)})
                self.add("platforms", Status.FAIL, f"missing (expected by {', '.join(origins)})", w)
        extra = [p for p in present if not any(_same(p, w) for w in wanted)]
        if self.request.exact and wanted:
            for p in extra:
                self.add("platforms", Status.FAIL, "present but not expected (--exact)", p)
        elif not wanted:
            names = ", ".join(str(p) for p in present) or "none"
            self.add(
                "platforms", Status.PASS, f"{len(present)} platform(s): {names} (none expected)"
            )

    def _digests(self, top: Index, expected: list[_Expected]) -> None:
        for e in expected:
            if e.digest is None and (e.evidence is None or e.evidence.config is None):
                continue
            entries = [
                d for d in top.images if d.platform is not None and _same(d.platform, e.platform)
            ]
            if not entries:
                continue  # already reported missing
            if e.evidence is not None:  # a record: the comparison says which evidence it used
                ok, message, details = compare_evidence(e.evidence, entries, self.repo)
                self.add("digests", Status.PASS if ok else Status.FAIL, message, e.platform,
                         **details)  # fmt: skip
            elif any(d.digest == e.digest for d in entries):
                self.add(
                    "digests", Status.PASS, f"matches {e.origin}", e.platform, digest=str(e.digest)
                )
            else:
                self.add(
                    "digests",
                    Status.FAIL,
                    f"index has {entries[0].digest}, {e.origin} recorded {e.digest}",
                    e.platform,
                    expected=str(e.digest),
                    actual=str(entries[0].digest),
                )

    # 4, 5, 6: content -------------------------------------------------------------------

    def _label(self, top: Index, d: Descriptor) -> str:
        if d.attestation_subject:
            if not self._labels:  # one pass, not one scan of the index per attestation
                self._labels = {
                    i.digest: str(i.platform) if i.platform else i.digest.short
                    for i in reversed(top.images)
                }
            owner = self._labels.get(d.attestation_subject, d.attestation_subject.short)
            return f"attestation of {owner}"
        return str(d.platform) if d.platform else d.digest.short

    def _children(self, top: Index) -> dict[Digest, ImageManifest]:
        found: dict[Digest, ImageManifest] = {}
        failures = 0
        for d in top.manifests:
            if d.digest in found:
                continue  # the same child under another entry: read and checked once
            label = self._label(top, d)
            try:
                child = self.repo.get_manifest(d.digest)
            except NotFound:
                self.add(
                    "children",
                    Status.FAIL,
                    f"manifest {d.digest} missing from {self.repo.name}",
                    label,
                )
                failures += 1
                continue
            except ContentError as exc:
                self.add("children", Status.FAIL, f"manifest {d.digest}: {exc}", label)
                failures += 1
                continue
            if child.size != d.size or child.media_type != d.media_type:
                self.add(
                    "children",
                    Status.FAIL,
                    f"manifest {d.digest} is {child.size} bytes of {child.media_type}, "
                    f"the index says {d.size} bytes of {d.media_type}",
                    label,
                )
                failures += 1
                continue
            if isinstance(child, ImageManifest):
                found[d.digest] = child
            else:
                failures += nested_children(self, label, child, found)
        if not failures:
            self.add(
                "children",
                Status.PASS,
                f"{len(found)} manifest(s) present; bytes hash to their digests, sizes match",
            )
        return found

    def _configs(self, top: Index, children: Mapping[Digest, ImageManifest]) -> None:
        configs: dict[Digest, Any] = {}
        for d in top.images:
            child = children.get(d.digest)
            if child is None or d.platform is None:
                continue
            try:
                if child.config.digest not in configs:  # each distinct config read once
                    configs[child.config.digest] = fetch_config(self.repo, child)
                config = configs[child.config.digest]
            except PolyarchError as exc:
                self.add(
                    "configs",
                    Status.FAIL,
                    f"config {child.config.digest}: {exc.one_line()}",
                    d.platform,
                )
                continue
            if config.platform is None:
                self.add("configs", Status.FAIL, "the image config names no platform", d.platform)
                continue
            claimed, truth = d.platform.normalized(), config.platform.normalized()
            if (claimed.os, claimed.architecture, claimed.variant) != (
                truth.os,
                truth.architecture,
                truth.variant,
            ):
                self.add(
                    "configs",
                    Status.FAIL,
                    f"the index claims {d.platform} but the image config says {config.platform}",
                    d.platform,
                    config=str(config.platform),
                )
            else:
                self.add("configs", Status.PASS, f"config says {config.platform}", d.platform)

    def _blobs(self, children: Mapping[Digest, ImageManifest]) -> None:
        checked: dict[Digest, int | None] = {}
        missing: list[str] = []
        total = 0
        for child in children.values():
            for blob in required_blobs(child):  # external layers are not in the repository
                if blob.digest not in checked:
                    checked[blob.digest] = self.repo.blob_size(blob.digest)
                size = checked[blob.digest]
                total += 1
                if size is None:
                    missing.append(f"{blob.digest} ({blob.media_type}) of {child.digest.short}")
                elif size >= 0 and size != blob.size:
                    missing.append(f"{blob.digest} is {size} bytes, expected {blob.size}")
        for item in missing:
            self.add("blobs", Status.FAIL, f"blob {item} not pullable from {self.repo.name}")
        if not missing:
            self.add(
                "blobs", Status.PASS, f"all {len(checked)} blob(s) present in {self.repo.name}"
            )
        external_layers(self.add, children, self.repo.name)

    # 7, 8, 9: attestations, pulls, provenance ------------------------------------------

    def _attestations(self, top: Index, children: Mapping[Digest, ImageManifest]) -> None:
        images = {d.digest: d for d in top.images}
        by_subject = attestations_by_subject(top)
        for a in top.attestations:
            subject = a.attestation_subject
            if subject is None or subject not in images:
                self.add(
                    "attestations",
                    Status.FAIL,
                    f"orphan attestation {a.digest}: its subject {subject or '(none)'} "
                    "is not an image of the index",
                )
            else:  # the three links must agree (annotation, subject, in-toto statement)
                problem = link_problem(self.repo, a, subject, children.get(a.digest))
                if problem is not None:
                    self.add("attestations", Status.FAIL, problem, images[subject].platform)
        for d in top.images:
            kinds: set[str] = set()
            for a in by_subject.get(d.digest, ()):
                child = children.get(a.digest)
                for predicate in _predicate_types(child) if child else []:
                    if PROVENANCE in predicate:
                        kinds.add("provenance")
                    elif any(m in predicate for m in SBOM_MARKERS):
                        kinds.add("sbom")
                    elif predicate:
                        kinds.add(predicate.rsplit("/", 1)[-1])
            text = ", ".join(sorted(kinds)) if kinds else "no attestations"
            self.add("attestations", Status.PASS, text, d.platform, kinds=sorted(kinds))

    def _pull(self, top: Index, expected: list[_Expected]) -> None:
        entries = [d for d in top.images if d.platform is not None]
        platforms = [d.platform for d in entries if d.platform is not None]
        hosts: list[Platform] = []
        for e in expected or [_Expected(p, None, "index") for p in platforms]:
            if not any(_same(e.platform, h) for h in hosts):
                hosts.append(e.platform)
        for host in hosts:
            picked = self._pick(host)
            want = next((d for d in entries if d.platform and _same(d.platform, host)), None)
            if want is None:
                continue  # missing: already failed under "platforms"
            if picked is not None and picked.descriptor.digest == want.digest:
                self.add("pull", Status.PASS, f"a {host} host pulls {want.digest.short}", host)
            else:
                got = (
                    f"{picked.platform} ({picked.descriptor.digest.short})"
                    if picked is not None
                    else "nothing"
                )
                nested = picked is not None and bool(picked.path)
                self.add(
                    "pull",
                    # A nested index walked first (containerd's order): what the
                    # bundle's author meant is not knowable; say what a host gets.
                    Status.WARN if nested else Status.FAIL,
                    f"a {host} host would pull {got}"
                    + (f" from nested index {picked.path[-1].short}" if nested and picked else "")
                    + f", not {want.digest.short}",
                    host,
                )
        families = {_family(p) for p in platforms}
        nothing: list[str] = []
        for host in COMMON_HOSTS:
            if _family(host) not in families or any(_same(host, p) for p in platforms):
                continue
            chosen = self._pick(host)
            if chosen is None or chosen.platform is None:
                nothing.append(str(host))
                continue
            pulled = chosen.platform
            if pulled.architecture != host.architecture:
                self.add(
                    "pull",
                    Status.WARN,
                    f"a {host} host would pull {pulled} (another architecture)",
                    host,
                )
        for p in {Platform(p.os, p.architecture).normalized() for p in platforms}:
            if not any(compatible(p, q) for q in platforms):
                self.add(
                    "pull",
                    Status.WARN,
                    f"a plain {p} host gets nothing: "
                    f"every {p.architecture} entry needs a newer variant",
                    p,
                )
        if nothing:
            self.add(
                "pull",
                Status.PASS,
                f"no variant for {', '.join(nothing)} hosts (not built)",
                hostsWithoutVariant=nothing,
            )

    def _pick(self, host: Platform) -> Selected | None:
        """What a host pulls: the one rule (containerd's), as resolve and inspect apply it."""
        top = self._original
        assert top is not None
        try:
            return self.entry_platforms.select(top, host)
        except PolyarchError:
            return None  # an unreadable child: the children check reports it

    def _provenance(self, top: Index, children: Mapping[Digest, ImageManifest]) -> None:
        revisions: dict[str, str] = {}
        materials: dict[str, list[str]] = {}
        statements: dict[Digest, Any] = {}
        by_subject = attestations_by_subject(top)
        for d in top.images:
            for a in by_subject.get(d.digest, ()):
                child = children.get(a.digest)
                if child is None:
                    continue
                for layer in child.layers:
                    if PROVENANCE not in layer.annotations.get("in-toto.io/predicate-type", ""):
                        continue
                    try:
                        if layer.digest not in statements:  # each distinct statement read once
                            statements[layer.digest] = json.loads(self.repo.read_blob(layer))
                        statement = statements[layer.digest]
                    except (PolyarchError, ValueError, RecursionError) as exc:
                        self.add(
                            "provenance",
                            Status.WARN,
                            f"provenance {layer.digest} unreadable: {exc}",
                            d.platform,
                        )
                        continue
                    revision, mats = (
                        _revision(statement) if isinstance(statement, Mapping) else (None, [])
                    )
                    if revision:
                        revisions[str(d.platform)] = revision
                    materials[str(d.platform)] = mats
        if not materials:
            self.add("provenance", Status.PASS, "no provenance to compare")
            return
        distinct = set(revisions.values())
        if len(distinct) > 1:
            listing = ", ".join(f"{p} {r[:12]}" for p, r in sorted(revisions.items()))
            self.add(
                "provenance",
                Status.WARN,
                f"variants built from different source revisions: {listing}",
                revisions=revisions,
                materials=materials,
            )
        elif distinct:
            self.add(
                "provenance",
                Status.PASS,
                f"{len(revisions)} variant(s) built from revision {next(iter(distinct))[:12]}",
                revisions=revisions,
                materials=materials,
            )
        else:
            self.add(
                "provenance",
                Status.PASS,
                "provenance names no source revision",
                materials=materials,
            )

    # 10: run ------------------------------------------------------------------------------

    def _run(self, top: Index, expected: list[_Expected]) -> None:
        reason = self.runner.engine_available()
        if reason:
            self.add("run", Status.FAIL, f"cannot run: {reason}")
            return
        entries = [d for d in top.images if d.platform is not None]
        wanted = [
            d
            for d in entries
            if not expected or any(_same(d.platform, e.platform) for e in expected if d.platform)
        ]
        patterns = self.request.expect_output
        for d in wanted:
            platform = d.platform
            assert platform is not None
            image = str(self.request.target.untagged().with_digest(d.digest))
            emulator = self.runner.emulator_available(platform)
            if emulator:
                self.add("run", Status.FAIL, emulator, platform)
                continue
            result = self.runner.run(image, platform, self.request.command)
            details = {
                "exitCode": result.exit_code,
                "native": result.native,
                "machine": result.machine,
                "output": result.output,
            }
            how = "natively" if result.native else "under emulation"
            first = (result.output.strip().splitlines() or [""])[0][:100]
            # What the container said, so a person sees "x86_64" or the app's own banner.
            seen = (
                f", machine {result.machine}" if result.machine else (f": {first}" if first else "")
            )
            if result.error:
                self.add("run", Status.FAIL, result.error, platform, **details)
            elif result.exit_code != 0:
                last = (result.output.strip().splitlines() or [""])[-1][:120]
                self.add(
                    "run",
                    Status.FAIL,
                    f"exited {result.exit_code} {how}: {last}",
                    platform,
                    **details,
                )
            else:
                failed = [
                    p.pattern
                    for q, p in patterns
                    if _same(q, platform) and not p.search(result.output)
                ]
                if failed:
                    self.add(
                        "run",
                        Status.FAIL,
                        f"output does not match {failed[0]!r}",
                        platform,
                        **details,
                    )
                else:
                    self.add("run", Status.PASS, f"exited 0 {how}{seen}", platform, **details)
