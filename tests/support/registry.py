"""Run a real CNCF distribution registry (``docker-registry serve``) for tests.

:class:`RegistryServer` writes a distribution configuration into a work
directory, starts ``docker-registry serve CONFIG`` on a free ``127.0.0.1``
port, polls ``GET /v2/`` until it answers and stops the process again.

Variants: no auth, htpasswd Basic auth (:class:`HtpasswdAuth`), token auth
(:class:`TokenAuth`, see :mod:`support.token_issuer`) and TLS (``tls=True``, a
generated CA plus a server certificate for ``127.0.0.1``; clients trust
:attr:`RegistryServer.ca_file`).
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import datetime as dt
import ipaddress
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .token_issuer import TokenIssuer

#: Where Debian's ``docker-registry`` package installs the binary.
DEFAULT_BINARY = "/usr/bin/docker-registry"

#: How long :meth:`RegistryServer.start` waits for ``GET /v2/`` to answer.
STARTUP_TIMEOUT = 15.0

#: How many ports are tried when the one picked is taken before the registry binds it.
BIND_ATTEMPTS = 5

_RUNNING: weakref.WeakSet[RegistryServer] = weakref.WeakSet()


def find_registry_binary() -> str | None:
    """Return the path of ``docker-registry`` (Debian's path, else ``PATH``), or ``None``."""
    if os.access(DEFAULT_BINARY, os.X_OK):
        return DEFAULT_BINARY
    return shutil.which("docker-registry")


def find_free_port() -> int:
    """Return a TCP port on ``127.0.0.1`` that was free a moment ago.

    The socket is closed before the registry binds the port, so another
    process may take it meanwhile; :meth:`RegistryServer.start` retries then.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RegistryStartError(RuntimeError):
    """The registry did not come up; the message ends with the tail of its log."""


@dataclass(frozen=True)
class HtpasswdAuth:
    """Basic auth through an htpasswd file (bcrypt, written by ``htpasswd -Bbn``)."""

    username: str
    password: str
    realm: str = "polyarch-test-registry"


@dataclass(frozen=True)
class TokenAuth:
    """distribution's ``auth.token`` settings (the issuer must already be running)."""

    realm: str
    service: str
    issuer: str
    rootcertbundle: Path


@dataclass(frozen=True)
class TLSMaterial:
    """Files of a generated test PKI: a CA and a server certificate signed by it."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def generate_tls_material(directory: Path, ip: str = "127.0.0.1") -> TLSMaterial:
    """Generate a CA and a server certificate for ``ip`` (IP SAN) in ``directory``.

    The CA and leaf carry the extensions strict verifiers insist on (basic
    constraints, key usage, SKI/AKI, serverAuth EKU) so both Go and OpenSSL
    (including Python's ``VERIFY_X509_STRICT``) accept them.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "polyarch test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    material = TLSMaterial(
        ca_file=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server-key.pem",
    )
    material.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    material.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    material.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return material


def write_htpasswd(path: Path, username: str, password: str) -> None:
    """Write a bcrypt htpasswd file with ``htpasswd -Bbn`` (apache2-utils)."""
    binary = shutil.which("htpasswd")
    if binary is None:
        raise FileNotFoundError("htpasswd not installed: apt-get install apache2-utils")
    result = subprocess.run(
        [binary, "-Bbn", username, password],
        check=True,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    path.write_text(result.stdout.strip() + "\n")


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


class RegistryServer:
    """A ``docker-registry serve`` process on ``127.0.0.1`` with filesystem storage.

    Use as a context manager or call :meth:`start` / :meth:`stop`. Without
    ``workdir`` a temporary directory is made and removed by :meth:`stop`;
    a given ``workdir`` is kept (pytest's ``tmp_path_factory`` keeps logs of
    recent runs for debugging). ``extra_config`` is deep-merged into the
    generated configuration.
    """

    def __init__(
        self,
        *,
        auth: HtpasswdAuth | TokenAuth | None = None,
        tls: bool = False,
        workdir: Path | None = None,
        binary: str | None = None,
        port: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.auth = auth
        self.tls = tls
        self.binary = binary or find_registry_binary() or DEFAULT_BINARY
        self.startup_timeout = startup_timeout
        self.extra_config = dict(extra_config or {})
        self._requested_port = port
        self._owns_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="registry-")) if workdir is None else workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_dir = self.workdir / "storage"
        self.log_path = self.workdir / "registry.log"
        self.config_path = self.workdir / "config.yml"
        self.tls_material: TLSMaterial | None = None
        self.htpasswd_path: Path | None = None
        self.port: int | None = None
        #: Seconds from spawning the process to the first answer of ``GET /v2/``.
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # -- addresses -----------------------------------------------------------------

    @property
    def scheme(self) -> str:
        """``https`` with TLS, else ``http``."""
        return "https" if self.tls else "http"

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` (the registry part of image references)."""
        if self.port is None:
            raise RuntimeError("registry is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with TLS)."""
        return f"{self.scheme}://{self.host}"

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate to trust for a TLS registry (``None`` without TLS)."""
        return self.tls_material.ca_file if self.tls_material else None

    def ssl_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` trusting :attr:`ca_file` (TLS registries only).

        Prefer this to ``httpx``'s ``verify=str``, which httpx 0.28 deprecates.
        """
        if self.ca_file is None:
            raise RuntimeError("registry was started without TLS")
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    # -- configuration -------------------------------------------------------------

    def build_config(self, port: int) -> dict[str, Any]:
        """Return the distribution configuration for listening on ``port``."""
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {
                "level": "info",
                "formatter": "text",
                "fields": {"service": "registry"},
            },
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": f"127.0.0.1:{port}",
                "secret": secrets.token_hex(32),
                "headers": {"X-Content-Type-Options": ["nosniff"]},
            },
        }
        if self.tls_material is not None:
            config["http"]["tls"] = {
                "certificate": str(self.tls_material.cert_file),
                "key": str(self.tls_material.key_file),
            }
        if isinstance(self.auth, HtpasswdAuth):
            assert self.htpasswd_path is not None
            config["auth"] = {
                "htpasswd": {"realm": self.auth.realm, "path": str(self.htpasswd_path)}
            }
        elif isinstance(self.auth, TokenAuth):
            config["auth"] = {
                "token": {
                    "realm": self.auth.realm,
                    "service": self.auth.service,
                    "issuer": self.auth.issuer,
                    "rootcertbundle": str(self.auth.rootcertbundle),
                }
            }
        return _deep_merge(config, self.extra_config)

    def _prepare(self) -> None:
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        if self.tls and self.tls_material is None:
            self.tls_material = generate_tls_material(self.workdir / "tls")
        if isinstance(self.auth, HtpasswdAuth) and self.htpasswd_path is None:
            self.htpasswd_path = self.workdir / "htpasswd"
            write_htpasswd(self.htpasswd_path, self.auth.username, self.auth.password)

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> RegistryServer:
        """Start the registry and wait until ``GET /v2/`` answers; returns ``self``.

        Raises :class:`RegistryStartError` (with the log tail) when the process
        exits or does not answer within ``startup_timeout`` seconds. A port
        taken between picking and binding is retried with another port. After a
        failed start the work directory (and its log) is kept until :meth:`stop`.
        """
        if self.running:
            return self
        if not os.access(self.binary, os.X_OK):
            raise FileNotFoundError(f"docker-registry binary not found: {self.binary}")
        self._prepare()
        attempts = 1 if self._requested_port is not None else BIND_ATTEMPTS
        for attempt in range(1, attempts + 1):
            port = self._requested_port or find_free_port()
            try:
                self._spawn(port)
                self._wait_ready()
                _RUNNING.add(self)
                return self
            except RegistryStartError as exc:
                self.stop(_keep_workdir=True)
                if attempt < attempts and "address already in use" in str(exc):
                    continue
                raise
            except BaseException:
                self.stop(_keep_workdir=True)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self, port: int) -> None:
        self.port = port
        self.config_path.write_text(yaml.safe_dump(self.build_config(port), sort_keys=False))
        # REGISTRY_* variables override the configuration file; keep them out.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self._log_file = self.log_path.open("ab")
        self._log_file.write(f"--- starting on 127.0.0.1:{port}\n".encode())
        self._log_file.flush()
        self._started_at = time.monotonic()
        self._process = subprocess.Popen(
            [self.binary, "serve", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=env,
        )

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = self._started_at + self.startup_timeout
        verify: ssl.SSLContext | bool = self.ssl_context() if self.tls else False
        last_error = "no answer yet"
        with httpx.Client(verify=verify, timeout=1.0, trust_env=False) as client:
            while True:
                code = self._process.poll()
                if code is not None:
                    raise RegistryStartError(
                        f"docker-registry exited with status {code} during startup"
                        f"{self._log_excerpt()}"
                    )
                try:
                    response = client.get(f"{self.url}/v2/")
                except httpx.TransportError as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                else:
                    # 401 is the normal answer of a registry with auth.
                    if response.status_code in (200, 401):
                        self.startup_seconds = time.monotonic() - self._started_at
                        return
                    last_error = f"GET /v2/ answered {response.status_code}"
                if time.monotonic() >= deadline:
                    raise RegistryStartError(
                        f"docker-registry did not answer GET {self.url}/v2/ within "
                        f"{self.startup_timeout:.0f} s ({last_error}){self._log_excerpt()}"
                    )
                time.sleep(0.05)  # poll interval, bounded by the deadline above

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the registry log."""
        if self._log_file is not None:
            with contextlib.suppress(ValueError):
                self._log_file.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _log_excerpt(self) -> str:
        return f"\n--- tail of {self.log_path}:\n{self.log_tail()}"

    def stop(self, *, _keep_workdir: bool = False) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 5 s); idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        _RUNNING.discard(self)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._owns_workdir and not _keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self._owns_workdir = False

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = self.url if self.port is not None else "no port"
        return f"<RegistryServer {where} {state}>"


@atexit.register
def _stop_leftovers() -> None:
    """Safety net: never leave a registry process behind the interpreter."""
    for server in list(_RUNNING):
        server.stop()


@dataclass(frozen=True)
class BasicAuthRegistry:
    """What the ``basic_registry`` fixture yields."""

    server: RegistryServer
    username: str
    password: str

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return self.server.host

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.url

    @property
    def auth(self) -> tuple[str, str]:
        """``(username, password)``, e.g. for ``httpx``'s ``auth=``."""
        return (self.username, self.password)


@dataclass(frozen=True)
class TokenRegistry:
    """What the ``token_registry`` fixture yields."""

    server: RegistryServer
    issuer: TokenIssuer
    #: User name to password; see ``token_registry`` for the users and rights.
    users: dict[str, str]
    #: The user with pull, push and delete on every repository.
    username: str
    password: str
    #: A user with pull only on every repository.
    readonly_username: str
    readonly_password: str

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return self.server.host

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.url

    @property
    def service(self) -> str:
        """The ``service`` of the Bearer challenge (token audience)."""
        return self.issuer.service

    @property
    def realm(self) -> str:
        """The token endpoint URL."""
        return self.issuer.realm
