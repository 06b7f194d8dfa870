"""tags, config, delete, login/logout (issue 11 #3), against real CNCF distribution 2.8.

The registries are the session fixtures of tests/conftest.py (plain, htpasswd Basic and
token auth). The credential helper is a small file-backed implementation of the
docker-credential-helpers protocol (store/get/erase/list), as docker-credential-pass or
-secretservice implement it over their own stores.
"""

from __future__ import annotations

import base64
import json
import stat
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from polyarch import (
    Context,
    ImageManifest,
    Reference,
    TransportSettings,
    list_tags,
    parse_manifest,
)
from polyarch.domain import mediatype as mt
from support.cli import Result, assert_one_line_error, run_cli
from support.images import make_layer, push_blob, push_image, push_index

pytestmark = pytest.mark.integration

# What `docker build` writes for a small service image (fields as in a real config).
FULL_CONFIG: dict[str, Any] = {
    "architecture": "arm64",
    "os": "linux",
    "created": "2026-03-01T12:00:00Z",
    "author": "release@example.com",
    "config": {
        "User": "10001:10001",
        "WorkingDir": "/app",
        "Entrypoint": ["/app/metrics-api"],
        "Cmd": ["--port", "8080"],
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "WORKERS=4"],
        "Labels": {"org.opencontainers.image.version": "2.0.0"},
        "ExposedPorts": {"8080/tcp": {}},
        "Volumes": {"/data": {}},
        "StopSignal": "SIGTERM",
    },
    "history": [
        {"created": "2026-03-01T11:59:00Z", "created_by": "ADD rootfs.tar /"},
        {"created": "2026-03-01T11:59:30Z", "created_by": "ENV WORKERS=4", "empty_layer": True},
        {"created": "2026-03-01T12:00:00Z", "created_by": "COPY metrics-api /app/"},
    ],
}


def _repo(registry: Any) -> Reference:
    return Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/app")


def _push_full_image(ctx: Context, ref: Reference, tag: str) -> tuple[ImageManifest, bytes]:
    repo = ctx.repository(ref)
    layers, diff_ids = [], []
    for body in (b"rootfs", b"binary"):
        compressed, diff_id = make_layer(body)
        layers.append(push_blob(repo, mt.OCI_LAYER_GZIP, compressed))
        diff_ids.append(str(diff_id))
    doc = dict(FULL_CONFIG, rootfs={"type": "layers", "diff_ids": diff_ids})
    raw_config = json.dumps(doc, indent=2).encode()
    config = push_blob(repo, mt.OCI_CONFIG, raw_config)
    manifest = parse_manifest(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST,
                "config": config.to_json(),
                "layers": [d.to_json() for d in layers],
            }
        ).encode()
    )
    assert isinstance(manifest, ImageManifest)
    repo.put_manifest(manifest, tag)
    return manifest, raw_config


# -- tags --------------------------------------------------------------------------------


def test_tags_follows_every_page(ctx: Context, registry: Any) -> None:
    ref = _repo(registry)
    repo = ctx.repository(ref)
    image = push_image(repo, "linux/amd64", tag="v0")
    names = [f"v{i}" for i in range(7)]
    for name in names:
        repo.put_manifest(image.manifest, name)
    # 7 tags asked 2 per page: the registry sends 4 pages linked by `Link: <...>; rel="next"`.
    result = list_tags(ref, ctx, page_size=2)
    assert sorted(result.tags) == names
    cli = run_cli("tags", "--page-size", "2", "--json", str(ref))
    assert cli.code == 0, cli.err
    assert cli.json() == {"schema": "polyarch.tags/v1", "repository": ref.name, "tags": names}
    plain = run_cli("tags", str(ref))
    assert plain.out.split() == names


def test_tags_errors(registry: Any, tmp_path: Path) -> None:
    missing = run_cli("tags", f"{registry.host}/nobody/here")
    assert_one_line_error(missing, 1, "nobody/here", "not found")
    tagged = run_cli("tags", f"{registry.host}/some/app:v1")
    assert_one_line_error(tagged, 2, "name a repository")
    no_layout = run_cli("tags", f"oci:{tmp_path}/none")
    assert_one_line_error(no_layout, 1, "no such directory", "not an OCI image layout")


def test_tags_of_a_layout(ctx: Context, registry: Any, tmp_path: Path) -> None:
    ref = _repo(registry)
    push_image(ctx.repository(ref), "linux/amd64", tag="1.0-amd64")
    assert run_cli("copy", "-q", f"{ref}:1.0-amd64", f"oci:{tmp_path}/out").code == 0
    assert run_cli("tags", f"oci:{tmp_path}/out").out.split() == ["1.0-amd64"]


# -- oci: layouts through the CLI (issue 11 #2) ------------------------------------------------


def test_copy_to_a_tagless_layout_then_inspect_it(
    ctx: Context, registry: Any, tmp_path: Path
) -> None:
    ref = _repo(registry)
    pushed = push_image(ctx.repository(ref), "linux/amd64", tag="1.0-amd64")
    out = tmp_path / "out"
    assert run_cli("copy", "-q", f"{ref}:1.0-amd64", f"oci:{out}").code == 0
    inspected = run_cli("inspect", "--json", f"oci:{out}")
    assert inspected.code == 0, inspected.err
    assert inspected.json()["digest"] == str(pushed.digest)
    unknown = run_cli("inspect", f"oci:{out}:2.0")
    assert_one_line_error(unknown, 1, f"oci:{out}:2.0 not found", "tags: 1.0-amd64")
    # A source without a tag: the layout entry gets `latest`, so oci:DIR finds it too.
    by_digest = tmp_path / "by-digest"
    assert run_cli("copy", "-q", f"{ref}@{pushed.digest}", f"oci:{by_digest}").code == 0
    assert run_cli("tags", f"oci:{by_digest}").out.split() == ["latest"]


def test_layout_path_errors(ctx: Context, registry: Any, tmp_path: Path) -> None:
    ref = _repo(registry)
    push_image(ctx.repository(ref), "linux/amd64", tag="v1")
    missing = run_cli("inspect", f"oci:{tmp_path}/none:v1")
    assert_one_line_error(missing, 1, "no such directory, so not an OCI image layout")
    deep = tmp_path / "nonexistent" / "deep" / "dir"
    refused = run_cli("copy", f"{ref}:v1", f"oci:{deep}")
    assert_one_line_error(refused, 2, f"parent directory {deep.parent} does not exist")
    assert not (tmp_path / "nonexistent").exists()


# -- config ------------------------------------------------------------------------------------


def test_config_of_an_image(ctx: Context, registry: Any) -> None:
    ref = _repo(registry)
    manifest, raw = _push_full_image(ctx, ref, "v2")
    cli = run_cli("config", "--json", f"{ref}:v2")
    assert cli.code == 0, cli.err
    out = cli.json()
    assert out["schema"] == "polyarch.config/v1"
    assert out["digest"] == str(manifest.config.digest)
    assert out["manifestDigest"] == str(manifest.digest)
    assert out["platform"] == "linux/arm64"
    assert out["created"] == "2026-03-01T12:00:00Z"
    assert out["entrypoint"] == ["/app/metrics-api"]
    assert out["cmd"] == ["--port", "8080"]
    assert out["env"] == FULL_CONFIG["config"]["Env"]
    assert out["labels"] == {"org.opencontainers.image.version": "2.0.0"}
    assert out["user"] == "10001:10001"
    assert out["workingDir"] == "/app"
    assert out["exposedPorts"] == ["8080/tcp"]
    assert out["volumes"] == ["/data"]
    assert out["stopSignal"] == "SIGTERM"
    assert (out["historyCount"], out["layerCount"]) == (3, 2)
    raw_cli = run_cli("config", "--raw", f"{ref}:v2")
    assert raw_cli.out.encode() == raw
    human = run_cli("config", f"{ref}:v2")
    assert "entrypoint    /app/metrics-api" in human.out
    assert "WORKERS=4" in human.out
    assert "history       3 entries, 2 layers" in human.out
    both = run_cli("config", "--raw", "--json", f"{ref}:v2")
    assert_one_line_error(both, 2, "--raw and --json")


def test_config_of_an_index_needs_a_platform(ctx: Context, registry: Any) -> None:
    ref = _repo(registry)
    _, images = push_index(ctx.repository(ref), ["linux/amd64", "linux/arm64"], tag="v1")
    cli = run_cli("config", "--json", "--platform", "linux/arm64", f"{ref}:v1")
    assert cli.code == 0, cli.err
    assert cli.json()["manifestDigest"] == str(images[1].digest)
    assert cli.json()["platform"] == "linux/arm64"
    assert_one_line_error(run_cli("config", f"{ref}:v1"), 2, "multi-platform index")
    other = run_cli("config", "--platform", "linux/s390x", f"{ref}:v1")
    assert_one_line_error(other, 1, "linux/s390x", "linux/amd64, linux/arm64")


# -- delete ------------------------------------------------------------------------------------


def test_delete_tag_on_distribution_28_deletes_nothing_and_says_what_would_go(
    ctx: Context, registry: Any
) -> None:
    ref = _repo(registry)
    repo = ctx.repository(ref)
    image = push_image(repo, "linux/amd64", tag="v1")
    repo.put_manifest(image.manifest, "also")
    cli = run_cli("delete", f"{ref}:v1")
    assert_one_line_error(
        cli,
        1,
        "cannot delete the tag v1 alone",
        "nothing was deleted",
        f"{ref}@{image.digest}",
        "also, v1",
    )
    assert repo.head_manifest("v1") is not None
    assert repo.head_manifest("also") is not None


def test_delete_digest_needs_confirmation_and_never_cascades(ctx: Context, registry: Any) -> None:
    ref = _repo(registry)
    repo = ctx.repository(ref)
    index, images = push_index(repo, ["linux/amd64", "linux/arm64"], tag="v1")
    repo.put_manifest(index, "latest")
    target = f"{ref}@{index.digest}"
    unconfirmed = run_cli("delete", target, stdin="")  # not a terminal: no prompt
    assert_one_line_error(unconfirmed, 2, "needs a confirmation", "--yes", "latest, v1")
    dry = run_cli("delete", "--dry-run", "--json", target)
    assert dry.code == 0, dry.err
    assert dry.json()["deleted"] is False
    assert dry.json()["tags"] == ["latest", "v1"]
    assert dry.json()["childrenKept"] == [str(i.digest) for i in images]
    assert repo.head_manifest(str(index.digest)) is not None
    done = run_cli("delete", "--yes", "--json", target)
    assert done.code == 0, done.err
    assert done.json()["deleted"] is True
    assert repo.head_manifest(str(index.digest)) is None
    assert repo.head_manifest("v1") is None and repo.head_manifest("latest") is None
    for image in images:  # the children stay: no cascade
        assert repo.head_manifest(str(image.digest)) is not None


def test_delete_in_a_layout(ctx: Context, registry: Any, tmp_path: Path) -> None:
    ref = _repo(registry)
    pushed = push_image(ctx.repository(ref), "linux/amd64", tag="v1")
    out = tmp_path / "out"
    assert run_cli("copy", "-q", f"{ref}:v1", f"oci:{out}:v1").code == 0
    assert run_cli("copy", "-q", f"{ref}:v1", f"oci:{out}:v2").code == 0
    cli = run_cli("delete", f"oci:{out}:v1")
    assert cli.code == 0, cli.err
    assert f"deleted the tag v1 of oci:{out}" in cli.err
    assert run_cli("tags", f"oci:{out}").out.split() == ["v2"]
    assert run_cli("delete", "--yes", f"oci:{out}@{pushed.digest}").code == 0
    assert run_cli("tags", f"oci:{out}").out.split() == []
    assert_one_line_error(run_cli("delete", f"oci:{out}"), 2, "name a tag or a digest")


# -- login / logout ------------------------------------------------------------------------------


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "HOME": str(tmp_path / "home"),
        "POLYARCH_USERNAME": "",
        "POLYARCH_PASSWORD": "",
        **extra,
    }


def _config(tmp_path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((tmp_path / "docker" / "config.json").read_text())
    return doc


def _no_secret(result: Result, secret: str) -> None:
    assert secret not in result.out and secret not in result.err


def _push_as(registry: Any, user: str, password: str) -> Reference:
    ref = Reference.parse(f"{registry.host}/t{uuid.uuid4().hex[:8]}/app")
    with Context(TransportSettings(username=user, password=password)) as ctx:
        push_image(ctx.repository(ref), "linux/amd64", tag="v1")
    return ref


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_login_writes_docker_config_and_is_used(
    auth: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    reg = request.getfixturevalue("basic_registry" if auth == "basic" else "token_registry")
    ref = _push_as(reg, reg.username, reg.password)
    env = _env(tmp_path)
    before = run_cli("tags", ref.name, env=env)
    assert before.code == 1
    wrong = run_cli(
        "login", reg.host, "-u", reg.username, "--password-stdin", env=env, stdin="nope\n"
    )
    assert wrong.code == 1, wrong.err
    assert not (tmp_path / "docker" / "config.json").exists()  # nothing stored
    cli = run_cli(
        "login",
        "--json",
        reg.host,
        "-u",
        reg.username,
        "--password-stdin",
        env=env,
        stdin=reg.password + "\n",
    )
    assert cli.code == 0, cli.err
    _no_secret(cli, reg.password)
    assert cli.json()["configFile"] == str(tmp_path / "docker" / "config.json")
    assert cli.json()["credentialHelper"] is None
    path = tmp_path / "docker" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    expected = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    assert _config(tmp_path)["auths"] == {reg.host: {"auth": expected}}
    after = run_cli("tags", ref.name, env=env)  # no explicit credentials: from config.json
    assert after.code == 0, after.err
    assert after.out.split() == ["v1"]
    out = run_cli("logout", reg.host, env=env)
    assert out.code == 0, out.err
    assert _config(tmp_path)["auths"] == {}
    assert run_cli("tags", ref.name, env=env).code == 1


HELPER = """#!{python}
# A file-backed docker-credential-helpers store: store / get / erase / list.
import json, sys
path = {store!r}
try:
    with open(path) as f:
        data = json.load(f)
except FileNotFoundError:
    data = {{}}
action = sys.argv[1]
text = sys.stdin.read()
if action == "store":
    entry = json.loads(text)
    data[entry["ServerURL"]] = {{"Username": entry["Username"], "Secret": entry["Secret"]}}
elif action == "get":
    if text.strip() not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    entry = data[text.strip()]
    print(json.dumps({{"ServerURL": text.strip(), **entry}}))
elif action == "erase":
    if data.pop(text.strip(), None) is None:
        print("credentials not found in native keychain")
        sys.exit(1)
elif action == "list":
    print(json.dumps({{k: v["Username"] for k, v in data.items()}}))
with open(path, "w") as f:
    json.dump(data, f)
"""


def test_login_stores_through_the_credential_helper(basic_registry: Any, tmp_path: Path) -> None:
    reg = basic_registry
    ref = _push_as(reg, reg.username, reg.password)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = tmp_path / "store.json"
    helper = bindir / "docker-credential-filestore"
    helper.write_text(HELPER.format(python=sys.executable, store=str(store)))
    helper.chmod(0o755)
    (tmp_path / "docker").mkdir()
    other = {"credsStore": "filestore", "auths": {"other.example": {}}, "psFormat": "table"}
    (tmp_path / "docker" / "config.json").write_text(json.dumps(other))
    env = _env(tmp_path, PATH=f"{bindir}:/usr/bin:/bin")
    cli = run_cli(
        "login", reg.host, "-u", reg.username, "--password-stdin", env=env, stdin=reg.password
    )
    assert cli.code == 0, cli.err
    assert "docker-credential-filestore" in cli.err
    _no_secret(cli, reg.password)
    config = _config(tmp_path)
    assert config["auths"] == {"other.example": {}, reg.host: {}}  # no secret in the file
    assert config["psFormat"] == "table" and config["credsStore"] == "filestore"
    assert reg.password not in (tmp_path / "docker" / "config.json").read_text()
    assert json.loads(store.read_text()) == {
        reg.host: {"Username": reg.username, "Secret": reg.password}
    }
    assert run_cli("tags", ref.name, env=env).out.split() == ["v1"]  # read back via `get`
    out = run_cli("logout", "--json", reg.host, env=env)
    assert out.code == 0, out.err
    assert out.json()["changed"] is True
    assert json.loads(store.read_text()) == {}
    assert _config(tmp_path)["auths"] == {"other.example": {}}
    again = run_cli("logout", reg.host, env=env)
    assert again.code == 0 and "not logged in" in again.err


def test_login_usage_errors(basic_registry: Any, tmp_path: Path) -> None:
    env = _env(tmp_path)
    no_user = run_cli("login", basic_registry.host, "--password-stdin", env=env, stdin="x")
    assert_one_line_error(no_user, 2, "-u USER")
    no_password = run_cli("login", basic_registry.host, "-u", "me", env=env, stdin="")
    assert_one_line_error(no_password, 2, "--password-stdin")
    broken = tmp_path / "docker" / "config.json"
    broken.parent.mkdir()
    broken.write_bytes(b"\xff\xfe not json")
    bad = run_cli(
        "login",
        basic_registry.host,
        "-u",
        basic_registry.username,
        "--password-stdin",
        env=env,
        stdin=basic_registry.password,
    )
    assert_one_line_error(bad, 2, str(broken), "not UTF-8")
    assert broken.read_bytes() == b"\xff\xfe not json"  # left as it was
