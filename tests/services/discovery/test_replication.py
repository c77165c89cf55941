"""Two registry replicas behind one name give the same answers; a restarted replica catches up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from discovery_support import component, free_port, replica

from ecommerce.services.discovery.registry import Registry


async def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "replicas did not converge"
        await asyncio.sleep(0.05)


def _body(host: str) -> dict[str, object]:
    return {"instance": {"hostName": host, "app": "PRODUCT-SERVICE", "port": {"$": 8500, "@enabled": "true"}}}


async def test_changes_replicate_both_ways_without_loops() -> None:
    port_a, port_b = free_port(), free_port()
    peers = f"http://127.0.0.1:{port_a}/eureka/,http://127.0.0.1:{port_b}/eureka/"
    async with replica(port_a, peer_urls=peers) as (url_a, app_a), replica(port_b, peer_urls=peers) as (url_b, app_b):
        a: Registry = app_a.state.eureka_registry
        b: Registry = app_b.state.eureka_registry
        assert app_a.state.eureka_replicator.peers == [url_b]  # a replica skips its own URL
        async with httpx.AsyncClient(auth=component("product-service")) as http:
            await http.post(f"{url_a}apps/PRODUCT-SERVICE", json=_body("10.0.0.1"))
            await http.post(f"{url_b}apps/PRODUCT-SERVICE", json=_body("10.0.0.2"))
            await _eventually(lambda: a.size() == 2 and b.size() == 2)

            instance = "apps/PRODUCT-SERVICE/10.0.0.1:product-service:8500"
            await http.put(f"{url_b}{instance}/status", params={"value": "OUT_OF_SERVICE"})
            await _eventually(lambda: a.hashcode() == "OUT_OF_SERVICE_1_UP_1_")

            # Renewals flow to the peer; one the peer does not know becomes a registration there.
            b.cancel("PRODUCT-SERVICE", "10.0.0.1:product-service:8500")
            assert (await http.put(f"{url_a}{instance}", params={"status": "UP"})).status_code == 200
            await _eventually(lambda: b.lease("PRODUCT-SERVICE", "10.0.0.1:product-service:8500") is not None)

            await http.delete(f"{url_a}{instance}")
            await _eventually(lambda: a.size() == 1 and b.size() == 1)

            # No echo: once quiet, neither replica keeps changing.
            await asyncio.sleep(0.3)
            versions = (a.version, b.version)
            await asyncio.sleep(0.5)
            assert (a.version, b.version) == versions
            full_a = (await http.get(f"{url_a}apps/", headers={"Accept": "application/json"})).json()
            full_b = (await http.get(f"{url_b}apps/", headers={"Accept": "application/json"})).json()
            ids = [
                [i["instanceId"] for app in doc["applications"]["application"] for i in app["instance"]]
                for doc in (full_a, full_b)
            ]
            assert ids[0] == ids[1] == ["10.0.0.2:product-service:8500"]


async def test_a_restarted_replica_copies_the_registry_from_its_peer() -> None:
    port_a, port_b = free_port(), free_port()
    peers = f"http://127.0.0.1:{port_a}/eureka/,http://127.0.0.1:{port_b}/eureka/"
    async with replica(port_a, peer_urls=peers) as (url_a, app_a):
        async with replica(port_b, peer_urls=peers) as (url_b, _):
            async with httpx.AsyncClient(auth=component("product-service")) as http:
                for host in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
                    await http.post(f"{url_a}apps/PRODUCT-SERVICE", json=_body(host))
        # B is down: A keeps serving, and its replication attempts to B fail quietly.
        async with httpx.AsyncClient(auth=component("product-service")) as http:
            await http.post(f"{url_a}apps/PRODUCT-SERVICE", json=_body("10.0.0.4"))
        async with replica(port_b, peer_urls=peers) as (url_b, app_b):
            b: Registry = app_b.state.eureka_registry
            assert b.size() == 4  # copied at start, before the first client asks
            async with httpx.AsyncClient(auth=component("product-service")) as http:
                assert (await http.put(f"{url_b}apps/PRODUCT-SERVICE/10.0.0.4:product-service:8500")).status_code == 200
        assert app_a.state.eureka_registry.size() == 4
