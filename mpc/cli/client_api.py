"""HTTP side of the `mpc` API client: settings, requests, errors, waiting with progress."""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

DEFAULT_API_URL = "http://127.0.0.1:8080"
DEFAULT_TOKEN_FILE = Path(".data/dev/admin-token")
DONE = ("completed", "failed")


class ClientError(Exception):
    """A usage, transport or HTTP error: printed on one line, exit code 2."""

    def __init__(self, code: str, message: str, node: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.node = code, message, node

    def line(self) -> str:
        at = f" (node {self.node})" if self.node else ""
        return f"mpc: error {self.code}: {self.message}{at}"


@dataclass(frozen=True)
class ClientSettings:
    api_url: str
    token: str | None
    timeout: float = 30.0
    ca_file: str | None = None  # trust this CA for the API's certificate (else the system's)
    client_cert: str | None = None  # AUTH_TYPE=cert: the certificate (PEM) to present ...
    client_key: str | None = None  # ... and its private key (PEM)

    @classmethod
    def resolve(cls, api_url: str | None, token: str | None, token_file: str | None,
                env: dict[str, str] | None = None, *, ca_file: str | None = None, client_cert: str | None = None,
                client_key: str | None = None) -> ClientSettings:
        """--api-url, else MPC_API_URL, else the default; --token, --token-file, MPC_API_TOKEN, the dev file;
        --ca-file / MPC_CA_FILE, --client-cert / MPC_CLIENT_CERT and --client-key / MPC_CLIENT_KEY for TLS."""
        env = dict(os.environ) if env is None else env
        url = (api_url or env.get("MPC_API_URL") or DEFAULT_API_URL).rstrip("/")
        if token is None and token_file is not None:
            token = _read_token(Path(token_file))
        if token is None:
            token = env.get("MPC_API_TOKEN") or None
        if token is None and DEFAULT_TOKEN_FILE.is_file():
            token = _read_token(DEFAULT_TOKEN_FILE)
        cert = client_cert or env.get("MPC_CLIENT_CERT") or None
        key = client_key or env.get("MPC_CLIENT_KEY") or None
        if (cert is None) != (key is None):
            raise ClientError("usage", "a client certificate needs both --client-cert and --client-key "
                                       "(MPC_CLIENT_CERT, MPC_CLIENT_KEY)")
        return cls(url, token, ca_file=ca_file or env.get("MPC_CA_FILE") or None, client_cert=cert, client_key=key)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for the options given; None: httpx's defaults."""
        if self.ca_file is None and self.client_cert is None:
            return None
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
            if self.client_cert is not None and self.client_key is not None:
                context.load_cert_chain(self.client_cert, self.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise ClientError("tls_files", f"cannot load the TLS files: {exc}") from None
        return context


def _read_token(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ClientError("token_file", f"cannot read {path}: {exc.strerror}") from None


class ApiClient:
    def __init__(self, settings: ClientSettings) -> None:
        headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
        self.settings = settings
        context = settings.ssl_context()
        self.http = httpx.Client(base_url=settings.api_url, headers=headers, timeout=settings.timeout,
                                 verify=context if context is not None else True)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def request(self, method: str, path: str, *, json_body: Any = None, params: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None) -> Any:
        try:
            reply = self.http.request(method, path, json=json_body, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise ClientError("connection_error", f"{method} {self.settings.api_url}{path}: {exc}") from None
        if reply.status_code >= 400:
            raise _error_from(reply)
        if reply.status_code == 204:
            return None
        try:
            return reply.json()
        except json.JSONDecodeError:
            raise ClientError("bad_response", f"HTTP {reply.status_code}: not JSON: {reply.text[:200]}") from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None} or None)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, json_body=body, headers=headers)

    def wait_session(self, session_id: str, timeout: float, interval: float = 0.25,
                     out: TextIO | None = None) -> dict[str, Any]:
        """Poll the session until completed/failed, writing a progress line to stderr."""
        progress = Progress(out or sys.stderr)
        deadline = time.monotonic() + timeout
        try:
            while True:
                session = self.get(f"/v1/sessions/{session_id}")
                progress.show(session)
                if session["status"] in DONE:
                    return session
                if time.monotonic() >= deadline:
                    raise ClientError("wait_timeout", f"session {session_id} still {session['status']} after "
                                                      f"{timeout:g} s; see `mpc sessions show {session_id}`")
                time.sleep(interval)
        finally:
            progress.close()


def _error_from(reply: httpx.Response) -> ClientError:
    try:
        error = reply.json().get("error") or {}
    except (json.JSONDecodeError, AttributeError):
        error = {}
    code = error.get("code") or f"http_{reply.status_code}"
    message = error.get("message") or reply.text[:200] or reply.reason_phrase
    return ClientError(code, f"{message} (HTTP {reply.status_code})", error.get("node"))


class Progress:
    """One line per change; on a terminal the line is rewritten in place."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.tty, self.last, self.started = out, out.isatty(), "", time.monotonic()

    def show(self, session: dict[str, Any]) -> None:
        line = (f"{session['operation']} {session['session_id']}: {session['status']}, "
                f"round {session['current_round']}/{session['total_rounds']}")
        if self.tty:
            self.out.write(f"\r{line} ({time.monotonic() - self.started:.1f} s)\x1b[K")
            self.out.flush()
        elif line != self.last:
            print(line, file=self.out, flush=True)
        self.last = line

    def close(self) -> None:
        if self.tty and self.last:
            self.out.write("\n")
            self.out.flush()
