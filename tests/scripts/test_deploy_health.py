"""deploy-all.sh, health-check.sh, install-monitoring.sh and port-forward-all.sh against a scripted cluster."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

COMPONENTS = [
    "service-discovery",
    "cloud-config-server",
    "user-service",
    "product-service",
    "favourite-service",
    "order-service",
    "shipping-service",
    "payment-service",
    "api-gateway",
    "proxy-client",
]
PORTS = {
    "service-discovery": 8761,
    "cloud-config-server": 9296,
    "api-gateway": 8080,
    "proxy-client": 8900,
    "order-service": 8300,
    "payment-service": 8400,
    "product-service": 8500,
    "shipping-service": 8600,
    "user-service": 8700,
    "favourite-service": 8800,
}


# What the deploy applies first, in order: namespaces, storage, then the database it all needs.
FIRST_APPLIED = [
    "namespaces/namespaces.yaml",
    "storage/storage-class.yaml",
    "storage/backup-pvc.yaml",
    "databases/postgres-secret.yaml",
    "secrets/identity-secret.yaml",
    "databases/postgres-init-scripts.yaml",
    "databases/postgres-statefulset.yaml",
]


def k8s_layout(root: Path) -> Path:
    files = [
        "namespaces/namespaces.yaml",
        "storage/storage-class.yaml",
        "storage/backup-pvc.yaml",
        "databases/postgres-secret.yaml",
        "secrets/identity-secret.yaml",
        "databases/postgres-init-scripts.yaml",
        "databases/postgres-statefulset.yaml",
        "ingress/ingress-tls.yaml",
        "network-policies/default-deny.yaml",
        "rbac/rbac-complete.yaml",
        "autoscaling/hpa-user-service.yaml",
        "backups/postgres-backup.yaml",
    ]
    for name in COMPONENTS:
        files += [f"config/{name}-configmap.yaml", f"services/{name}/deployment.yaml"]
    files += [f"secrets/{name}-secret.yaml" for name in COMPONENTS[2:8]]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("# fixture\n")
    return root


def healthy_cluster(cluster) -> None:
    apps = {
        "applications": {
            "application": [{"name": name.upper(), "instance": [{"status": "UP"}]} for name in COMPONENTS[1:]]
        }
    }
    cluster.on(r"/eureka/apps", json.dumps(apps))
    cluster.on(r"jsonpath=\{\.status\.readyReplicas\}", "2/2")
    cluster.on(r"get endpoints", "10.0.0.1 10.0.0.2")
    cluster.on(r"exec (deployment|statefulset)/.* -- python3", '{"status":"UP"}')
    cluster.on(r"get hpa", "NAME REFERENCE\nuser-service-hpa Deployment/user-service\n")
    cluster.on(r"get scaledobjects", "product-service-scaler True\n")


def test_deploy_all_follows_the_manual_order(cluster, tmp_path):
    layout = k8s_layout(tmp_path / "k8s")
    healthy_cluster(cluster)
    cluster.on(r"get replicasets", "")

    result = cluster.run("deploy-all.sh", "qa", env={"K8S_DIR": str(layout)})

    assert result.returncode == 0, result.stderr
    applied = [call.argv[-1].removeprefix(str(layout) + "/") for call in result.calls if "apply" in call.argv]
    assert applied[: len(FIRST_APPLIED)] == FIRST_APPLIED
    deployments = [path for path in applied if path.startswith("services/")]
    assert deployments == [f"services/{name}/deployment.yaml" for name in COMPONENTS]
    assert applied[-5:] == [
        "ingress/ingress-tls.yaml",
        "network-policies/",
        "rbac/rbac-complete.yaml",
        "autoscaling/",
        "backups/",
    ]
    assert result.index("rollout status statefulset/postgres") < result.index("services/service-discovery")
    assert result.index("rollout status statefulset/service-discovery") < result.index("cloud-config-server-configmap")
    assert result.index("secrets/user-service-secret.yaml") < result.index("services/user-service/deployment.yaml")
    assert "user-service" in result.stdout and "healthy" in result.stderr


def test_deploy_all_stops_at_a_component_that_is_not_ready(cluster, tmp_path):
    layout = k8s_layout(tmp_path / "k8s")
    cluster.on(r"rollout status deployment/user-service", rc=1)
    cluster.on(r"get replicasets", "")

    result = cluster.run("deploy-all.sh", "dev", env={"K8S_DIR": str(layout)})

    assert result.returncode == 1 and "deployment/user-service is not ready" in result.stderr
    assert not result.called("services/product-service")


def test_deploy_all_missing_file_is_named(cluster, tmp_path):
    layout = k8s_layout(tmp_path / "k8s")
    (layout / "databases/postgres-secret.yaml").unlink()

    result = cluster.run("deploy-all.sh", "dev", env={"K8S_DIR": str(layout)})

    assert result.returncode == 1 and "databases/postgres-secret.yaml" in result.stderr


def test_deploy_all_dry_run_on_the_repository_k8s_tree(cluster):
    root = Path(__file__).resolve().parents[2] / "k8s"
    if not root.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("k8s/ does not exist")
        pytest.skip("k8s/ is not rendered yet")

    result = cluster.run("deploy-all.sh", "--dry-run", "dev")

    assert result.returncode == 0, result.stderr
    assert "missing" not in result.stderr


def test_deploy_all_refuses_a_namespace_it_cannot_render(cluster, tmp_path):
    layout = k8s_layout(tmp_path / "k8s")
    (layout / "databases/postgres-statefulset.yaml").write_text("kind: StatefulSet\nmetadata:\n  namespace: dev\n")
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "values-prod.yaml").write_text("{}\n")

    result = cluster.run("deploy-all.sh", "staging", env={"K8S_DIR": str(layout), "CHART_DIR": str(chart)})

    assert result.returncode == 1 and f"no {chart}/values-staging.yaml" in result.stderr
    assert result.calls == []


def rendered_stream(namespace: str) -> str:
    """What `helm template` prints for an environment: one object of each kind the layout places."""

    def obj(kind: str, name: str, app: str = "", api: str = "v1", **extra: object) -> dict:
        meta: dict[str, object] = {"name": name, "namespace": namespace}
        if app:
            meta["labels"] = {"app": app}
        return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}

    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in ("dev", "qa", "prod")]
    docs += [
        obj("StorageClass", "fast-ssd", api="storage.k8s.io/v1"),
        obj("PersistentVolumeClaim", "backup-storage"),
        obj("Secret", "postgres-secret", "postgres", stringData={"password": f"{namespace}-generated"}),
        obj("Secret", "identity-secret"),
        obj("ConfigMap", "postgres-init-scripts", "postgres"),
        obj("StatefulSet", "postgres", "postgres", api="apps/v1"),
        obj("CronJob", "postgres-backup", "postgres-backup", api="batch/v1"),
        obj("Ingress", "ecommerce-ingress", api="networking.k8s.io/v1"),
        obj("NetworkPolicy", "default-deny-all", api="networking.k8s.io/v1"),
        obj("Role", "ecommerce-operator", api="rbac.authorization.k8s.io/v1"),
        obj("HorizontalPodAutoscaler", "user-service-hpa", "user-service", api="autoscaling/v2"),
    ]
    for name in COMPONENTS:
        kind = "StatefulSet" if name == "service-discovery" else "Deployment"
        docs += [
            obj("ConfigMap", f"{name}-config", name),
            obj(kind, name, name, api="apps/v1"),
            obj("Service", name, name),
        ]
    docs += [obj("Secret", f"{name}-secret", name) for name in COMPONENTS[2:8]]
    return "".join("---\n" + json.dumps(doc) + "\n" for doc in docs)


@pytest.mark.parametrize("namespace", ["qa", "prod"])
def test_deploy_all_renders_qa_and_prod_on_the_fly(cluster, tmp_path, namespace):
    layout = k8s_layout(tmp_path / "k8s")
    (layout / "databases/postgres-statefulset.yaml").write_text("kind: StatefulSet\nmetadata:\n  namespace: dev\n")
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / f"values-{namespace}.yaml").write_text("{}\n")
    healthy_cluster(cluster)
    cluster.on(r"get replicasets", "")
    cluster.on(r"^helm template ", rendered_stream(namespace), tool="helm")

    result = cluster.run("deploy-all.sh", namespace, env={"K8S_DIR": str(layout), "CHART_DIR": str(chart)})

    assert result.returncode == 0, result.stderr
    [template] = [call.argv for call in result.calls if call.tool == "helm"]
    assert template == [
        "template",
        "ecommerce",
        str(chart),
        "--namespace",
        namespace,
        "--values",
        f"{chart}/values-{namespace}.yaml",
        "--set",
        "namespaces.create=true",
        "--dry-run=server",
    ]
    paths = [call.argv[-1] for call in result.calls if "apply" in call.argv]
    render_root = Path(paths[0]).parents[1]
    assert render_root != layout and not str(render_root).startswith(str(tmp_path))
    assert all(path.startswith(str(render_root) + "/") for path in paths)
    applied = [path.removeprefix(str(render_root) + "/") for path in paths]
    assert applied[: len(FIRST_APPLIED)] == FIRST_APPLIED
    assert [path for path in applied if path.startswith("services/")] == [
        f"services/{name}/deployment.yaml" for name in COMPONENTS
    ]
    assert "secrets/user-service-secret.yaml" in applied and "config/api-gateway-configmap.yaml" in applied
    assert applied[-5:] == [
        "ingress/ingress-tls.yaml",
        "network-policies/",
        "rbac/rbac-complete.yaml",
        "autoscaling/",
        "backups/",
    ]
    assert all(f"-n {namespace} " in line for line in result.lines() if "apply" in line and "namespaces" not in line)
    # The rendering (generated credentials included) is private and gone afterwards.
    assert not render_root.exists()
    assert not result.called("apply", tool="helm") and not result.called("upgrade", tool="helm")


def test_deploy_all_failed_rendering_applies_nothing(cluster, tmp_path):
    layout = k8s_layout(tmp_path / "k8s")
    (layout / "databases/postgres-statefulset.yaml").write_text("kind: StatefulSet\nmetadata:\n  namespace: dev\n")
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "values-qa.yaml").write_text("{}\n")
    cluster.on(r"^helm template ", rc=1, tool="helm")

    result = cluster.run("deploy-all.sh", "qa", env={"K8S_DIR": str(layout), "CHART_DIR": str(chart)})

    assert result.returncode == 1 and "helm template failed for qa" in result.stderr
    assert result.lines() == []


def test_deploy_all_dry_run_renders_but_changes_nothing(cluster, tmp_path):
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "values-prod.yaml").write_text("{}\n")
    cluster.on(r"^helm template ", rendered_stream("prod"), tool="helm")

    result = cluster.run("deploy-all.sh", "--dry-run", "prod", env={"CHART_DIR": str(chart)})

    assert result.returncode == 0, result.stderr
    assert result.lines() == [] and len(result.lines("helm")) == 1
    assert "apply -f" in result.stderr and "services/proxy-client/deployment.yaml" in result.stderr


def test_deploy_all_with_helm(cluster, tmp_path):
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "values-prod.yaml").write_text("{}\n")
    healthy_cluster(cluster)
    cluster.on(r"get replicasets", "")

    result = cluster.run("deploy-all.sh", "--helm", "prod", env={"CHART_DIR": str(chart)})

    assert result.returncode == 0, result.stderr
    assert result.called(
        f"upgrade --install ecommerce {chart} --namespace prod --create-namespace --values {chart}/values-prod.yaml "
        "--wait --timeout 300s",
        tool="helm",
    )
    assert not result.called("apply")


def test_deploy_all_dry_run_changes_nothing(cluster, tmp_path):
    layout = k8s_layout(tmp_path / "k8s")

    result = cluster.run("deploy-all.sh", "--dry-run", "dev", env={"K8S_DIR": str(layout)})

    assert result.returncode == 0, result.stderr
    assert result.calls == []
    assert "apply -f" in result.stderr and "rollout status deployment/api-gateway" in result.stderr


def test_health_check_all_healthy(cluster):
    healthy_cluster(cluster)

    result = cluster.run("health-check.sh", "dev")

    assert result.returncode == 0, result.stderr
    for name in COMPONENTS:
        assert result.called(f"exec {'statefulset' if name == 'service-discovery' else 'deployment'}/{name}")
        assert any(f"http://127.0.0.1:{PORTS[name]}" in line for line in result.lines() if name in line)
    assert result.called("http://127.0.0.1:8500/product-service/actuator/health")
    assert "UNHEALTHY" not in result.stdout
    assert "product-service-scaler" in result.stdout


def test_health_check_running_but_not_ready_fails(cluster):
    healthy_cluster(cluster)
    cluster.rules.insert(0, {"match": r"get deployment/order-service -o jsonpath", "stdout": "0/1", "tool": "kubectl"})

    result = cluster.run("health-check.sh", "dev")

    assert result.returncode == 1
    [row] = [line for line in result.stdout.splitlines() if line.startswith("order-service")]
    assert "0/1" in row and "UNHEALTHY" in row


def test_health_check_missing_registration_and_down_database_fail(cluster):
    healthy_cluster(cluster)
    apps = {"applications": {"application": [{"name": "USER-SERVICE", "instance": {"status": "UP"}}]}}
    cluster.rules.insert(0, {"match": "/eureka/apps", "stdout": json.dumps(apps), "tool": "kubectl"})
    cluster.rules.insert(0, {"match": "pg_isready", "rc": 2, "tool": "kubectl"})

    result = cluster.run("health-check.sh", "dev")

    assert result.returncode == 1
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "UNHEALTHY" not in rows["user-service"]
    assert "UNHEALTHY" in rows["product-service"]
    assert "NOT accepting" in rows["postgres"]


def test_install_monitoring_uses_the_manual_names(cluster):
    result = cluster.run("install-monitoring.sh")

    assert result.returncode == 0, result.stderr
    helm = result.lines("helm")
    releases = [line.split()[2] for line in helm if line.startswith("upgrade --install")]
    assert releases == ["kube-prometheus-stack", "loki", "alloy", "jaeger"]
    assert result.called("monitoring/stack/kube-prometheus-stack-values.yaml", tool="helm")
    assert all("--namespace monitoring" in line for line in helm if line.startswith("upgrade"))


def test_port_forward_all_dry_run(cluster):
    result = cluster.run("port-forward-all.sh", "--dry-run", "qa")

    assert result.returncode == 0, result.stderr
    assert "-n qa port-forward svc/product-service 8500:8500" in result.stderr
    assert "-n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80" in result.stderr
    assert "-n monitoring port-forward svc/jaeger-query 16686:16686" in result.stderr
