#!/opt/venv/bin/python
"""Log in to Vault/OpenBao with this pod's Kubernetes service-account token; print the client token.

Used by the image's entry point when VAULT_AUTH_ROLE is set (Kubernetes participants): the JWT auth
method maps the token's pod name to an entity whose templated policy allows only the transit key
`mpc-<pod name>` (deploy/vault/k8s-setup.sh). Settings (environment):
  VAULT_ADDR        Vault address (required)
  VAULT_AUTH_ROLE   role of the JWT auth method (e.g. mpc-participant)
  VAULT_AUTH_MOUNT  mount path of the JWT auth method (default: k8s-jwt)
  VAULT_JWT_PATH    the projected service-account token (default: /var/run/secrets/vault/token)
  VAULT_CACERT      CA bundle for Vault's TLS certificate (optional)
Standard library only. Retries for up to VAULT_LOGIN_TIMEOUT seconds (default 60) while Vault is
unreachable or sealed; a refused login fails at once.
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


def login() -> str:
    addr = os.environ["VAULT_ADDR"].rstrip("/")
    role = os.environ["VAULT_AUTH_ROLE"]
    mount = os.environ.get("VAULT_AUTH_MOUNT", "k8s-jwt").strip("/")
    jwt = Path(os.environ.get("VAULT_JWT_PATH", "/var/run/secrets/vault/token")).read_text().strip()
    cafile = os.environ.get("VAULT_CACERT") or None
    context = ssl.create_default_context(cafile=cafile) if addr.startswith("https") else None
    body = json.dumps({"role": role, "jwt": jwt}).encode()
    deadline = time.monotonic() + float(os.environ.get("VAULT_LOGIN_TIMEOUT", "60"))
    delay = 1.0
    while True:
        request = urllib.request.Request(f"{addr}/v1/auth/{mount}/login", data=body, method="POST",  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as reply:  # noqa: S310
                return json.load(reply)["auth"]["client_token"]
        except urllib.error.HTTPError as exc:
            if exc.code not in (429, 500, 502, 503) or time.monotonic() > deadline:
                raise SystemExit(f"mpc-vault-login: {addr} refused the login as role {role!r} "
                                 f"(HTTP {exc.code})") from None
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"mpc-vault-login: {addr} unreachable ({exc})") from None
        time.sleep(delay)
        delay = min(delay * 2, 10)


if __name__ == "__main__":
    sys.stdout.write(login())
    sys.exit(0)
