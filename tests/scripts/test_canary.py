"""canary-deploy.sh: real steps, a Prometheus gate after each, automatic rollback when the gate fails."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "product-service", "labels": {"app": "product-service"}, "uid": "x", "resourceVersion": "1"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "product-service", "app.kubernetes.io/instance": "ecommerce"}},
        "template": {
            "metadata": {"labels": {"app": "product-service", "app.kubernetes.io/instance": "ecommerce"}},
            "spec": {"containers": [{"name": "product-service", "image": "registry.local:5000/ecommerce:1.0.0"}]},
        },
    },
    "status": {"replicas": 2},
}


@pytest.fixture
def prometheus() -> Iterator[Callable[[Callable[[str], float | None]], str]]:
    """A tiny Prometheus answering /api/v1/query from a function of the PromQL text."""
    servers = []

    def start(answer: Callable[[str], float | None]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["query"][0]
                value = answer(query)
                result = [] if value is None else [{"metric": {}, "value": [0, str(value)]}]
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def metrics(
    canary_errors: float, canary_p95: float = 0.05, service: str = "product-service"
) -> Callable[[str], float | None]:
    def answer(query: str) -> float | None:
        canary = f'pod=~"{service}-canary' in query
        if "histogram_quantile" in query:
            return canary_p95 if canary else 0.05
        if "SERVER_ERROR" in query:
            return canary_errors if canary else 0.0
        return 10.0

    return answer


def script_cluster(cluster) -> None:
    cluster.on(r"get deployment/product-service -o json$", json.dumps(DEPLOYMENT))
    cluster.on(r"get deployment/product-service -o jsonpath=\{\.spec\.replicas\}", "2")
    cluster.on(r"containers\[0\]\.name", "product-service")
    cluster.on(r"containers\[0\]\.image", "registry.local:5000/ecommerce:1.0.0")
    cluster.on(r"exec deployment/product-service-canary", '{"status":"UP"}')
    cluster.on(r"get replicasets", "product-service\tproduct-service-abc\t7\t\n")
    cluster.on(r"annotations\.deployment", "7")


def test_canary_happy_path_promotes(cluster, prometheus):
    script_cluster(cluster)
    url = prometheus(metrics(canary_errors=0.0))

    result = cluster.run(
        "canary-deploy.sh", "--pause", "0", "product-service", "1.1.0", "qa", env={"PROMETHEUS_URL": url}
    )

    assert result.returncode == 0, result.stderr
    applied = [json.loads(call.stdin) for call in result.calls if call.argv[-3:] == ["apply", "-f", "-"]]
    assert [doc["spec"]["replicas"] for doc in applied] == [1, 5]
    canary = applied[0]
    assert canary["metadata"]["name"] == "product-service-canary"
    assert canary["spec"]["selector"]["matchLabels"]["track"] == "canary"
    assert canary["spec"]["template"]["metadata"]["labels"] == {
        "app": "product-service",
        "app.kubernetes.io/instance": "ecommerce",
        "track": "canary",
    }
    assert canary["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local:5000/ecommerce:1.1.0"
    assert "uid" not in canary["metadata"] and "status" not in canary
    assert result.called("-n qa scale deployment/product-service --replicas=9")
    assert result.called("-n qa scale deployment/product-service --replicas=5")
    assert result.called("set image deployment/product-service product-service=registry.local:5000/ecommerce:1.1.0")
    assert result.index("set image") < result.index("delete deployment product-service-canary")
    assert result.called("ecommerce/verdict=healthy"), result.stderr
    assert "gate: pass" in result.stderr


def test_canary_gate_failure_rolls_back(cluster, prometheus):
    script_cluster(cluster)
    url = prometheus(metrics(canary_errors=2.0))  # 20 % errors on the canary, none on stable

    result = cluster.run("canary-deploy.sh", "--pause", "0", "product-service", "1.1.0", env={"PROMETHEUS_URL": url})

    assert result.returncode == 1
    assert "gate: FAIL" in result.stderr and "error rate" in result.stderr
    assert not result.called("set image")
    assert result.called("-n dev delete deployment product-service-canary")
    last_scale = [line for line in result.lines() if "scale deployment/product-service" in line][-1]
    assert last_scale.endswith("--replicas=2")


def test_canary_slow_p95_rolls_back(cluster, prometheus):
    script_cluster(cluster)
    url = prometheus(metrics(canary_errors=0.0, canary_p95=2.0))

    result = cluster.run("canary-deploy.sh", "--pause", "0", "product-service", "1.1.0", env={"PROMETHEUS_URL": url})

    assert result.returncode == 1 and "p95" in result.stderr
    assert not result.called("set image")


def test_canary_smoke_failure_rolls_back(cluster, prometheus):
    script_cluster(cluster)
    cluster.rules.insert(0, {"match": "exec deployment/product-service-canary", "stdout": "", "rc": 1})
    url = prometheus(metrics(canary_errors=0.0))

    result = cluster.run("canary-deploy.sh", "--pause", "0", "product-service", "1.1.0", env={"PROMETHEUS_URL": url})

    assert result.returncode == 1 and "readiness request failed" in result.stderr
    assert result.called("delete deployment product-service-canary")


def test_canary_rejects_unknown_service(cluster):
    result = cluster.run("canary-deploy.sh", "no-such-service", "1.0")
    assert result.returncode == 2 and "not a deployable service" in result.stderr
    assert result.calls == []


# Edge services: nginx ingress canary weights on a canary Ingress and Service of their own.

INGRESSES = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": "ecommerce-ingress",
                "annotations": {"cert-manager.io/issuer": "ecommerce-selfsigned"},
            },
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": ["api.ecommerce.local", "ecommerce.local"], "secretName": "ecommerce-tls"}],
                "rules": [
                    {
                        "host": "api.ecommerce.local",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "api-gateway", "port": {"name": "http"}}},
                                }
                            ]
                        },
                    },
                    {
                        "host": "ecommerce.local",
                        "http": {
                            "paths": [
                                {
                                    "path": "/app",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "proxy-client", "port": {"name": "http"}}},
                                }
                            ]
                        },
                    },
                ],
            },
        }
    ],
}


def edge_objects(name: str, port: int) -> tuple[dict, dict]:
    selector = {"app": name, "app.kubernetes.io/instance": "ecommerce"}
    deployment = json.loads(json.dumps(DEPLOYMENT).replace("product-service", name))
    deployment["spec"]["replicas"] = 4
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "labels": {**selector, "metrics": "enabled", "app.kubernetes.io/managed-by": "Helm"},
            "resourceVersion": "9",
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.10",
            "selector": selector,
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    return deployment, service


def edge_cluster(cluster, name: str = "api-gateway", port: int = 8080, ingresses: dict = INGRESSES) -> None:
    deployment, service = edge_objects(name, port)
    cluster.on(rf"get deployment/{name} -o json$", json.dumps(deployment))
    cluster.on(rf"get deployment/{name} -o jsonpath=\{{\.spec\.replicas\}}", "4")
    cluster.on(r"containers\[0\]\.name", name)
    cluster.on(r"containers\[0\]\.image", "registry.local:5000/ecommerce:1.0.0")
    cluster.on(rf"get service/{name} -o jsonpath=", service["spec"]["selector"]["app.kubernetes.io/instance"])
    cluster.on(rf"get service/{name} -o json$", json.dumps(service))
    cluster.on(r"get ingress -o json$", json.dumps(ingresses))
    cluster.on(rf"exec deployment/{name}-canary", '{"status":"UP"}')
    cluster.on(r"get pods -l app=service-discovery ", "service-discovery-0\n")
    cluster.on(rf"get pods -l app={name},track=canary ", "10.1.0.7\n")
    cluster.on(r"get replicasets", f"{name}\t{name}-abc\t3\t\n")
    cluster.on(r"annotations\.deployment", "3")


def applied(result, kind: str) -> list[dict]:
    docs = [json.loads(call.stdin) for call in result.calls if call.argv[-3:] == ["apply", "-f", "-"]]
    return [doc for doc in docs if doc["kind"] == kind]


def test_edge_canary_uses_ingress_weights(cluster, prometheus):
    edge_cluster(cluster)
    url = prometheus(metrics(canary_errors=0.0, service="api-gateway"))

    result = cluster.run("canary-deploy.sh", "--pause", "0", "api-gateway", "1.1.0", "qa", env={"PROMETHEUS_URL": url})

    assert result.returncode == 0, result.stderr
    [service] = applied(result, "Service")
    assert service["metadata"]["name"] == "api-gateway-canary"
    assert service["spec"]["selector"] == {
        "app": "api-gateway",
        "app.kubernetes.io/instance": "ecommerce-canary",
        "track": "canary",
    }
    # The stable Service's labels, so the ServiceMonitor (app, app.kubernetes.io/instance) scrapes the canary.
    labels = service["metadata"]["labels"]
    assert labels["app"] == "api-gateway" and labels["app.kubernetes.io/instance"] == "ecommerce"
    assert labels["metrics"] == "enabled" and "app.kubernetes.io/managed-by" not in labels
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert "clusterIP" not in service["spec"] and "resourceVersion" not in service["metadata"]

    deployments = applied(result, "Deployment")
    assert [doc["spec"]["replicas"] for doc in deployments] == [1, 2, 4]
    pod_labels = deployments[0]["spec"]["template"]["metadata"]["labels"]
    assert pod_labels == {"app": "api-gateway", "app.kubernetes.io/instance": "ecommerce-canary", "track": "canary"}
    assert deployments[0]["spec"]["selector"]["matchLabels"] == pod_labels
    image = deployments[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.local:5000/ecommerce:1.1.0"

    ingresses = applied(result, "Ingress")
    annotations = [doc["metadata"]["annotations"] for doc in ingresses]
    assert annotations == [
        {"nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": weight}
        for weight in ("10", "50", "100")
    ]
    assert all(doc["metadata"]["name"] == "api-gateway-canary" for doc in ingresses)
    assert ingresses[0]["spec"] == {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": "api.ecommerce.local",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "api-gateway-canary", "port": {"name": "http"}}},
                        }
                    ]
                },
            }
        ],
    }
    # The stable Deployment keeps its pods (and its autoscaler): no replica-ratio scaling at the edge.
    assert not result.called("scale deployment/api-gateway")
    # Each step: canary ready, out of the registry, then the weight, then the gate.
    lines = result.lines()
    rollouts = [i for i, line in enumerate(lines) if "rollout status deployment/api-gateway-canary" in line]
    weights = [
        i
        for i, call in enumerate(c for c in result.calls if c.tool == "kubectl")
        if call.stdin and "canary-weight" in call.stdin
    ]
    registry = [i for i, line in enumerate(lines) if "registry-status PUT ?value=OUT_OF_SERVICE API-GATEWAY" in line]
    gates = [i for i, line in enumerate(lines) if "exec deployment/api-gateway-canary" in line]
    assert len(rollouts) == len(weights) == len(registry) == len(gates) == 3
    for step in range(3):
        assert rollouts[step] < registry[step] < weights[step] < gates[step]
    assert "10.1.0.7:api-gateway:8080" in lines[registry[0]]
    assert gates[-1] < result.index("set image deployment/api-gateway api-gateway=registry.local:5000/ecommerce:1.1.0")
    assert (
        result.index("set image")
        < result.index("rollout status deployment/api-gateway --timeout")
        < result.index("delete ingress api-gateway-canary")
        < result.index("delete service api-gateway-canary")
        < result.index("delete deployment api-gateway-canary")
    )
    assert result.called("ecommerce/verdict=healthy")


def test_edge_canary_gate_failure_removes_ingress_first(cluster, prometheus):
    edge_cluster(cluster, "proxy-client", 8900)
    url = prometheus(metrics(canary_errors=2.0, service="proxy-client"))

    result = cluster.run("canary-deploy.sh", "--pause", "0", "proxy-client", "1.1.0", env={"PROMETHEUS_URL": url})

    assert result.returncode == 1
    assert "gate: FAIL" in result.stderr and "gate failed at 10 %" in result.stderr
    [ingress] = applied(result, "Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "10"
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "ecommerce.local"
    assert rule["http"]["paths"][0]["path"] == "/app"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "proxy-client-canary"
    assert not result.called("set image")
    assert not result.called("scale deployment/proxy-client")
    assert (
        result.index("-n dev delete ingress proxy-client-canary")
        < result.index("-n dev delete service proxy-client-canary")
        < result.index("-n dev delete deployment proxy-client-canary")
    )


def test_edge_canary_failed_promotion_is_undone_and_cleaned_up(cluster, prometheus):
    edge_cluster(cluster)
    cluster.on(r"rollout status deployment/api-gateway --timeout", rc=1)
    url = prometheus(metrics(canary_errors=0.0, service="api-gateway"))

    result = cluster.run("canary-deploy.sh", "--pause", "0", "api-gateway", "1.1.0", env={"PROMETHEUS_URL": url})

    assert result.returncode == 1 and "undone" in result.stderr
    assert result.called("rollout undo deployment/api-gateway")
    assert result.called("ecommerce/verdict=unhealthy")
    assert result.index("rollout undo") < result.index("delete ingress api-gateway-canary")
    assert result.called("delete deployment api-gateway-canary")


def test_edge_canary_without_an_ingress_route_changes_nothing(cluster):
    edge_cluster(cluster, ingresses={"apiVersion": "v1", "kind": "List", "items": []})

    result = cluster.run("canary-deploy.sh", "--pause", "0", "api-gateway", "1.1.0")

    assert result.returncode == 1 and "no Ingress routes to Service api-gateway" in result.stderr
    assert not result.called("apply") and not result.called("delete")


def test_edge_canary_refuses_a_stable_service_that_would_select_the_canary(cluster):
    edge_cluster(cluster)
    cluster.rules.insert(0, {"match": r"get service/api-gateway -o jsonpath=", "stdout": "", "rc": 0})

    result = cluster.run("canary-deploy.sh", "--pause", "0", "api-gateway", "1.1.0")

    assert result.returncode == 1 and "cannot be kept out of it" in result.stderr
    assert not result.called("apply")


def test_edge_canary_dry_run_changes_nothing(cluster):
    edge_cluster(cluster)

    result = cluster.run("canary-deploy.sh", "--dry-run", "api-gateway", "1.1.0")

    assert result.returncode == 0, result.stderr
    assert not result.called("apply") and not result.called("delete") and not result.called("set image")
    assert "nginx.ingress.kubernetes.io/canary-weight" in result.stderr
    assert "delete ingress api-gateway-canary" in result.stderr


def test_canary_load_runs_the_load_generator_during_each_pause(cluster, prometheus):
    script_cluster(cluster)
    cluster.on(r"get deployment/loadgenerator -o name", "deployment.apps/loadgenerator")
    cluster.on(r"exec deployment/loadgenerator", "smoke gate passed")
    url = prometheus(metrics(canary_errors=0.0))

    result = cluster.run(
        "canary-deploy.sh",
        "--pause",
        "12",
        "--load",
        "--load-rate",
        "4",
        "product-service",
        "1.1.0",
        "qa",
        env={"PROMETHEUS_URL": url},
    )

    assert result.returncode == 0, result.stderr
    loads = [call.argv for call in result.calls if "deployment/loadgenerator" in call.argv and "exec" in call.argv]
    assert len(loads) == 2  # one bounded run before each gate (10 % and 50 %)
    argv = loads[0]
    assert argv[argv.index("--") + 1 :][:3] == ["ecommerce", "loadgen", "--headless"]
    assert argv[argv.index("--duration") + 1] == "12" and argv[argv.index("--rate") + 1] == "4"
    assert argv[argv.index("--gateway") + 1] == "http://api-gateway:8080"
    assert result.called("set image deployment/product-service")


def test_canary_load_with_failed_requests_rolls_back(cluster, prometheus):
    script_cluster(cluster)
    cluster.on(r"get deployment/loadgenerator -o name", "deployment.apps/loadgenerator")
    cluster.on(r"exec deployment/loadgenerator", "smoke gate FAILED", rc=1)
    url = prometheus(metrics(canary_errors=0.0))

    result = cluster.run(
        "canary-deploy.sh", "--pause", "0", "--load", "product-service", "1.1.0", env={"PROMETHEUS_URL": url}
    )

    assert result.returncode == 1
    assert "load generator saw failed requests" in result.stderr
    assert not result.called("set image")
    assert result.called("-n dev delete deployment product-service-canary")


def test_canary_load_needs_the_load_generator(cluster, prometheus):
    script_cluster(cluster)
    cluster.on(r"get deployment/loadgenerator", "", rc=1)

    result = cluster.run("canary-deploy.sh", "--load", "product-service", "1.1.0", "prod")

    assert result.returncode == 1
    assert "loadgenerator.enabled" in result.stderr
    assert not result.called("apply")
