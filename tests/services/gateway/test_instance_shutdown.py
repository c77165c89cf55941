"""An instance going away under load (a rolling restart): reads never fail while another instance is there.

Seen in the containers' rolling restart: the gateway answered a few reads 502 'product-service is unreachable
(Connection refused)' while one of two instances stopped listening. A read whose connection is refused or reset
before any byte of an answer arrived is sent again to ANOTHER instance, on both protocol paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import uvicorn
from conftest import GatewayFactory, Upstream, default_config


@contextlib.asynccontextmanager
async def instance(app: Upstream) -> AsyncIterator[tuple[str, uvicorn.Server, socket.socket]]:
    """An upstream on uvicorn whose server the test stops (as SIGTERM does: listener closed, idle connections
    closed, in-flight requests finished)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    app.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield app.url, server, sock
    finally:
        server.should_exit = True
        await task
        sock.close()


class StaleRegistry:
    """A registry copy that still lists an instance after it went away (as every client's cache does for a while)."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.turn = 0
        self.reported: list[str] = []

    def choose(self, name: str, exclude: frozenset[str] = frozenset()) -> str | None:
        left = [url for url in self.urls if url not in exclude]
        if not left:
            return None
        self.turn += 1
        return left[self.turn % len(left)]

    def report_failure(self, base_url: str) -> None:
        self.reported.append(base_url)


async def _load(client: httpx.AsyncClient, statuses: Counter[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        response = await client.get("/product-service/api/products?delay=0.01")
        statuses[response.status_code] += 1


async def _reads_while_one_stops(
    client: httpx.AsyncClient, server: uvicorn.Server, sock: socket.socket
) -> Counter[int]:
    statuses: Counter[int] = Counter()
    stop = asyncio.Event()
    workers = [asyncio.create_task(_load(client, statuses, stop)) for _ in range(8)]
    await asyncio.sleep(0.4)
    server.should_exit = True  # stops listening, closes its idle keep-alive connections
    await asyncio.sleep(0.2)
    sock.close()  # nothing listens on that port any more: connections are refused
    await asyncio.sleep(0.8)
    stop.set()
    await asyncio.gather(*workers)
    return statuses


async def test_reads_retried_on_another_instance_when_one_stops_listening(gateway: GatewayFactory) -> None:
    one, two = Upstream("one"), Upstream("two")
    async with instance(one) as (url_one, server, sock), instance(two) as (url_two, _, _):
        async with gateway(default_config({"*": [url_one, url_two]}), rate_limits_enabled=False) as client:
            statuses = await _reads_while_one_stops(client, server, sock)
    assert sum(statuses.values()) > 50
    assert statuses == Counter({200: sum(statuses.values())})


async def test_reads_retried_on_another_instance_the_registry_still_lists(gateway: GatewayFactory) -> None:
    one, two = Upstream("one"), Upstream("two")
    async with instance(one) as (url_one, server, sock), instance(two) as (url_two, _, _):
        async with gateway(default_config(), rate_limits_enabled=False) as client:
            registry = StaleRegistry([url_one, url_two])
            client.app.state.registry = registry  # type: ignore[attr-defined]
            statuses = await _reads_while_one_stops(client, server, sock)
    assert sum(statuses.values()) > 50
    assert statuses == Counter({200: sum(statuses.values())})
    assert url_one in registry.reported


async def test_a_refused_read_goes_to_the_other_instance_even_while_its_circuit_is_open(
    gateway: GatewayFactory,
) -> None:
    """The containers' rolling restart: instance one came back a moment ago, but the circuit the gateway opened while
    it restarted is still open; now instance two stops listening. A refused connection proves two is gone, so the
    retry goes to one (a trial call) instead of to two again: the reads succeed instead of answering 502 and then
    503 'No instance of product-service is available' until one's circuit half-opens."""
    one, two = Upstream("one"), Upstream("two")
    # Where the gateway sends when the registry lists nobody it has not tried: a dead port, not product-service's
    # default port (another product-service on this machine would answer there).
    nowhere = {"product-service": "http://127.0.0.1:9"}
    async with instance(one) as (url_one, _, _), instance(two) as (url_two, server, sock):
        async with gateway(default_config(), rate_limits_enabled=False, peers=nowhere) as client:
            client.app.state.registry = StaleRegistry([url_one, url_two])  # type: ignore[attr-defined]
            breaker = client.app.state.gateway.upstreams.breaker(url_one)  # type: ignore[attr-defined]
            breaker.open_seconds = 30
            for _ in range(5):
                breaker.record(False)
            assert breaker.state.name == "OPEN"
            server.should_exit = True
            await asyncio.sleep(0.3)
            sock.close()
            statuses = Counter()
            for _ in range(10):
                response = await client.get("/product-service/api/products")
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    assert response.json()["instance"] == "one"
    assert statuses == Counter({200: 10})
