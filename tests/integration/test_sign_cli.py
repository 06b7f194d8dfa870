"""The signing CLI on a real registry, checked by real cosign 2.5 and 3.1.

``polyarch sign --signature-format both`` (cosign 2.5 reads the tag, cosign 3.1 the bundle),
``verify --key`` failing with exit code 1 and one row per platform, cosign 3.1's
experimental OCI 1.1 signature referrer, keyless verification against a trusted root
through the CLI (a real Sigstore staging bundle stored as a referrer), and
``publish --sign-key``: signed right after the tags, verified in the same run, and a
signature the registry refuses to store failing the release with exit code 1 while the
index stays published (a loopback proxy refuses the signature tags, as a registry whose
tag policy rejects ``sha256-*`` tags does).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from polyarch import Context, Reference
from polyarch.content.referrers.signatures import store_bundle
from polyarch.domain.signing.legacy import signature_tag
from polyarch.storage.referrers_tag import referrers_tag
from support.cli import assert_one_line_error, run_cli
from support.gateproxy import GateProxy, Refuse, Seen
from support.images import push_index, push_wrapper
from support.registry import RegistryServer
from support.sigtools import PASSWORD, Cosign

pytestmark = pytest.mark.integration

KEYLESS = Path(__file__).resolve().parents[1] / "data" / "signing" / "keyless"
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"
ENV = {"COSIGN_PASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def keys(cosign3: Cosign) -> tuple[Path, Path]:
    """A key pair made by cosign 3.1's generate-key-pair: (cosign.key, cosign.pub)."""
    return cosign3.generate_key_pair("release")


def _pushed(registry: RegistryServer, ctx: Context) -> tuple[Reference, list[str]]:
    ref = Reference.parse(f"{registry.host}/signcli/r{uuid.uuid4().hex[:8]}")
    index, images = push_index(ctx.repository(ref), ["linux/amd64", "linux/arm64"], tag="v1")
    return ref, [str(index.digest), *(str(i.digest) for i in images)]


def _rows(result: Any) -> dict[str | None, dict[str, Any]]:
    return {c["platform"]: c for c in result.json()["checks"] if c["check"] == "signatures"}


def test_both_forms_verify_with_cosign_25_and_31(
    registry: RegistryServer,
    ctx: Context,
    keys: tuple[Path, Path],
    cosign2: Cosign,
    cosign3: Cosign,
) -> None:
    ref, digests = _pushed(registry, ctx)
    key, pub = keys
    cli = run_cli(
        "sign", "--json", "--signature-format", "both", "--key", str(key), f"{ref}:v1", env=ENV
    )
    assert cli.code == 0, cli.err
    signed = cli.json()["signed"]
    assert [s["form"] for s in signed] == ["legacy", "bundle"] * 3  # each manifest, both forms
    assert [s["kind"] for s in signed][::2] == ["image", "image", "index"]
    for digest in digests:
        for cosign in (cosign2, cosign3):
            proc = cosign.verify(f"{ref}@{digest}", pub)
            assert proc.returncode == 0, (cosign.major, digest, proc.stderr)
    verify = run_cli("verify", "--json", "--key", str(pub), f"{ref}:v1")
    assert verify.code == 0, verify.out
    rows = _rows(verify)
    assert {p: sorted(r["details"]["forms"]) for p, r in rows.items()} == {
        None: ["bundle", "legacy"],
        "linux/amd64": ["bundle", "legacy"],
        "linux/arm64": ["bundle", "legacy"],
    }


def test_verify_key_fails_with_exit_1_naming_each_platform(
    registry: RegistryServer, ctx: Context, keys: tuple[Path, Path], cosign2: Cosign
) -> None:
    ref, digests = _pushed(registry, ctx)
    other_key, other_pub = cosign2.generate_key_pair("stranger")
    assert cosign2.sign(f"{ref}@{digests[0]}", other_key, recursive=False).returncode == 0
    cli = run_cli("verify", "--json", "--key", str(keys[1]), f"{ref}:v1")
    assert cli.code == 1
    rows = _rows(cli)
    assert rows[None]["status"] == "fail" and rows[None]["details"]["reason"] == "wrong-key"
    for platform in ("linux/amd64", "linux/arm64"):
        assert rows[platform]["details"]["reason"] == "missing"
    quiet = run_cli("verify", "-q", "--key", str(keys[1]), f"{ref}:v1")
    assert_one_line_error(quiet, 1, "signatures", "signatures (linux/amd64)")
    # Any of several keys: the stranger's key verifies the index (only).
    both = run_cli("verify", "--json", "--key", str(keys[1]), "--key", str(other_pub), f"{ref}:v1")
    assert _rows(both)[None]["status"] == "pass"


def test_cosign_experimental_oci11_signatures_are_read(
    registry: RegistryServer, ctx: Context, keys: tuple[Path, Path], cosign3: Cosign
) -> None:
    """cosign 3.1's ``--registry-referrers-mode=oci-1-1`` (COSIGN_EXPERIMENTAL=1): the tag
    form's layers in a referrer of artifact type application/vnd.dev.cosign.artifact.sig.v1+json."""
    ref, digests = _pushed(registry, ctx)
    key, pub = keys
    proc = cosign3.run(
        "sign", "--key", str(key), "--tlog-upload=false", "--use-signing-config=false",
        "--new-bundle-format=false", "--registry-referrers-mode=oci-1-1",
        "--allow-insecure-registry", "--yes", "--recursive", f"{ref}@{digests[0]}",
        env={"COSIGN_EXPERIMENTAL": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "application/vnd.dev.cosign.artifact.sig.v1+json" in proc.stderr
    cli = run_cli("verify", "--json", "--key", str(pub), f"{ref}:v1")
    assert cli.code == 0, cli.out
    assert {tuple(r["details"]["forms"]) for r in _rows(cli).values()} == {("oci11",)}


def test_keyless_through_the_cli_against_a_trusted_root(
    registry: RegistryServer, ctx: Context
) -> None:
    """A real keyless bundle (Sigstore staging, GitHub Actions identity) stored as a bundle
    referrer of an image: its certificate, SCT, log entry and signature verify offline, its
    statement names another digest (a file's), so the row fails as other-digest naming the
    identity; another identity fails as wrong-identity."""
    ref, digests = _pushed(registry, ctx)
    repo = ctx.repository(ref)
    image = repo.get_manifest(digests[1])
    raw = (KEYLESS / "staging-dsse.sigstore.json").read_bytes()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    store_bundle(repo, image.descriptor(), raw, created=now)
    root = str(KEYLESS / "staging-trusted-root.json")
    args = ["verify", "--json", "--trusted-root", root, "--certificate-oidc-issuer", ISSUER]
    cli = run_cli(*args, "--certificate-identity", IDENTITY, f"{ref}:v1")
    assert cli.code == 1
    row = _rows(cli)["linux/amd64"]
    assert row["details"]["reason"] == "other-digest", row
    assert f"signed by {IDENTITY}, but for sha256:a0cfc71271d6" in row["message"]
    wrong = run_cli(*args, "--certificate-identity", "release@example.com", f"{ref}:v1")
    row = _rows(wrong)["linux/amd64"]
    assert row["details"]["reason"] == "wrong-identity"
    assert f"signed by {IDENTITY} (issuer {ISSUER}), not release@example.com" in row["message"]


def test_keyless_options_come_together(registry: RegistryServer, ctx: Context) -> None:
    ref, _ = _pushed(registry, ctx)
    cli = run_cli("verify", "--certificate-identity", IDENTITY, f"{ref}:v1")
    assert_one_line_error(cli, 2, "certificate_oidc_issuer, trusted_root missing")
    cli = run_cli(
        "verify", "--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER,
        "--trusted-root", str(KEYLESS / "README.md"), f"{ref}:v1",
    )  # fmt: skip
    assert_one_line_error(cli, 2, "not a usable Sigstore trusted_root.json")


def test_sign_errors_are_one_line(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    key, pub = keys
    ref = "127.0.0.1:9/none/app:v1"
    wrong = run_cli("sign", "--key", str(key), ref, env={"COSIGN_PASSWORD": "nope"})
    assert_one_line_error(wrong, 2, "release.key did not decrypt", "COSIGN_PASSWORD")
    public = run_cli("sign", "--key", str(pub), ref, env=ENV)
    assert_one_line_error(public, 2, "release.pub: no private key PEM block")
    absent = run_cli("sign", "--key", str(tmp_path / "nope.key"), ref, env=ENV)
    assert_one_line_error(absent, 2, "nope.key: no such file", "--key")


# publish --sign-key -------------------------------------------------------------------------


def _publishable(
    tmp_path: Path, host: str, ctx: Context, *, attestations: str = "keep"
) -> tuple[Path, Reference]:
    """A spec of two variants and their buildx metadata files (wrappers pushed)."""
    repo_ref = Reference.parse(f"{host}/pub{uuid.uuid4().hex[:8]}/app")
    for name in ("amd", "arm"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "polyarch.yaml").write_text(
        f"image: {repo_ref}\ntags: [v1, latest]\nattestations: {attestations}\nvariants:\n"
        "  - {platform: linux/amd64, context: amd}\n  - {platform: linux/arm64, context: arm}\n"
    )
    repo = ctx.repository(repo_ref)
    for platform in ("linux/amd64", "linux/arm64"):
        wrapper = push_wrapper(repo, platform, tag=f"build-{platform.replace('/', '-')}")
        meta = tmp_path / "records" / platform.replace("/", "-")
        meta.mkdir(parents=True)
        (meta / "metadata.json").write_text(
            json.dumps({"containerimage.digest": str(wrapper.index.digest)})
        )
    return tmp_path / "polyarch.yaml", repo_ref


def test_publish_signs_right_after_the_tags_and_verifies_the_signatures(
    registry: RegistryServer, ctx: Context, tmp_path: Path, keys: tuple[Path, Path], cosign3: Cosign
) -> None:
    spec, repo_ref = _publishable(tmp_path, registry.host, ctx, attestations="referrers")
    key, pub = keys
    cli = run_cli(
        "publish", "--json", "--file", str(spec), "--records", str(tmp_path / "records"),
        "--sign-key", str(key), env=ENV,
    )  # fmt: skip
    assert cli.code == 0, cli.err
    out = cli.json()
    [signed] = out["signatures"]
    # The spec's attestations: referrers took them out of the index: images and index signed.
    assert sorted(s["kind"] for s in signed["signed"]) == ["image", "image", "index"]
    assert signed["digest"] == out["digest"]
    # Two tags of one repository: the same two referrers listed under each target.
    moved = {r["digest"]: r for t in out["create"]["targets"] for r in t["referrers"]}
    assert sorted(r["status"] for r in moved.values()) == ["pushed", "pushed"]
    checks = out["verify"][0]["checks"]
    assert {c["message"] for c in checks if c["check"] == "attestations"} == {
        "provenance (1 as referrers)"
    }
    rows = [c for c in out["verify"][0]["checks"] if c["check"] == "signatures"]
    assert [r["status"] for r in rows] == ["pass", "pass", "pass"]
    for entry in signed["signed"]:
        proc = cosign3.verify(f"{repo_ref}@{entry['digest']}", pub)
        assert proc.returncode == 0, proc.stderr


def test_a_signature_the_registry_refuses_fails_the_release_naming_what_is_unsigned(
    registry: RegistryServer, ctx: Context, tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    """The index and its tags are published; then every signature write is refused (403 on
    the ``sha256-*`` tags cosign's forms need): exit code 1, the line names the repository
    published unsigned and how to sign it afterwards."""

    def refuse_signature_tags(seen: Seen) -> Refuse | None:
        tag = seen.path.rsplit("/manifests/", 1)[-1] if "/manifests/" in seen.path else ""
        if seen.method == "PUT" and tag.startswith("sha256-"):
            return Refuse(
                403,
                {"Content-Type": "application/json"},
                b'{"errors":[{"code":'
                b'"DENIED","message":"tag policy: sha256-* tags are immutable"}]}',
            )
        return None  # fmt: skip

    with GateProxy(registry.host, refuse_signature_tags) as proxy:
        with Context() as proxied:
            spec, repo_ref = _publishable(tmp_path, proxy.host, proxied)
        cli = run_cli(
            "publish", "--file", str(spec), "--records", str(tmp_path / "records"),
            "--sign-key", str(keys[0]), "--signature-format", "legacy", env=ENV,
        )  # fmt: skip
        assert_one_line_error(cli, 1, "but", f"{repo_ref} is not signed", "with the same key")
        assert "tag policy" in cli.err
        with Context() as proxied:
            repo = proxied.repository(repo_ref)
            published = repo.get_manifest("v1")  # the release itself stands
            assert repo.get_manifest("latest").digest == published.digest
            assert repo.head_manifest(signature_tag(published.digest)) is None
            assert repo.head_manifest(referrers_tag(published.digest)) is None


def test_release_reads_the_key_before_building(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    """A wrong password stops ``release`` before any build (no engine is needed to see it)."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "polyarch.yaml").write_text(
        "image: 127.0.0.1:9/none/app\nvariants:\n  - {platform: linux/amd64, context: app}\n"
    )
    cli = run_cli(
        "release", "--file", str(tmp_path / "polyarch.yaml"), "--sign-key", str(keys[0]),
        env={"COSIGN_PASSWORD": "wrong", "DOCKER_HOST": "unix:///nonexistent.sock"},
    )  # fmt: skip
    assert_one_line_error(cli, 2, "release.key did not decrypt")
