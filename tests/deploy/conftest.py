"""Shared loaders of the deployment files (Dockerfile, docker-compose.yml, k8s/), all offline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
CHECKOV = ROOT / ".venv" / "tools" / "checkov" / "bin" / "checkov"
CHECKOV_SKIPS = ROOT / "deploy" / "checkov-skips.yaml"

# Files this deployment owns; the secret scan and checkov look at these.
DEPLOY_FILES = sorted(
    [DOCKERFILE, ROOT / ".dockerignore", COMPOSE, ROOT / ".env.example"]
    + [p for p in (ROOT / "deploy").rglob("*") if p.is_file()]
    + [p for p in K8S.rglob("*") if p.is_file()]
)


def load_k8s() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path, doc))
    return docs


@pytest.fixture(scope="session")
def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    return load_k8s()


@pytest.fixture(scope="session")
def k8s_by_kind(k8s_docs) -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in k8s_docs}


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _start_checkov(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(CHECKOV), *args, "--skip-download", "--quiet", "-o", "json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _checkov_failures(proc: subprocess.Popen) -> list[dict[str, Any]]:
    """Failed checks of one checkov run: id, file (relative to ROOT), resource, name."""
    stdout, stderr = proc.communicate(timeout=600)
    if proc.returncode not in (0, 1) or not stdout.strip():
        raise AssertionError(f"checkov failed to run (exit {proc.returncode}): {stderr[-2000:]}")
    # one JSON document per scanned directory and framework, concatenated (or a list, or {} when empty)
    reports, text, decoder = [], stdout.strip(), json.JSONDecoder()
    while text:
        doc, end = decoder.raw_decode(text)
        reports += doc if isinstance(doc, list) else [doc]
        text = text[end:].lstrip()
    failed = []
    for report in (r for r in reports if isinstance(r, dict) and "results" in r):
        assert report["summary"]["parsing_errors"] == 0, f"checkov could not parse: {report['check_type']}"
        for check in report["results"].get("failed_checks", []):
            failed.append({"id": check["check_id"], "file": check["file_path"].lstrip("/"),
                           "resource": check["resource"], "name": check.get("check_name", "")})
    return failed


@pytest.fixture(scope="session")
def checkov_failures() -> list[dict[str, Any]]:
    """Checkov over k8s/, deploy/, the Dockerfile, the compose file and .env.example; run once per session."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run ./scripts/bootstrap.sh")
    # two runs (checkov ignores -f when -d is given), concurrently
    runs = [_start_checkov("-d", "k8s", "-d", "deploy", "--framework", "kubernetes", "secrets"),
            _start_checkov("-f", "Dockerfile", "-f", "docker-compose.yml", "-f", ".env.example",
                           "--framework", "dockerfile", "secrets")]
    return [failure for proc in runs for failure in _checkov_failures(proc)]
