"""What a real CLI run imports: no rich on -q/--json paths, no TLS roots for plain HTTP.

Issue 12 (performance): start-up is most of a small ``create``. These tests run the CLI in a
fresh interpreter against the real registry and look at what it loaded; they check *what*
is imported, never how long it takes (timings live in bench/).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

from polyarch import Context, Reference
from support.images import push_image

pytestmark = pytest.mark.integration

_RUN = """
import json, ssl, sys
loaded_roots = []
for name in ("load_verify_locations", "load_default_certs", "set_default_verify_paths"):
    def spy(self, *a, _real=getattr(ssl.SSLContext, name), **k):
        loaded_roots.append(1)
        return _real(self, *a, **k)
    setattr(ssl.SSLContext, name, spy)
from polyarch.cli.main import main
code = main(json.loads(sys.argv[1]))
sys.stdout.flush()
rich = sorted(m for m in sys.modules if m == "rich" or m.startswith("rich."))
print(json.dumps({"code": code, "rich": rich, "roots": len(loaded_roots)}), file=sys.stderr)
"""


def _run(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(list(args))],
        capture_output=True,
        text=True,
        check=False,
    )
    report: dict[str, Any] = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, proc.stderr
    return report


@pytest.fixture(scope="module")
def sources(registry: Any) -> list[str]:
    repo_ref = Reference.parse(f"{registry.host}/startup-{uuid.uuid4().hex[:8]}/app")
    with Context() as ctx:
        repo = ctx.repository(repo_ref)
        for platform in ("linux/amd64", "linux/arm64"):
            push_image(repo, platform, tag=platform.replace("/", "-"))
    return [str(repo_ref.with_tag(t)) for t in ("linux-amd64", "linux-arm64")]


@pytest.mark.parametrize("flag", ["-q", "--json"])
def test_scripted_create_inspect_resolve_load_no_rich_and_no_tls_roots(
    sources: list[str], flag: str
) -> None:
    target = sources[0].rsplit(":", 1)[0] + f":all-{flag.strip('-')}"
    for args in (
        ("create", flag, "-t", target, *sources),
        ("inspect", flag, target),
        ("resolve", flag, "--platform", "linux/arm64", target),
    ):
        report = _run(*args)
        assert report["rich"] == [], args
        assert report["roots"] == 0, args  # plain-HTTP loopback: no CA store loaded


def test_the_human_view_still_renders_with_rich(sources: list[str]) -> None:
    # The control: the same run without -q/--json does load rich, so the test above
    # would see it if a -q/--json path did.
    report = _run("inspect", sources[0])
    assert "rich.console" in report["rich"]
