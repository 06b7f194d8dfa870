"""create, verify and copy through a fault-injecting proxy, against real registries.

Every run goes through :class:`support.faultproxy.FaultProxy` (5xx, 429, resets before
a response, in a response body and in an upload, truncated bodies, slow responses),
seeded so a failing run can be replayed with its seed. The rule checked after each run:

* the operation either succeeded with exactly the expected digests, or failed with one
  :class:`polyarch.PolyarchError` whose message is one line (no bare exception);
* whatever happened, every target tag that exists points at complete content: checked
  through a direct client (no proxy, no faults) with ``verify`` (no failed check), and
  every blob and manifest present in a target repository hashes to its digest;
* ``verify`` under faults never passes a tag that a direct ``verify`` fails.

Runs: ``POLYARCH_FAULT_RUNS`` per small scenario (create, verify; default 20 each, 40 in
all; ``POLYARCH_FAULT_RUNS=100`` is the full run), ``POLYARCH_FAULT_COPY_RUNS`` large
copies (default 3) of a 2-platform image of 4 layers of 64 MiB (``POLYARCH_FAULT_BIG=1``:
4 x 256 MiB, 1 GiB); ``POLYARCH_FAULT_SEED=N`` replays one seed. See docs/faults.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from polyarch import (
    Context,
    CopyRequest,
    CreateRequest,
    Descriptor,
    Digest,
    ImageManifest,
    Index,
    Platform,
    PolyarchError,
    Reference,
    TransportSettings,
    VerifyRequest,
    build_index,
    copy_image,
    create_index,
    resolve,
    verify,
)
from polyarch.content.transfer import BlobAction
from polyarch.domain import mediatype as mt
from polyarch.errors import DigestMismatch, RegistryError, TransportError
from polyarch.transport.retry import BLOB_ATTEMPTS, RetryPolicy
from support.cli import run_cli
from support.faultproxy import Fault, FaultProxy, RequestInfo
from support.images import push_image, push_wrapper
from support.random_blobs import push_image_manifest, push_random_blob, push_random_image

pytestmark = pytest.mark.integration

#: Seeded runs per small scenario (create, verify).
RUNS = int(os.environ.get("POLYARCH_FAULT_RUNS", "20"))
#: Replay one run: ``POLYARCH_FAULT_SEED=N`` runs only seed N of each loop.
ONLY_SEED = os.environ.get("POLYARCH_FAULT_SEED")
#: Seeded runs of the large copy.
COPY_RUNS = int(os.environ.get("POLYARCH_FAULT_COPY_RUNS", "3"))
#: Size of each of the 4 layers of the large image.
BIG_LAYER = (256 if os.environ.get("POLYARCH_FAULT_BIG") == "1" else 64) * 1024 * 1024
#: Short waits, so a run under faults stays fast; bounded in attempts and total time.
POLICY = RetryPolicy(base_delay=0.01, max_delay=0.05, max_total=5)
PLATFORMS = ("linux/amd64", "linux/arm64")

#: Per-request probabilities for the small scenarios (about 1 request in 11 is hit).
SMALL_FAULTS: dict[Fault, float] = {
    Fault.ERROR_500: 0.01,
    Fault.ERROR_502: 0.01,
    Fault.ERROR_503: 0.01,
    Fault.RATE_LIMIT: 0.01,
    Fault.RESET_BEFORE_RESPONSE: 0.01,
    Fault.RESET_MID_BODY: 0.01,
    Fault.RESET_MID_UPLOAD: 0.01,
    Fault.TRUNCATED_BODY: 0.01,
    Fault.SLOW: 0.01,
}
#: The large copy makes few requests: hit them more often.
BIG_FAULTS: dict[Fault, float] = {fault: 0.015 for fault in SMALL_FAULTS}


def _seeds(count: int) -> list[int]:
    """The seeds of a loop: ``range(count)``, or only ``POLYARCH_FAULT_SEED``."""
    return [int(ONLY_SEED)] if ONLY_SEED else list(range(count))


def _settings() -> TransportSettings:
    return TransportSettings(retry=POLICY)


@pytest.fixture(scope="module")
def direct() -> Iterator[Context]:
    """The proxy-less context every check after a run goes through."""
    with Context(TransportSettings()) as context:
        yield context


@pytest.fixture(scope="module")
def proxy_a(registry: Any) -> Iterator[FaultProxy]:
    """A fault proxy in front of ``registry``."""
    with FaultProxy(registry.host) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def proxy_b(registry2: Any) -> Iterator[FaultProxy]:
    """A fault proxy in front of ``registry2``."""
    with FaultProxy(registry2.host) as proxy:
        yield proxy


@dataclass
class Tally:
    """What the runs of one scenario did, printed at the end (``pytest -s`` shows it)."""

    name: str
    outcomes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)

    def add(
        self, outcome: str, proxies: tuple[FaultProxy, ...], seconds: float, message: str = ""
    ) -> None:
        """Record one run (``message``: the error of a failed run)."""
        if message:
            self.messages.append(f"{outcome}: {message}")
        self.outcomes[outcome] += 1
        self.seconds += seconds
        for proxy in proxies:
            self.requests += proxy.requests
            self.faults.update(str(f) for f in proxy.counts().elements())

    def report(self) -> str:
        """A summary line, then one line per failed run (with its seed)."""
        runs = sum(self.outcomes.values())
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        lines = [
            f"{self.name}: {runs} runs in {self.seconds:.1f} s ({outcomes}); "
            f"{self.requests} requests through the proxies; injected: {faults}",
            *(f"  {m}" for m in self.messages),
        ]
        return "\n".join(lines)


def _outcome_of_failure(exc: BaseException, where: str) -> str:
    """Check that a failure is one clean polyarch error; its class name for the tally."""
    assert isinstance(exc, PolyarchError), f"{where}: a bare {type(exc).__name__} escaped: {exc!r}"
    assert "\n" not in str(exc) and "\n" not in exc.one_line(), f"{where}: {exc!r}"
    return f"failed:{type(exc).__name__}"


def _direct(ref: Reference, host: str) -> Reference:
    """``ref`` moved from the proxy's host to the registry's own."""
    return Reference.parse(f"{host}/{ref.repository}:{ref.tag}")


def _check_content(direct: Context, ref: Reference, manifests: list[ImageManifest]) -> None:
    """Every child manifest and blob present in ``ref``'s repository hashes to its digest."""
    repo = direct.repository(ref)
    for manifest in manifests:
        if repo.head_manifest(str(manifest.digest)) is not None:
            assert repo.get_manifest(str(manifest.digest)).raw == manifest.raw  # verified read
        for blob in manifest.blobs:
            size = repo.blob_size(blob.digest)
            if size is None:
                continue
            assert size == blob.size, f"{repo.name}@{blob.digest}: {size} bytes"
            with repo.open_blob(blob) as reader:
                for _ in reader:  # hashed while read: a mismatch raises DigestMismatch
                    pass


def _check_tag(
    direct: Context, ref: Reference, expected: Digest, manifests: list[ImageManifest], why: str
) -> bool:
    """The tag is absent, or points at ``expected`` and verifies clean; True if present."""
    current = direct.repository(ref).head_manifest(ref.tag or "latest")
    _check_content(direct, ref, manifests)
    if current is None:
        return False
    assert current.digest == expected, f"{ref} -> {current.digest}, expected {expected}; {why}"
    report = verify(VerifyRequest.build(ref, platforms=PLATFORMS, exact=True), direct)
    assert not report.failed, f"{ref}: {[c.message for c in report.failed]}; {why}"
    return True


# -- create ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """The seeds' two variants in registry A, and what create must make of them."""

    repo: Reference
    amd64: Digest
    arm64: Digest
    digest: Digest
    manifests: list[ImageManifest]


@pytest.fixture(scope="module")
def release(direct: Context, registry: Any) -> Release:
    """amd64 as a plain Docker image, arm64 as a Docker 29 wrapper with provenance."""
    repo_ref = Reference.parse(f"{registry.host}/faults{uuid.uuid4().hex[:8]}/metrics-api")
    repo = direct.repository(repo_ref)
    amd = push_image(repo, "linux/amd64", tag="v2.0.0-amd64", docker=True)
    arm = push_wrapper(repo, "linux/arm64", tag="v2.0.0-arm64")
    planned = create_index(
        CreateRequest.build(
            [repo_ref.with_tag("planned")],
            [repo_ref.with_tag("v2.0.0-amd64"), repo_ref.with_tag("v2.0.0-arm64")],
            dry_run=True,
        ),
        direct,
    )
    return Release(
        repo_ref,
        amd.digest,
        arm.image.digest,
        planned.digest,
        [amd.manifest, arm.image.manifest, arm.attestation],
    )


def test_create_under_faults(
    release: Release,
    direct: Context,
    proxy_a: FaultProxy,
    proxy_b: FaultProxy,
    registry: Any,
    registry2: Any,
) -> None:
    """Each run: exact digests or one clean error; every tag that exists is complete."""
    tally = Tally("create")
    sources = [
        Reference.parse(f"{proxy_a.host}/{release.repo.repository}:v2.0.0-{arch}")
        for arch in ("amd64", "arm64")
    ]
    for seed in _seeds(RUNS):
        uid = uuid.uuid4().hex[:8]
        targets = [
            # The sources' own repository: only the index and the tag move.
            Reference.parse(f"{proxy_a.host}/{release.repo.repository}:run-{seed}"),
            # Another repository of registry A: blobs are mounted.
            Reference.parse(f"{proxy_a.host}/faults{uid}/mounted:v2.0.0"),
            # Registry B: blobs are streamed from A to B.
            Reference.parse(f"{proxy_b.host}/faults{uid}/streamed:v2.0.0"),
        ]
        hosts = [registry.host, registry.host, registry2.host]
        for proxy in (proxy_a, proxy_b):
            proxy.configure(seed=seed, faults=SMALL_FAULTS)
        started = time.monotonic()
        outcome, message = "ok", ""
        with Context(_settings()) as ctx:
            try:
                result = create_index(CreateRequest.build(targets, sources), ctx)
            except Exception as exc:
                where = f"seed {seed}: {proxy_a.summary()} | {proxy_b.summary()}"
                outcome, message = _outcome_of_failure(exc, where), f"seed {seed}: {exc}"
            else:
                assert result.digest == release.digest, proxy_a.summary()
                assert [e.descriptor.digest for e in result.entries] == [
                    release.amd64,
                    release.arm64,
                ]
        seconds = time.monotonic() - started
        why = f"seed {seed}, {outcome}: {proxy_a.summary()} | {proxy_b.summary()}"
        present = [
            _check_tag(direct, _direct(t, h), release.digest, release.manifests, why)
            for t, h in zip(targets, hosts, strict=True)
        ]
        if outcome == "ok":
            assert all(present), why
        tally.add(outcome, (proxy_a, proxy_b), seconds, message)
    print(tally.report())
    assert ONLY_SEED or tally.outcomes["ok"] > 0, tally.report()


# -- verify -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def verify_tags(direct: Context, registry: Any, release: Release) -> dict[str, bool]:
    """Tags in one repository of registry A -> whether a direct verify passes them.

    ``good`` is the seeds' index; ``wrong-platform`` lists each image under the other's
    platform (the configs contradict it); ``missing-blob`` has a layer deleted.
    """
    repo_ref = Reference.parse(f"{registry.host}/faults{uuid.uuid4().hex[:8]}/verified")
    repo = direct.repository(repo_ref)
    amd = push_image(repo, "linux/amd64", tag="amd64")
    arm = push_wrapper(repo, "linux/arm64", tag="arm64")
    good = create_index(
        CreateRequest.build(
            [repo_ref.with_tag("good")], [repo_ref.with_tag("amd64"), repo_ref.with_tag("arm64")]
        ),
        direct,
    ).index
    swapped = build_index(
        [
            amd.manifest.descriptor(Platform.parse("linux/arm64")),
            arm.image.manifest.descriptor(Platform.parse("linux/amd64")),
        ]
    )
    repo.put_manifest(swapped, "wrong-platform")
    lonely = push_image(repo, "linux/arm64", payload=b"this layer will be deleted\n")
    broken = build_index(
        [amd.manifest.descriptor(amd.platform), lonely.manifest.descriptor(lonely.platform)]
    )
    repo.put_manifest(broken, "missing-blob")
    repo.delete_blob(lonely.manifest.layers[0].digest)
    verdicts = {}
    for tag in ("good", "wrong-platform", "missing-blob"):
        report = verify(VerifyRequest.build(repo_ref.with_tag(tag), platforms=PLATFORMS), direct)
        verdicts[f"{repo_ref.repository}:{tag}"] = report.ok
    assert good.digest and list(verdicts.values()) == [True, False, False], verdicts
    return verdicts


def test_verify_under_faults(
    verify_tags: dict[str, bool], direct: Context, proxy_a: FaultProxy, registry: Any
) -> None:
    """Each run passes, fails a check or raises one clean error; never a wrong pass."""
    tally = Tally("verify")
    names = sorted(verify_tags)
    for seed in _seeds(RUNS):
        name = names[seed % len(names)]
        proxy_a.configure(seed=1000 + seed, faults=SMALL_FAULTS)
        started = time.monotonic()
        message = ""
        with Context(_settings()) as ctx:
            request = VerifyRequest.build(f"{proxy_a.host}/{name}", platforms=PLATFORMS)
            try:
                report = verify(request, ctx)
            except Exception as exc:
                outcome = _outcome_of_failure(exc, f"{name}, {proxy_a.summary()}")
                message = f"seed {1000 + seed}: {exc}"
            else:
                for check in report.checks:
                    assert "\n" not in check.message, (check, proxy_a.summary())
                if report.ok:
                    assert verify_tags[name], f"{name} passed under faults: {proxy_a.summary()}"
                    outcome = "passed"
                elif verify_tags[name]:
                    # A good tag failed a check: only because a read failed under faults.
                    outcome = "check-failed:good-tag"
                    message = f"seed {1000 + seed}: {report.failed[0].message}"
                else:
                    outcome = "check-failed:bad-tag"
        if outcome == "passed":
            # The direct verdict agrees (no false pass).
            again = VerifyRequest.build(f"{registry.host}/{name}", platforms=PLATFORMS)
            assert verify(again, direct).ok
        tally.add(outcome, (proxy_a,), time.monotonic() - started, message)
    print(tally.report())
    assert ONLY_SEED or tally.outcomes["passed"] > 0, tally.report()


def test_cut_reads_are_read_again(verify_tags: dict[str, bool], proxy_a: FaultProxy) -> None:
    """Every manifest and config body cut once (reset or truncated): verify still passes."""
    [good] = [name for name, ok in verify_tags.items() if ok]
    cuts = [Fault.RESET_MID_BODY, Fault.TRUNCATED_BODY]
    proxy_a.configure(
        seed=0,
        faults={},
        force=lambda i: cuts[len(i.path) % 2] if i.method == "GET" and i.occurrence == 0 else None,
    )
    with Context(_settings()) as ctx:
        report = verify(VerifyRequest.build(f"{proxy_a.host}/{good}", platforms=PLATFORMS), ctx)
    assert report.ok, ([c.message for c in report.failed], proxy_a.summary())
    # verify also looks up each image's referrers tag schema tag (attestations as referrers):
    # absent here, it answers 404, whose status is all that counts: a cut error body is not
    # read again.
    absent = [path for method, path in proxy_a.log if "/manifests/sha256-" in path]
    gets = Counter(path for method, path in proxy_a.log if method == "GET" and path not in absent)
    assert gets and all(n == 2 for n in gets.values()), (gets, proxy_a.summary())
    assert len(proxy_a.injected) == len(gets) + len(absent)


# -- the large copy ----------------------------------------------------------------------


@dataclass(frozen=True)
class BigImage:
    """A 2-platform index of 4 large random layers in registry A."""

    ref: Reference
    index: Index
    manifests: list[ImageManifest]

    @property
    def layers(self) -> list[Descriptor]:
        return [layer for m in self.manifests for layer in m.layers]


@pytest.fixture(scope="module")
def big_image(direct: Context, registry: Any) -> BigImage:
    """Generated once per module, streamed (never whole in memory), 4 x ``BIG_LAYER``."""
    ref = Reference.parse(f"{registry.host}/faults-big/app:{BIG_LAYER >> 20}m")
    repo = direct.repository(ref)
    manifests = [
        push_random_image(repo, "", platform, layers=2, layer_size=BIG_LAYER)
        for platform in PLATFORMS
    ]
    index = build_index(
        [m.descriptor(Platform.parse(p)) for m, p in zip(manifests, PLATFORMS, strict=True)]
    )
    repo.put_manifest(index, ref.tag)
    return BigImage(ref, index, manifests)


def _missing_blobs(direct: Context, ref: Reference, big: BigImage) -> list[Descriptor]:
    """Blobs of child manifests not yet in ``ref``'s repository: what a copy must move."""
    repo = direct.repository(ref)
    missing: list[Descriptor] = []
    for manifest in big.manifests:
        if repo.head_manifest(str(manifest.digest)) is None:
            missing += [b for b in manifest.blobs if repo.blob_size(b.digest) is None]
    return missing


def _blobs_to_consider(direct: Context, ref: Reference, big: BigImage) -> list[Descriptor]:
    """Blobs of child manifests not yet in ``ref``'s repository (present or not)."""
    repo = direct.repository(ref)
    return [b for m in big.manifests if repo.head_manifest(str(m.digest)) is None for b in m.blobs]


def _first_patch(fault: Fault) -> Callable[[RequestInfo], Fault | None]:
    """A ``force`` rule: ``fault`` on the first upload PATCH of a repository."""
    return lambda info: fault if info.method == "PATCH" and info.occurrence == 0 else None


def _first_big_get(fault: Fault, big: BigImage) -> Callable[[RequestInfo], Fault | None]:
    """A ``force`` rule: ``fault`` on the first GET of the first large layer."""
    path = f"/v2/*/blobs/{big.layers[0].digest}"
    return lambda info: fault if info.path == path and info.occurrence == 0 else None


def test_large_copy_under_faults(
    big_image: BigImage,
    direct: Context,
    proxy_a: FaultProxy,
    proxy_b: FaultProxy,
    registry2: Any,
) -> None:
    """Large cross-registry copies under faults; then a fault-free copy finishes the job."""
    tally = Tally(f"copy {4 * BIG_LAYER >> 20} MiB")
    source = Reference.parse(f"{proxy_a.host}/{big_image.ref.repository}:{big_image.ref.tag}")
    Force = Callable[[RequestInfo], Fault | None] | None
    # On top of the random faults, each run forces one cut in the middle of a big blob:
    # (on the source proxy, on the destination proxy).
    forced: list[tuple[Force, Force]] = [
        (None, _first_patch(Fault.RESET_MID_UPLOAD)),
        (_first_big_get(Fault.RESET_MID_BODY, big_image), None),
        (_first_big_get(Fault.TRUNCATED_BODY, big_image), None),
    ]
    for seed in _seeds(COPY_RUNS):
        dest = Reference.parse(f"{proxy_b.host}/faults{uuid.uuid4().hex[:8]}/big:v1")
        dest_direct = _direct(dest, registry2.host)
        force_a, force_b = forced[seed % len(forced)]
        proxy_a.configure(seed=2000 + seed, faults=BIG_FAULTS, force=force_a)
        proxy_b.configure(seed=3000 + seed, faults=BIG_FAULTS, force=force_b)
        started = time.monotonic()
        outcome, message = "ok", ""
        with Context(_settings()) as ctx:
            try:
                result = copy_image(CopyRequest.build(source, dest), ctx)
            except Exception as exc:
                where = f"seed {seed}: {proxy_a.summary()} | {proxy_b.summary()}"
                outcome, message = _outcome_of_failure(exc, where), f"seed {seed}: {exc}"
            else:
                assert result.digest == big_image.index.digest
        why = f"seed {seed}, {outcome}: {proxy_a.summary()} | {proxy_b.summary()}"
        tally.add(outcome, (proxy_a, proxy_b), time.monotonic() - started, message or why)
        present = _check_tag(direct, dest_direct, big_image.index.digest, big_image.manifests, why)
        assert present or outcome != "ok", why

        # A fault-free copy completes and moves only what is missing.
        todo = _blobs_to_consider(direct, dest_direct, big_image)
        missing = _missing_blobs(direct, dest_direct, big_image)
        final = copy_image(CopyRequest.build(big_image.ref, dest_direct), direct)
        assert final.digest == big_image.index.digest
        assert final.stats.blobs[BlobAction.COPIED] == len(missing), why
        assert final.stats.blobs[BlobAction.SKIPPED] == len(todo) - len(missing), why
        assert _check_tag(direct, dest_direct, big_image.index.digest, big_image.manifests, why)
    print(tally.report())


def test_kill_9_mid_blob_then_rerun(big_image: BigImage, direct: Context, registry2: Any) -> None:
    """SIGKILL a ``polyarch copy`` in the middle of a blob; the same command completes."""
    dest = Reference.parse(f"{registry2.host}/faults{uuid.uuid4().hex[:8]}/killed:v1")
    repo = direct.repository(dest)
    command = [sys.executable, "-m", "polyarch", "copy", "--jobs", "1"]
    command += [str(big_image.ref), str(dest)]
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Blobs go largest first, one at a time: wait until the first layer is complete.
        done: list[Descriptor] = []
        deadline = time.monotonic() + 120
        while not done and proc.poll() is None and time.monotonic() < deadline:
            done = [d for d in big_image.layers if repo.blob_size(d.digest) is not None]
            if not done:
                threading.Event().wait(0.02)
        assert done, "no layer reached the destination in 120 s"
        assert proc.poll() is None, "the copy finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert len(done) < len(big_image.layers), "every layer was already there"

    again = run_cli("copy", "--json", str(big_image.ref), str(dest), timeout=600)
    assert again.code == 0, again.err
    out = again.json()
    assert out["digest"] == big_image.index.digest
    blobs = out["transfer"]["blobs"]
    assert blobs["skipped"]["count"] >= len(done), blobs
    assert blobs["copied"]["count"] >= 1, blobs
    assert _check_tag(direct, dest, big_image.index.digest, big_image.manifests, "after kill -9")


# -- retries are bounded; uploads restart, never repeat -----------------------------------


def test_retries_are_bounded(proxy_a: FaultProxy, release: Release) -> None:
    """503 to everything: resolve gives up after the policy's attempts and within max_total."""
    policy = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_total=5)
    proxy_a.configure(seed=0, faults={Fault.ERROR_503: 1.0})
    started = time.monotonic()
    with Context(TransportSettings(retry=policy)) as ctx, pytest.raises(RegistryError) as info:
        resolve(f"{proxy_a.host}/{release.repo.repository}:v2.0.0-amd64", ctx)
    elapsed = time.monotonic() - started
    assert info.value.status == 503 and "\n" not in str(info.value)
    assert proxy_a.requests == policy.max_attempts, proxy_a.summary()
    assert elapsed < policy.max_total, elapsed

    # A request that is not idempotent (starting an upload) is sent once, never repeated.
    proxy_a.configure(seed=0, faults={Fault.ERROR_503: 1.0})
    with Context(TransportSettings(retry=policy)) as ctx:
        repo = ctx.repository(Reference.parse(f"{proxy_a.host}/faults/nothing"))
        data = b"x" * 100
        with pytest.raises(RegistryError):
            repo.put_blob_bytes(Descriptor(mt.OCI_LAYER, Digest.of(data), len(data)), data)
    assert proxy_a.by_method["POST"] == 1, proxy_a.summary()


def _medium_image(direct: Context, registry: Any) -> tuple[Reference, ImageManifest]:
    """A single image with an 8 MiB random layer (uploaded with PATCH when copied)."""
    ref = Reference.parse(f"{registry.host}/faults{uuid.uuid4().hex[:8]}/medium:v1")
    repo = direct.repository(ref)
    layer = push_random_blob(repo, f"medium-{ref.repository}", 8 * 1024 * 1024)
    manifest = push_image_manifest(repo, Platform.parse("linux/amd64"), [layer])
    repo.put_manifest(manifest, ref.tag)
    return ref, manifest


def _sessions_of_patches(proxy: FaultProxy) -> list[str]:
    return [target for method, target in proxy.raw_log if method == "PATCH"]


def test_reset_mid_patch_restarts_the_upload(
    direct: Context, proxy_b: FaultProxy, registry: Any, registry2: Any
) -> None:
    """A reset in the middle of a PATCH: never repeated on that session; a new one is used."""
    source, manifest = _medium_image(direct, registry)
    layer = manifest.layers[0]

    # The storage layer alone: one reset fails the put cleanly, the PATCH is not repeated.
    proxy_b.configure(seed=0, faults={}, force=_first_patch(Fault.RESET_MID_UPLOAD))
    with Context(_settings()) as ctx:
        dest_repo = ctx.repository(
            Reference.parse(f"{proxy_b.host}/faults{uuid.uuid4().hex[:8]}/patched")
        )
        with (
            pytest.raises(TransportError) as info,
            direct.repository(source).open_blob(layer) as reader,
        ):
            dest_repo.put_blob(layer, reader)
    assert "\n" not in str(info.value)
    assert len(_sessions_of_patches(proxy_b)) == 1, proxy_b.summary()

    # The transfer engine restarts the blob: a new session, the source read again.
    dest = Reference.parse(f"{proxy_b.host}/faults{uuid.uuid4().hex[:8]}/restarted:v1")
    proxy_b.configure(seed=0, faults={}, force=_first_patch(Fault.RESET_MID_UPLOAD))
    with Context(_settings()) as ctx:
        result = copy_image(CopyRequest.build(source, dest, jobs=1), ctx)
    assert result.stats.blobs[BlobAction.COPIED] == 2, proxy_b.summary()
    patches = _sessions_of_patches(proxy_b)
    assert len(patches) == 3 and len(set(patches)) == 3, proxy_b.summary()
    assert proxy_b.by_method["POST"] == 3, proxy_b.summary()
    dest_direct = _direct(dest, registry2.host)
    assert direct.repository(dest_direct).get_manifest("v1").digest == manifest.digest
    _check_content(direct, dest_direct, [manifest])


def test_blob_restarts_are_bounded(direct: Context, proxy_b: FaultProxy, registry: Any) -> None:
    """A destination that refuses every upload: each blob is tried BLOB_ATTEMPTS times."""
    source, _ = _medium_image(direct, registry)
    proxy_b.configure(
        seed=0, faults={}, force=lambda i: Fault.ERROR_503 if i.method == "POST" else None
    )
    dest = Reference.parse(f"{proxy_b.host}/faults{uuid.uuid4().hex[:8]}/refused:v1")
    with Context(_settings()) as ctx, pytest.raises(RegistryError) as info:
        copy_image(CopyRequest.build(source, dest, jobs=1), ctx)
    assert info.value.status == 503 and "\n" not in str(info.value)
    # jobs=1, largest first: the layer fails its attempts and the copy stops there.
    assert proxy_b.by_method["POST"] == BLOB_ATTEMPTS, proxy_b.summary()
    assert proxy_b.by_method["PATCH"] == 0 and proxy_b.by_method["PUT"] == 0


def test_content_mismatch_is_never_retried(
    direct: Context, proxy_a: FaultProxy, registry: Any, registry2: Any
) -> None:
    """A blob served corrupted fails at once: no restart, nothing committed, one line."""
    source, manifest = _medium_image(direct, registry)
    layer = manifest.layers[0]
    path = f"/v2/*/blobs/{layer.digest}"
    proxy_a.configure(
        seed=0, faults={}, force=lambda i: Fault.CORRUPT_BODY if i.path == path else None
    )
    dest = Reference.parse(f"{registry2.host}/faults{uuid.uuid4().hex[:8]}/corrupt:v1")
    with Context(_settings()) as ctx, pytest.raises(DigestMismatch) as info:
        copy_image(CopyRequest.build(f"{proxy_a.host}/{source.repository}:{source.tag}", dest), ctx)
    assert "\n" not in str(info.value) and str(layer.digest) in str(info.value)
    assert proxy_a.log.count(("GET", path)) == 1, proxy_a.summary()
    assert direct.repository(dest).blob_size(layer.digest) is None
    assert direct.repository(dest).head_manifest("v1") is None
