"""Calls between services: retries only when idempotent, the circuit breaker, context passed on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from ecommerce.chassis import ServiceSettings
from ecommerce.chassis.context import TraceState, request_id_var, trace_var
from ecommerce.chassis.http import CircuitBreaker, CircuitState, PeerClient, PeerError, PeerUnavailable


class FlakyPeer:
    """A real HTTP server whose next answers the test scripts."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.calls: list[web.Request] = []
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.script.pop(0) if self.script else 200
        return web.json_response({"status": status, "path": request.path}, status=status)


@pytest_asyncio.fixture
async def peer() -> AsyncIterator[tuple[FlakyPeer, str]]:
    flaky = FlakyPeer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", flaky.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield flaky, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest_asyncio.fixture
async def client(peer: tuple[FlakyPeer, str]) -> AsyncIterator[PeerClient]:
    settings = ServiceSettings(peers={"user-service": peer[1]}, peer_retries=2, peer_timeout_seconds=0.5)
    peers = PeerClient(application="test", settings=settings)
    await peers.start()
    yield peers
    await peers.close()


async def test_get_is_retried_after_a_5xx(peer: tuple[FlakyPeer, str], client: PeerClient) -> None:
    flaky, _ = peer
    flaky.script = [503, 200]
    assert (await client.get_json("user-service", "/x"))["status"] == 200
    assert len(flaky.calls) == 2


async def test_post_is_not_retried(peer: tuple[FlakyPeer, str], client: PeerClient) -> None:
    flaky, _ = peer
    flaky.script = [503, 200]
    with pytest.raises(PeerUnavailable):
        await client.post_json("user-service", "/x", json={"a": 1})
    assert len(flaky.calls) == 1


async def test_4xx_is_a_peer_error_with_its_body(peer: tuple[FlakyPeer, str], client: PeerClient) -> None:
    peer[0].script = [404]
    with pytest.raises(PeerError) as raised:
        await client.get_json("user-service", "/missing")
    assert raised.value.status == 404
    assert raised.value.body == {"status": 404, "path": "/missing"}


async def test_timeouts_make_the_peer_unavailable(peer: tuple[FlakyPeer, str], client: PeerClient) -> None:
    peer[0].delay = 2
    with pytest.raises(PeerUnavailable):
        await client.get_json("user-service", "/slow")


async def test_circuit_opens_then_closes(peer: tuple[FlakyPeer, str], client: PeerClient) -> None:
    flaky, _ = peer
    breaker = client.breaker("user-service")
    breaker.open_seconds = 0.3
    flaky.script = [500] * 30
    for _ in range(3):
        with pytest.raises(PeerUnavailable):
            await client.get_json("user-service", "/x")
    assert breaker.state == CircuitState.OPEN
    calls_when_open = len(flaky.calls)
    with pytest.raises(PeerUnavailable, match="circuit open"):
        await client.get_json("user-service", "/x")
    assert len(flaky.calls) == calls_when_open  # refused without calling
    flaky.script = []
    await asyncio.sleep(0.35)
    for _ in range(3):
        await client.get_json("user-service", "/x")
    assert breaker.state == CircuitState.CLOSED


async def test_an_unreachable_peer_is_unavailable() -> None:
    settings = ServiceSettings(peers={"user-service": "http://127.0.0.1:9"}, peer_retries=1)
    peers = PeerClient(application="test", settings=settings)
    await peers.start()
    try:
        with pytest.raises(PeerUnavailable, match="unreachable"):
            await peers.get_json("user-service", "/x")
    finally:
        await peers.close()


async def test_a_background_call_never_opens_the_circuit_users_meet() -> None:
    """A poller asking a peer that is not up yet (the revocation list at start) must not open the circuit: it did,
    and every user request needing that peer failed with 'circuit open' for a while after the peer came up."""
    settings = ServiceSettings(peers={"user-service": "http://127.0.0.1:9"}, peer_retries=2)
    peers = PeerClient(application="test", settings=settings)
    await peers.start()
    try:
        for _ in range(10):
            with pytest.raises(PeerUnavailable, match="unreachable"):
                await peers.get_json("user-service", "/x", background=True)
        assert peers.breaker("user-service").state == CircuitState.CLOSED
        for _ in range(10):
            with pytest.raises(PeerUnavailable):
                await peers.get_json("user-service", "/x")
        assert peers.breaker("user-service").state == CircuitState.OPEN
        with pytest.raises(PeerUnavailable, match="unreachable"):  # still asked, never stopped by the circuit
            await peers.get_json("user-service", "/x", background=True)
    finally:
        await peers.close()


async def test_request_id_and_trace_context_are_passed_on(peer: tuple[FlakyPeer, str], client: PeerClient) -> None:
    rid = request_id_var.set("req-42")
    tid = trace_var.set(TraceState(0xABC, 0xDEF, False))
    try:
        await client.get_json("user-service", "/x")
    finally:
        request_id_var.reset(rid)
        trace_var.reset(tid)
    headers = peer[0].calls[-1].headers
    assert headers["X-Request-Id"] == "req-42"
    assert headers["traceparent"] == f"00-{0xABC:032x}-{0xDEF:016x}-00"


def test_breaker_needs_the_minimum_number_of_calls() -> None:
    breaker = CircuitBreaker(window=10, minimum_calls=5, failure_rate=0.5)
    for _ in range(4):
        assert breaker.allow()
        breaker.record(False)
    assert breaker.state == CircuitState.CLOSED
    breaker.record(False)
    assert breaker.state == CircuitState.OPEN


def test_half_open_allows_three_trial_calls() -> None:
    changes: list[Any] = []
    breaker = CircuitBreaker(open_seconds=0, on_change=changes.append)
    for _ in range(5):
        breaker.record(False)
    assert breaker.allow()  # open_seconds elapsed: half-open
    assert breaker.allow() and breaker.allow()
    assert not breaker.allow()
    breaker.record(True)
    breaker.record(False)
    assert breaker.state == CircuitState.OPEN
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.OPEN]
