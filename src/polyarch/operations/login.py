"""``login`` / ``logout``: credentials in Docker's ``config.json``, as ``docker login`` keeps them.

So a machine without the Docker CLI can authenticate, and everything that reads Docker's
config (docker, buildx, crane, regctl, skopeo, polyarch) sees the result:

* the file is ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``;
* the key is ``host[:port]`` as given, Docker Hub's ``https://index.docker.io/v1/``;
* when ``credHelpers`` names a helper for the registry, or else ``credsStore`` names a
  default store, the secret goes to ``docker-credential-NAME store`` (the
  docker-credential-helpers protocol: ``{"ServerURL","Username","Secret"}`` on stdin)
  and ``auths`` gets an empty entry for the registry, as the Docker CLI writes it;
  otherwise ``auths[key] = {"auth": base64("user:password")}``;
* ``logout`` runs ``docker-credential-NAME erase`` (server URL on stdin) and removes
  every ``auths`` key naming the registry;
* the rest of the file is kept as it was (other keys, their order); the file is
  rewritten atomically (temporary file, ``fsync``, rename) with mode ``0600``, its
  directory created ``0700`` if missing. Two logins at once: the last rename wins.

``login`` first checks the credentials against the registry (``GET /v2/``, with the
token flow when the registry asks for Bearer auth), as ``docker login`` does, and stores
nothing when they are refused. Secrets never appear in messages; a helper's output is
never repeated.

>>> from polyarch import Context, TransportSettings
>>> from polyarch.operations.login import login
>>> settings = TransportSettings(username="ci", password="s3cret")
>>> with Context(settings) as ctx:                            # doctest: +SKIP
...     print(login("registry.example.com", ctx).stored_in)
/home/ci/.docker/config.json
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyarch.content.context import Context, borrowed
from polyarch.errors import CredentialError, InvalidInput
from polyarch.files import UnreadableFile, os_failure, parse_json, read_text
from polyarch.pipes import OutputTooLarge
from polyarch.transport.auth.credentials import (
    DOCKER_HUB_KEY,
    MAX_AUTH_FILE_SIZE,
    canonical_registry,
    normalize_key,
    run_helper,
)

__all__ = ["LOGIN_SCHEMA", "LoginResult", "docker_config_path", "login", "logout"]

#: Version tag of the ``--json`` schema of login and logout.
LOGIN_SCHEMA = "polyarch.login/v1"
_HELPER_TIMEOUT = 30.0

Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


@dataclass(frozen=True, slots=True)
class LoginResult:
    """Where credentials for ``registry`` were stored (login) or removed from (logout)."""

    action: str  # "login" or "logout"
    registry: str
    #: The key used in config.json and passed to a helper as ServerURL.
    server_url: str
    username: str | None
    config_path: Path
    #: ``docker-credential-NAME`` when a helper holds the secret, else None (config.json).
    helper: str | None
    #: For logout: whether anything was there to remove.
    changed: bool = True

    @property
    def stored_in(self) -> str:
        """The helper's program name, or the config file's path."""
        return f"docker-credential-{self.helper}" if self.helper else str(self.config_path)

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` schema (documented in docs/json.md)."""
        return {
            "schema": LOGIN_SCHEMA,
            "action": self.action,
            "registry": self.registry,
            "serverURL": self.server_url,
            "username": self.username,
            "configFile": str(self.config_path),
            "credentialHelper": f"docker-credential-{self.helper}" if self.helper else None,
            "changed": self.changed,
        }


def docker_config_path(environ: Mapping[str, str] = os.environ, home: Path | None = None) -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json`` (Docker's rule)."""
    directory = environ.get("DOCKER_CONFIG") or str((home or Path.home()) / ".docker")
    return Path(directory) / "config.json"


def _registry(registry: str) -> tuple[str, str]:
    """The host to talk to and the config key for ``registry`` (``host[:port]`` or a URL)."""
    host = normalize_key(registry)
    if not host or any(c.isspace() for c in host) or "@" in host:
        raise InvalidInput(f"invalid registry {registry!r}", hint="write HOST or HOST:PORT")
    if canonical_registry(host) == "docker.io":
        return "docker.io", DOCKER_HUB_KEY
    return host, host


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = read_text(path, what="docker config", limit=MAX_AUTH_FILE_SIZE)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CredentialError(f"cannot read docker config {path}: {exc.strerror}") from None
    if not text.strip():
        return {}
    data = parse_json(text, what="docker config", shown=str(path))
    if not isinstance(data, dict):
        raise UnreadableFile(f"docker config {path}: not a JSON object")
    return data


def _write_config(path: Path, config: Mapping[str, Any]) -> None:
    """Rewrite ``path`` atomically, mode 0600 (it may hold secrets).

    An OS failure (a full disk, a read-only file system) is a
    :class:`~polyarch.errors.StorageError` naming ``path``; no temporary file is left.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=path.parent)
    except OSError as exc:
        raise os_failure(exc, f"docker config {path}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(config, file, indent="\t")
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException as exc:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise os_failure(exc, f"docker config {path}") from None
        raise


def _helper_for(config: Mapping[str, Any], host: str) -> str | None:
    """The helper config.json names for ``host``: ``credHelpers`` first, then ``credsStore``."""
    helpers = config.get("credHelpers")
    if isinstance(helpers, Mapping):
        wanted = canonical_registry(host)
        for key, name in helpers.items():
            if canonical_registry(str(key)) == wanted and isinstance(name, str) and name:
                return name
    store = config.get("credsStore")
    return store if isinstance(store, str) and store else None


def _run_helper(
    run: Runner, name: str, action: str, payload: bytes, registry: str, environ: Mapping[str, str]
) -> subprocess.CompletedProcess[bytes]:
    program = f"docker-credential-{name}"
    where = f"credential helper {program} ({action} for {registry})"
    try:
        completed = run(
            [program, action],
            input=payload,
            capture_output=True,
            timeout=_HELPER_TIMEOUT,
            env=dict(environ),
            check=False,
        )
    except FileNotFoundError:
        raise CredentialError(
            f"{where}: not installed (not found on PATH)",
            hint=f"install {program}, or remove it from the docker config",
        ) from None
    except subprocess.TimeoutExpired:
        raise CredentialError(f"{where} did not finish within {_HELPER_TIMEOUT:g} s") from None
    except OutputTooLarge:
        raise CredentialError(f"{where} printed more than 1 MiB; it was stopped") from None
    except OSError as exc:
        raise CredentialError(f"{where} could not be run: {exc.strerror or 'error'}") from None
    return completed


def _entries_for(auths: Mapping[str, Any], host: str) -> list[str]:
    wanted = canonical_registry(host)
    return [key for key in auths if canonical_registry(str(key)) == wanted]


def login(
    registry: str,
    context: Context | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    home: Path | None = None,
    run: Runner = run_helper,
    check: bool = True,
) -> LoginResult:
    """Check the context's explicit credentials against ``registry``, then store them.

    Parameters: ``registry`` (``host[:port]``, or a URL whose host is taken), ``context``
    (its settings hold the user name and password; TLS and ``insecure`` settings apply
    to the check), ``environ``/``home`` (where ``$DOCKER_CONFIG`` and ``~`` are looked
    up), ``run`` (runs the credential helper; :func:`subprocess.run`'s signature),
    ``check`` (False skips the check against the registry).

    Returns a :class:`LoginResult`. Raises :class:`InvalidInput` without a user name
    and password, :class:`~polyarch.errors.Unauthorized` when the registry refuses
    them (nothing stored), :class:`CredentialError` when a helper fails,
    :class:`~polyarch.files.UnreadableFile` for a broken config.json (left unchanged).
    """
    host, key = _registry(registry)
    with borrowed(context) as ctx:
        username, password = ctx.settings.username, ctx.settings.password
        if not username or password is None:
            raise InvalidInput(
                f"log in to {host}: a user name and a password are needed",
                hint="give the password on standard input",
            )
        if ":" in username:
            raise InvalidInput(f"log in to {host}: a user name cannot contain ':'")
        if check:
            ctx.client.request(
                "GET", host, "/v2/", scopes=[], expect=(200,), what=f"log in to {host}"
            )
    path = docker_config_path(environ, home)
    config = _read_config(path)
    helper = _helper_for(config, host)
    auths = config.get("auths")
    if not isinstance(auths, dict):
        auths = {}
    for old in _entries_for(auths, host):
        if old != key:
            del auths[old]  # one entry per registry, under Docker's key
    if helper is not None:
        payload = json.dumps({"ServerURL": key, "Username": username, "Secret": password})
        completed = _run_helper(run, helper, "store", payload.encode(), host, environ)
        if completed.returncode != 0:
            raise CredentialError(
                f"credential helper docker-credential-{helper} could not store the "
                f"credentials for {host} (exit status {completed.returncode})",
                hint="check that the helper works: docker-credential-NAME list",
            )
        auths[key] = {}
    else:
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        auths[key] = {"auth": token}
    config["auths"] = auths
    _write_config(path, config)
    return LoginResult("login", host, key, username, path, helper)


def logout(
    registry: str,
    *,
    environ: Mapping[str, str] = os.environ,
    home: Path | None = None,
    run: Runner = run_helper,
) -> LoginResult:
    """Remove the credentials for ``registry`` from Docker's config and its helper.

    Parameters as :func:`login`. Returns a :class:`LoginResult` whose ``changed`` says
    whether anything was removed (a helper answering "credentials not found" counts as
    nothing). Raises :class:`CredentialError` when a helper fails otherwise.
    """
    host, key = _registry(registry)
    path = docker_config_path(environ, home)
    config = _read_config(path)
    helper = _helper_for(config, host)
    changed = False
    if helper is not None:
        completed = _run_helper(run, helper, "erase", key.encode(), host, environ)
        output = (completed.stdout or b"") + (completed.stderr or b"")
        if completed.returncode == 0:
            changed = True
        elif b"credentials not found" not in output.lower():
            raise CredentialError(
                f"credential helper docker-credential-{helper} could not erase the "
                f"credentials for {host} (exit status {completed.returncode})"
            )
    auths = config.get("auths")
    if isinstance(auths, dict):
        keys = _entries_for(auths, host)
        for old in keys:
            del auths[old]
        if keys:
            changed = True
            _write_config(path, config)
    return LoginResult("logout", host, key, None, path, helper, changed)
