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


def metrics(canary_errors: float, canary_p95: float = 0.05) -> Callable[[str], float | None]:
    def answer(query: str) -> float | None:
        canary = 'pod=~"product-service-canary' in query
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
