"""The registry against the third-party Eureka client from PyPI, used unchanged: credentials in the zone URL."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from discovery_support import component, replica

eureka_client = pytest.importorskip("py_eureka_client.eureka_client")
pytest.importorskip("py_eureka_client.logger").set_level("CRITICAL")


async def _idle() -> None:
    return None


async def _stop(client) -> None:  # type: ignore[no-untyped-def]
    """Stop the client, and quiet its heartbeat thread, which 0.13.3 never ends (`while True` in a Timer)."""
    await client.stop()
    client._EurekaClient__heartbeat = _idle


async def _wait_for(condition, timeout: float = 8.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _zone(url: str, name: str) -> str:
    """The zone URL with `name`'s credentials in it, as py-eureka-client and Spring clients are configured."""
    user, password = component(name)
    return url.replace("http://", f"http://{user}:{password}@")


async def test_py_eureka_client_registers_renews_fetches_deltas_and_cancels() -> None:
    async with replica() as (url, app):
        registry = app.state.eureka_registry
        client = eureka_client.EurekaClient(
            eureka_server=_zone(url, "orders-service"),
            app_name="orders-service",
            instance_ip="127.0.0.1",
            instance_port=8081,
            renewal_interval_in_secs=1,
            duration_in_secs=10,
        )
        await client.start()
        try:
            lease = registry.lease("ORDERS-SERVICE", "127.0.0.1:orders-service:8081")
            assert lease is not None and lease.record["status"] == "UP"
            first_renewal = lease.renewed_at
            await _wait_for(lambda: lease.renewed_at > first_renewal)  # heartbeats arrive and are accepted

            # A second instance registered behind the client's back reaches it through a delta.
            async with httpx.AsyncClient(auth=component("users")) as http:
                body = {"instance": {"hostName": "10.0.0.7", "app": "USERS", "port": {"$": 8700, "@enabled": "true"}}}
                response = await http.post(f"{url}apps/USERS", json=body)
                assert response.status_code == 204

            def seen() -> dict[str, list[str]]:
                apps = client.applications.applications if client.applications else []
                return {a.name: sorted(i.instanceId for i in a.instances) for a in apps}

            await _wait_for(lambda: "USERS" in seen())
            assert seen() == {"ORDERS-SERVICE": ["127.0.0.1:orders-service:8081"], "USERS": ["10.0.0.7:users:8700"]}
            assert client.applications.apps__hashcode == "UP_2_"
        finally:
            await _stop(client)
        assert registry.lease("ORDERS-SERVICE", "127.0.0.1:orders-service:8081") is None
        assert registry.delta_views()["ORDERS-SERVICE"][0]["actionType"] == "DELETED"


async def test_py_eureka_client_registers_again_after_the_registry_forgot_it() -> None:
    async with replica() as (url, app):
        registry = app.state.eureka_registry
        client = eureka_client.EurekaClient(
            eureka_server=_zone(url, "pay"),
            app_name="pay",
            instance_ip="127.0.0.1",
            instance_port=8400,
            renewal_interval_in_secs=1,
        )
        await client.start()
        try:
            assert registry.cancel("PAY", "127.0.0.1:pay:8400")
            await _wait_for(lambda: registry.lease("PAY", "127.0.0.1:pay:8400") is not None)  # 404 -> POST again
        finally:
            await _stop(client)
