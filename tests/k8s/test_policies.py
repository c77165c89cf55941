"""Policy checks over the rendered objects of every environment (dev, qa, prod)."""

from __future__ import annotations

import pytest

from .conftest import BUSINESS, COMPONENTS, Doc, by_kind, pod_spec, workloads


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def component_workload(docs: list[Doc], name: str) -> Doc:
    kind = "StatefulSet" if name == "service-discovery" else "Deployment"
    return named(docs, kind, name)


def main_container(doc: Doc) -> Doc:
    return pod_spec(doc)["containers"][0]


def test_every_component_and_its_objects_exist_with_the_manual_names(docs: list[Doc]) -> None:
    for name in COMPONENTS:
        component_workload(docs, name)
        named(docs, "Service", name)
        named(docs, "ConfigMap", f"{name}-config")
        named(docs, "ServiceAccount", f"{name}-sa")
    named(docs, "ConfigMap", "proxy-client-eureka-config")
    named(docs, "StatefulSet", "postgres")
    named(docs, "Service", "postgres")
    named(docs, "ConfigMap", "postgres-init-scripts")
    named(docs, "CronJob", "postgres-backup")
    named(docs, "PersistentVolumeClaim", "backup-storage")
    named(docs, "Ingress", "ecommerce-ingress")
    for name in BUSINESS:
        secret = named(docs, "Secret", f"{name}-secret")
        assert set(secret["stringData"]) == {"database.username", "database.password"}


def test_no_object_is_rendered_twice(docs: list[Doc]) -> None:
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_probes_hit_the_actuator_under_the_context_path_on_the_container_port(docs: list[Doc], name: str) -> None:
    port, base = COMPONENTS[name]
    workload = component_workload(docs, name)
    container = main_container(workload)
    assert container["args"] == ["run", name, "--host", "0.0.0.0"]
    assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    expected = {
        "startupProbe": f"{base}/health/liveness",
        "livenessProbe": f"{base}/health/liveness",
        "readinessProbe": f"{base}/health/readiness",
    }
    for probe, path in expected.items():
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    service = named(docs, "Service", name)
    assert service["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]


def test_every_workload_has_resources_runs_non_root_read_only_with_its_own_account(docs: list[Doc]) -> None:
    accounts = {d["metadata"]["name"]: d for d in by_kind(docs, "ServiceAccount")}
    for workload in workloads(docs):
        spec = pod_spec(workload)
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        assert spec["serviceAccountName"] in accounts, where
        assert spec["serviceAccountName"] != "default", where
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["enableServiceLinks"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        mounts_tmp = True
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert sc["runAsUser"] > 0, where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
            mounts_tmp = mounts_tmp and any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", []))
        assert mounts_tmp, f"{where}: read-only root filesystem needs a writable /tmp"
    for account in by_kind(docs, "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_components_run_the_image_with_tmp_for_data_and_home(docs: list[Doc]) -> None:
    for name in COMPONENTS:
        config = named(docs, "ConfigMap", f"{name}-config")["data"]
        assert config["ECOMMERCE_DATA_DIR"] == "/tmp/data"
        assert config["HOME"] == "/tmp"
        assert config["OTEL_SERVICE_NAME"] == name


def test_database_url_is_composed_from_the_secret(docs: list[Doc]) -> None:
    databases = {
        "user-service": "userdb",
        "product-service": "productdb",
        "favourite-service": "favouritedb",
        "order-service": "orderdb",
        "shipping-service": "shippingdb",
        "payment-service": "paymentdb",
    }
    for name, db in databases.items():
        env = {e["name"]: e for e in main_container(component_workload(docs, name))["env"]}
        assert env["DATABASE_USERNAME"]["valueFrom"]["secretKeyRef"] == {
            "name": f"{name}-secret",
            "key": "database.username",
        }
        assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": f"{name}-secret",
            "key": "database.password",
        }
        names = [e["name"] for e in main_container(component_workload(docs, name))["env"]]
        assert names.index("DATABASE_USERNAME") < names.index("DATABASE_URL"), "$(VAR) needs the variable defined first"
        assert env["DATABASE_URL"]["value"] == (
            f"postgresql+asyncpg://$(DATABASE_USERNAME):$(DATABASE_PASSWORD)@postgres:5432/{db}"
        )
    for name in set(COMPONENTS) - set(databases):
        env = {e["name"] for e in main_container(component_workload(docs, name))["env"]}
        assert "DATABASE_URL" not in env, name


def test_no_deployment_has_both_an_hpa_and_a_scaled_object(docs: list[Doc]) -> None:
    hpa = {d["spec"]["scaleTargetRef"]["name"]: d for d in by_kind(docs, "HorizontalPodAutoscaler")}
    keda = {d["spec"]["scaleTargetRef"]["name"]: d for d in by_kind(docs, "ScaledObject")}
    assert not set(hpa) & set(keda)
    assert set(hpa) == {"api-gateway", "proxy-client", "user-service", "favourite-service", "shipping-service"}
    assert set(keda) == {"product-service", "order-service", "payment-service"}
    for name, doc in hpa.items():
        assert doc["metadata"]["name"] == f"{name}-hpa"
        metrics = {m["resource"]["name"] for m in doc["spec"]["metrics"]}
        assert metrics == {"cpu", "memory"}
        assert doc["spec"]["minReplicas"] <= doc["spec"]["maxReplicas"]
        assert "replicas" not in component_workload(docs, name)["spec"], "the HPA owns the replica count"
    for name, doc in keda.items():
        assert doc["metadata"]["name"] == f"{name}-scaler"
        triggers = {t["type"]: t for t in doc["spec"]["triggers"]}
        assert set(triggers) == {"prometheus", "cpu"}
        query = triggers["prometheus"]["metadata"]["query"]
        assert query.startswith(f'sum(rate(http_server_requests_seconds_count{{application="{name}"')
        assert query.endswith("[2m]))")
        assert "replicas" not in component_workload(docs, name)["spec"]
    for doc in list(hpa.values()) + list(keda.values()):
        target = component_workload(docs, doc["spec"]["scaleTargetRef"]["name"])
        assert doc["spec"]["scaleTargetRef"]["kind"] == target["kind"]


def test_pod_disruption_budgets_cover_every_component_with_more_than_one_replica(docs: list[Doc]) -> None:
    pdbs = {d["spec"]["selector"]["matchLabels"]["app"] for d in by_kind(docs, "PodDisruptionBudget")}
    maxima = {
        d["spec"]["scaleTargetRef"]["name"]: d["spec"].get("maxReplicas", d["spec"].get("maxReplicaCount"))
        for d in by_kind(docs, "HorizontalPodAutoscaler") + by_kind(docs, "ScaledObject")
    }
    for name in COMPONENTS:
        replicas = component_workload(docs, name)["spec"].get("replicas", 1)
        if max(replicas, maxima.get(name, 1)) > 1:
            assert name in pdbs, name
    assert component_workload(docs, "service-discovery")["spec"]["replicas"] == 2


def test_every_service_selects_the_pods_of_a_workload(docs: list[Doc]) -> None:
    pod_labels = [pod_spec_labels(w) for w in workloads(docs)]
    for service in by_kind(docs, "Service"):
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in pod_labels), service["metadata"]["name"]
    for workload in workloads(docs):
        if workload["kind"] == "CronJob":
            continue
        match = workload["spec"]["selector"]["matchLabels"]
        assert match.items() <= pod_spec_labels(workload).items()


def pod_spec_labels(workload: Doc) -> dict[str, str]:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return workload["spec"]["template"]["metadata"]["labels"]


def test_every_configmap_and_secret_is_used(docs: list[Doc]) -> None:
    used: set[str] = set()
    for workload in workloads(docs):
        spec = pod_spec(workload)
        for container in spec["containers"] + spec.get("initContainers", []):
            for source in container.get("envFrom", []):
                used.add((source.get("configMapRef") or source.get("secretRef"))["name"])
            for env in container.get("env", []):
                ref = env.get("valueFrom", {})
                for key in ("configMapKeyRef", "secretKeyRef"):
                    if key in ref:
                        used.add(ref[key]["name"])
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                used.add(volume["configMap"]["name"])
            if "secret" in volume:
                used.add(volume["secret"]["secretName"])
    monitoring = {"ecommerce-dashboard"}  # the Grafana sidecar reads these
    for doc in by_kind(docs, "ConfigMap") + by_kind(docs, "Secret"):
        name = doc["metadata"]["name"]
        if doc["kind"] == "ConfigMap" and any(name.startswith(m) for m in monitoring):
            assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"
            continue
        assert name in used, f"{doc['kind']}/{name} is not used by any pod"


def test_backup_cronjob_is_labelled_at_every_level_and_shares_the_node_of_postgres(docs: list[Doc]) -> None:
    cron = named(docs, "CronJob", "postgres-backup")
    spec = cron["spec"]
    assert spec["schedule"] == "0 2 * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    assert cron["metadata"]["labels"]["app"] == "postgres-backup"
    assert spec["jobTemplate"]["metadata"]["labels"]["app"] == "postgres-backup"
    assert spec["jobTemplate"]["spec"]["template"]["metadata"]["labels"]["app"] == "postgres-backup"
    pod = pod_spec(cron)
    container = pod["containers"][0]
    assert container["args"][:5] == ["db", "backup", "--all", "--dir", "/backups"]
    assert {e["name"] for e in container["env"]} >= {"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"}
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"backup-storage"}
    affinity = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert affinity["labelSelector"]["matchLabels"]["app"] == "postgres"
    postgres = pod_spec(named(docs, "StatefulSet", "postgres"))
    backups = [m for m in postgres["containers"][0]["volumeMounts"] if m["mountPath"] == "/backups"]
    assert backups == [{"name": "backups", "mountPath": "/backups", "readOnly": True}]


def test_postgres_init_script_has_no_password_and_reads_the_secret(docs: list[Doc]) -> None:
    script = named(docs, "ConfigMap", "postgres-init-scripts")["data"]["init-databases.sh"]
    assert "ALTER SCHEMA public OWNER" in script
    assert "pass" not in script.replace("password", "")
    env = {e["name"]: e for e in pod_spec(named(docs, "StatefulSet", "postgres"))["containers"][0]["env"]}
    entries = env["ECOMMERCE_DATABASES"]["value"].split()
    assert sorted(e.split(":")[0] for e in entries) == sorted(
        ["userdb", "productdb", "favouritedb", "orderdb", "shippingdb", "paymentdb"]
    )
    for entry in entries:
        variable = entry.split(":")[2]
        assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == "postgres-secret"


def test_ingress_routes_both_hosts_without_rewrite_and_one_certificate_covers_both(docs: list[Doc]) -> None:
    ingress = named(docs, "Ingress", "ecommerce-ingress")
    annotations = ingress["metadata"].get("annotations", {})
    assert not any("rewrite-target" in key for key in annotations)
    assert any(key.startswith("cert-manager.io/") for key in annotations)
    rules = {r["host"]: r["http"]["paths"] for r in ingress["spec"]["rules"]}
    backends = {host: [(p["path"], p["backend"]["service"]["name"]) for p in paths] for host, paths in rules.items()}
    assert sorted(backends.values()) == [[("/", "api-gateway")], [("/app", "proxy-client")]]
    assert sorted(ingress["spec"]["tls"][0]["hosts"]) == sorted(rules)


def test_monitoring_objects_live_in_monitoring_and_scrape_the_actuator(docs: list[Doc]) -> None:
    for monitor in by_kind(docs, "ServiceMonitor"):
        name = monitor["metadata"]["name"]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == "http"
        assert endpoint["path"] == f"{COMPONENTS[name][1]}/prometheus"
    assert {m["metadata"]["name"] for m in by_kind(docs, "ServiceMonitor")} == set(COMPONENTS)
    (rule,) = by_kind(docs, "PrometheusRule")
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["name"].startswith("ecommerce-alerts")
    groups = [g["name"] for g in rule["spec"]["groups"]]
    assert len(groups) == len(set(groups)), "group names must be unique within one rule file"


def test_environments_do_not_overwrite_each_others_monitoring_objects(rendered: dict[str, list[Doc]]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for env, docs in rendered.items():
        for doc in docs:
            if doc["metadata"].get("namespace") == "monitoring":
                key = (doc["kind"], doc["metadata"]["name"])
                assert key not in seen, f"{key} in both {seen.get(key)} and {env}"
                seen[key] = env
    assert ("PrometheusRule", "ecommerce-alerts") in seen


def test_each_environment_renders_into_its_namespace(rendered: dict[str, list[Doc]]) -> None:
    for env, docs in rendered.items():
        namespaces = {d["metadata"].get("namespace") for d in docs} - {"monitoring", None}
        assert namespaces == {env}


def test_registry_replicas_know_each_other_by_stable_names(docs: list[Doc]) -> None:
    registry = named(docs, "StatefulSet", "service-discovery")
    assert registry["spec"]["serviceName"] == "service-discovery-peers"
    peers = named(docs, "ConfigMap", "service-discovery-config")["data"]["EUREKA_CLIENT_SERVICEURL_DEFAULTZONE"]
    assert peers.split(",") == [
        f"http://service-discovery-{i}.service-discovery-peers:8761/eureka/"
        for i in range(registry["spec"]["replicas"])
    ]
    assert named(docs, "Service", "service-discovery-peers")["spec"]["clusterIP"] == "None"


def test_shutdown_takes_the_instance_out_of_the_registry_before_sigterm(docs: list[Doc]) -> None:
    for name in set(COMPONENTS) - {"service-discovery"}:
        workload = component_workload(docs, name)
        command = " ".join(main_container(workload)["lifecycle"]["preStop"]["exec"]["command"])
        assert "status?value=OUT_OF_SERVICE" in command
        sleep = int(command.rsplit("sleep", 1)[1].split()[0])
        assert sleep < pod_spec(workload)["terminationGracePeriodSeconds"]
