"""Release-sized scenarios: verify a wide index, promote a release, list (and prune) tags.

* **9 verify** an index of N platforms (8 and 32), each image of 10 small layers: ``polyarch
  verify`` (every child manifest and config fetched and hashed, every blob HEAD) against
  ``crane validate --remote`` (every layer downloaded and hashed: more bytes, the stronger
  check), ``crane validate --fast`` (manifests and configs, no layer), and ``skopeo
  inspect`` of every platform (one process per platform plus the index: what a script
  does with skopeo). regctl's ``image check`` is the closest peer and is not packaged by
  Debian (reported missing).
* **10 promote a release** (a 2-platform index of 3 layers per image, tagged with 4 tags,
  ``3.14.1``, ``3.14``, ``3``, ``latest``) from registry A into 3 other registries (B and
  two more started here), into new repositories every run: ``polyarch copy`` with the 12
  destinations in one process, ``polyarch create`` with the 12 targets in one process,
  ``buildx imagetools create`` with the 12 targets in one process, ``crane copy`` once per
  registry then ``crane tag`` for the other 3 tags, ``skopeo copy --all`` per tag.
* **11 tags** of a repository holding 1,000 and 10,000 tags: ``polyarch tags``, ``crane ls``,
  ``skopeo list-tags``; and ``polyarch prune --dry-run`` with one untagged candidate, which
  must walk what every tag reaches before it may delete anything. No peer prunes
  index-aware (crane, regctl and skopeo delete what they are told), so that row has none.
"""

from __future__ import annotations

import io
import json
import os
import random
import tarfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from bench.images import PLATFORMS, check_copy
from bench.measure import (
    MIB,
    Bench,
    Case,
    Runner,
    Sample,
    alternate,
    checked,
    of_process,
    progress,
    run_process,
    sample,
)
from bench.peers import SKOPEO_TLS, find_tool, polyarch_env, skopeo_cmd
from polyarch.content.context import Context
from polyarch.domain import mediatype
from polyarch.domain.descriptor import Descriptor
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index, build_index
from polyarch.domain.platform import Platform
from polyarch.domain.reference import Reference
from polyarch.storage.repository import Repository
from support.random_blobs import push_image_manifest
from support.registry import RegistryServer

__all__ = ["PRUNE", "RELEASE_TAGS", "scenario_promote_release", "scenario_tags", "scenario_verify"]

#: The tags of one release (docker/metadata-action's semver set plus latest).
RELEASE_TAGS = ("3.14.1", "3.14", "3", "latest")

#: ``polyarch prune``'s options in scenario 11: plan only, so every run walks the same
#: repository (the tags and one untagged image, given as the candidate).
PRUNE: tuple[str, ...] = ("--dry-run", "--json")


def _gzip_layer(repo: Repository, seed: str, size: int) -> tuple[Descriptor, str]:
    """Push a gzip layer (a tar of one file of ``size`` random bytes): descriptor, diff_id.

    A real gzip'd tar with the right diff_id, so that ``crane validate`` (which decompresses
    and reads every layer and checks it against the config) accepts it. Stored (level 0):
    random bytes do not compress.
    """
    content = random.Random(seed).randbytes(size)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        member = tarfile.TarInfo(f"data/{seed.replace('/', '_')}")
        member.size = size
        tar.addfile(member, io.BytesIO(content))
    raw = archive.getvalue()
    compressor = zlib.compressobj(0, zlib.DEFLATED, 31)
    data = compressor.compress(raw) + compressor.flush()
    descriptor = Descriptor(mediatype.OCI_LAYER_GZIP, Digest.of(data), len(data))
    repo.put_blob_bytes(descriptor, data)
    return descriptor, str(Digest.of(raw))


def push_wide_index(
    repo: Repository, tag: str, platforms: Sequence[str], *, layers: int, layer_size: int
) -> Index:
    """An index of one image per platform, each of ``layers`` gzip layers, tagged ``tag``."""
    entries = []
    for plat in platforms:
        pushed = [_gzip_layer(repo, f"{tag}/{plat}#{i}", layer_size) for i in range(layers)]
        manifest = push_image_manifest(
            repo,
            Platform.parse(plat),
            [descriptor for descriptor, _ in pushed],
            diff_ids=[diff_id for _, diff_id in pushed],
        )
        entries.append(manifest.descriptor(Platform.parse(plat)))
    index = build_index(entries)
    repo.put_manifest(index, tag)
    return index


def _docker_env(bench: Bench) -> dict[str, str]:
    """The environment for buildx and crane: a docker config of the bench's own."""
    config = bench.root / "docker-config-release"
    config.mkdir(exist_ok=True)
    return {**os.environ, "DOCKER_CONFIG": str(config)}


# Scenario 9: verify a wide index --------------------------------------------------------


def scenario_verify(bench: Bench, sizes: Sequence[int], layers: int = 10) -> list[Case]:
    """Verify an index of N platforms of ``layers`` layers each, for each N in ``sizes``."""
    reg = bench.a
    crane, _ = find_tool("crane")
    cases: list[Case] = []
    for n in sizes:
        repo_name = f"verify{n}/app"
        ref = f"{reg.host}/{repo_name}:v1"
        progress(f"pushing an index of {n} platforms x {layers} layers to {ref}")
        with Context() as ctx:
            repo = ctx.repository(Reference.parse(ref))
            index = push_wide_index(repo, "v1", PLATFORMS[:n], layers=layers, layer_size=4096)
        label = f"N={n} x {layers} layers"
        scenario = "9 verify index"
        ours = Case(scenario, label, "polyarch verify", polyarch=True)
        ours.note = "child manifests and configs fetched and hashed, every blob HEAD"
        skopeo_case = Case(scenario, label, f"skopeo inspect x {n + 1}", baseline=True)
        skopeo_case.note = "the index (--raw), then each platform's manifest and config"
        full = Case(scenario, label, "crane validate --remote")
        full.note = "downloads and hashes every layer too"
        fast = Case(scenario, label, "crane validate --remote --fast")
        fast.note = "manifests and configs read, every layer HEAD: polyarch verify's checks"

        def run_polyarch(i: int, ref: str = ref) -> Sample:
            argv = [bench.polyarch, "verify", "-q", ref]
            bench.mark(reg)
            r = checked(run_process(argv, env=polyarch_env()), argv)
            return of_process(r, bench.take(reg))

        def run_skopeo(i: int, ref: str = ref, index: Index = index) -> Sample:
            cache = bench.tempdir("skopeo-verify")
            base = ref.rsplit(":", 1)[0]
            commands = [["inspect", "--raw", "--tls-verify=false", f"docker://{ref}"]]
            commands += [
                ["inspect", "--tls-verify=false", f"docker://{base}@{entry.digest}"]
                for entry in index.manifests
            ]
            bench.mark(reg)
            seconds = cpu = 0.0
            rss = 0
            for args in commands:
                argv, env = skopeo_cmd(cache, args)
                r = checked(run_process(argv, env=env), argv)
                seconds += r.seconds
                cpu += r.cpu_seconds
                rss = max(rss, r.maxrss_kib)
            return sample(seconds, bench.take(reg), rss_kib=rss, cpu_seconds=cpu)

        def crane_runner(extra: list[str], ref: str = ref) -> Runner:
            def run(i: int) -> Sample:
                assert crane is not None
                argv = [crane, "--insecure", "validate", "--remote", ref, *extra]
                bench.mark(reg)
                r = checked(run_process(argv, env=_docker_env(bench)), argv)
                return of_process(r, bench.take(reg))

            return run

        tools: list[tuple[Case, Runner]] = [(ours, run_polyarch), (skopeo_case, run_skopeo)]
        if crane is not None:
            tools += [(fast, crane_runner(["--fast"])), (full, crane_runner([]))]
        alternate(bench.runs, tools, f"verify {label}")
        cases += [case for case, _ in tools]
    return cases


# Scenario 10: promote a release into three registries -----------------------------------


def scenario_promote_release(bench: Bench, layer_mib: int, registries: int = 3) -> list[Case]:
    """Copy one tagged release from A into ``registries`` registries under 4 tags each."""
    extra = [RegistryServer(workdir=bench.root / f"registry-{k}") for k in range(registries - 1)]
    for server in extra:
        server.start()
    try:
        return _promote_release(bench, [bench.b, *extra], layer_mib)
    finally:
        for server in extra:
            server.stop()


def _promote_release(bench: Bench, dests: list[RegistryServer], layer_mib: int) -> list[Case]:
    a = bench.a
    source = f"{a.host}/release/app:{RELEASE_TAGS[0]}"
    progress(f"pushing a 2-platform release of 3 x {layer_mib} MiB layers per image to {source}")
    with Context() as ctx:
        repo = ctx.repository(Reference.parse(source))
        index = push_wide_index(
            repo, RELEASE_TAGS[0], PLATFORMS[:2], layers=3, layer_size=layer_mib * MIB
        )
    payload = 6 * layer_mib * MIB * len(dests)
    label = f"index + {len(RELEASE_TAGS)} tags -> {len(dests)} registries, {6 * layer_mib} MiB"
    scenario = "10 promote a release"
    crane, _ = find_tool("crane")
    buildx, _ = find_tool("buildx imagetools 0.29")
    docker_env = _docker_env(bench)
    cases = {
        "copy": Case(scenario, label, "polyarch copy SRC DST x 12", polyarch=True),
        "create": Case(scenario, label, "polyarch create -t x 12", polyarch=True),
        "buildx": Case(scenario, label, "buildx 0.29 imagetools create -t x 12"),
        "crane": Case(scenario, label, "crane copy x 3 + crane tag x 9"),
        "skopeo": Case(scenario, label, "skopeo copy --all x 12", baseline=True),
    }
    cases["skopeo"].note = "one fresh blob-info cache per run, kept across its 12 copies"
    cases["create"].note = (
        "one process; re-assembles the index from the source's entries: the same digest "
        "(checked) for an OCI index without annotations"
    )
    for case in cases.values():
        case.payload = payload
        case.transfer = True

    def targets(tool: str, i: int) -> list[str]:
        return [f"{d.host}/{tool}-{i}/app:{tag}" for d in dests for tag in RELEASE_TAGS]

    def commands(tool: str, i: int) -> list[list[str]]:
        every = targets(tool, i)
        if tool == "copy":
            return [[bench.polyarch, "copy", "-q", source, *every]]
        if tool == "create":
            return [[bench.polyarch, "create", "-q", *(f"-t{t}" for t in every), source]]
        if tool == "buildx":
            assert buildx is not None
            flags = [arg for t in every for arg in ("-t", t)]
            return [[buildx, "imagetools", "create", "--progress", "quiet", *flags, source]]
        if tool == "crane":
            assert crane is not None
            out = []
            for d in dests:
                first = f"{d.host}/{tool}-{i}/app:{RELEASE_TAGS[0]}"
                out.append([crane, "--insecure", "copy", source, first])
                out += [[crane, "--insecure", "tag", first, tag] for tag in RELEASE_TAGS[1:]]
            return out
        raise AssertionError(tool)

    def runner(tool: str) -> Runner:
        def run(i: int) -> Sample:
            env = docker_env if tool in ("buildx", "crane") else polyarch_env()
            cache = bench.tempdir(f"{tool}-release")
            argvs: list[tuple[list[str], dict[str, str]]] = []
            if tool == "skopeo":
                for t in targets(tool, i):
                    args = [
                        "copy",
                        "--all",
                        "-q",
                        *SKOPEO_TLS,
                        f"docker://{source}",
                        f"docker://{t}",
                    ]
                    argvs.append(skopeo_cmd(cache, args))
            else:
                argvs = [(argv, env) for argv in commands(tool, i)]
            bench.mark(a, *dests)
            seconds = cpu = 0.0
            rss = 0
            for argv, environment in argvs:
                r = checked(run_process(argv, env=environment), argv)
                seconds += r.seconds
                cpu += r.cpu_seconds
                rss = max(rss, r.maxrss_kib)
            requests = bench.take(a, *dests)
            for t in targets(tool, i):
                check_copy(t, index.digest)
            return sample(seconds, requests, rss_kib=rss, cpu_seconds=cpu)

        return run

    tools: list[tuple[Case, Runner]] = [(cases["skopeo"], runner("skopeo"))]
    tools += [(cases["copy"], runner("copy")), (cases["create"], runner("create"))]
    if buildx is not None:
        tools.append((cases["buildx"], runner("buildx")))
    if crane is not None:
        tools.append((cases["crane"], runner("crane")))
    alternate(bench.runs, tools, "promote a release")
    return [case for case, _ in tools]


# Scenario 11: tag listing (and prune) over many tags -------------------------------------


def _tag_many(reference: str, count: int, jobs: int = 8) -> None:
    """Point ``count`` tags (``t00000``...) of ``reference``'s repository at its manifest."""
    ref = Reference.parse(reference)
    assert ref.tag is not None
    with Context() as ctx:
        repo = ctx.repository(ref)
        manifest = repo.get_manifest(ref.tag)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda k: repo.put_manifest(manifest, f"t{k:05d}"), range(count)))


def scenario_tags(bench: Bench, counts: Sequence[int]) -> tuple[list[Case], dict[str, str]]:
    """List the tags of a repository of each size in ``counts``; the prune rows' place."""
    reg = bench.a
    crane, _ = find_tool("crane")
    cases: list[Case] = []
    info: dict[str, str] = {}
    for count in counts:
        reference = f"{reg.host}/tags{count}/app:v1"
        progress(f"pushing one image and {count} tags to {reference}")
        with Context() as ctx:
            repo = ctx.repository(Reference.parse(reference))
            push_wide_index(repo, "v1", PLATFORMS[:1], layers=1, layer_size=1024)
        _tag_many(reference, count)
        repository = reference.rsplit(":", 1)[0]
        expected = count + 1
        label = f"{count:,} tags"
        scenario = "11 tags"
        ours = Case(scenario, label, "polyarch tags", polyarch=True)
        skopeo_case = Case(scenario, label, "skopeo list-tags", baseline=True)
        crane_case = Case(scenario, label, "crane ls")

        def run_polyarch(i: int, repository: str = repository, expected: int = expected) -> Sample:
            argv = [bench.polyarch, "tags", repository]
            bench.mark(reg)
            r = checked(run_process(argv, env=polyarch_env()), argv)
            _expect_tags(len(r.stdout.split()), expected, "polyarch tags")
            return of_process(r, bench.take(reg))

        def run_skopeo(i: int, repository: str = repository, expected: int = expected) -> Sample:
            args = ["list-tags", "--tls-verify=false", f"docker://{repository}"]
            argv, env = skopeo_cmd(bench.tempdir("skopeo-tags"), args)
            bench.mark(reg)
            r = checked(run_process(argv, env=env), argv)
            _expect_tags(len(json.loads(r.stdout)["Tags"]), expected, "skopeo list-tags")
            return of_process(r, bench.take(reg))

        def run_crane(i: int, repository: str = repository, expected: int = expected) -> Sample:
            assert crane is not None
            argv = [crane, "--insecure", "ls", repository]
            bench.mark(reg)
            r = checked(run_process(argv, env=_docker_env(bench)), argv)
            _expect_tags(len(r.stdout.split()), expected, "crane ls")
            return of_process(r, bench.take(reg))

        tools: list[tuple[Case, Runner]] = [(ours, run_polyarch), (skopeo_case, run_skopeo)]
        if crane is not None:
            tools.append((crane_case, run_crane))
        alternate(bench.runs, tools, f"tags {label}")
        cases += [case for case, _ in tools]
        # prune: the tags all reach one index (read once), every tag still listed and
        # resolved; the candidate is an image no tag reaches.
        # Its own scenario: listing tags is not a peer of pruning (no ratio against crane ls).
        prune_case = Case(
            "12 prune", label, "polyarch prune --dry-run (1 candidate)", polyarch=True
        )
        with Context() as ctx:  # pushed by digest: untagged
            repo = ctx.repository(Reference.parse(reference))
            layer, diff_id = _gzip_layer(repo, f"loose/{count}", 1024)
            loose = push_image_manifest(
                repo, Platform.parse(PLATFORMS[1]), [layer], diff_ids=[diff_id]
            )
        candidate = str(loose.digest)

        def run_prune(i: int, repository: str = repository, candidate: str = candidate) -> Sample:
            argv = [bench.polyarch, "prune", *PRUNE, "--candidate", candidate, repository]
            bench.mark(reg)
            r = checked(run_process(argv, env=polyarch_env()), argv)
            plan = json.loads(r.stdout)
            if plan["delete"] != [candidate]:
                raise RuntimeError(f"prune planned {plan['delete']}, expected {candidate}")
            return of_process(r, bench.take(reg))

        alternate(bench.runs, [(prune_case, run_prune)], f"prune {label}")
        cases.append(prune_case)
    return cases, info


def _expect_tags(found: int, expected: int, tool: str) -> None:
    if found != expected:
        raise RuntimeError(f"{tool}: listed {found} tags, expected {expected}")
