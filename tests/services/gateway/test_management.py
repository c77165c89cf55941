"""The gateway's own management endpoints answer operators and Prometheus only, on both protocols; health is public.

The guard is the chassis' one (chassis/actuator.py): the operator may use every endpoint, Prometheus may only read
`/actuator/prometheus`. No route of the table may claim the management root, so neither the native path nor the
fast lane can ever proxy (and so bypass) it.
"""

from __future__ import annotations

import base64

import pytest
from conftest import OPERATOR, PROMETHEUS, GatewayFactory, Upstream, default_config
from pydantic import ValidationError

from ecommerce.services.gateway.config import GatewayConfig

MANAGEMENT = [
    ("GET", "/actuator/prometheus"),
    ("GET", "/actuator/gateway/routes"),
    ("GET", "/actuator/info"),
    ("POST", "/actuator/refresh"),
]
HEALTH = ["/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness"]
WRONG = {"Authorization": "Basic " + base64.b64encode(b"operator:guess").decode()}


async def test_anonymous_callers_get_401_at_every_management_endpoint(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        for method, path in MANAGEMENT:
            for headers in ({}, WRONG):
                response = await client.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert response.headers["www-authenticate"].startswith("Basic")
        for path in HEALTH:
            assert (await client.get(path)).status_code == 200, path


@pytest.mark.parametrize(
    "target",
    [
        "/actuator/%70rometheus",
        "/actuator/gateway/%72outes",
        "/actuator/prometheus/",
        "/actuator//prometheus",
        "//actuator/prometheus",
        "/product-service/../actuator/prometheus",
        "/product-service/%2e%2e/actuator/prometheus",
        "/actuator/prometheus?x=/product-service/api/products",
    ],
)
async def test_spellings_of_a_management_path_do_not_reach_it(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream], target: str
) -> None:
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        response = await client.get(target)
    assert response.status_code in {307, 400, 401, 404}, response.status_code
    assert "gateway_" not in response.text and "route_id" not in response.text
    assert sum(upstreams[0].hits.values()) == 0  # nothing was proxied either


async def test_operator_may_do_everything_prometheus_may_only_scrape(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        for method, path in MANAGEMENT:
            assert (await client.request(method, path, headers=OPERATOR)).status_code == 200, (method, path)
        assert (await client.get("/actuator/prometheus", headers=PROMETHEUS)).status_code == 200
        for method, path in MANAGEMENT[1:]:
            assert (await client.request(method, path, headers=PROMETHEUS)).status_code == 403, (method, path)


@pytest.mark.parametrize("prefix", ["actuator", ".", ".."])
def test_no_route_may_claim_the_management_root(prefix: str) -> None:
    with pytest.raises(ValidationError):
        GatewayConfig.model_validate({"routes": [{"id": "x", "path": f"/{prefix}/**", "service": "x"}]})
