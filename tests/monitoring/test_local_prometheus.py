"""The local Prometheus and Alertmanager configurations behind `ecommerce up --monitoring`."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jinja2
import pytest
import yaml
from monitoring_support import MONITORING, find_tool, run

from monitoring.catalog import COMPONENTS, component

LOCAL = MONITORING / "local"
RULES = sorted(str(p) for p in (MONITORING / "rules").glob("*.yaml"))


def _render(name: str, **variables: object) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string((LOCAL / name).read_text()).render(**variables)


def test_defaults_scrape_every_component_on_loopback_at_its_metrics_path() -> None:
    config = yaml.safe_load(_render("prometheus.yml.j2"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert list(jobs) == [c.name for c in COMPONENTS]
    for comp in COMPONENTS:
        job = jobs[comp.name]
        assert job["metrics_path"] == comp.metrics_path
        assert job["honor_labels"] is True
        (static,) = job["static_configs"]
        assert static["targets"] == [f"127.0.0.1:{comp.port}"]
        assert static["labels"] == {"application": comp.name}
    assert "rule_files" not in config and "alerting" not in config


def test_promtool_accepts_the_full_configuration(promtool: str, tmp_path: Path) -> None:
    text = _render("prometheus.yml.j2", rule_files=RULES, alertmanager="127.0.0.1:9093", ports={"api-gateway": 18080})
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    result = run(promtool, "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(text)
    assert config["rule_files"] == RULES
    gateway = next(job for job in config["scrape_configs"] if job["job_name"] == "api-gateway")
    assert gateway["static_configs"][0]["targets"] == ["127.0.0.1:18080"]


def test_every_job_proves_itself_as_prometheus_when_given_the_password_file(promtool: str, tmp_path: Path) -> None:
    password = tmp_path / "prometheus-password"
    password.write_text("prometheus-test-password")
    text = _render("prometheus.yml.j2", password_file=str(password))
    (tmp_path / "prometheus.yml").write_text(text)
    result = run(promtool, "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    for job in yaml.safe_load(text)["scrape_configs"]:
        assert job["basic_auth"] == {"username": "prometheus", "password_file": str(password)}


def test_ecommerce_up_gives_prometheus_the_data_folders_password(tmp_path: Path) -> None:
    from ecommerce.chassis.identity import dev_secrets
    from ecommerce.local.monitoring import LocalMonitoring

    monitoring = LocalMonitoring(data_dir=tmp_path, components=["product-service"], root=MONITORING.parent)
    config = yaml.safe_load(monitoring.render()[0].read_text())
    password_file = Path(config["scrape_configs"][0]["basic_auth"]["password_file"])
    assert password_file.read_text() == dev_secrets(tmp_path)["PROMETHEUS_PASSWORD"]
    assert password_file.stat().st_mode & 0o077 == 0


def test_local_alertmanager_config_checks_and_inhibits_like_the_clusters(amtool: str, tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(_render("alertmanager.yml.j2", webhook_url="http://127.0.0.1:19095/hook"))
    result = run(amtool, "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    local = yaml.safe_load(path.read_text())
    cluster = yaml.safe_load((MONITORING / "alertmanager" / "alertmanager.yml").read_text())
    assert local["inhibit_rules"] == cluster["inhibit_rules"]
    assert local["route"]["group_by"] == cluster["route"]["group_by"]
    assert local["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:19095/hook"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _FakeProductService(BaseHTTPRequestHandler):
    """Serves a few metrics at product-service's metrics path only."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        if self.path != component("product-service").metrics_path:
            self.send_error(404)
            return
        body = b"process_resident_memory_bytes 1.0e+08\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _query(url: str, promql: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/v1/query?query={urllib.request.quote(promql)}", timeout=5) as response:
        return json.load(response)["data"]["result"]


@pytest.mark.slow
def test_a_real_prometheus_scrapes_a_component_with_its_labels(tmp_path: Path) -> None:
    binary = find_tool("prometheus")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeProductService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        _render(
            "prometheus.yml.j2",
            components=["product-service"],
            ports={"product-service": server.server_address[1]},
            scrape_interval="1s",
        )
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        result: list[dict] = []
        while time.monotonic() < deadline and process.poll() is None:
            try:
                result = _query(url, "process_resident_memory_bytes")
            except OSError:
                result = []
            if result:
                break
            time.sleep(0.2)
        assert result, "prometheus never scraped the fake product-service"
        labels = result[0]["metric"]
        assert labels["job"] == "product-service" and labels["application"] == "product-service"
        up = _query(url, 'up{job="product-service"}')
        assert up[0]["value"][1] == "1"
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.shutdown()
        server.server_close()
