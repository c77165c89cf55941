"""A peer slow or failing, switched on with the fault-injection endpoint of a real process: timeouts, the circuit
opening and closing, lists degrading to null embeds instead of failing."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from reliability_support import Shop, running_shop, set_faults, wait_until
from shop_testing import admin_headers, jwks_url, prometheus_headers

pytestmark = pytest.mark.slow

PRODUCT_ACTUATOR = "/product-service/actuator"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    # No storefront here: the services trust the tests' user-token key, so an administrator's token lists everyone's
    # favourites.
    env = {"PEER_TIMEOUT_SECONDS": "0.5", "PEER_RETRIES": "0", "JWT_JWKS_URL": jwks_url()}
    names = ("user-service", "product-service", "favourite-service")
    with running_shop(tmp_path_factory.mktemp("peer-faults"), names, env) as shop:
        yield shop


def favourites(shop: Shop) -> tuple[int, list[dict[str, object]], float]:
    started = time.monotonic()
    answer = httpx.get(
        f"{shop.urls['favourite-service']}/favourite-service/api/favourites", headers=admin_headers(), timeout=15
    )
    return answer.status_code, answer.json().get("collection", []), time.monotonic() - started


def circuit(shop: Shop) -> float:
    answer = httpx.get(
        f"{shop.urls['favourite-service']}/favourite-service/actuator/prometheus", headers=prometheus_headers()
    )
    assert answer.status_code == 200, (answer.status_code, answer.text)  # a scrape needs Prometheus' credential
    text = answer.text
    found = re.search(r'circuit_breaker_state\{application="favourite-service",peer="product-service"\} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_a_failing_peer_degrades_the_list_then_the_circuit_opens_and_closes(shop: Shop) -> None:
    status, rows, _ = favourites(shop)
    assert status == 200 and rows and all(row["product"] for row in rows), rows
    product = shop.urls["product-service"]
    set_faults(product, PRODUCT_ACTUATOR, errorRate=1.0, errorStatus=503)
    try:
        for _ in range(6):
            status, rows, _ = favourites(shop)
            assert status == 200, rows
            assert rows and all(row["product"] is None for row in rows), rows
            assert all(row["user"] for row in rows)  # the healthy peer still embeds
        assert circuit(shop) == 1  # open: product-service is no longer asked
    finally:
        set_faults(product, PRODUCT_ACTUATOR)
    status, rows, _ = favourites(shop)
    assert status == 200 and all(row["product"] is None for row in rows)  # still open for a few seconds
    wait_until(lambda: all(row["product"] for row in favourites(shop)[1]), 15, 0.5, "embeds back")
    wait_until(lambda: favourites(shop)[0] == 200 and circuit(shop) == 0, 10, 0.5, "circuit closed by trial calls")


def test_a_slow_peer_times_out_and_the_list_still_answers(shop: Shop) -> None:
    wait_until(lambda: favourites(shop)[0] == 200 and circuit(shop) == 0, 15, 0.5, "circuit closed")
    product = shop.urls["product-service"]
    set_faults(product, PRODUCT_ACTUATOR, latencyMs=3000)
    try:
        status, rows, took = favourites(shop)
        assert status == 200 and rows and all(row["product"] is None for row in rows), rows
        assert took < 2.5, took  # the 0.5 s peer timeout, not the peer's 3 s
    finally:
        set_faults(product, PRODUCT_ACTUATOR)
    wait_until(lambda: all(row["product"] for row in favourites(shop)[1]), 15, 0.5, "embeds back")
