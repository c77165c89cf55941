"""The registry, the config server and a business service as real `ecommerce run` processes."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from discovery_support import IDENTITY, OPERATOR, free_port
from shop_testing import RunningService

pytestmark = pytest.mark.slow

SECRETS = {name.upper(): value for name, value in IDENTITY.items()}  # what the chart's Secret gives every component


def _instances(registry_url: str) -> list[str]:
    headers = {"Accept": "application/json"}
    document = httpx.get(f"{registry_url}/eureka/apps/", headers=headers, auth=OPERATOR, timeout=2).json()
    return [i["instanceId"] for app in document["applications"]["application"] for i in app["instance"]]


def test_a_service_reads_the_config_server_registers_and_deregisters(
    running_service: Callable[..., RunningService],
) -> None:
    registry = running_service("service-discovery", env=SECRETS)
    config = running_service("cloud-config-server", env={"CONFIG_SERVER_URL": "http://127.0.0.1:1", **SECRETS})
    port = free_port()
    env = {
        "DISCOVERY_URL": f"{registry.url}/eureka/",
        "CONFIG_SERVER_URL": config.url,
        "ECOMMERCE_PROFILE": "prod",
        **SECRETS,
    }
    product = running_service("product-service", port=port, env=env)
    deadline = time.monotonic() + 10
    while _instances(registry.url) != [f"127.0.0.1:product-service:{port}"]:
        assert time.monotonic() < deadline, "product-service did not register"
        time.sleep(0.1)
    assert "settings loaded from the config server" in product.logs()
    page = httpx.get(f"{registry.url}/eureka/", auth=OPERATOR, timeout=2).text
    assert "PRODUCT-SERVICE" in page
    product.stop()
    assert _instances(registry.url) == []
