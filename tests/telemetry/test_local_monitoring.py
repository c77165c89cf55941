"""`ecommerce up --monitoring`: the rendered local configuration, the ports, and the missing-tools message."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import yaml
from shop_testing import ROOT, require
from typer.testing import CliRunner

from ecommerce.cli import app
from ecommerce.local.monitoring import LocalMonitoring, missing_tools, pick_port
from ecommerce.local.supervisor import Supervisor

TOOLS_BIN = ROOT / ".tools" / "bin"


def test_up_monitoring_without_tools_says_how_to_install_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "monitoring" / "local", checkout / "monitoring" / "local")
    monkeypatch.chdir(checkout)  # a checkout with the templates but no .tools/
    assert missing_tools() == ["prometheus", "alertmanager"]
    result = CliRunner().invoke(app, ["up", "--monitoring", "--only", "product-service", "--data-dir", "data"])
    assert result.exit_code == 1, result.output
    assert "make tools" in result.output
    assert not (checkout / "data").exists(), "nothing may start when the tools are missing"


def test_the_rendered_configuration_scrapes_the_started_components_with_the_rules(tmp_path: Path) -> None:
    monitoring = LocalMonitoring(
        data_dir=tmp_path,
        components=["service-discovery", "product-service"],
        ports={"product-service": 18500},
        webhook_url="http://127.0.0.1:19095/hook",
        root=ROOT,
    )
    monitoring.alertmanager.port = 19093
    prometheus_path, alertmanager_path = monitoring.render()
    assert prometheus_path.parent == alertmanager_path.parent == tmp_path / "monitoring"
    config = yaml.safe_load(prometheus_path.read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets == {"service-discovery": ["127.0.0.1:8761"], "product-service": ["127.0.0.1:18500"]}
    rules = sorted(str(p) for p in (ROOT / "monitoring" / "rules").glob("*.yaml"))
    assert rules and config["rule_files"] == rules
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:19093"]
    receiver = yaml.safe_load(alertmanager_path.read_text())["receivers"][0]
    assert receiver["webhook_configs"][0]["url"] == "http://127.0.0.1:19095/hook"

    promtool = TOOLS_BIN / "promtool"
    require(os.access(promtool, os.X_OK), "promtool is not installed: run `make tools`")
    checked = subprocess.run(
        [str(promtool), "check", "config", str(prometheus_path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_well_known_port_when_free_another_when_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        assert pick_port(busy) != busy
    free = pick_port(0)
    assert pick_port(free) == free


@pytest.mark.slow
async def test_the_supervisor_starts_monitoring_lists_it_and_stops_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(not missing_tools(ROOT), "prometheus and alertmanager are not installed: run `make tools`")
    monitoring = LocalMonitoring(data_dir=tmp_path, components=[], prometheus_port=0, alertmanager_port=0, root=ROOT)
    supervisor = Supervisor(names=[], instances={}, data_dir=tmp_path, monitoring=monitoring)
    loop = asyncio.get_running_loop()
    try:
        await supervisor.run()  # no component: it starts monitoring, prints the table, finds nothing to watch
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    table = capsys.readouterr().err
    assert f"{monitoring.prometheus_url}/" in table and f"{monitoring.alertmanager_url}/" in table
    for server in (monitoring.prometheus, monitoring.alertmanager):
        assert server.process is not None and server.process.returncode is not None, f"{server.name} still runs"
    assert "Server is ready to receive web requests" in monitoring.prometheus.log_path.read_text()
    assert (tmp_path / "monitoring" / "data" / "prometheus").is_dir()
