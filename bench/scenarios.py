"""The scenarios: start-up, create an index, copy across registries, promote."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from bench.images import LayerFile, check_copy, platforms, verify_index
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
from bench.peers import SKOPEO_TLS, find_tool, podman_cmd, polyarch_env, skopeo_cmd
from polyarch.content.context import Context
from polyarch.content.transfer import DEFAULT_JOBS
from polyarch.domain.manifest import Index
from polyarch.domain.reference import Reference
from polyarch.operations.create import CreateRequest, create_index
from support.images import push_image

# Scenario 0: start-up ------------------------------------------------------------------


def scenario_startup(bench: Bench) -> list[Case]:
    """How long each CLI takes to do nothing (``--version``): polyarch pays Python's start."""
    tools: list[tuple[Case, Runner]] = []
    commands = [
        ("polyarch --version", [bench.polyarch, "--version"], True, False),
        ("docker --version", ["docker", "--version"], False, True),
        ("skopeo --version", [find_tool("skopeo")[0] or "skopeo", "--version"], False, False),
    ]
    for name, argv, is_polyarch, is_baseline in commands:
        case = Case("0 start-up", "--version", name, polyarch=is_polyarch, baseline=is_baseline)

        def runner(i: int, argv: list[str] = argv) -> Sample:
            r = checked(run_process(argv, env=polyarch_env()), argv)
            return Sample(r.seconds, 0, {}, 0, r.maxrss_kib, r.cpu_seconds)

        tools.append((case, runner))
    alternate(bench.runs + 2, tools, "start-up")
    return [case for case, _ in tools]


# Scenario 1: create --------------------------------------------------------------------


def scenario_create(bench: Bench, sizes: Sequence[int]) -> list[Case]:
    """Assemble an index from N tags of one repository and push it."""
    reg = bench.a
    repo_name = "create/app"
    progress(f"pushing {max(sizes)} single-platform images to {reg.host}/{repo_name}")
    with Context() as ctx:
        repo = ctx.repository(Reference.parse(f"{reg.host}/{repo_name}:p0"))
        for k, plat in enumerate(platforms(max(sizes))):
            push_image(repo, plat, tag=f"p{k}", docker=True)
    docker_config = bench.tempdir("docker-config")
    buildxes = {
        version: find_tool(f"buildx imagetools {version}")[0] for version in ("0.29", "0.13")
    }
    crane, _ = find_tool("crane")
    podman, _ = find_tool("podman")
    podman_home = bench.tempdir("podman")
    cases: list[Case] = []

    def create_then_push(
        create: list[str], push: list[str], env: dict[str, str], target: str, n: int
    ) -> Sample:
        """A two-command peer (``manifest create`` then ``push``): one sample of both."""
        bench.mark(reg)
        first = checked(run_process(create, env=env), create)
        second = checked(run_process(push, env=env), push)
        requests = bench.take(reg)
        verify_index(target, n)
        return sample(
            first.seconds + second.seconds,
            requests,
            rss_kib=max(first.maxrss_kib, second.maxrss_kib),
            cpu_seconds=first.cpu_seconds + second.cpu_seconds,
        )

    for n in sizes:
        sources = [f"{reg.host}/{repo_name}:p{i}" for i in range(n)]
        label = f"N={n}"
        docker_case = Case("1 create index", label, "docker manifest create+push", baseline=True)
        buildx_cases = {
            v: Case("1 create index", label, f"buildx {v} imagetools create") for v in buildxes
        }
        crane_case = Case("1 create index", label, "crane index append")
        podman_case = Case("1 create index", label, "podman manifest create+push")
        podman_case.note = "push --all=false: the images are in the target repository already"
        cli_case = Case("1 create index", label, "polyarch create (CLI)", polyarch=True)
        lib_case = Case("1 create index", label, "polyarch create (library)", polyarch=True)
        lib_case.note = "in-process: no interpreter start-up"

        def run_docker(i: int, n: int = n, sources: list[str] = sources) -> Sample:
            target = f"{reg.host}/{repo_name}:docker-{n}-{i}"
            env = {**os.environ, "DOCKER_CONFIG": str(docker_config)}
            create = ["docker", "manifest", "create", "--insecure", target, *sources]
            push = ["docker", "manifest", "push", "--insecure", "--purge", target]
            return create_then_push(create, push, env, target, n)

        def run_cli(i: int, n: int = n, sources: list[str] = sources) -> Sample:
            target = f"{reg.host}/{repo_name}:cli-{n}-{i}"
            argv = [bench.polyarch, "create", "-q", "-t", target, *sources]
            bench.mark(reg)
            r = checked(run_process(argv, env=polyarch_env()), argv)
            requests = bench.take(reg)
            verify_index(target, n)
            return of_process(r, requests)

        def run_library(i: int, n: int = n, sources: list[str] = sources) -> Sample:
            target = f"{reg.host}/{repo_name}:lib-{n}-{i}"
            bench.mark(reg)
            cpu = time.process_time()
            started = time.perf_counter()
            with Context() as ctx:
                create_index(CreateRequest.build([target], sources), ctx)
                client_requests = ctx.client.stats.requests
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            requests = bench.take(reg)
            verify_index(target, n)
            return sample(seconds, requests, client_requests=client_requests, cpu_seconds=cpu)

        def run_buildx(
            i: int, version: str, buildx: str, n: int = n, sources: list[str] = sources
        ) -> Sample:
            target = f"{reg.host}/{repo_name}:buildx-{version}-{n}-{i}"
            env = {**os.environ, "DOCKER_CONFIG": str(docker_config)}
            argv = [buildx, "imagetools", "create", "--progress", "quiet", "-t", target, *sources]
            bench.mark(reg)
            r = checked(run_process(argv, env=env), argv)
            requests = bench.take(reg)
            verify_index(target, n)
            return of_process(r, requests)

        def run_crane(i: int, n: int = n, sources: list[str] = sources) -> Sample:
            assert crane is not None
            # The sources are Docker schema2 images: a Docker manifest list, as docker makes.
            target = f"{reg.host}/{repo_name}:crane-{n}-{i}"
            argv = [crane, "--insecure", "index", "append", "--docker-empty-base", "-t", target]
            argv += [arg for source in sources for arg in ("-m", source)]
            env = {**os.environ, "DOCKER_CONFIG": str(docker_config)}
            bench.mark(reg)
            r = checked(run_process(argv, env=env), argv)
            requests = bench.take(reg)
            verify_index(target, n)
            return of_process(r, requests)

        def run_podman(i: int, n: int = n, sources: list[str] = sources) -> Sample:
            # podman keeps the list in its local store (in the temp dir) until pushed.
            target = f"{reg.host}/{repo_name}:podman-{n}-{i}"
            base, env = podman_cmd(podman_home, [reg.host])
            create = [*base, "manifest", "create", target, *(f"docker://{s}" for s in sources)]
            push = [*base, "manifest", "push", "--all=false", target, f"docker://{target}"]
            measured = create_then_push(create, push, env, target, n)
            run_process([*base, "manifest", "rm", target], env=env)
            return measured

        tools = [(docker_case, run_docker), (cli_case, run_cli), (lib_case, run_library)]
        if podman is not None:
            tools.insert(1, (podman_case, run_podman))
        if crane is not None:
            tools.insert(1, (crane_case, run_crane))
        for version, buildx in reversed(buildxes.items()):
            if buildx is not None:
                runner = functools.partial(run_buildx, version=version, buildx=buildx)
                tools.insert(1, (buildx_cases[version], runner))
        alternate(bench.runs, tools, f"create {label}")
        cases += [case for case, _ in tools]
    return cases


# Scenario 2: copy across registries ----------------------------------------------------


def curl_floor(bench: Bench, layers: Sequence[LayerFile], repo: str, parallel: int) -> None:
    """Upload the layer files to ``repo`` of B with ``curl -T``, ``parallel`` at a time."""
    todo = list(layers)
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                layer = todo.pop(0)
            start = bench.http.post(f"{bench.b.url}/v2/{repo}/blobs/uploads/")
            location = httpx.URL(bench.b.url).join(start.headers["Location"])
            url = location.copy_merge_params({"digest": str(layer.descriptor.digest)})
            argv = ["curl", "-sS", "-f", "-o", "/dev/null", "-X", "PUT", "-T", str(layer.path)]
            argv += ["-H", "Content-Type: application/octet-stream", str(url)]
            result = run_process(argv)
            if result.returncode != 0:
                with lock:
                    errors.append(result.stderr)

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"curl upload failed: {errors[0]}")


def scenario_copy(
    bench: Bench, index: Index, layers: Sequence[LayerFile], source: str
) -> list[Case]:
    """Copy the big image from registry A to a new repository of registry B, every run."""
    a, b = bench.a, bench.b
    tag = source.rsplit("/", 2)[1]  # big0, big1, ...: one set of targets per image size
    payload = sum(layer.descriptor.size for layer in layers)
    label = f"{payload / 2**30:.2f} GiB" if payload >= 2**30 else f"{payload // MIB} MiB"
    scenario = "2 copy A→B"
    skopeo_case = Case(scenario, label, "skopeo copy --all", baseline=True)
    skopeo_case.note = "fresh blob-info cache every run"
    default_case = Case(scenario, label, f"polyarch copy (--jobs {DEFAULT_JOBS})", polyarch=True)
    jobs1_case = Case(scenario, label, "polyarch copy --jobs 1", polyarch=True)
    crane_case = Case(scenario, label, "crane copy")
    crane, _ = find_tool("crane")
    floor_case = Case(scenario, label, "floor: curl -T, 2 parallel")
    floor_case.note = (
        "the registry's ingest rate: upload only, from local files (no download, no manifests)"
    )
    for case in (skopeo_case, crane_case, default_case, jobs1_case, floor_case):
        case.payload = payload
        case.transfer = True

    def run_crane(i: int) -> Sample:
        assert crane is not None
        target = f"{b.host}/{tag}-crane-{i}/app:v1"
        argv = [crane, "--insecure", "copy", source, target]
        bench.mark(a, b)
        r = checked(run_process(argv, env=polyarch_env()), argv)
        requests = bench.take(a, b)
        check_copy(target, index.digest)
        return of_process(r, requests)

    def run_skopeo(i: int) -> Sample:
        target = f"{b.host}/{tag}-skopeo-{i}/app:v1"
        args = ["copy", "--all", "-q", *SKOPEO_TLS, f"docker://{source}", f"docker://{target}"]
        argv, env = skopeo_cmd(bench.tempdir("skopeo-cache"), args)
        bench.mark(a, b)
        r = checked(run_process(argv, env=env), argv)
        requests = bench.take(a, b)
        check_copy(target, index.digest)
        return of_process(r, requests)

    def polyarch_runner(prefix: str, extra: list[str]) -> Runner:
        def run(i: int) -> Sample:
            target = f"{b.host}/{tag}-{prefix}-{i}/app:v1"
            argv = [bench.polyarch, "copy", *extra, source, target]
            bench.mark(a, b)
            r = checked(run_process(argv, env=polyarch_env()), argv)
            requests = bench.take(a, b)
            check_copy(target, index.digest)
            return of_process(r, requests)

        return run

    def run_floor(i: int) -> Sample:
        repo = f"{tag}-floor-{i}/app"
        bench.mark(b)
        started = time.perf_counter()
        curl_floor(bench, layers, repo, parallel=2)
        seconds = time.perf_counter() - started
        return sample(seconds, bench.take(b))

    def with_registry_cpu(run: Runner) -> Runner:
        # Both registries run on the tool's cores: their CPU bounds the wall time.
        def measured(i: int) -> Sample:
            before = bench.registry_cpu(a, b)
            s = run(i)
            after = bench.registry_cpu(a, b)
            if before is not None and after is not None:
                s.registry_cpu_seconds = after - before
            return s

        return measured

    tools = [
        (skopeo_case, with_registry_cpu(run_skopeo)),
        (default_case, with_registry_cpu(polyarch_runner("polyarch", []))),
        (jobs1_case, with_registry_cpu(polyarch_runner("polyarch-j1", ["--jobs", "1"]))),
        (floor_case, with_registry_cpu(run_floor)),
    ]
    if crane is not None:
        tools.insert(1, (crane_case, with_registry_cpu(run_crane)))
    alternate(bench.runs, tools, "copy A→B")
    return [case for case, _ in tools]


# Scenario 3: promotion within a registry -----------------------------------------------


def scenario_promote(
    bench: Bench, index: Index, layers: Sequence[LayerFile], source: str
) -> list[Case]:
    """Copy the big image to another repository of the same registry, every run."""
    a = bench.a
    payload = sum(layer.descriptor.size for layer in layers)
    label = f"{payload / 2**30:.2f} GiB" if payload >= 2**30 else f"{payload // MIB} MiB"
    scenario = "3 promote A→A"
    cold = Case(scenario, label, "skopeo copy --all (fresh cache)", baseline=True, transfer=True)
    cold.note = "a fresh blob-info cache, as on a new CI runner: no mount, every byte moves"
    warm = Case(scenario, label, "skopeo copy --all (warm cache)", transfer=True)
    warm.note = "blob-info cache kept from earlier copies: skopeo mounts the layers it has seen"
    ours = Case(scenario, label, "polyarch copy", polyarch=True, transfer=True)
    warm_cache = bench.tempdir("skopeo-warm")
    warmup = ["copy", "--all", "-q", *SKOPEO_TLS, f"docker://{source}"]
    argv, env = skopeo_cmd(warm_cache, [*warmup, f"docker://{a.host}/warmup/app:v1"])
    progress("warming skopeo's blob-info cache with one untimed copy")
    checked(run_process(argv, env=env), argv)

    def skopeo_runner(prefix: str, cache: Callable[[], Path]) -> Runner:
        def run(i: int) -> Sample:
            target = f"{a.host}/{prefix}-{i}/app:v1"
            args = ["copy", "--all", "-q", *SKOPEO_TLS, f"docker://{source}", f"docker://{target}"]
            argv, env = skopeo_cmd(cache(), args)
            bench.mark(a)
            r = checked(run_process(argv, env=env), argv)
            requests = bench.take(a)
            check_copy(target, index.digest)
            return of_process(r, requests)

        return run

    def run_polyarch(i: int) -> Sample:
        target = f"{a.host}/promoted-{i}/app:v1"
        argv = [bench.polyarch, "copy", source, target]
        bench.mark(a)
        r = checked(run_process(argv, env=polyarch_env()), argv)
        requests = bench.take(a)
        check_copy(target, index.digest)
        return of_process(r, requests)

    tools = [
        (cold, skopeo_runner("skopeo-cold", lambda: bench.tempdir("skopeo-cache"))),
        (ours, run_polyarch),
        (warm, skopeo_runner("skopeo-warm", lambda: warm_cache)),
    ]
    alternate(bench.runs, tools, "promote A→A")
    return [case for case, _ in tools]


# Scenario 4: one image promoted into many repositories of another registry -------------


def scenario_promote_many(
    bench: Bench, index: Index, layers: Sequence[LayerFile], source: str, copies: int = 10
) -> list[Case]:
    """Copy the big image from A into ``copies`` new repositories of B, as one sample.

    With a blob-info cache (polyarch's, skopeo's) only the first copy moves the layers; the
    others mount them inside B. Every sample starts from a fresh cache, as on a new runner.
    """
    a, b = bench.a, bench.b
    payload = sum(layer.descriptor.size for layer in layers)
    label = f"{copies} x {payload // MIB} MiB"
    scenario = "4 promote A→B, many repos"
    skopeo_case = Case(scenario, label, "skopeo copy --all (one fresh cache)", baseline=True)
    cached = Case(scenario, label, "polyarch copy (blob-info cache)", polyarch=True)
    uncached = Case(scenario, label, "polyarch copy --no-blob-cache", polyarch=True)
    for case in (skopeo_case, cached, uncached):
        case.transfer = True
    skopeo_case.note = "skopeo's blob-info cache starts empty and is kept across the copies"

    def many(
        run_one: Callable[[str, Path], list[str]],
        env_for: Callable[[Path], dict[str, str]],
        prefix: str,
    ) -> Runner:
        def run(i: int) -> Sample:
            cache = bench.tempdir(f"{prefix}-cache")
            bench.mark(a, b)
            started = time.perf_counter()
            cpu = 0.0
            rss = 0
            for n in range(copies):
                target = f"{b.host}/{prefix}-{i}-{n}/app:v1"
                argv = run_one(target, cache)
                r = checked(run_process(argv, env=env_for(cache)), argv)
                cpu += r.cpu_seconds
                rss = max(rss, r.maxrss_kib)
            seconds = time.perf_counter() - started
            requests = bench.take(a, b)
            check_copy(f"{b.host}/{prefix}-{i}-{copies - 1}/app:v1", index.digest)
            return sample(seconds, requests, rss_kib=rss, cpu_seconds=cpu)

        return run

    def skopeo_argv(target: str, cache: Path) -> list[str]:
        args = ["copy", "--all", "-q", *SKOPEO_TLS, f"docker://{source}", f"docker://{target}"]
        return skopeo_cmd(cache, args)[0]

    def skopeo_env(cache: Path) -> dict[str, str]:
        return skopeo_cmd(cache, [])[1]

    def polyarch_argv(target: str, cache: Path) -> list[str]:
        return [bench.polyarch, "copy", "-q", source, target]

    tools = [
        (skopeo_case, many(skopeo_argv, skopeo_env, "many-skopeo")),
        (cached, many(polyarch_argv, lambda c: polyarch_env(c / "blob-info.sqlite3"), "many-pc")),
        (uncached, many(polyarch_argv, lambda c: polyarch_env(None), "many-pu")),
    ]
    alternate(min(bench.runs, 2), tools, "promote A→B many")
    return [case for case, _ in tools]
