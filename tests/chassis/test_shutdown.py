"""Graceful shutdown: on SIGTERM the instance leaves the registry first, keeps serving for the drain period (new
connections too), then stops; without a drain period it stops as uvicorn always did."""

from __future__ import annotations

import asyncio
import signal
import socket
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ecommerce.chassis.shutdown import DrainingServer


class Registry:
    def __init__(self) -> None:
        self.deregistered_at: float | None = None

    async def deregister(self) -> None:
        self.deregistered_at = time.monotonic()


def _app(registry: Registry) -> Starlette:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    app.state.registry = registry
    app.state.draining = False
    return app


def _signal(server: DrainingServer) -> None:
    """What uvicorn's handler does on SIGTERM, without the re-raise of the signal once the server stopped (which would
    end the test process as it ends a real one)."""
    server.handle_exit(signal.SIGTERM, None)
    server._captured_signals.clear()


async def _server(app: Starlette, drain: float) -> tuple[DrainingServer, asyncio.Task[None], str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=1)
    server = DrainingServer(config, app=app, drain_seconds=drain)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task, f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_sigterm_deregisters_first_and_keeps_serving_through_the_drain() -> None:
    registry = Registry()
    app = _app(registry)
    server, task, url = await _server(app, drain=0.6)
    assert server.listening.is_set()  # the registry client registers only now (chassis/discovery.py)
    signalled = time.monotonic()
    _signal(server)
    await asyncio.sleep(0.1)
    assert registry.deregistered_at is not None and registry.deregistered_at - signalled < 0.1
    assert app.state.draining is True  # readiness answers 503
    for _ in range(3):  # new connections each time: the listener is still open
        async with httpx.AsyncClient() as client:
            assert (await client.get(url)).text == "ok"
        await asyncio.sleep(0.1)
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - signalled >= 0.6
    async with httpx.AsyncClient() as client:
        try:
            await client.get(url)
        except httpx.ConnectError:
            pass
        else:
            raise AssertionError("still listening after the drain")


async def test_a_second_signal_or_no_drain_stops_at_once() -> None:
    for drain, signals in ((0.0, 1), (30.0, 2)):
        registry = Registry()
        server, task, _ = await _server(_app(registry), drain=drain)
        started = time.monotonic()
        for _ in range(signals):
            _signal(server)
            await asyncio.sleep(0.05)
        await asyncio.wait_for(task, 5)
        assert time.monotonic() - started < 3
        assert (registry.deregistered_at is not None) == (drain > 0)
