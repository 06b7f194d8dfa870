"""Find the credentials for a registry, the way docker and podman users expect.

:class:`CredentialResolver` looks in this order and stops at the first hit:

1. **Explicit credentials** from :class:`~polyarch.transport.settings.TransportSettings`
   (``--username``/``--password`` or ``POLYARCH_USERNAME``/``POLYARCH_PASSWORD``); they
   apply to every registry.
2. **Docker's** ``config.json`` in ``$DOCKER_CONFIG`` or ``~/.docker``:

   a. ``credHelpers[registry]``: run ``docker-credential-<name> get``;
   b. else ``credsStore``: the same protocol with the default store;
   c. else (or when the helper of a/b answers "credentials not found")
      ``auths[registry]``: ``auth`` (base64 ``user:pass``), ``username``/``password``,
      ``identitytoken``.
3. **Podman's** ``auth.json``: ``$REGISTRY_AUTH_FILE`` if set, else
   ``$XDG_RUNTIME_DIR/containers/auth.json`` then ``~/.config/containers/auth.json``
   (the same ``auths`` format).
4. **Anonymous**: ``None``.

Docker Hub is one registry under many names (``docker.io``, ``index.docker.io``,
``registry-1.docker.io``) and docker stores it under ``https://index.docker.io/v1/``;
config keys are compared after stripping the scheme and the path
(``https://host:5000/v1/`` matches ``host:5000``), an exact key winning over a
normalized one.

A credential helper's output may contain the secret, so errors name the helper and the
registry but never repeat what the helper printed. Results (including "nothing found")
are cached per registry for the resolver's lifetime: helpers can be slow or prompt.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyarch.errors import CredentialError
from polyarch.files import UnreadableFile, parse_json, read_text
from polyarch.pipes import OutputTooLarge, read_output
from polyarch.transport.settings import TransportSettings

if TYPE_CHECKING:
    # Imported where a helper is run: most runs use no credential helper.
    import subprocess

__all__ = [
    "DOCKER_HUB_KEY",
    "Credential",
    "CredentialResolver",
    "canonical_registry",
    "normalize_key",
]

#: The key docker uses for Docker Hub in config files and credential helpers.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_HELPER_TIMEOUT = 30.0
#: Docker and podman auth files are small; anything larger is not one (or is broken).
MAX_AUTH_FILE_SIZE = 16 * 1024 * 1024
#: A credential helper answers with one small JSON object.
_MAX_HELPER_OUTPUT = 1024 * 1024
# How long a helper's output is read after it exited while something it started keeps
# that output open.
_HELPER_GRACE = 0.3
_NOT_FOUND = "credentials not found"

Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


@dataclass(frozen=True)
class Credential:
    """Credentials for one registry: a username/password pair, or an identity (refresh) token.

    ``repr`` and ``str`` show the username and which secrets are set, never the secrets.

    >>> Credential("me", "s3cret")
    Credential(username='me', password=***, identity_token=None)
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)

    @property
    def has_password(self) -> bool:
        """Whether a username and password are both present (usable for Basic auth)."""
        return bool(self.username) and self.password is not None

    def __repr__(self) -> str:
        password = "***" if self.password else None
        token = "***" if self.identity_token else None
        return (
            f"Credential(username={self.username!r}, password={password}, identity_token={token})"
        )

    __str__ = __repr__


def normalize_key(key: str) -> str:
    """A config-file key reduced to ``host[:port]``: scheme and path stripped, lowercased.

    >>> normalize_key("https://index.docker.io/v1/"), normalize_key("http://Host:5000/v2")
    ('index.docker.io', 'host:5000')
    """
    key = key.strip()
    if "://" in key:
        key = key.split("://", 1)[1]
    return key.split("/", 1)[0].lower()


def canonical_registry(registry: str) -> str:
    """``docker.io`` for any name of Docker Hub, else the lowercased ``host[:port]``.

    >>> canonical_registry("registry-1.docker.io"), canonical_registry("Example.com:443")
    ('docker.io', 'example.com:443')
    """
    host = normalize_key(registry)
    return "docker.io" if host in _DOCKER_HUB_NAMES else host


def _server_url(registry: str) -> str:
    """The server URL docker passes to credential helpers for ``registry``."""
    if canonical_registry(registry) == "docker.io":
        return DOCKER_HUB_KEY
    return normalize_key(registry)


def _matching(entries: Mapping[str, Any], registry: str) -> Iterator[tuple[str, Any]]:
    """The entries whose key names ``registry``: exact keys first, then normalized matches."""
    wanted = canonical_registry(registry)
    exact = {DOCKER_HUB_KEY} if wanted == "docker.io" else {registry, wanted}
    for key in sorted(entries, key=lambda k: (k not in exact, k)):
        if canonical_registry(key) == wanted:
            yield key, entries[key]


def run_helper(
    args: list[str],
    *,
    input: bytes,
    timeout: float,
    env: Mapping[str, str] | None = None,
    **_: Any,
) -> subprocess.CompletedProcess[bytes]:
    """Run a credential helper like :func:`subprocess.run` with captured output.

    Its output is read as it comes, at most 1 MiB of each stream: a helper printing more
    is stopped and :class:`~polyarch.pipes.OutputTooLarge` raised (an answer is one small
    JSON object). A helper may start a process that inherits its stdout (a daemon, an
    agent) and keeps it open after the helper itself exited with its answer: waiting for
    the end of its output would wait for that process. Once the helper has exited, what
    it wrote within a short grace period is its answer. Raises
    :class:`subprocess.TimeoutExpired` when the helper itself runs longer than
    ``timeout`` seconds (it is killed).
    """
    import subprocess

    with subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
    ) as proc:  # closes the pipes and reaps the helper, whichever way this ends
        out, err = read_output(
            proc,
            input=input,
            limit=_MAX_HELPER_OUTPUT,
            timeout=timeout,
            stop_over_limit=True,
            grace=_HELPER_GRACE,
        )
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


class CredentialResolver:
    """Resolve the :class:`Credential` for a registry; see the module docstring for the order.

    ``environ``, ``home`` and ``run`` are injectable for tests (``run`` has the signature of
    :func:`subprocess.run`).

    >>> CredentialResolver(TransportSettings(username="u", password="p")).resolve("ghcr.io")
    Credential(username='u', password=***, identity_token=None)
    """

    def __init__(
        self,
        settings: TransportSettings | None = None,
        *,
        environ: Mapping[str, str] = os.environ,
        home: Path | None = None,
        run: Runner | None = None,
    ) -> None:
        self._settings = settings if settings is not None else TransportSettings()
        self._environ = environ
        self._home = home if home is not None else Path.home()
        self._run = run if run is not None else run_helper
        self._cache: dict[str, Credential | None] = {}

    def resolve(self, registry: str) -> Credential | None:
        """The credentials for ``registry`` (``host[:port]`` or ``docker.io``), or ``None``."""
        key = canonical_registry(registry)
        if key in self._cache:
            return self._cache[key]
        credential = self._lookup(registry)
        self._cache[key] = credential
        return credential

    def known_secrets(self) -> list[str]:
        """The passwords and identity tokens resolved so far (no new lookup), to mask them."""
        return [
            secret
            for credential in list(self._cache.values())
            if credential is not None
            for secret in (credential.password, credential.identity_token)
            if secret
        ]

    def forget(self, registry: str | None = None) -> None:
        """Drop cached results (for ``registry``, or all), e.g. after a login."""
        if registry is None:
            self._cache.clear()
        else:
            self._cache.pop(canonical_registry(registry), None)

    # -- sources ------------------------------------------------------------------------

    def _lookup(self, registry: str) -> Credential | None:
        settings = self._settings
        if settings.username is not None or settings.password is not None:
            return Credential(settings.username, settings.password)
        docker_dir = self._environ.get("DOCKER_CONFIG") or str(self._home / ".docker")
        docker_config = Path(docker_dir) / "config.json"
        found = self._from_docker_config(docker_config, registry)
        if found is not None:
            return found
        for path in self._podman_files():
            config = _load_json(path, "podman auth file")
            if config is not None:
                found = _from_auths(config, path, registry)
                if found is not None:
                    return found
        return None

    def _podman_files(self) -> list[Path]:
        explicit = self._environ.get("REGISTRY_AUTH_FILE")
        if explicit:
            return [Path(explicit)]
        paths: list[Path] = []
        runtime = self._environ.get("XDG_RUNTIME_DIR")
        if runtime:
            paths.append(Path(runtime) / "containers" / "auth.json")
        paths.append(self._home / ".config" / "containers" / "auth.json")
        return paths

    def _from_docker_config(self, path: Path, registry: str) -> Credential | None:
        config = _load_json(path, "docker config")
        if config is None:
            return None
        helpers = config.get("credHelpers")
        helper: str | None = None
        if isinstance(helpers, dict):
            for _key, name in _matching(helpers, registry):
                if isinstance(name, str) and name:
                    helper = name
                    break
        if helper is None:
            store = config.get("credsStore")
            if isinstance(store, str) and store:
                helper = store
        if helper is not None:
            found = self._from_helper(helper, registry)
            if found is not None:
                return found
        return _from_auths(config, path, registry)

    def _from_helper(self, name: str, registry: str) -> Credential | None:
        """Run ``docker-credential-<name> get``; ``None`` when it has nothing for ``registry``."""
        program = f"docker-credential-{name}"
        import subprocess

        where = f"credential helper {program} for {registry}"
        try:
            completed = self._run(
                [program, "get"],
                input=_server_url(registry).encode(),
                capture_output=True,
                timeout=_HELPER_TIMEOUT,
                env=dict(self._environ),
                check=False,
            )
        except FileNotFoundError:
            raise CredentialError(
                f"{where} is not installed (not found on PATH)",
                hint=f"install {program}, or remove it from the docker config",
            ) from None
        except subprocess.TimeoutExpired:
            raise CredentialError(
                f"{where} was still running after {_HELPER_TIMEOUT:g} s and was stopped"
            ) from None
        except OutputTooLarge:
            raise CredentialError(
                f"{where} printed more than 1 MiB, not a credential answer; it was stopped"
            ) from None
        except OSError as exc:
            raise CredentialError(f"{where} could not be run: {exc.strerror or 'error'}") from None
        output = (completed.stdout or b"") + b"\n" + (completed.stderr or b"")
        if completed.returncode != 0:
            if _NOT_FOUND in output.decode("utf-8", "replace").lower():
                return None
            raise CredentialError(
                f"{where} failed (exit status {completed.returncode})",
                hint=f"run `echo {_server_url(registry)} | {program} get` to see why",
            )
        if len(completed.stdout or b"") > _MAX_HELPER_OUTPUT:
            raise CredentialError(f"{where} printed more than 1 MiB, not a credential answer")
        try:
            answer = json.loads(completed.stdout or b"")
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            answer = None
        if not isinstance(answer, dict):
            raise CredentialError(f"{where} printed something that is not a JSON object")
        username = answer.get("Username")
        secret = answer.get("Secret")
        if not isinstance(username, str | None) or not isinstance(secret, str | None):
            raise CredentialError(f"{where} printed Username/Secret that are not strings")
        if not secret:
            return None
        if username == "<token>":
            return Credential(identity_token=secret)
        return Credential(username or None, secret)


def _load_json(path: Path, what: str) -> dict[str, Any] | None:
    """A config file as a dict, ``None`` if absent or empty.

    Read through :mod:`polyarch.files`: a regular file only, at most
    ``MAX_AUTH_FILE_SIZE``, strict UTF-8; a broken file is an
    :class:`~polyarch.errors.InvalidInput` naming it (exit 2), never showing its content.
    """
    try:
        text = read_text(path, what=what, limit=MAX_AUTH_FILE_SIZE)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CredentialError(f"cannot read {what} {path}: {exc.strerror or 'error'}") from None
    if not text.strip():
        return None
    data = parse_json(text, what=what, shown=str(path))
    if not isinstance(data, dict):
        raise UnreadableFile(f"{what} {path}: not a JSON object")
    return data


def _from_auths(config: Mapping[str, Any], path: Path, registry: str) -> Credential | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    for key, entry in _matching(auths, registry):
        if not isinstance(entry, dict):
            continue
        credential = _parse_entry(entry, path, key)
        if credential is not None:
            return credential
    return None


def _parse_entry(entry: Mapping[str, Any], path: Path, key: str) -> Credential | None:
    """One ``auths`` entry; ``None`` when it holds nothing usable (``{}`` next to a credsStore)."""
    username = entry.get("username") if isinstance(entry.get("username"), str) else None
    password = entry.get("password") if isinstance(entry.get("password"), str) else None
    token = entry.get("identitytoken") if isinstance(entry.get("identitytoken"), str) else None
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialError(
                f"{path}: the auth entry for {key} is not base64 of user:password"
            ) from None
        user, sep, secret = decoded.partition(":")
        if not sep:
            raise CredentialError(f"{path}: the auth entry for {key} is not user:password")
        username, password = user or username, secret
    if token:
        return Credential(username or None, password or None, token)
    if username and password is not None:
        return Credential(username, password)
    return None
