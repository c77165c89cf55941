"""The chassis registry client against our registry: register, renew, resolve, cache, fall back, deregister."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from ecommerce.chassis import ServiceSettings, ServiceSpec, create_app
from ecommerce.chassis.discovery import RegistryClient
from ecommerce.chassis.identity import MeshSecrets, component_password
from ecommerce.services.discovery import SPEC as REGISTRY
from ecommerce.services.discovery.settings import RegistrySettings

DEMO = ServiceSpec(name="demo-service", port=8999, context_path="/demo-service")
FAST = {
    "registry_renewal_seconds": 0.2,
    "registry_fetch_seconds": 0.2,
    "registry_lease_seconds": 2,
    "access_log": False,
}
# The environment's identity secrets, shared by the registry and the services of one test.
IDENTITY = {
    "service_keys": "test:" + "k" * 40,
    "operator_password": "operator-test-password",
    "prometheus_password": "prometheus-test-password",
}
MESH = MeshSecrets.parse(IDENTITY["service_keys"], IDENTITY["operator_password"], IDENTITY["prometheus_password"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _serve(app: FastAPI, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "server failed to start"
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


def _registry(port: int) -> FastAPI:
    settings = RegistrySettings(port=port, access_log=False, eviction_interval_seconds=0.2, **IDENTITY)
    return create_app(REGISTRY, settings)


def _service(port: int, registry_port: int, *, userinfo: str = "", **extra: Any) -> FastAPI:
    url = f"http://{userinfo}127.0.0.1:{registry_port}/eureka/"
    return create_app(DEMO, ServiceSettings(discovery_url=url, port=port, **FAST, **{**IDENTITY, **extra}))


async def _eventually(check: Callable[[], bool], timeout: float = 6.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.05)


async def test_instances_register_resolve_round_robin_and_deregister() -> None:
    registry_port, one_port, two_port = _free_port(), _free_port(), _free_port()
    registry_app = _registry(registry_port)
    one, two = _service(one_port, registry_port), _service(two_port, registry_port)
    async with _serve(registry_app, registry_port), _serve(one, one_port):
        leases = registry_app.state.eureka_registry
        async with _serve(two, two_port):
            await _eventually(lambda: leases.size() == 2)
            assert sorted(leases.apps["DEMO-SERVICE"]) == sorted(
                [f"127.0.0.1:demo-service:{one_port}", f"127.0.0.1:demo-service:{two_port}"]
            )
            client: RegistryClient = one.state.registry
            urls = sorted([f"http://127.0.0.1:{one_port}", f"http://127.0.0.1:{two_port}"])
            await _eventually(lambda: client.urls_of("demo-service") == urls)
            assert await client.resolve("DEMO-SERVICE") == urls
            picks = {client.choose("demo-service") for _ in range(4)}
            assert picks == set(urls)  # round robin visits both
            assert client.choose("demo-service", frozenset({urls[0]})) == urls[1]
            client.report_failure(urls[0])
            assert {client.choose("demo-service") for _ in range(4)} == {urls[1]}
            assert client.choose("nobody") is None  # the caller falls back to its own defaults

            # An instance taken out of service (the pod's preStop hook) disappears from look-ups.
            async with httpx.AsyncClient(auth=("operator", IDENTITY["operator_password"])) as http:
                instance = f"127.0.0.1:demo-service:{two_port}"
                path = f"http://127.0.0.1:{registry_port}/eureka/apps/DEMO-SERVICE/{instance}/status"
                assert (await http.put(path, params={"value": "OUT_OF_SERVICE"})).status_code == 200
            await _eventually(lambda: client.urls_of("demo-service") == [f"http://127.0.0.1:{one_port}"])
        # Shutdown deregisters.
        assert leases.size() == 1


async def test_cache_survives_the_registry_and_the_client_re_registers_after_a_restart() -> None:
    registry_port, service_port = _free_port(), _free_port()
    service = _service(service_port, registry_port)
    async with _serve(service, service_port):
        client: RegistryClient = service.state.registry
        async with _serve(_registry(registry_port), registry_port):
            await _eventually(lambda: client.urls_of("demo-service") != [])
        # The registry is down: look-ups keep working from the cached copy.
        await asyncio.sleep(0.5)
        assert client.choose("demo-service") == f"http://127.0.0.1:{service_port}"
        # A fresh, empty registry comes back: heartbeats get 404, the instance registers again.
        fresh = _registry(registry_port)
        async with _serve(fresh, registry_port):
            await _eventually(lambda: fresh.state.eureka_registry.size() == 1)


async def test_no_registry_and_no_cache_falls_back_to_the_configured_url() -> None:
    dead = _free_port()
    client = RegistryClient(
        urls=[f"http://127.0.0.1:{dead}/eureka/"],
        instance={"app": "DEMO-SERVICE", "instanceId": "x", "lastDirtyTimestamp": "1"},
        fallback={"user-service": "http://user-service:8700"},
    )
    await client.start(register=False)
    try:
        assert await client.resolve("user-service") == ["http://user-service:8700"]
        assert client.choose("user-service") == "http://user-service:8700"
        assert await client.resolve("order-service") == []
    finally:
        await client.stop()


async def test_peer_client_resolves_through_the_registry() -> None:
    registry_port, service_port = _free_port(), _free_port()
    service = _service(service_port, registry_port)
    async with _serve(_registry(registry_port), registry_port), _serve(service, service_port):
        await _eventually(lambda: service.state.registry.urls_of("demo-service") != [])
        status, body = await service.state.peers.request("GET", "demo-service", "/demo-service/actuator/health")
        assert status == 200 and body["status"] == "UP"


async def test_the_client_proves_its_component_or_uses_the_credentials_in_the_zone_url() -> None:
    registry_port, derived_port, given_port, wrong_port = _free_port(), _free_port(), _free_port(), _free_port()
    registry_app = _registry(registry_port)
    derived = _service(derived_port, registry_port)  # HTTP Basic from the mesh key: demo-service's password
    given = _service(given_port, registry_port, userinfo=f"demo-service:{component_password(MESH, 'demo-service')}@")
    wrong = _service(wrong_port, registry_port, userinfo=f"user-service:{component_password(MESH, 'user-service')}@")
    async with _serve(registry_app, registry_port), _serve(derived, derived_port), _serve(given, given_port):
        leases = registry_app.state.eureka_registry
        async with _serve(wrong, wrong_port):
            await _eventually(lambda: leases.size() == 2)
            await asyncio.sleep(0.5)  # several heartbeats: user-service's credentials never register DEMO-SERVICE
            assert sorted(leases.apps["DEMO-SERVICE"]) == sorted(
                [f"127.0.0.1:demo-service:{derived_port}", f"127.0.0.1:demo-service:{given_port}"]
            )
            client: RegistryClient = given.state.registry
            assert client.urls == [f"http://127.0.0.1:{registry_port}/eureka/"]  # no password in the URL it keeps
            assert client.urls_of("demo-service") != []  # reads with the same credentials
