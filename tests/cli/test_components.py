"""The one table of components: every reader derives from it, and the files generated from it are current."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ecommerce import components
from ecommerce.cli import app
from ecommerce.ops import derived

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_the_generated_files_are_current() -> None:
    assert derived.stale(ROOT) == [], "run `ecommerce components render` (or scripts/render-k8s.sh)"


def test_render_check_fails_on_a_stale_file_and_render_repairs_it(tmp_path: Path) -> None:
    for relative in (derived.CHART_FILE, derived.SHELL_FILE, derived.ROUTES_FILE):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, tmp_path / relative)
    chart = tmp_path / derived.CHART_FILE
    chart.write_text(chart.read_text().replace("port: 8500", "port: 8501"))
    check = runner.invoke(app, ["components", "render", "--check", "--root", str(tmp_path)])
    assert check.exit_code == 1
    assert str(derived.CHART_FILE) in check.output
    assert runner.invoke(app, ["components", "render", "--root", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["components", "render", "--check", "--root", str(tmp_path)]).exit_code == 0
    assert "port: 8500" in chart.read_text()


def test_the_route_block_keeps_its_markers(tmp_path: Path) -> None:
    text = (ROOT / derived.ROUTES_FILE).read_text()
    assert derived.with_routes_block(text) == text
    with pytest.raises(ValueError, match="marker"):
        derived.with_routes_block(text.replace("# end of the generated routes.", ""))


@pytest.mark.parametrize("name", components.names())
def test_each_spec_takes_its_place_from_the_table(name: str) -> None:
    spec, component = components.load_spec(name), components.get(name)
    assert (spec.name, spec.port, spec.context_path) == (component.name, component.port, component.context_path)
    assert spec.actuator_base == component.actuator_base


def test_the_peer_client_and_the_gateway_read_the_table() -> None:
    from ecommerce.chassis import DEFAULT_PORTS
    from ecommerce.services.gateway.config import load_config

    assert DEFAULT_PORTS == components.ports()
    routes = {route.service: route.prefix for route in load_config().routes}
    assert routes == {c.name: c.context_path.lstrip("/") for c in components.TABLE if c.context_path}
    served = yaml.safe_load((ROOT / "config-repo" / "api-gateway.yml").read_text())["gateway"]
    assert load_config(served).routes == load_config().routes


def test_the_compose_file_and_its_prometheus_use_the_table_ports() -> None:
    """docker-compose.yml and its Prometheus are hand-kept: each service's port and scrape target must agree."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    scrape = yaml.safe_load((ROOT / "monitoring" / "compose" / "prometheus.yml").read_text())["scrape_configs"]
    targets = {job["job_name"]: job for job in scrape}
    for component in components.TABLE:
        service = compose[component.name]
        assert f"{component.port}:{component.port}" in service["ports"]
        assert service["environment"]["ECOMMERCE_HEALTH_PORT"] == str(component.port)
        readiness = f"http://127.0.0.1:{component.port}{component.actuator_base}/health/readiness"
        assert service["healthcheck"]["test"][-1] == readiness
        job = targets[component.name]
        assert job["metrics_path"] == f"{component.actuator_base}/prometheus"
        assert job["static_configs"][0]["targets"] == [f"{component.name}:{component.port}"]


def test_the_image_exposes_the_table_ports() -> None:
    [expose] = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("EXPOSE ")]
    assert sorted(int(port) for port in expose.split()[1:]) == sorted(components.ports().values())


def test_the_table_module_imports_no_service_and_no_chassis() -> None:
    code = (
        "import sys, ecommerce.components\n"
        "print([m for m in sys.modules if m.startswith(('ecommerce.services', 'ecommerce.chassis'))])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_scripts_helpers_start_without_the_chassis() -> None:
    """`ecommerce kubeobj ...` runs many times per script: the root group imports only the command called."""
    code = (
        "import sys\n"
        "from ecommerce.cli import app\n"
        "try:\n"
        "    app(['kubeobj', 'retag', 'registry:5000/shop:1', '2'], prog_name='ecommerce')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print([m for m in sys.modules if m.startswith(('ecommerce.chassis', 'fastapi', 'sqlalchemy'))])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["registry:5000/shop:2", "[]"]


def test_components_list_as_json() -> None:
    result = runner.invoke(app, ["components", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = [yaml.safe_load(line) for line in result.output.splitlines()]
    assert [row["name"] for row in rows] == components.names()
    assert rows[3] == {
        "name": "product-service",
        "port": 8500,
        "contextPath": "/product-service",
        "actuatorBase": "/product-service/actuator",
        "tier": "business",
        "database": {"name": "productdb", "username": "productservice"},
        "module": "ecommerce.services.products",
    }
