"""The environment's identity secrets in the chart: one Secret, every component, the scrapes, no actuator outside.

Issue 13: the registry and the config server take HTTP Basic per component, the actuators answer Prometheus and
operators only; the chart must deliver SERVICE_KEYS, OPERATOR_PASSWORD and PROMETHEUS_PASSWORD everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ecommerce.chassis.identity import MeshSecrets

from .conftest import Doc, by_kind, helm_template, load_docs, pod_spec
from .fake_apiserver import secret
from .test_upgrade_lookups import HELMS, render, string_data

IDENTITY_ENV = {"SERVICE_KEYS": "service-keys", "OPERATOR_PASSWORD": "operator-password"}
IDENTITY_ENV["PROMETHEUS_PASSWORD"] = "prometheus-password"


def _components(docs: list[Doc]) -> list[Doc]:
    """The ten components' Deployments and StatefulSets (the database, the backup job and the load generator, an
    outside client that holds no identity, are not components)."""
    return [
        d
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
        and d["metadata"]["labels"].get("app") not in ("postgres", "loadgenerator")
    ]


def test_the_load_generator_holds_no_identity(rendered: dict[str, list[Doc]]) -> None:
    [generator] = [d for d in rendered["dev"] if d["kind"] == "Deployment" and d["metadata"]["name"] == "loadgenerator"]
    [container] = pod_spec(generator)["containers"]
    assert container["args"][:2] == ["loadgen", "--headless"]
    assert not [e for e in container.get("env", []) if e["name"] in IDENTITY_ENV]
    assert not [d for d in rendered["prod"] if d["metadata"]["name"] == "loadgenerator"]  # off in prod


def test_one_secret_gives_every_component_its_identity(docs: list[Doc]) -> None:
    components = _components(docs)
    assert len(components) == 10
    for workload in components:
        [container] = pod_spec(workload)["containers"]
        env = {item["name"]: item for item in container["env"]}
        for variable, key in IDENTITY_ENV.items():
            assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": "identity-secret", "key": key}, variable
    [identity] = [d for d in by_kind(docs, "Secret") if d["metadata"]["name"] == "identity-secret"]
    data = identity["stringData"]
    MeshSecrets.parse(data["service-keys"], data["operator-password"], data["prometheus-password"])  # well formed
    assert data["prometheus-username"] == "prometheus"


def test_only_dev_carries_marked_development_defaults(rendered: dict[str, list[Doc]]) -> None:
    def identity(env: str) -> dict[str, str]:
        [doc] = [d for d in rendered[env] if d["kind"] == "Secret" and d["metadata"]["name"] == "identity-secret"]
        return dict(doc["stringData"])

    assert identity("dev")["operator-password"] == "operator-dev-password"
    assert identity("qa")["service-keys"] != identity("prod")["service-keys"]  # generated, never a default
    values = (Path(__file__).resolve().parents[2] / "helm-charts/ecommerce-microservices/values-dev.yaml").read_text()
    assert "DEVELOPMENT ONLY: the dev namespace's mesh key" in values


def test_prometheus_scrapes_as_the_prometheus_user(docs: list[Doc]) -> None:
    monitors = by_kind(docs, "ServiceMonitor")
    assert len(monitors) == 10
    for monitor in monitors:
        [endpoint] = monitor["spec"]["endpoints"]
        assert endpoint["basicAuth"] == {
            "username": {"name": "identity-secret", "key": "prometheus-username"},
            "password": {"name": "identity-secret", "key": "prometheus-password"},
        }


def _route(ingresses: list[Doc], host: str, path: str) -> Doc | None:
    """The Ingress whose longest matching Prefix path takes `path` on `host` (ingress-nginx merges them per host)."""
    best: tuple[int, Doc] | None = None
    for ingress in ingresses:
        for rule in ingress["spec"]["rules"]:
            if rule["host"] != host:
                continue
            for item in rule["http"]["paths"]:
                prefix = item["path"].rstrip("/")
                if (path == prefix or path.startswith(prefix + "/")) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), ingress)
    return None if best is None else best[1]


def test_the_ingress_routes_no_actuator(docs: list[Doc]) -> None:
    ingresses = by_kind(docs, "Ingress")
    hosts = {rule["host"] for ingress in ingresses for rule in ingress["spec"]["rules"]}
    bases = {
        monitor["spec"]["endpoints"][0]["path"].removesuffix("/prometheus")
        for monitor in by_kind(docs, "ServiceMonitor")
    }
    assert "/actuator" in bases and "/app/actuator" in bases and "/order-service/actuator" in bases
    for host in hosts:
        for base in bases:
            for path in (f"{base}/prometheus", f"{base}/refresh", f"{base}/health", base):
                ingress = _route(ingresses, host, path)
                if ingress is None:
                    continue  # not routed at all on this host
                annotations = ingress["metadata"].get("annotations", {})
                denied = annotations.get("nginx.ingress.kubernetes.io/denylist-source-range", "")
                assert {"0.0.0.0/0", "::/0"} <= set(denied.split(",")), f"{host}{path} reaches a backend"
    # The shop's own pages and the API still go through.
    [main] = [ingress for ingress in ingresses if ingress["metadata"]["name"] == "ecommerce-ingress"]
    for rule in main["spec"]["rules"]:
        path = "/app/products" if rule["http"]["paths"][0]["path"] == "/app" else "/product-service/api/products"
        assert _route(ingresses, rule["host"], path) is main


def test_an_existing_secret_replaces_the_charts(helm4: str) -> None:
    docs = load_docs(helm_template(helm4, "prod", "--set", "identity.existingSecret=shop-identity"))
    assert not [d for d in by_kind(docs, "Secret") if d["metadata"]["name"] == "identity-secret"]
    for workload in _components(docs):
        env = {item["name"]: item for item in pod_spec(workload)["containers"][0]["env"]}
        assert env["SERVICE_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "shop-identity"
    for monitor in by_kind(docs, "ServiceMonitor"):
        assert monitor["spec"]["endpoints"][0]["basicAuth"]["password"]["name"] == "shop-identity"


@pytest.mark.parametrize("helm_name", HELMS)
def test_rotated_identity_survives_an_upgrade(request: pytest.FixtureRequest, helm_name: str, tmp_path: Path) -> None:
    rotated = {
        "service-keys": "k2:" + "n" * 40 + ",k1:" + "o" * 40,
        "operator-password": "rotated-operator-1",
        "prometheus-username": "prometheus",
        "prometheus-password": "rotated-prometheus-1",
    }
    docs, cluster = render(request, helm_name, "dev", [secret("dev", "identity-secret", rotated)], tmp_path)
    assert "/api/v1/namespaces/dev/secrets/identity-secret" in cluster.requests
    assert string_data(docs, "identity-secret") == rotated  # dev's defaults do not undo the rotation


def test_docker_compose_gives_every_component_the_same_identity_and_prometheus_its_password() -> None:
    import yaml

    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    components = {name: s for name, s in compose["services"].items() if s.get("image", "").startswith("ecommerce")}
    assert len(components) == 10
    for service in components.values():
        env = service["environment"]
        MeshSecrets.parse(env["SERVICE_KEYS"], env["OPERATOR_PASSWORD"], env["PROMETHEUS_PASSWORD"])
    # The file Prometheus' container mounts as its configuration (a bind mount: Compose v1 has no inline configs).
    mounts = dict(v.rsplit(":", 2)[:2] for v in compose["services"]["prometheus"]["volumes"])
    source = next(src for src, target in mounts.items() if target == "/etc/prometheus/prometheus.yml")
    prometheus = yaml.safe_load((root / source).read_text())
    password = next(iter(components.values()))["environment"]["PROMETHEUS_PASSWORD"]
    for job in prometheus["scrape_configs"]:
        assert job["basic_auth"] == {"username": "prometheus", "password": password}


def test_the_edge_believes_forwarded_for_only_from_the_cluster_networks(docs: list[Doc]) -> None:
    """Behind the ingress every client arrives from the controller's address: unless the gateway and the storefront
    believe the entries the cluster's proxies add, every shopper shares one rate-limit bucket and sign-in brake."""
    config = {d["metadata"]["name"]: d["data"] for d in by_kind(docs, "ConfigMap")}
    networks = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
    assert config["api-gateway-config"]["GATEWAY_TRUST_FORWARDED_FOR"] == "true"
    assert config["api-gateway-config"]["GATEWAY_TRUSTED_PROXIES"] == networks
    assert config["proxy-client-config"]["STOREFRONT_TRUSTED_PROXIES"] == networks
    for name, data in config.items():
        if name not in ("api-gateway-config", "proxy-client-config", "proxy-client-eureka-config"):
            assert not any("TRUST" in key for key in data), name
