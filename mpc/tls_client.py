"""TLS for the platform's own clients of the API (participants registering and heartbeating): trust
TLS_CA_FILE for the API's certificate, and under AUTH_TYPE=cert present TLS_CLIENT_CERT_FILE / _KEY_FILE."""

from __future__ import annotations

import ssl
from typing import Any

from mpc.settings import Settings


def httpx_tls(settings: Settings) -> dict[str, Any]:
    """httpx client keyword arguments (`verify`, with the client certificate loaded into it); {} for the defaults."""
    if not (settings.tls_ca_file or settings.tls_client_cert_file):
        return {}
    context = ssl.create_default_context(cafile=str(settings.tls_ca_file) if settings.tls_ca_file else None)
    if settings.tls_client_cert_file and settings.tls_client_key_file:
        context.load_cert_chain(str(settings.tls_client_cert_file), str(settings.tls_client_key_file))
    return {"verify": context}
