"""No real secret in any deployment file; checkov finds nothing that is not in the reasoned skip list."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.deploy.conftest import CHECKOV_SKIPS, DEPLOY_FILES, ROOT

PATTERNS = {
    "hex key (32 bytes)": re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])"),
    "Vault/OpenBao token": re.compile(r"\b(?:hvs|hvb|hvr|s|b)\.[A-Za-z0-9]{20,}"),
    # "mpc_" + token_urlsafe(32): 43 characters, mixed case (all lower case: p < 1e-9). A lower-case
    # name such as the metric mpc_signing_latency_seconds_bucket is not a token.
    "mpc API token": re.compile(r"\bmpc_(?=[a-z0-9_-]*[A-Z])[A-Za-z0-9_-]{20,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
}
# NAME=value / NAME: value where NAME looks secret; the value must be empty, a variable, a file path,
# a placeholder or a reference (secret name, key name)
ASSIGNMENT = re.compile(r"""(?P<name>[A-Za-z_-]*
                            (?:PASSWORD|PASSWD|TOKEN|SECRET|CODEC_KEY|ENCRYPTION_KEY|PWD)[A-Za-z_-]*)
                            ["']?\s*[:=]\s*["']?(?P<value>[^\s"'#]*)""", re.I | re.X)
ALLOWED_VALUE = re.compile(r"""^(|\$.*|/.*|changeme|mpc-[a-z0-9-]+|[a-z-]+-token|[a-z-]+-password|[a-z-]+-key
                               |\{.*|\[.*|\*.*|true|false|\d+[smhd]?|.*\.(?:hcl|tmpl|py|sh|yaml))$""", re.X)


def findings(text: str, assignments: bool = True) -> list[str]:
    """What looks like a real secret in `text` (an empty list when nothing does). `assignments`: also
    flag NAME=value lines whose NAME looks secret (configuration files and scripts; not Python code)."""
    found = [f"a {what}: {m.group(0)[:12]}..." for what, pattern in PATTERNS.items()
             for m in [pattern.search(text)] if m]
    for line in text.splitlines() if assignments else []:
        if line.lstrip().startswith("#"):
            continue
        line = re.sub(r"\s#\s.*$", "", line)  # an inline comment
        for match in ASSIGNMENT.finditer(line):
            if re.search(r"(TTL|PERIOD|ROLE|MOUNT|FILE|PATH|PREFIX)$", match.group("name"), re.I):
                continue  # settings about a secret, not a secret
            value = match.group("value").lstrip(":=-?").rstrip(",;)}")
            if not ALLOWED_VALUE.match(value):
                found.append(f"{match.group('name')} has a literal value")
    return found


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_real_secret_in_file(path) -> None:
    found = findings(path.read_text(), assignments=path.suffix != ".py")
    assert not found, f"{path.relative_to(ROOT)}: {found}"


@pytest.mark.parametrize("sample", [
    "PAYLOAD_CODEC_KEY=" + "3f" * 32,
    "DB_PASSWORD: hunter2hunter2",
    'VAULT_TOKEN="hvs.CAESIJ2x0abcdefghijklmnopqrstuv"',
    "api-token: mpc_" + "A1b2" * 8,
    "-----BEGIN EC PRIVATE KEY-----",
])
def test_the_scan_finds_real_looking_secrets(sample: str) -> None:
    assert findings(sample)


def test_the_scan_finds_generated_api_tokens_but_not_metric_names() -> None:
    import secrets

    from api.auth import TOKEN_PREFIX

    assert all(findings(f"token: {TOKEN_PREFIX}{secrets.token_urlsafe(32)}") for _ in range(200))
    assert not findings("expr: rate(mpc_coordinator_sessions_finished_total[5m]) mpc_signing_latency_seconds_bucket")


def test_no_env_file_is_tracked_by_git() -> None:
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "--", ".env", "*.env", ".env.*"], cwd=ROOT,
                             capture_output=True, text=True, check=False).stdout.split()
    assert tracked in ([], [".env.example"]), tracked


def test_env_example_has_no_values_for_secrets() -> None:
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            if re.search(r"PASSWORD|TOKEN|KEY", key):
                assert value == "", key


def _skips() -> list[dict]:
    skips = yaml.safe_load(CHECKOV_SKIPS.read_text())["skips"]
    for skip in skips:
        assert re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", skip["id"]), skip
        assert len(skip.get("reason", "").split()) >= 8, f"{skip['id']}: give the reason"
    return skips


def _skipped(failure: dict, skips: list[dict]) -> dict | None:
    for skip in skips:
        if skip["id"] == failure["id"] and (not skip.get("files") or failure["file"] in skip["files"]):
            return skip
    return None


def test_checkov_reports_only_listed_failures(checkov_failures) -> None:
    skips = _skips()
    unlisted = [f for f in checkov_failures if not _skipped(f, skips)]
    assert not unlisted, "checkov failures not in deploy/checkov-skips.yaml:\n" + "\n".join(
        f"  {f['id']} {f['name']} — {f['file']} {f['resource']}" for f in unlisted)


def test_checkov_skip_list_has_no_stale_entries(checkov_failures) -> None:
    for skip in _skips():
        used = [f for f in checkov_failures if f["id"] == skip["id"]]
        assert used, f"{skip['id']} is skipped but no longer fails: remove it from deploy/checkov-skips.yaml"
        for file in skip.get("files", []):
            assert any(f["file"] == file for f in used), f"{skip['id']}: {file} no longer fails"


def test_checkov_ran_over_every_framework(checkov_failures) -> None:
    # the skipped image-digest failures prove the Kubernetes scan saw the workloads
    assert {f["file"] for f in checkov_failures if f["id"] == "CKV_K8S_43"} >= {"k8s/20-api.yaml"}
