"""k8s/: schema validation (kubernetes-validate --strict) and the structure the deployment promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from mpc.settings import REQUIRE_ENVIRONMENT, YAML_SECTIONS, load_settings
from tests.deploy.conftest import K8S, load_k8s

# the oldest release with StatefulSet spec.ordinals (GA in 1.31) and the newest kubernetes-validate ships
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.utils.latest_version())
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob"}
IMAGE = "registry.example.com/mpc/mpc-signer"


def _pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def _workloads(docs) -> list[dict]:
    return [doc for _, doc in docs if doc["kind"] in WORKLOADS]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_manifest_validates_strictly(path: Path, version: str) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs, f"{path.name} holds no manifest"
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_kubernetes_validate_cli_strict_passes_every_file() -> None:
    cli = Path(sys.executable).with_name("kubernetes-validate")
    result = subprocess.run([str(cli), "--strict", "--quiet", *map(str, sorted(K8S.glob("*.yaml")))],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_namespaced_object_is_in_the_mpc_namespace(k8s_docs) -> None:
    kinds = {doc["kind"] for _, doc in k8s_docs}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "StatefulSet", "Service", "Ingress",
            "NetworkPolicy", "PodDisruptionBudget", "ServiceAccount", "Job"} <= kinds
    for path, doc in k8s_docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "mpc", f"{path.name}: {doc['kind']}/{doc['metadata']['name']}"


def test_every_container_is_non_root_read_only_without_capabilities(k8s_docs) -> None:
    workloads = _workloads(k8s_docs)
    assert len(workloads) >= 4
    for doc in workloads:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        pod = _pod_spec(doc)
        pod_sc = pod["securityContext"]
        assert pod_sc["runAsNonRoot"] is True, name
        assert pod_sc["runAsUser"] >= 10000, name
        assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod.get("initContainers", []) + pod["containers"]:
            sc = container["securityContext"]
            where = f"{name} container {container['name']}"
            assert sc["runAsNonRoot"] is True, where
            assert sc.get("runAsUser", pod_sc["runAsUser"]) != 0, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), where
            assert container["resources"]["requests"] and container["resources"]["limits"], where
            assert container["image"].startswith(IMAGE + ":"), where
            assert not container["image"].endswith(":latest"), where
            # secrets are files, never literal env values or env from Secrets
            for env in container.get("env", []):
                assert "secretKeyRef" not in env.get("valueFrom", {}), f"{where}: {env['name']} from a Secret env"
                if env["name"] == "DB_PASSWORD" and env.get("value") == "participants-use-no-database":
                    assert doc["kind"] == "StatefulSet"  # the stand-in of database-less participants
                elif env["name"] in {"DB_PASSWORD", "REDIS_PASSWORD", "PAYLOAD_CODEC_KEY", "API_TOKEN", "VAULT_TOKEN"}:
                    pytest.fail(f"{where}: {env['name']} set in the manifest")


def test_secret_files_are_readable_by_the_process(k8s_docs) -> None:
    for doc in _workloads(k8s_docs):
        pod = _pod_spec(doc)
        secret_volumes = [v for v in pod["volumes"] if "secret" in v or "projected" in v]
        if secret_volumes:
            assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"], doc["metadata"]["name"]
            for volume in secret_volumes:
                mode = volume.get("secret", volume.get("projected", {})).get("defaultMode")
                assert mode == 0o440, f"{doc['metadata']['name']} {volume['name']}: mode {mode!r}"


def test_api_and_coordinator_are_deployments_with_probes(k8s_by_kind) -> None:
    api = k8s_by_kind[("Deployment", "mpc-api")]
    container = _pod_spec(api)["containers"][0]
    assert container["args"] == ["api"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert {p["containerPort"] for p in container["ports"]} == {8080, 9090}
    annotations = api["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8080" and annotations["prometheus.io/path"] == "/metrics"

    coordinator = _pod_spec(k8s_by_kind[("Deployment", "mpc-coordinator")])["containers"][0]
    assert coordinator["args"] == ["worker", "coordinator"]
    assert coordinator["livenessProbe"] and coordinator["readinessProbe"]


def test_participants_are_a_statefulset_each_with_its_own_volume_and_identity(k8s_by_kind) -> None:
    sts = k8s_by_kind[("StatefulSet", "node")]
    spec = sts["spec"]
    assert spec["replicas"] >= 3
    assert spec["ordinals"]["start"] == 1  # pods node-1..3: NODE_ID node-N, transit key mpc-node-N
    templates = spec["volumeClaimTemplates"]
    assert len(templates) == 1 and templates[0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    pod = _pod_spec(sts)
    # no shared claim: no pod-template volume is a PersistentVolumeClaim (each pod gets its own from the template)
    assert not [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert not [v for v in pod["volumes"] if v["name"] == templates[0]["metadata"]["name"]]
    container = pod["containers"][0]
    assert container["args"] == ["worker", "participant"]
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["NODE_TYPE"]["value"] == "participant"
    assert env["VAULT_AUTH_ROLE"]["value"]  # per-pod Vault login, token limited to mpc-<pod name>
    assert "VAULT_TRANSIT_KEY" not in env  # default mpc-<NODE_ID>
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[templates[0]["metadata"]["name"]] == "/var/lib/mpc"
    assert env["KEY_SHARE_STORAGE_PATH"]["value"].startswith("/var/lib/mpc/")
    projected = next(v for v in pod["volumes"] if "projected" in v)
    assert projected["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "vault"
    # no port, no Service exposing it except the headless governing service
    assert "ports" not in container
    headless = k8s_by_kind[("Service", spec["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"


def test_pod_disruption_budgets_cover_every_long_running_workload(k8s_docs) -> None:
    pdb_selectors = [doc["spec"]["selector"]["matchLabels"] for _, doc in k8s_docs
                     if doc["kind"] == "PodDisruptionBudget"]
    for doc in _workloads(k8s_docs):
        if doc["kind"] == "Job":
            continue
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert any(sel.items() <= labels.items() for sel in pdb_selectors), doc["metadata"]["name"]


def test_ingress_is_tls_and_routes_only_to_the_api(k8s_docs) -> None:
    ingresses = {doc["metadata"]["name"]: doc for _, doc in k8s_docs if doc["kind"] == "Ingress"}
    assert set(ingresses) == {"mpc-api", "mpc-api-grpc"}  # the HTTP API and the gRPC API
    backends = set()
    for ingress in ingresses.values():
        spec = ingress["spec"]
        assert spec["tls"] and spec["tls"][0]["secretName"]
        hosts = {h for t in spec["tls"] for h in t["hosts"]}
        for rule in spec["rules"]:
            assert rule["host"] in hosts
            for path in rule["http"]["paths"]:
                backends.add((path["backend"]["service"]["name"], path["backend"]["service"]["port"]["name"]))
                assert path["path"] != "/metrics"
    assert backends == {("mpc-api", "http"), ("mpc-api", "grpc")}
    grpc_annotations = ingresses["mpc-api-grpc"]["metadata"]["annotations"]
    assert grpc_annotations["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    for _, doc in k8s_docs:
        if doc["kind"] == "Service":
            assert doc["spec"].get("type", "ClusterIP") in {"ClusterIP", "ExternalName"}, doc["metadata"]["name"]


def _policies(k8s_docs) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in k8s_docs if doc["kind"] == "NetworkPolicy"}


def _peer_names(rules: list[dict]) -> set[str]:
    names = set()
    for rule in rules:
        for peer in rule.get("to", rule.get("from", [])):
            assert "ipBlock" not in peer or peer["ipBlock"]["cidr"] != "0.0.0.0/0"
            ns = peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
            pod = peer.get("podSelector", {}).get("matchLabels", {})
            names.add(ns if ns else pod.get("app.kubernetes.io/name", pod.get("k8s-app", "?")))
    return names


def test_network_policies_default_deny_and_the_described_flows(k8s_docs) -> None:
    policies = _policies(k8s_docs)
    deny = policies["default-deny-all"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    assert _peer_names(policies["allow-dns"]["spec"]["egress"]) == {"kube-system"}

    participant = policies["mpc-participant"]["spec"]
    assert participant["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "mpc-participant"}
    # nothing reaches a participant but Prometheus, and only its metrics port
    assert participant["ingress"] == SCRAPE_ONLY
    # Temporal and Vault, plus the API for registration and signed heartbeats (DESIGN.md); DNS via allow-dns
    assert _peer_names(participant["egress"]) == {"temporal", "vault", "mpc-api"}
    assert _peer_names(policies["mpc-coordinator"]["spec"]["egress"]) == {"databases", "temporal"}
    assert policies["mpc-coordinator"]["spec"]["ingress"] == SCRAPE_ONLY

    api = policies["mpc-api"]["spec"]
    assert _peer_names(api["ingress"]) == {"ingress-nginx", "monitoring", "mpc-participant"}
    ports_from = {name: {p["port"] for p in rule["ports"]} for rule in api["ingress"] for name in _peer_names([rule])}
    assert ports_from == {"ingress-nginx": {8080, 9090}, "monitoring": {8080}, "mpc-participant": {8080}}
    # the only policy letting anything in from outside the namespace is the API's, besides the workers'
    # scrape-only rule above
    for name, policy in policies.items():
        if name not in ("mpc-api", "mpc-participant", "mpc-coordinator"):
            assert not policy["spec"].get("ingress"), name


SCRAPE_ONLY = [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                "ports": [{"port": 8080, "protocol": "TCP"}]}]
"""A worker's whole ingress: Prometheus (namespace monitoring) on METRICS_PORT."""


@pytest.mark.parametrize("workload", [("Deployment", "mpc-coordinator"), ("StatefulSet", "node")], ids=lambda w: w[1])
def test_workers_are_scraped_on_their_metrics_port(k8s_by_kind, workload) -> None:
    doc = k8s_by_kind[workload]
    annotations = doc["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    config = yaml.safe_load(k8s_by_kind[("ConfigMap", "mpc-config")]["data"]["config.yaml"])
    assert annotations["prometheus.io/port"] == str(config["server"]["metrics_port"]) == "8080"
    assert SCRAPE_ONLY[0]["ports"][0]["port"] == config["server"]["metrics_port"]


def test_every_workload_has_a_network_policy(k8s_docs) -> None:
    selectors = [doc["spec"]["podSelector"].get("matchLabels", {}) for doc in _policies(k8s_docs).values()
                 if doc["spec"]["podSelector"]]
    for doc in _workloads(k8s_docs):
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert any(sel.items() <= labels.items() for sel in selectors), doc["metadata"]["name"]


def test_secret_template_holds_only_placeholders(k8s_docs) -> None:
    secrets = [doc for _, doc in k8s_docs if doc["kind"] == "Secret"]
    assert secrets
    for secret in secrets:
        assert "data" not in secret
        assert set(secret["stringData"].values()) == {"changeme"}, secret["metadata"]["name"]


def test_configmap_config_yaml_loads_with_the_settings(k8s_by_kind, tmp_path, monkeypatch) -> None:
    config = k8s_by_kind[("ConfigMap", "mpc-config")]["data"]["config.yaml"]
    raw = yaml.safe_load(config)
    for section, values in raw.items():
        if isinstance(values, dict):
            assert section in YAML_SECTIONS and set(values) <= set(YAML_SECTIONS[section]), section
    path = tmp_path / "config.yaml"
    path.write_text(config)
    for name in list(os.environ):
        if name.upper() in {"ENVIRONMENT", "NODE_TYPE", "NODE_ID", "DB_HOST", "VAULT_ADDR", "TEMPORAL_ADDRESS",
                            "DB_PASSWORD", "PAYLOAD_CODEC_KEY", "KEY_SHARE_STORAGE_PATH", "LOG_LEVEL"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("MPC_CONFIG", str(path))
    # what the pods add: the secrets (from files, through the entry point) and the role
    monkeypatch.setenv("DB_PASSWORD", "a" * 48)
    monkeypatch.setenv("PAYLOAD_CODEC_KEY", "ab" * 32)
    monkeypatch.setenv("NODE_TYPE", "participant")
    monkeypatch.setenv("NODE_ID", "node-2")
    settings = load_settings()
    assert settings.environment == "production"
    assert settings.temporal_address == "temporal-frontend:7233"
    assert settings.vault_addr == "http://vault:8200"
    assert settings.transit_key_name == "mpc-node-2"
    assert str(settings.key_share_storage_path) == "/var/lib/mpc/shares"
    assert settings.db_host == "postgres" and settings.redis_host == "redis"
    settings.payload_codec()


def test_configmap_with_placeholder_secrets_is_refused_in_production(k8s_by_kind, tmp_path, monkeypatch) -> None:
    from mpc.settings import SettingsError

    path = tmp_path / "config.yaml"
    path.write_text(k8s_by_kind[("ConfigMap", "mpc-config")]["data"]["config.yaml"])
    monkeypatch.setenv("MPC_CONFIG", str(path))
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.setenv("DB_PASSWORD", "changeme")  # the Secret template's value
    monkeypatch.setenv("PAYLOAD_CODEC_KEY", "ab" * 32)
    with pytest.raises(SettingsError, match="DB_PASSWORD"):
        load_settings()


def test_configmap_without_environment_is_refused_by_the_image(k8s_by_kind, tmp_path, monkeypatch) -> None:
    """The manifests' explicit `environment: production` is what lets the image's processes start (A6)."""
    from mpc.settings import Settings, SettingsError

    raw = yaml.safe_load(k8s_by_kind[("ConfigMap", "mpc-config")]["data"]["config.yaml"])
    assert raw.pop("environment") == "production"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    for name in {n.upper() for n in Settings.model_fields}:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MPC_CONFIG", str(path))
    monkeypatch.setenv("PAYLOAD_CODEC_KEY", "ab" * 32)
    monkeypatch.setenv(REQUIRE_ENVIRONMENT, "1")
    with pytest.raises(SettingsError, match=r"^ENVIRONMENT:"):
        load_settings()


def test_external_services_are_referenced_not_deployed(k8s_docs) -> None:
    external = {doc["metadata"]["name"]: doc["spec"]["externalName"] for _, doc in k8s_docs
                if doc["kind"] == "Service" and doc["spec"].get("type") == "ExternalName"}
    assert set(external) == {"temporal-frontend", "vault", "postgres", "redis"}
    images = {c["image"] for doc in _workloads(load_k8s()) for c in _pod_spec(doc)["containers"]}
    assert all(image.startswith(IMAGE) for image in images)


@pytest.mark.parametrize("workload", [("Deployment", "mpc-api"), ("Deployment", "mpc-coordinator"),
                                      ("StatefulSet", "node"), ("Job", "mpc-migrate")], ids=lambda w: w[1])
def test_each_workload_environment_loads_with_the_configmap(k8s_by_kind, workload, tmp_path, monkeypatch) -> None:
    from mpc.settings import Settings

    doc = k8s_by_kind[workload]
    container = _pod_spec(doc)["containers"][0]
    config = tmp_path / "config.yaml"
    config.write_text(k8s_by_kind[("ConfigMap", "mpc-config")]["data"]["config.yaml"])
    for name in {n.upper() for n in Settings.model_fields} | {"MPC_CONFIG"}:
        monkeypatch.delenv(name, raising=False)
    pod_name = "node-1" if workload[0] == "StatefulSet" else f"{workload[1]}-7d9f-abcde"
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    for env in container["env"]:
        name = env["name"]
        if "valueFrom" in env:
            assert env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            monkeypatch.setenv(name, pod_name)
        elif name.endswith("_FILE"):  # the entry point reads the mounted Secret file
            assert any(env["value"].startswith(path + "/") for path in mounted), f"{name} not mounted"
            value = "ab" * 32 if name == "PAYLOAD_CODEC_KEY_FILE" else "secret-from-file-" + name.lower()
            monkeypatch.setenv(name.removesuffix("_FILE"), value)
        elif name == "MPC_CONFIG":
            assert env["value"] == "/etc/mpc/config.yaml" and "/etc/mpc" in mounted
            monkeypatch.setenv(name, str(config))
        else:
            monkeypatch.setenv(name, env["value"])
    monkeypatch.setenv("VAULT_TOKEN", "from-the-vault-login")  # participants: the entry point's login
    monkeypatch.setenv(REQUIRE_ENVIRONMENT, "1")  # as the image sets it: ENVIRONMENT must come from the manifests
    settings = load_settings()
    settings.payload_codec()
    assert settings.environment == "production"
    if workload[0] == "StatefulSet":
        assert settings.node_id == "node-1" and settings.transit_key_name == "mpc-node-1"
        # participants get no database credentials: only the payload codec key of mpc-secrets
        items = [v for v in _pod_spec(doc)["volumes"] if v.get("secret", {}).get("secretName") == "mpc-secrets"]
        assert [i["key"] for i in items[0]["secret"]["items"]] == ["payload-codec-key"]
        assert settings.coordinator_endpoint.startswith("http://mpc-api.")
