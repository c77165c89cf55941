"""Run cloud-config-server in-process on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from ecommerce.chassis import create_app
from ecommerce.chassis.identity import MeshSecrets, component_password
from ecommerce.services.config import SPEC
from ecommerce.services.config.settings import ConfigServerSettings

# The test environment's identity secrets (chassis/identity.py), given to every server started here.
IDENTITY = {
    "service_keys": "test:" + "k" * 40,
    "operator_password": "operator-test-password",
    "prometheus_password": "prometheus-test-password",
}
MESH = MeshSecrets.parse(IDENTITY["service_keys"], IDENTITY["operator_password"], IDENTITY["prometheus_password"])
OPERATOR = ("operator", IDENTITY["operator_password"])


def component(name: str) -> tuple[str, str]:
    """The HTTP Basic credentials of component `name` (order-service, ...)."""
    return name, component_password(MESH, name)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def config_server(port: int | None = None, **overrides: Any) -> AsyncIterator[str]:
    """A running config server; yields its base URL."""
    port = port or free_port()
    app = create_app(SPEC, ConfigServerSettings(access_log=False, port=port, **{**IDENTITY, **overrides}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "config server failed to start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
