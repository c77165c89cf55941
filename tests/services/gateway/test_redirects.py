"""An upstream's redirect never shows the client an internal address."""

from __future__ import annotations

from conftest import GatewayFactory, Keys, Upstream, default_config


async def test_location_pointing_at_the_upstream_is_made_relative(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream], keys: Keys
) -> None:
    target = "/product-service/api/products/"
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        public = await client.get(f"/product-service/api/products?redirect={target}")  # native on its protocol
        admin = await client.get(f"/order-service/api/orders?redirect={target}", headers=keys.auth(admin=True))
    for response in (public, admin):
        assert response.status_code == 307
        assert response.headers["location"] == target
        assert "127.0.0.1" not in response.headers["location"]


async def test_location_elsewhere_is_left_alone(gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]) -> None:
    async with gateway(default_config({"*": [upstreams[0].url]})) as client:
        response = await client.get("/product-service/api/products?redirect=https%3A//shop.example.org/x")
        lookalike = await client.get(f"/product-service/api/products?redirect={upstreams[0].url}0/x")
    assert response.status_code == 307
    assert response.headers["location"] == "https://shop.example.org/x"
    assert lookalike.headers["location"] == f"{upstreams[0].url}0/x"  # another port: not this upstream
