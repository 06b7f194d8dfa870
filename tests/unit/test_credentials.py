"""CredentialResolver: lookup order, docker/podman config formats, credential helpers.

Credential helpers are real executables (small Python scripts written into a temporary
directory put on ``PATH``), run through the real :func:`subprocess.run`.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from polyarch.errors import CredentialError, InvalidInput
from polyarch.transport.auth.credentials import (
    DOCKER_HUB_KEY,
    Credential,
    CredentialResolver,
    canonical_registry,
    normalize_key,
)
from polyarch.transport.settings import TransportSettings

CANARY = "canary-s3cret-PASSWORD-7f3a"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Home:
    """A fake home with a docker config, podman files and a bin dir on PATH."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.bin = root / "bin"
        self.bin.mkdir()
        self.environ: dict[str, str] = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"
        }

    def docker_config(self, config: Mapping[str, Any], directory: Path | None = None) -> Path:
        target = (directory or self.home / ".docker") / "config.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(config))
        return target

    def podman_config(self, config: Mapping[str, Any], path: Path | None = None) -> Path:
        target = path or self.home / ".config" / "containers" / "auth.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(config))
        return target

    def helper(self, name: str, *, stdout: str = "", stderr: str = "", code: int = 0) -> Path:
        """Write ``docker-credential-<name>``: logs its argv and stdin, then answers."""
        log = self.root / f"{name}.log"
        script = self.bin / f"docker-credential-{name}"
        script.write_text(
            f"#!{sys.executable}\n"
            "import json, sys\n"
            f"with open({str(log)!r}, 'a') as f:\n"
            "    f.write(json.dumps({'argv': sys.argv[1:], 'stdin': sys.stdin.read()}) + '\\n')\n"
            f"sys.stdout.write({stdout!r})\n"
            f"sys.stderr.write({stderr!r})\n"
            f"sys.exit({code})\n"
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return log

    def calls(self, name: str) -> list[dict[str, Any]]:
        log = self.root / f"{name}.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def resolver(
        self, settings: TransportSettings | None = None, **kwargs: Any
    ) -> CredentialResolver:
        return CredentialResolver(settings, environ=self.environ, home=self.home, **kwargs)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    texts = [str(exc), repr(exc), getattr(exc, "hint", None) or ""]
    if hasattr(exc, "one_line"):
        texts.append(exc.one_line())
    for secret in secrets:
        for text in texts:
            assert secret not in text


# -- basics ---------------------------------------------------------------------------


def test_credential_repr_and_str_hide_secrets() -> None:
    credential = Credential("alice", CANARY, CANARY + "-token")
    for text in (repr(credential), str(credential), f"{credential}", f"{credential!r}"):
        assert CANARY not in text
        assert "alice" in text


def test_settings_repr_hides_password() -> None:
    settings = TransportSettings(username="alice", password=CANARY)
    assert CANARY not in repr(settings)
    assert CANARY not in str(settings)


def test_settings_from_env_and_overrides() -> None:
    env = {"POLYARCH_USERNAME": "env-user", "POLYARCH_PASSWORD": "env-pass"}
    settings = TransportSettings.from_env(env)
    assert (settings.username, settings.password) == ("env-user", "env-pass")
    flagged = TransportSettings.from_env(env, username="flag-user", password=None, timeout=5.0)
    assert (flagged.username, flagged.password, flagged.timeout) == ("flag-user", "env-pass", 5.0)
    insecure = TransportSettings.from_env({}, insecure=["Local:5000"])
    assert insecure.insecure == frozenset({"local:5000"})
    assert insecure.is_insecure("local:5000")
    assert not insecure.is_insecure("local:5001")
    assert TransportSettings(insecure=frozenset({"local"})).is_insecure("local:5001")
    with pytest.raises(TypeError):
        TransportSettings.from_env({}, nonsense=1)


def test_user_agent_names_polyarch() -> None:
    assert TransportSettings().user_agent.startswith("polyarch/")


@pytest.mark.parametrize(
    ("key", "normalized"),
    [
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("http://host:5000/v1/", "host:5000"),
        ("https://host:5000", "host:5000"),
        ("Host:5000", "host:5000"),
        ("quay.io/org/repo", "quay.io"),
    ],
)
def test_normalize_key(key: str, normalized: str) -> None:
    assert normalize_key(key) == normalized


@pytest.mark.parametrize(
    "name", ["docker.io", "index.docker.io", "registry-1.docker.io", DOCKER_HUB_KEY]
)
def test_docker_hub_aliases(name: str) -> None:
    assert canonical_registry(name) == "docker.io"


# -- order ----------------------------------------------------------------------------


def test_explicit_settings_win_over_everything(home: Home) -> None:
    home.docker_config({"auths": {"r.example": {"auth": b64("file-user:file-pass")}}})
    resolver = home.resolver(TransportSettings(username="flag", password="flag-pass"))
    assert resolver.resolve("r.example") == Credential("flag", "flag-pass")
    assert resolver.resolve("other.example") == Credential("flag", "flag-pass")


def test_anonymous_when_nothing_is_configured(home: Home) -> None:
    assert home.resolver().resolve("r.example") is None


def test_docker_config_auth_field(home: Home) -> None:
    home.docker_config({"auths": {"r.example:5000": {"auth": b64("alice:pa:ss")}}})
    assert home.resolver().resolve("r.example:5000") == Credential("alice", "pa:ss")


def test_docker_config_username_password_and_identity_token(home: Home) -> None:
    home.docker_config(
        {
            "auths": {
                "a.example": {"username": "bob", "password": "pw"},
                "b.example": {"auth": b64("carol:"), "identitytoken": "refresh-me"},
            }
        }
    )
    resolver = home.resolver()
    assert resolver.resolve("a.example") == Credential("bob", "pw")
    assert resolver.resolve("b.example") == Credential("carol", None, "refresh-me")


def test_docker_config_dir_from_env(home: Home, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    home.docker_config({"auths": {"r.example": {"auth": b64("env:dir")}}}, elsewhere)
    home.docker_config({"auths": {"r.example": {"auth": b64("home:dir")}}})
    home.environ["DOCKER_CONFIG"] = str(elsewhere)
    assert home.resolver().resolve("r.example") == Credential("env", "dir")


@pytest.mark.parametrize("registry", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_docker_hub_is_looked_up_under_the_legacy_key(home: Home, registry: str) -> None:
    home.docker_config({"auths": {DOCKER_HUB_KEY: {"auth": b64("hubuser:hubpass")}}})
    assert home.resolver().resolve(registry) == Credential("hubuser", "hubpass")


def test_docker_hub_exact_key_wins_over_alias(home: Home) -> None:
    home.docker_config(
        {
            "auths": {
                "docker.io": {"auth": b64("alias:1")},
                DOCKER_HUB_KEY: {"auth": b64("legacy:2")},
            }
        }
    )
    assert home.resolver().resolve("docker.io") == Credential("legacy", "2")


@pytest.mark.parametrize(
    "key", ["https://r.example:5000", "http://r.example:5000/v1/", "R.example:5000"]
)
def test_config_keys_are_normalized(home: Home, key: str) -> None:
    home.docker_config({"auths": {key: {"auth": b64("u:p")}}})
    assert home.resolver().resolve("r.example:5000") == Credential("u", "p")
    assert home.resolver().resolve("r.example:5001") is None


def test_empty_auth_entry_is_skipped(home: Home) -> None:
    home.docker_config({"auths": {"r.example": {}}})
    assert home.resolver().resolve("r.example") is None


def test_broken_auth_entry_is_an_error_without_its_content(home: Home) -> None:
    home.docker_config({"auths": {"r.example": {"auth": b64(CANARY)}}})  # no colon
    with pytest.raises(CredentialError) as info:
        home.resolver().resolve("r.example")
    assert "r.example" in str(info.value)
    assert_no_secret(info.value, CANARY)


def test_broken_json_is_an_error_without_its_content(home: Home) -> None:
    path = home.home / ".docker" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"auths": {"r": {"auth": "' + CANARY + '"}')
    with pytest.raises(InvalidInput) as info:  # a bad input file: exit 2 (issue 13 #4)
        home.resolver().resolve("r")
    assert "config.json" in str(info.value)
    assert_no_secret(info.value, CANARY)


# -- podman ---------------------------------------------------------------------------


def test_podman_auth_json_in_home_config(home: Home) -> None:
    home.podman_config({"auths": {"quay.io": {"auth": b64("pod:man")}}})
    assert home.resolver().resolve("quay.io") == Credential("pod", "man")


def test_podman_xdg_runtime_dir_before_home(home: Home, tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    home.podman_config(
        {"auths": {"quay.io": {"auth": b64("runtime:1")}}}, runtime / "containers" / "auth.json"
    )
    home.podman_config({"auths": {"quay.io": {"auth": b64("config:2")}}})
    home.environ["XDG_RUNTIME_DIR"] = str(runtime)
    assert home.resolver().resolve("quay.io") == Credential("runtime", "1")
    home.environ["XDG_RUNTIME_DIR"] = str(tmp_path / "empty")
    assert home.resolver().resolve("quay.io") == Credential("config", "2")


def test_registry_auth_file_overrides_podman_defaults(home: Home, tmp_path: Path) -> None:
    explicit = home.podman_config(
        {"auths": {"quay.io": {"auth": b64("explicit:1")}}}, tmp_path / "a.json"
    )
    home.podman_config({"auths": {"quay.io": {"auth": b64("config:2")}}})
    home.environ["REGISTRY_AUTH_FILE"] = str(explicit)
    assert home.resolver().resolve("quay.io") == Credential("explicit", "1")


def test_docker_config_comes_before_podman(home: Home) -> None:
    home.docker_config({"auths": {"quay.io": {"auth": b64("docker:1")}}})
    home.podman_config({"auths": {"quay.io": {"auth": b64("podman:2")}}})
    assert home.resolver().resolve("quay.io") == Credential("docker", "1")
    home.podman_config({"auths": {"other.io": {"auth": b64("podman:3")}}})
    assert home.resolver().resolve("other.io") == Credential("podman", "3")


# -- credential helpers ---------------------------------------------------------------


def answer(username: str, secret: str, server: str = "") -> str:
    return json.dumps({"ServerURL": server, "Username": username, "Secret": secret})


def test_cred_helper_is_run_with_the_host_on_stdin(home: Home) -> None:
    home.helper("fake", stdout=answer("helperuser", "helperpass"))
    home.docker_config(
        {
            "credHelpers": {"r.example:5000": "fake"},
            "auths": {"r.example:5000": {"auth": b64("x:y")}},
        }
    )
    assert home.resolver().resolve("r.example:5000") == Credential("helperuser", "helperpass")
    assert home.calls("fake") == [{"argv": ["get"], "stdin": "r.example:5000"}]


def test_cred_helper_for_docker_hub_gets_the_legacy_url(home: Home) -> None:
    home.helper("hub", stdout=answer("hubuser", "hubpass"))
    home.docker_config({"credHelpers": {"docker.io": "hub"}})
    assert home.resolver().resolve("registry-1.docker.io") == Credential("hubuser", "hubpass")
    assert home.calls("hub")[0]["stdin"] == DOCKER_HUB_KEY


def test_creds_store_is_used_without_a_specific_helper(home: Home) -> None:
    home.helper("store", stdout=answer("storeuser", "storepass"))
    home.docker_config({"credsStore": "store"})
    assert home.resolver().resolve("r.example") == Credential("storeuser", "storepass")


def test_cred_helper_wins_over_creds_store(home: Home) -> None:
    home.helper("specific", stdout=answer("specific", "1"))
    home.helper("store", stdout=answer("store", "2"))
    home.docker_config({"credsStore": "store", "credHelpers": {"r.example": "specific"}})
    assert home.resolver().resolve("r.example") == Credential("specific", "1")
    assert home.calls("store") == []


def test_creds_store_not_found_falls_through_to_auths(home: Home) -> None:
    home.helper("store", stdout="credentials not found in native keychain\n", code=1)
    home.docker_config({"credsStore": "store", "auths": {"r.example": {"auth": b64("file:pass")}}})
    assert home.resolver().resolve("r.example") == Credential("file", "pass")
    assert len(home.calls("store")) == 1


def test_creds_store_not_found_and_nothing_else_is_anonymous(home: Home) -> None:
    home.helper("store", stderr="Credentials not found", code=1)
    home.docker_config({"credsStore": "store", "auths": {"r.example": {}}})
    assert home.resolver().resolve("r.example") is None


def test_helper_token_username_means_identity_token(home: Home) -> None:
    home.helper("tok", stdout=answer("<token>", "refresh-token-value"))
    home.docker_config({"credsStore": "tok"})
    assert home.resolver().resolve("r.example") == Credential(None, None, "refresh-token-value")


def test_missing_helper_is_an_error_naming_it(home: Home) -> None:
    home.docker_config({"credHelpers": {"r.example": "nonexistent-xyz"}})
    with pytest.raises(CredentialError) as info:
        home.resolver().resolve("r.example")
    message = str(info.value)
    assert "docker-credential-nonexistent-xyz" in message
    assert "r.example" in message


def test_failing_helper_error_never_repeats_its_output(home: Home) -> None:
    home.helper("leaky", stdout=f"oops {CANARY}", stderr=f"fatal: {CANARY}", code=3)
    home.docker_config({"credsStore": "leaky"})
    with pytest.raises(CredentialError) as info:
        home.resolver().resolve("r.example")
    assert "docker-credential-leaky" in str(info.value)
    assert "r.example" in str(info.value)
    assert_no_secret(info.value, CANARY)
    assert info.value.__cause__ is None


def test_helper_with_bad_json_error_never_repeats_its_output(home: Home) -> None:
    home.helper("badjson", stdout='{"Username": "u", "Secret": "' + CANARY + '"')
    home.docker_config({"credsStore": "badjson"})
    with pytest.raises(CredentialError) as info:
        home.resolver().resolve("r.example")
    assert "docker-credential-badjson" in str(info.value)
    assert_no_secret(info.value, CANARY)


def test_helper_timeout_is_an_error(home: Home) -> None:
    home.docker_config({"credsStore": "slow"})

    def run(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        assert kwargs["timeout"] == 30
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"], output=CANARY.encode())

    with pytest.raises(CredentialError) as info:
        home.resolver(run=run).resolve("r.example")
    assert "docker-credential-slow" in str(info.value)
    assert_no_secret(info.value, CANARY)


def test_results_are_cached_per_registry(home: Home) -> None:
    home.helper("counted", stdout=answer("u", "p"))
    home.docker_config({"credsStore": "counted"})
    resolver = home.resolver()
    for _ in range(3):
        assert resolver.resolve("r.example") == Credential("u", "p")
    assert len(home.calls("counted")) == 1
    resolver.forget("r.example")
    resolver.resolve("r.example")
    assert len(home.calls("counted")) == 2
