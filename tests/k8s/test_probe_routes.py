"""Every probe in the chart hits a real route of the component it checks, on the container's port."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Match

from ecommerce import components
from ecommerce.chassis import create_app

from .conftest import Doc, pod_spec, workloads

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def _serves(app: Any, path: str) -> bool:
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in app.routes)


@pytest.fixture(scope="module")
def apps() -> dict[str, Any]:
    return {name: create_app(components.load_spec(name)) for name in components.names()}


def test_probes_hit_real_routes(rendered: dict[str, list[Doc]], apps: dict[str, Any]) -> None:
    checked = 0
    for env, docs in rendered.items():
        for workload in workloads(docs):
            name = workload["metadata"]["labels"]["app"]
            if name not in apps:
                continue
            spec = components.load_spec(name)
            for container in pod_spec(workload)["containers"]:
                ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
                for probe_name in PROBES:
                    probe = container.get(probe_name)
                    if probe is None:
                        continue
                    get = probe["httpGet"]
                    assert _serves(apps[name], get["path"]), f"{env}/{name} {probe_name}: no route {get['path']}"
                    port = ports.get(get["port"], get["port"])
                    assert port == spec.port, f"{env}/{name} {probe_name} on port {port}, serves on {spec.port}"
                    checked += 1
    assert checked >= 3 * 10 * 2, f"only {checked} probes checked"
