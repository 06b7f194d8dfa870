"""The verifying TLS context is built on the first https request (issue: performance).

Loading the default roots costs tens of milliseconds at every CLI start; a run that only
talks plain HTTP to a loopback registry never needs them. The real TLS behaviour (default
roots refuse a self-signed registry, ``SSL_CERT_FILE`` and ``--ca-file`` are honoured) is
tested against a real TLS registry in tests/integration/test_tls.py.
"""

from __future__ import annotations

import ssl
from typing import Any, ClassVar

import httpx
import pytest

from polyarch.transport import tls
from polyarch.transport.client import RegistryClient
from polyarch.transport.settings import TransportSettings


class _Recorder(httpx.BaseTransport):
    """Stands in for httpx.HTTPTransport: records how it was built and what it sent."""

    built: ClassVar[list[_Recorder]] = []

    def __init__(self, *, verify: Any, trust_env: bool = True) -> None:
        self.verify = verify
        self.sent: list[str] = []
        self.closed = False
        _Recorder.built.append(self)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(str(request.url))
        return httpx.Response(200, request=request)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> type[_Recorder]:
    _Recorder.built = []
    monkeypatch.setattr(tls.httpx, "HTTPTransport", _Recorder)
    return _Recorder


def test_plain_http_never_builds_the_verifying_context(recorder: type[_Recorder]) -> None:
    transport = tls.DeferredTLSTransport(True)
    assert recorder.built == []  # nothing at construction
    for _ in range(2):
        transport.handle_request(httpx.Request("GET", "http://127.0.0.1:5000/v2/"))
    (plain,) = recorder.built
    # The plain pool's context verifies and trusts no root: it could accept no peer.
    assert isinstance(plain.verify, ssl.SSLContext)
    assert plain.verify.verify_mode == ssl.CERT_REQUIRED and plain.verify.check_hostname
    assert plain.verify.cert_store_stats()["x509_ca"] == 0
    assert plain.sent == ["http://127.0.0.1:5000/v2/"] * 2


def test_https_builds_the_verifying_transport_once(
    recorder: type[_Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_probe(*args: object, **kwargs: object) -> None:
        raise AssertionError("a remote registry is never probed: only loopback ones fall back")

    monkeypatch.setattr(tls.socket, "create_connection", no_probe)
    context = ssl.create_default_context()
    transport = tls.DeferredTLSTransport(context)
    for _ in range(3):
        transport.handle_request(httpx.Request("GET", "https://registry.example/v2/"))
    (verifying,) = recorder.built
    assert verifying.verify is context and len(verifying.sent) == 3
    transport.close()
    assert verifying.closed


def test_registry_client_defers_tls_but_checks_the_ca_file_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    contexts: list[object] = []

    def create_ssl_context(*args: object, **kwargs: object) -> ssl.SSLContext:
        contexts.append(kwargs.get("verify"))
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    # Where httpx's transport builds its context from the default roots.
    monkeypatch.setattr("httpx._transports.default.create_ssl_context", create_ssl_context)
    with RegistryClient(TransportSettings()):
        assert contexts == []
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(Exception, match="cannot load the CA file"):
        RegistryClient(TransportSettings(ca_file=str(bogus)))
