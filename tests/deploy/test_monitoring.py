"""The Grafana board, the alert rules and the Prometheus configs, offline: structure, PromQL syntax
(`promtool`), and that every metric they name is one the platform exports.
The same expressions run against a real Prometheus in tests/integration/test_prometheus.py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from mpc.devstack.prometheus import COORDINATOR_JOB, PARTICIPANTS_JOB
from tests.deploy.conftest import ROOT
from tests.prometheus_tools import (
    ALERTS,
    DASHBOARD,
    PROMETHEUS_DIR,
    alert_queries,
    alert_rules,
    dashboard,
    dashboard_panels,
    dashboard_queries,
    ensure_prometheus,
)

REQUIRED_PANELS = {
    "Signing latency P50 / P95 / P99", "Signing throughput", "Node online rate", "Signing success rate",
    "Sessions by state", "Node CPU", "Node memory", "Pool levels", "Refusals by code", "Failures by code",
    "Temporal schedule-to-start latency P95", "Last backup",
}
REQUIRED_ALERTS = {"MpcNodesOffline", "MpcSigningFailureRate", "MpcSigningLatencyP99High", "MpcPoolEmpty",
                   "MpcBackupTooOld"}
NOT_YET_EXPORTED = {"mpc_backup_last_success_timestamp_seconds"}
"""Metrics the board and rules already use but nothing exports yet (the Backup workflow will)."""
SOURCES = [ROOT / "api" / "metrics.py", ROOT / "mpc" / "node_metrics.py"]
PROM_FUNCTIONS_AND_KEYWORDS = {"by", "without", "on", "ignoring", "and", "or", "unless", "le", "bool"}


def test_dashboard_uses_a_datasource_variable_everywhere() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    text = DASHBOARD.read_text()
    # no datasource of a particular Grafana installation: every reference is the variable
    uids = set(re.findall(r'"uid":\s*"([^"]*)"', text)) - {board["uid"]}
    assert uids == {"${datasource}"}, uids
    for panel in dashboard_panels():
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]
    node = variables["node"]
    assert node["type"] == "query" and node["datasource"]["uid"] == "${datasource}"


def test_dashboard_has_every_panel_and_a_sane_layout() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 30
    titles = [p["title"] for p in dashboard_panels()]
    assert set(titles) >= REQUIRED_PANELS, REQUIRED_PANELS - set(titles)
    assert len(titles) == len(set(titles))
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
    for panel in dashboard_panels():
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def _metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_labels)
    words = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()", without_groupings))
    return {w for w in words if w not in PROM_FUNCTIONS_AND_KEYWORDS and not re.fullmatch(r"\d+[smhd]|e\d+", w)}


def _exported() -> set[str]:
    """Metric names the code registers (Counter -> _total, Histogram -> _bucket/_sum/_count)."""
    names = set()
    for source in SOURCES:
        text = source.read_text()
        for kind, name in re.findall(r'\b(Counter|Gauge|Histogram|GaugeMetricFamily)\(\s*"([a-z_]+)"', text):
            names |= {"Counter": {f"{name}_total"}, "Histogram": {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
                      }.get(kind, {name})
    return names


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_metric_named_is_exported(source: str) -> None:
    queries = dashboard_queries() if source == "dashboard" else alert_queries()
    exported = _exported()
    for where, expr in queries.items():
        for name in _metric_names(expr):
            if name.startswith("mpc_"):
                assert name in exported | NOT_YET_EXPORTED, f"{where}: {name} is not exported by {SOURCES}"
            else:  # Prometheus' own, the process collector's, and the Temporal SDK's
                assert name == "up" or name.startswith(("process_", "temporal_")) or name in {"time"}, (where, name)


def test_metric_name_parser_is_not_vacuous() -> None:
    names = _metric_names('histogram_quantile(0.99, sum by (le) (rate(mpc_x_bucket{a="b"}[5m]))) / up')
    assert names == {"mpc_x_bucket", "up"}


def test_alert_rules_pass_promtool_and_carry_severity_and_summary() -> None:
    _, promtool = ensure_prometheus()
    result = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= REQUIRED_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert "for" in rule, rule["alert"]


def test_dashboard_promql_parses(tmp_path: Path) -> None:
    """Each panel query as a recording rule: `promtool check rules` parses every expression."""
    _, promtool = ensure_prometheus()
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(dashboard_queries().values())]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"  # the check is not vacuous
    bad_rule = {"record": "x:y", "expr": "sum(rate(x[5m])"}
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [bad_rule]}]}))
    assert subprocess.run([promtool, "check", "rules", str(broken)], capture_output=True, timeout=60,
                          check=False).returncode != 0


def _jobs(path: Path) -> dict[str, dict]:
    return {job["job_name"]: job for job in yaml.safe_load(path.read_text())["scrape_configs"]}


def test_compose_prometheus_config_has_the_two_jobs_and_passes_promtool(compose) -> None:
    _, promtool = ensure_prometheus()
    config = PROMETHEUS_DIR / "prometheus.yml"
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alerts.yml" in result.stdout  # the rule file is found and checked with it
    jobs = _jobs(config)
    assert set(jobs) == {COORDINATOR_JOB, PARTICIPANTS_JOB}

    def targets(job: str) -> dict[str, str]:
        return {t: group["labels"]["node"] for group in jobs[job]["static_configs"] for t in group["targets"]}

    services = compose["services"]
    metrics_port = services["coordinator"]["environment"]["METRICS_PORT"]
    assert targets(COORDINATOR_JOB) == {"api:8080": "api-1", f"coordinator:{metrics_port}": "coordinator-1"}
    participants = {n for n, s in services.items() if s.get("command") == ["worker", "participant"]}
    assert targets(PARTICIPANTS_JOB) == {f"{n}:{metrics_port}": n for n in participants}
    prometheus = services["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert all(p.startswith("127.0.0.1:") for p in prometheus["ports"])


def test_kubernetes_scrape_config_matches_the_pod_annotations(k8s_by_kind) -> None:
    """Structure only: Debian's promtool is built without Kubernetes service discovery."""
    jobs = _jobs(PROMETHEUS_DIR / "kubernetes.yml")
    assert set(jobs) == {COORDINATOR_JOB, PARTICIPANTS_JOB}
    components = {}
    for name, job in jobs.items():
        assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["mpc"]}}]
        keeps = {tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
        assert keeps[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)] == "true"
        components[name] = set(keeps[("__meta_kubernetes_pod_label_app_kubernetes_io_component",)].split("|"))
    scraped = (("Deployment", "mpc-api", COORDINATOR_JOB), ("Deployment", "mpc-coordinator", COORDINATOR_JOB),
               ("StatefulSet", "node", PARTICIPANTS_JOB))
    for kind, name, job in scraped:
        template = k8s_by_kind[(kind, name)]["spec"]["template"]["metadata"]
        assert template["labels"]["app.kubernetes.io/component"] in components[job], name
        assert template["annotations"]["prometheus.io/scrape"] == "true", name
