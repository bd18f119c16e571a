"""Prometheus and promtool for the tests: Debian's `prometheus` package, installed when missing.

The set-up installs it with apt-get where it can (root, apt-get present); elsewhere the tests that need
it are skipped with the reason. Also the PromQL of the Grafana board and the alert rules, with Grafana's
template variables replaced by what Grafana would send, so every test queries the same expressions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "mpc-signer.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"

# What Grafana substitutes for its variables (the board's own `node` variable: All).
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h", "$node": ".*"}

_install_error: str | None = None


def _binaries() -> tuple[str | None, str | None]:
    return shutil.which("prometheus"), shutil.which("promtool")


def ensure_prometheus() -> tuple[str, str]:
    """(prometheus, promtool): from PATH, else installed from Debian's package, else the test is skipped."""
    global _install_error
    prometheus, promtool = _binaries()
    if prometheus and promtool:
        return prometheus, promtool
    if _install_error is None:
        _install_error = _install()
    prometheus, promtool = _binaries()
    if not (prometheus and promtool):
        pytest.skip(f"Prometheus is not installed and could not be installed: {_install_error}")
    return prometheus, promtool


def _install() -> str:
    if not shutil.which("apt-get"):
        return "no apt-get on this machine (install the `prometheus` package, or put prometheus and promtool on PATH)"
    if os.geteuid() != 0:
        return "not root, so apt-get cannot install the `prometheus` package"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "prometheus"]):
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env, check=False)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(argv)}` timed out"
        if result.returncode != 0:
            return f"`{' '.join(argv)}` failed: {(result.stderr or result.stdout).strip()[-300:]}"
    return "installed"


def with_grafana_variables(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in re.sub(r"\$\{?datasource\}?", "", expr), f"unknown template variable in {expr!r}"
    return expr


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels() -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard()["panels"]:
        panels += [panel, *panel.get("panels", [])]
    return [p for p in panels if p["type"] != "row"]


def dashboard_queries() -> dict[str, str]:
    """'<panel title> / <refId>' -> the PromQL Grafana sends."""
    return {f"{p['title']} / {t['refId']}": with_grafana_variables(t["expr"])
            for p in dashboard_panels() for t in p["targets"]}


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def alert_queries() -> dict[str, str]:
    return {f"alert {rule['alert']}": rule["expr"] for rule in alert_rules()}
