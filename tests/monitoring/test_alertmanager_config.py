"""The Alertmanager configuration: amtool's checks, routing per severity, and inhibition on a real Alertmanager."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from monitoring_support import MONITORING, find_tool, run

CONFIG = MONITORING / "alertmanager" / "alertmanager.yml"
STACK_VALUES = MONITORING / "stack" / "kube-prometheus-stack-values.yaml"


def test_amtool_check_config(amtool: str) -> None:
    result = run(amtool, "check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "alertname=ServiceDown"], "email,slack,webhook"),
        (["severity=warning", "alertname=HighCPUUsage"], "slack,webhook"),
        (["severity=info", "alertname=HighRequestRate"], "webhook"),
        (["alertname=Unlabelled"], "webhook"),
    ],
)
def test_routes_by_severity(amtool: str, labels: list[str], receivers: str) -> None:
    result = run(amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receivers


def test_groups_by_alert_namespace_and_application() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["route"]["group_by"] == ["alertname", "namespace", "application"]
    kinds = {kind for receiver in config["receivers"] for kind in receiver if kind.endswith("_configs")}
    assert kinds == {"webhook_configs", "email_configs", "slack_configs"}


def test_no_secret_is_inline() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert "smtp_auth_password" not in config["global"]
    assert "slack_api_url" not in config["global"]
    for receiver in config["receivers"]:
        for slack in receiver.get("slack_configs", []):
            assert "api_url" not in slack


def test_the_stack_values_ship_the_same_configuration() -> None:
    values = yaml.safe_load(STACK_VALUES.read_text())
    assert values["alertmanager"]["config"] == yaml.safe_load(CONFIG.read_text())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A real Alertmanager on 127.0.0.1 with our configuration; yields its base URL."""
    binary = find_tool("alertmanager")
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={CONFIG}",
            f"--storage.path={tmp_path}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("alertmanager did not become ready")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _post_alerts(url: str, alerts: list[dict[str, str]]) -> None:
    body = json.dumps([{"labels": labels} for labels in alerts]).encode()
    request = urllib.request.Request(
        f"{url}/api/v2/alerts", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _inhibited(url: str) -> dict[tuple[str, str, str], bool]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        alerts = json.load(response)
    return {
        (a["labels"]["alertname"], a["labels"]["application"], a["labels"]["severity"]): bool(
            a["status"]["inhibitedBy"]
        )
        for a in alerts
    }


def test_inhibition_on_a_real_alertmanager(alertmanager: str) -> None:
    def alert(name: str, application: str, severity: str) -> dict[str, str]:
        return {"alertname": name, "application": application, "severity": severity, "namespace": "dev"}

    _post_alerts(
        alertmanager,
        [
            alert("ServiceDown", "order-service", "critical"),
            alert("HighErrorRate", "order-service", "critical"),
            alert("HighResponseTime", "order-service", "warning"),
            alert("HighResponseTime", "user-service", "warning"),
            alert("CheckoutLatencyBudgetBurn", "order-service", "critical"),
            alert("ApiGatewayLatencyBudgetBurn", "api-gateway", "critical"),
            alert("ApiGatewayLatencyBudgetBurn", "api-gateway", "warning"),
            alert("HighCPUUsage", "api-gateway", "warning"),
        ],
    )
    deadline = time.monotonic() + 10
    expected = {
        ("ServiceDown", "order-service", "critical"): False,
        ("HighErrorRate", "order-service", "critical"): True,  # the service is down
        ("HighResponseTime", "order-service", "warning"): True,
        ("HighResponseTime", "user-service", "warning"): False,  # another application
        ("CheckoutLatencyBudgetBurn", "order-service", "critical"): True,
        ("ApiGatewayLatencyBudgetBurn", "api-gateway", "critical"): False,
        ("ApiGatewayLatencyBudgetBurn", "api-gateway", "warning"): True,  # its critical twin fires
        ("HighCPUUsage", "api-gateway", "warning"): False,  # another alert
    }
    while (got := _inhibited(alertmanager)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert got == expected
