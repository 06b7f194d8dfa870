"""``verify`` checks from a host's side: what each host pulls, and running the images.

The ``pull`` check applies containerd's platform matcher (the one rule, through
:meth:`VerifyState.pick <polyarch.operations.verify.state.VerifyState.pick>`) for the expected
platforms and the :data:`COMMON_HOSTS`; the ``run`` check starts each image through a
:class:`~polyarch.engine.runner.DockerRunner`. Both report through
:meth:`VerifyState.add <polyarch.operations.verify.state.VerifyState.add>` and are called from
:func:`~polyarch.operations.verify.checks.run_checks`.
"""

from __future__ import annotations

from polyarch.content.selection import Selected
from polyarch.domain.digest import Digest
from polyarch.domain.manifest import Index
from polyarch.domain.platform import Platform, compatible
from polyarch.operations.verify.request import Status
from polyarch.operations.verify.state import Expected, VerifyState, same_platform

__all__ = ["COMMON_HOSTS", "check_pull", "check_run"]

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


def _family(p: Platform) -> tuple[str, str]:
    return p.os, _FAMILY.get(p.architecture, p.architecture)


# 8: pulls ---------------------------------------------------------------------------------


def check_pull(state: VerifyState, top: Index, expected: list[Expected]) -> None:
    """The ``pull`` check: the entry each expected host pulls, and surprises for others.

    Hosts are the expected platforms (else the index's own); a :data:`COMMON_HOSTS` member of
    a built family that would pull another architecture, or a plain host that gets nothing,
    is a warning.
    """
    entries = [d for d in top.images if d.platform is not None]
    platforms = [d.platform for d in entries if d.platform is not None]
    hosts: list[Platform] = []
    for e in expected or [Expected(p, None, "index") for p in platforms]:
        if not any(same_platform(e.platform, h) for h in hosts):
            hosts.append(e.platform)
    for host in hosts:
        picked = state.pick(host)
        want = next((d for d in entries if d.platform and same_platform(d.platform, host)), None)
        if want is None:
            continue  # missing: already failed under "platforms"
        broken = _broken_step(state, picked)
        if picked is not None and broken is not None:
            # The entry is right, but what it names is gone: every pull of it fails.
            digest, why = broken
            state.add("pull", Status.FAIL, f"a {host} host would pull {digest} which {why}", host)
        elif picked is not None and picked.descriptor.digest == want.digest:
            state.add("pull", Status.PASS, f"a {host} host pulls {want.digest.short}", host)
        else:
            got = (
                f"{picked.platform} ({picked.descriptor.digest.short})"
                if picked is not None
                else "nothing"
            )
            nested = picked is not None and bool(picked.path)
            state.add(
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
        if _family(host) not in families or any(same_platform(host, p) for p in platforms):
            continue
        chosen = state.pick(host)
        if chosen is None or chosen.platform is None:
            nothing.append(str(host))
            continue
        pulled = chosen.platform
        if pulled.architecture != host.architecture:
            state.add(
                "pull",
                Status.WARN,
                f"a {host} host would pull {pulled} (another architecture)",
                host,
            )
    for p in {Platform(p.os, p.architecture).normalized() for p in platforms}:
        if not any(compatible(p, q) for q in platforms):
            state.add(
                "pull",
                Status.WARN,
                f"a plain {p} host gets nothing: "
                f"every {p.architecture} entry needs a newer variant",
                p,
            )
    if nothing:
        state.add(
            "pull",
            Status.PASS,
            f"no variant for {', '.join(nothing)} hosts (not built)",
            hostsWithoutVariant=nothing,
        )


def _broken_step(state: VerifyState, picked: Selected | None) -> tuple[Digest, str] | None:
    """The first manifest on the way to ``picked`` (nested indexes, then the image) that a
    host cannot pull, and why; None when every step is there."""
    if picked is None:
        return None
    for digest in (*picked.path, picked.descriptor.digest):
        why = state.broken.get(digest)
        if why is not None:
            return digest, why
    return None


# 10: run ----------------------------------------------------------------------------------


def check_run(state: VerifyState, top: Index, expected: list[Expected]) -> None:
    """The ``run`` check (``verify --run``): each expected image started on its platform.

    Uses ``state.runner``; fails when the engine or the emulator is missing, the command
    exits non-zero, or the output misses an ``--expect-output`` pattern.
    """
    reason = state.runner.engine_available()
    if reason:
        state.add("run", Status.FAIL, f"cannot run: {reason}")
        return
    entries = [d for d in top.images if d.platform is not None]
    wanted = [
        d
        for d in entries
        if not expected
        or any(same_platform(d.platform, e.platform) for e in expected if d.platform)
    ]
    patterns = state.request.expect_output
    for d in wanted:
        platform = d.platform
        assert platform is not None
        image = str(state.request.target.untagged().with_digest(d.digest))
        why = state.broken.get(d.digest)
        if why is not None:
            state.add("run", Status.FAIL, f"cannot run {d.digest}: it {why}", platform)
            continue
        emulator = state.runner.emulator_available(platform)
        if emulator:
            state.add("run", Status.FAIL, emulator, platform)
            continue
        result = state.runner.run(image, platform, state.request.command)
        details = {
            "exitCode": result.exit_code,
            "native": result.native,
            "machine": result.machine,
            "output": result.output,
        }
        how = "natively" if result.native else "under emulation"
        first = (result.output.strip().splitlines() or [""])[0][:100]
        # What the container said, so a person sees "x86_64" or the app's own banner.
        seen = f", machine {result.machine}" if result.machine else (f": {first}" if first else "")
        if result.error:
            state.add("run", Status.FAIL, result.error, platform, **details)
        elif result.exit_code != 0:
            last = (result.output.strip().splitlines() or [""])[-1][:120]
            state.add(
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
                if same_platform(q, platform) and not p.search(result.output)
            ]
            if failed:
                state.add(
                    "run",
                    Status.FAIL,
                    f"output does not match {failed[0]!r}",
                    platform,
                    **details,
                )
            else:
                state.add("run", Status.PASS, f"exited 0 {how}{seen}", platform, **details)
