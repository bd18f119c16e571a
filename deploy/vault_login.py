#!/opt/venv/bin/python
"""Vault/OpenBao token helper of the mpc image (the entry point runs it; standard library only).

    mpc-vault-login                     log in with this pod's Kubernetes service-account token and
                                        print the client token (Kubernetes participants)
    mpc-vault-login --api-token         print this pod's API token (role node), read with VAULT_TOKEN from
                                        API_TOKEN_VAULT_PATH (a KV v2 path the pod's policy allows
                                        for its own pod name only; field `token`)
    mpc-vault-login --renew --watch-pid PID
                                        keep VAULT_TOKEN alive: renew it (renew-self) every third of
                                        its TTL while process PID runs; exits when the token is not
                                        renewable or PID is gone

Login: the JWT auth method maps the token's pod name to an entity whose templated policy allows only
the transit key `mpc-<pod name>` (deploy/vault/k8s-setup.sh). Settings (environment):
  VAULT_ADDR        Vault address (required)
  VAULT_AUTH_ROLE   role of the JWT auth method (e.g. mpc-participant)
  VAULT_AUTH_MOUNT  mount path of the JWT auth method (default: k8s-jwt)
  VAULT_JWT_PATH    the projected service-account token (default: /var/run/secrets/vault/token)
  VAULT_CACERT      CA bundle for Vault's TLS certificate (optional)
  VAULT_LOGIN_TIMEOUT  seconds to keep retrying while Vault is unreachable or sealed (default 60);
                    a refused login fails at once
  VAULT_RENEW_MIN_INTERVAL  shortest pause between renewals in seconds (default 30)
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def _addr() -> str:
    return os.environ["VAULT_ADDR"].rstrip("/")


def _context() -> ssl.SSLContext | None:
    if not _addr().startswith("https"):
        return None
    return ssl.create_default_context(cafile=os.environ.get("VAULT_CACERT") or None)


def _request(path: str, body: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Vault-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{_addr()}/v1/{path}", data=data, headers=headers,  # noqa: S310
                                     method="POST" if data is not None else "GET")
    with urllib.request.urlopen(request, timeout=10, context=_context()) as reply:  # noqa: S310
        return json.load(reply)


def login() -> str:
    role = os.environ["VAULT_AUTH_ROLE"]
    mount = os.environ.get("VAULT_AUTH_MOUNT", "k8s-jwt").strip("/")
    jwt = Path(os.environ.get("VAULT_JWT_PATH", "/var/run/secrets/vault/token")).read_text().strip()
    deadline = time.monotonic() + float(os.environ.get("VAULT_LOGIN_TIMEOUT", "60"))
    delay = 1.0
    while True:
        try:
            return _request(f"auth/{mount}/login", {"role": role, "jwt": jwt})["auth"]["client_token"]
        except urllib.error.HTTPError as exc:
            if exc.code not in (429, 500, 502, 503) or time.monotonic() > deadline:
                raise SystemExit(f"mpc-vault-login: {_addr()} refused the login as role {role!r} "
                                 f"(HTTP {exc.code})") from None
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"mpc-vault-login: {_addr()} unreachable ({exc})") from None
        time.sleep(delay)
        delay = min(delay * 2, 10)


def api_token() -> str:
    """This pod's API token from Vault KV: each pod can read its own path only (k8s-setup.sh)."""
    path = os.environ["API_TOKEN_VAULT_PATH"].strip("/")
    try:
        data = _request(path, token=os.environ["VAULT_TOKEN"])["data"]
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"mpc-vault-login: cannot read the API token at {path} (HTTP {exc.code})") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SystemExit(f"mpc-vault-login: {_addr()} unreachable ({exc})") from None
    token = (data.get("data") or data).get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise SystemExit(f"mpc-vault-login: {path} holds no field `token`")
    return token


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def renew_loop(watch_pid: int | None) -> int:
    token = os.environ["VAULT_TOKEN"]
    minimum = float(os.environ.get("VAULT_RENEW_MIN_INTERVAL", "30"))
    try:
        info = _request("auth/token/lookup-self", token=token)["data"]
    except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
        print(f"mpc-vault-login: cannot look up the token, not renewing it ({exc})", file=sys.stderr)
        return 1
    if not info.get("renewable"):
        return 0  # e.g. a root or batch token: nothing to do
    ttl = float(info.get("period") or info.get("ttl") or 0)
    while True:
        pause = max(minimum, ttl / 3)
        deadline = time.monotonic() + pause
        while time.monotonic() < deadline:
            if watch_pid is not None and not _alive(watch_pid):
                return 0
            time.sleep(min(1.0, pause))
        try:
            ttl = float(_request("auth/token/renew-self", {}, token=token)["auth"]["lease_duration"])
        except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
            print(f"mpc-vault-login: token renewal failed, retrying ({exc})", file=sys.stderr)
            ttl = min(ttl, 3 * minimum)


def main(argv: list[str]) -> int:
    if "--renew" in argv:
        watch = int(argv[argv.index("--watch-pid") + 1]) if "--watch-pid" in argv else None
        return renew_loop(watch)
    if "--api-token" in argv:
        sys.stdout.write(api_token())
        return 0
    sys.stdout.write(login())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
