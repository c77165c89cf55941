"""Run registry replicas in-process on free ports, with short leases."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from ecommerce.chassis import create_app
from ecommerce.chassis.identity import MeshSecrets, component_password
from ecommerce.services.discovery import SPEC
from ecommerce.services.discovery.settings import RegistrySettings

# The test environment's identity secrets (chassis/identity.py); every replica started here shares them.
IDENTITY = {
    "service_keys": "test:" + "k" * 40,
    "operator_password": "operator-test-password",
    "prometheus_password": "prometheus-test-password",
}
MESH = MeshSecrets.parse(IDENTITY["service_keys"], IDENTITY["operator_password"], IDENTITY["prometheus_password"])
OPERATOR = ("operator", IDENTITY["operator_password"])


def component(name: str) -> tuple[str, str]:
    """The HTTP Basic credentials of component `name` (user-service, ...)."""
    return name, component_password(MESH, name)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(app: FastAPI, port: int) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1:`port` inside this event loop; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def registry_app(port: int, **overrides: Any) -> FastAPI:
    """A registry replica listening on `port`, with test-friendly timings unless overridden."""
    values: dict[str, Any] = {
        "access_log": False,
        "port": port,
        "eviction_interval_seconds": 0.2,
        "lease_duration_seconds": 2.0,
        **IDENTITY,
        **overrides,
    }
    return create_app(SPEC, RegistrySettings(**values))


@contextlib.asynccontextmanager
async def replica(port: int | None = None, **overrides: Any) -> AsyncIterator[tuple[str, FastAPI]]:
    """A running registry; yields (its Eureka URL ending in /eureka/, the app)."""
    port = port or free_port()
    app = registry_app(port, **overrides)
    async with serve(app, port) as base:
        yield f"{base}/eureka/", app
