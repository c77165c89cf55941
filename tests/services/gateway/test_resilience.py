"""Timeouts, retries within a budget, and the circuit breaker per upstream."""

from __future__ import annotations

import asyncio

from conftest import OPERATOR, GatewayFactory, Keys, Upstream, default_config
from prometheus_client import REGISTRY

DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port


def _retries(route: str) -> float:
    return REGISTRY.get_sample_value("gateway_retries_total", {"application": "api-gateway", "route": route}) or 0.0


async def test_idempotent_request_retried_on_another_instance(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    one, two = upstreams
    before = _retries("product-service")
    async with gateway(default_config({"*": [one.url, two.url]})) as client:
        one.fail_next = 1  # round robin starts with one, whose 503 is retried on two
        response = await client.get("/product-service/api/products")
        assert response.status_code == 200
        assert response.json()["instance"] == "two"
    assert one.hits["/product-service/api/products"] == 1
    assert _retries("product-service") == before + 1


async def test_post_not_retried_after_an_answer_but_retried_when_never_sent(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream], keys: Keys
) -> None:
    one, _ = upstreams
    async with gateway(default_config({"*": [one.url]})) as client:
        one.fail_next = 1
        response = await client.post("/order-service/api/orders", json={"a": 1}, headers=keys.auth(admin=True))
        assert response.status_code == 503  # the upstream's own answer, passed through
        assert one.hits["/order-service/api/orders"] == 1
    async with gateway(default_config({"*": [DEAD, one.url]})) as client:
        for _ in range(4):
            response = await client.post("/order-service/api/orders", json={"a": 1}, headers=keys.auth(admin=True))
            assert response.status_code == 200  # connect refused: safe to send elsewhere


async def test_retry_budget_caps_retries(gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]) -> None:
    one, _ = upstreams
    config = default_config({"*": [one.url]}, **{"retry-budget": {"ratio": 0.0, "minimum": 2}})
    before = _retries("product-service")
    async with gateway(config) as client:
        one.fail_next = 100
        for _ in range(5):
            assert (await client.get("/product-service/api/products")).status_code == 503
    assert _retries("product-service") == before + 2


async def test_timeout_answers_504_with_the_error_body(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    one, _ = upstreams
    config = default_config({"*": [one.url]}, defaults={"timeout": 0.3, "retries": 0})
    async with gateway(config) as client:
        response = await client.get("/product-service/api/products?delay=1")
        assert response.status_code == 504
        assert response.json()["httpStatus"] == "GATEWAY_TIMEOUT"
        assert (await client.get("/product-service/api/products?delay=0.1")).status_code == 200


async def test_unreachable_upstream_answers_502(gateway: GatewayFactory) -> None:
    async with gateway(default_config({"*": [DEAD]})) as client:
        response = await client.get("/product-service/api/products")
        assert response.status_code == 502
        body = response.json()
        assert body["httpStatus"] == "BAD_GATEWAY"
        assert body["path"] == "/product-service/api/products"


async def test_circuit_opens_fails_fast_and_recovers(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    one, _ = upstreams
    config = default_config({"*": [one.url]}, defaults={"retries": 0})
    state = {"application": "api-gateway", "upstream": one.url}
    async with gateway(config) as client:
        breaker = client.app.state.gateway.upstreams.breaker(one.url)  # type: ignore[attr-defined]
        breaker.open_seconds = 0.5
        one.fail_next = 5
        for _ in range(5):  # minimum 5 calls, all failing: 100 % >= 50 %
            assert (await client.get("/product-service/api/products")).status_code == 503
        assert REGISTRY.get_sample_value("gateway_circuit_state", state) == 1
        hits = one.hits["/product-service/api/products"]
        fast = await client.get("/product-service/api/products")
        assert fast.status_code == 503
        assert "No instance of product-service" in fast.json()["msg"]
        assert one.hits["/product-service/api/products"] == hits  # the open circuit spared the upstream
        await asyncio.sleep(0.6)
        for _ in range(3):  # three half-open trial calls succeed: closed again
            assert (await client.get("/product-service/api/products")).status_code == 200
        assert REGISTRY.get_sample_value("gateway_circuit_state", state) == 0
        routes = (await client.get("/actuator/gateway/routes", headers=OPERATOR)).json()
        assert {r["route_id"]: r for r in routes}["product-service"]["circuits"] == {one.url: "CLOSED"}


async def test_open_circuit_sends_traffic_to_the_healthy_instance(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    one, two = upstreams
    config = default_config({"*": [one.url, two.url]}, defaults={"retries": 0})
    async with gateway(config) as client:
        one.fail_next = 1000
        statuses = [(await client.get("/product-service/api/products")).status_code for _ in range(12)]
        assert statuses.count(503) == 5  # until one's circuit opened
        later = [(await client.get("/product-service/api/products")).json()["instance"] for _ in range(6)]
        assert later == ["two"] * 6
