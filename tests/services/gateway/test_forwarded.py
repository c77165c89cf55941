"""Who a rate limit counts behind proxies: the right-most X-Forwarded-For address not added by a trusted proxy."""

from __future__ import annotations

import pytest
from conftest import GatewayFactory, Upstream, default_config
from pydantic import ValidationError

from ecommerce.services.gateway.settings import GatewaySettings

LIMITED = {"rate-limit": {"rate": 0.5, "burst": 2}}
PRODUCT = "/product-service/api/products/1"


async def test_spoofed_left_most_entries_do_not_evade_the_limit(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    config = default_config({"*": [upstreams[0].url]}, defaults=LIMITED)
    async with gateway(config, trust_forwarded_for=True) as client:  # the test client stands for a loopback proxy
        statuses = [
            (await client.get(PRODUCT, headers={"X-Forwarded-For": f"10.9.{i}.{i}, 203.0.113.7"})).status_code
            for i in range(6)
        ]
        assert statuses == [200, 200, 429, 429, 429, 429]
        other = await client.get(PRODUCT, headers={"X-Forwarded-For": "10.9.0.0, 203.0.113.8"})
        assert other.status_code == 200  # another client behind the same proxy has its own bucket


async def test_an_untrusted_peer_cannot_speak_for_others(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    config = default_config({"*": [upstreams[0].url]}, defaults=LIMITED)
    async with gateway(config, trust_forwarded_for=True, trusted_proxies=[]) as client:
        statuses = [
            (await client.get(PRODUCT, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code for i in range(4)
        ]
    assert statuses == [200, 200, 429, 429]


def test_trusted_proxies_setting() -> None:
    assert GatewaySettings().trusted_proxies == ["127.0.0.0/8", "::1/128"]  # loopback only, by default
    assert GatewaySettings(GATEWAY_TRUSTED_PROXIES="10.0.0.0/8, 192.168.1.7").trusted_proxies == [
        "10.0.0.0/8",
        "192.168.1.7",
    ]
    with pytest.raises(ValidationError):
        GatewaySettings(trusted_proxies=["10.0.0.0/33"])
