"""TLS for the API's two listeners (HTTPS under uvicorn, gRPC) and, under AUTH_TYPE=cert, client certificates.

HTTPS asks for a client certificate but does not require one (`CERT_OPTIONAL`): OpenSSL still refuses a
certificate that does not chain to TLS_CLIENT_CA_FILE or is outside its validity period, while `/health`,
`/ready` and `/metrics` stay reachable for probes and Prometheus without one; every authenticated route then
refuses a request without a certificate (401). The verified certificate reaches the application in the ASGI
`tls` extension (`client_cert_chain`), which uvicorn does not fill itself: `ClientCertificateProtocol` does.
gRPC requires the certificate at the handshake (every gRPC method is authenticated).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import grpc
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from mpc.settings import AuthType, Settings

ASGIApp = Any


def _with_certificate(app: ASGIApp, pem: str) -> ASGIApp:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") in ("http", "websocket"):
            extensions = scope.setdefault("extensions", {})
            extensions["tls"] = {**extensions.get("tls", {}), "client_cert_chain": [pem]}
        await app(scope, receive, send)

    return wrapped


class ClientCertificateProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol, with the connection's verified client certificate in each request's scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            app: ASGIApp = self.app  # type: ignore[has-type]
            self.app = _with_certificate(app, ssl.DER_cert_to_PEM_cert(der))


def uvicorn_tls(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config keyword arguments for TLS_ENABLED (and AUTH_TYPE=cert)."""
    if not settings.tls_enabled:
        return {}
    options: dict[str, Any] = {"ssl_certfile": str(settings.tls_cert_file), "ssl_keyfile": str(settings.tls_key_file)}
    if settings.auth_type == AuthType.CERT:
        options.update(ssl_cert_reqs=ssl.CERT_OPTIONAL, ssl_ca_certs=str(settings.tls_client_ca_file),
                       http=ClientCertificateProtocol)
    return options


def grpc_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """Server credentials for TLS_ENABLED (client certificates required under AUTH_TYPE=cert); None: plaintext."""
    if not settings.tls_enabled:
        return None
    assert settings.tls_cert_file and settings.tls_key_file
    pair = (settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())
    if settings.auth_type == AuthType.CERT:
        assert settings.tls_client_ca_file
        return grpc.ssl_server_credentials([pair], root_certificates=settings.tls_client_ca_file.read_bytes(),
                                           require_client_auth=True)
    return grpc.ssl_server_credentials([pair])
