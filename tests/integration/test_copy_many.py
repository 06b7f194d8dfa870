"""copy SRC DST...: a release's tags promoted into several registries in one run, for real.

The bench's promotion row (bench/release.py: index + 4 tags into 3 registries) paid a
start-up and a source read per tag as 12 ``copy`` calls; ``buildx imagetools create -t A
-t B`` and skopeo's ``sync`` take several targets. One ``copy`` reads the source once,
moves the content once per repository, and moves the tags only when every destination
has the content.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from polyarch import (
    Context,
    CopyRequest,
    Index,
    Reference,
    TransportSettings,
    copy_images,
)
from polyarch.errors import InvalidInput, PolyarchError
from polyarch.transport.retry import RetryPolicy
from support.cli import assert_one_line_error, run_cli
from support.faultproxy import Fault, FaultProxy, RequestInfo
from support.images import staged_release

pytestmark = pytest.mark.integration


def _release(ctx: Context, host: str) -> tuple[Reference, str]:
    target, index = staged_release(ctx, host, "3.14.1")
    return target, str(index.digest)


def test_a_tag_family_into_two_registries(ctx: Context, registry: Any, registry2: Any) -> None:
    source, digest = _release(ctx, registry.host)
    name = f"prod{uuid.uuid4().hex[:6]}/app"
    with FaultProxy(registry.host) as proxy:  # counts what is read from the source
        src = str(source).replace(registry.host, proxy.host, 1)
        dests = [
            f"{registry.host}/{name}:3.14.1",
            f"{registry.host}/{name}:3.14",
            f"{registry2.host}/{name}:3.14.1",
            f"{registry2.host}/{name}:3.14",
            f"{registry2.host}/{name}:3",
        ]
        cli = run_cli("copy", "--json", src, *dests)
        assert cli.code == 0, cli.err
        source_reads = [p for m, p in proxy.log if m == "GET" and p.endswith("/manifests/3.14.1")]
    out = cli.json()
    assert [o["destination"] for o in out] == dests
    assert {o["digest"] for o in out} == {digest}
    for dest in dests:
        assert (
            str(ctx.repository(Reference.parse(dest)).head_manifest(dest.rsplit(":", 1)[1]).digest)
            == digest
        )
    assert len(source_reads) == 1, proxy.log  # the source's tag read once, not once per DST
    # The content moved once per repository: the first DST of a registry copies (or mounts
    # within the source's registry), the further tags there move nothing.
    first, second, other, *rest = out
    assert first["transfer"]["manifests"]["pushed"] == 3
    assert other["transfer"]["blobs"]["copied"]["count"] > 0
    for later in (second, *rest):
        assert later["transfer"]["manifests"] == {"pushed": 0, "present": 0}
        assert all(v["count"] == 0 for v in later["transfer"]["blobs"].values())


def test_no_tag_moves_when_a_later_destination_fails(
    ctx: Context, registry: Any, registry2: Any
) -> None:
    source, digest = _release(ctx, registry.host)
    name = f"prod{uuid.uuid4().hex[:6]}/app"

    def refuse_manifests(info: RequestInfo) -> Fault | None:
        return Fault.ERROR_500 if info.method == "PUT" and "/manifests/" in info.path else None

    settings = TransportSettings(retry=RetryPolicy(max_attempts=2, base_delay=0))
    with FaultProxy(registry2.host, force=refuse_manifests) as proxy, Context(settings) as c:
        requests = [
            CopyRequest.build(source, f"{registry.host}/{name}:3.14.1"),
            CopyRequest.build(source, f"{proxy.host}/{name}:3.14.1"),
        ]
        with pytest.raises(PolyarchError):
            copy_images(requests, c)
    # The first registry got the content, but its tag did not move: the release is
    # published everywhere or nowhere.
    index = ctx.repository(source).get_manifest(digest)
    assert isinstance(index, Index)
    first = ctx.repository(Reference.parse(f"{registry.host}/{name}"))
    assert all(first.head_manifest(d.digest) is not None for d in index.manifests)
    assert first.head_manifest("3.14.1") is None


def test_a_destination_naming_another_digest_moves_nothing(
    ctx: Context, registry: Any, registry2: Any
) -> None:
    source, digest = _release(ctx, registry.host)
    name = f"prod{uuid.uuid4().hex[:6]}/app"
    wrong = "sha256:" + "0" * 64
    cli = run_cli(
        "copy", str(source), f"{registry.host}/{name}:3.14.1", f"{registry2.host}/{name}@{wrong}"
    )
    assert_one_line_error(cli, 2, wrong)
    assert cli.out == ""  # checked before anything moved
    assert ctx.repository(Reference.parse(f"{registry.host}/{name}")).head_manifest(digest) is None


def test_one_copy_reads_one_source_with_one_set_of_options() -> None:
    a = CopyRequest.build("127.0.0.1:1/a:1", "127.0.0.1:1/b:1")
    b = CopyRequest.build("127.0.0.1:1/a:1", "127.0.0.1:1/c:1", platforms=["linux/arm64"])
    with pytest.raises(InvalidInput, match="one source with one set of options"):
        copy_images([a, b])
    with pytest.raises(InvalidInput, match="at least one destination"):
        copy_images([])
