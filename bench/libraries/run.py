"""The chassis' hand-written resilience parts against the libraries that could replace them, CPU per call.

In one process, no network: each variant runs N times in a row per round, its CPU time (process_time) divided
by N; medians of the rounds, the variants alternating within each round. What is compared, and why those:
- circuit breaker, per call that goes through a closed circuit: chassis/http.py's `CircuitBreaker` (allow, then
  record) against purgatory and aiobreaker (each as its documented async use: a context manager or `call_async`);
- retries, per call that succeeds at once (nearly every peer call): a plain `for` loop as in `PeerClient.exchange`
  against stamina's `retry_context` and tenacity's `AsyncRetrying`;
- rate limit, per request checked: chassis/ratelimit.py's token bucket against the `limits` package's in-memory
  moving window and sliding-window counter (it has no token bucket);
- the scale: one whole `PeerClient.request` GET against an aiohttp server in the same process (client and server
  CPU together), so each difference above reads as a share of a peer call.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiobreaker
import limits
import purgatory
import stamina
import tenacity
from aiohttp import web

from bench.common import free_port, machine, write_result
from ecommerce.chassis.http import CircuitBreaker, PeerClient
from ecommerce.chassis.ratelimit import MemoryRateLimiter
from ecommerce.chassis.settings import ServiceSettings

ROUNDS = 5
CALLS = 20_000
PEER_CALLS = 2_000
KEYS = 1_000  # clients the limiter tells apart


class _Retry(Exception):
    pass


async def _ok() -> None:
    return None


def _per_call(run: Callable[[], None], calls: int) -> float:
    started = time.process_time()
    run()
    return (time.process_time() - started) / calls * 1e6


def _async_per_call(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[Any]], calls: int) -> float:
    async def many() -> None:
        for _ in range(calls):
            await make()

    started = time.process_time()
    loop.run_until_complete(many())
    return (time.process_time() - started) / calls * 1e6


def breakers(loop: asyncio.AbstractEventLoop) -> dict[str, Callable[[], float]]:
    ours = CircuitBreaker()

    async def chassis() -> None:
        if ours.allow():
            await _ok()
            ours.record(True)

    factory = purgatory.AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=5)

    async def with_purgatory() -> None:
        async with await factory.get_breaker("peer"):
            await _ok()

    theirs = aiobreaker.CircuitBreaker(fail_max=5, timeout_duration=timedelta(seconds=5))

    async def with_aiobreaker() -> None:
        await theirs.call_async(_ok)

    return {
        "breaker: chassis CircuitBreaker": lambda: _async_per_call(loop, chassis, CALLS),
        "breaker: purgatory 3.0.1": lambda: _async_per_call(loop, with_purgatory, CALLS),
        "breaker: aiobreaker 1.2.0": lambda: _async_per_call(loop, with_aiobreaker, CALLS),
    }


def retries(loop: asyncio.AbstractEventLoop) -> dict[str, Callable[[], float]]:
    async def plain_loop() -> None:
        for attempt in range(3):
            if attempt:
                await asyncio.sleep(0)
            try:
                await _ok()
            except _Retry:
                continue
            return

    async def with_stamina() -> None:
        async for attempt in stamina.retry_context(on=_Retry, attempts=3, wait_initial=0.05, wait_max=1.0):
            with attempt:
                await _ok()

    async def with_tenacity() -> None:
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(3),
            retry=tenacity.retry_if_exception_type(_Retry),
            wait=tenacity.wait_random_exponential(multiplier=0.05, max=1.0),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await _ok()

    return {
        "retry: plain loop (chassis)": lambda: _async_per_call(loop, plain_loop, CALLS),
        "retry: stamina 26.2.0": lambda: _async_per_call(loop, with_stamina, CALLS),
        "retry: tenacity 9.2.1": lambda: _async_per_call(loop, with_tenacity, CALLS),
    }


def limiters() -> dict[str, Callable[[], float]]:
    ours = MemoryRateLimiter()
    keys = [f"client-{i}" for i in range(KEYS)]
    item = limits.parse("20/2second")  # the closest window to a bucket of 20 refilled at 10/s
    moving = limits.strategies.MovingWindowRateLimiter(limits.storage.MemoryStorage())
    sliding = limits.strategies.SlidingWindowCounterRateLimiter(limits.storage.MemoryStorage())

    def chassis() -> None:
        take = ours.take
        for i in range(CALLS):
            take(keys[i % KEYS], 10.0, 20)

    def window(strategy: Any) -> Callable[[], None]:
        def run() -> None:
            hit = strategy.hit
            for i in range(CALLS):
                hit(item, keys[i % KEYS])

        return run

    return {
        "rate limit: chassis token bucket": lambda: _per_call(chassis, CALLS),
        "rate limit: limits 5.8.0 moving window": lambda: _per_call(window(moving), CALLS),
        "rate limit: limits 5.8.0 sliding-window counter": lambda: _per_call(window(sliding), CALLS),
    }


def peer_call(
    loop: asyncio.AbstractEventLoop, closing: list[Callable[[], Awaitable[Any]]]
) -> dict[str, Callable[[], float]]:
    port = free_port()

    async def answer(_: web.Request) -> web.Response:
        return web.json_response({"productId": 1})

    app = web.Application()
    app.router.add_get("/api/products/1", answer)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    settings = ServiceSettings(peers={"product-service": f"http://127.0.0.1:{port}"})
    client = PeerClient(application="bench", settings=settings)
    loop.run_until_complete(client.start())
    closing += [client.close, runner.cleanup]

    def call() -> Awaitable[Any]:
        return client.request("GET", "product-service", "/api/products/1")

    return {"a whole peer GET (client + server)": lambda: _async_per_call(loop, call, PEER_CALLS)}


def main() -> None:
    loop = asyncio.new_event_loop()
    closing: list[Callable[[], Awaitable[Any]]] = []
    variants = {**breakers(loop), **retries(loop), **limiters(), **peer_call(loop, closing)}
    try:
        for run in variants.values():  # warm-up
            run()
        rounds: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(ROUNDS):
            for name, run in variants.items():
                rounds[name].append(run())
    finally:
        for close in closing:
            loop.run_until_complete(close())
        loop.close()
    write({name: statistics.median(values) for name, values in rounds.items()}, rounds, os.getloadavg()[0])


def write(medians: dict[str, float], rounds: dict[str, list[float]], load: float) -> None:
    peer = medians["a whole peer GET (client + server)"]
    lines = [
        "# Resilience parts: hand-written against libraries",
        "",
        f"Machine: {machine()}.",
        "",
        "`python -m bench libraries`: CPU per call in one process, no network except the last row (see",
        f"bench/libraries/run.py). {CALLS} calls per variant and round ({PEER_CALLS} for the peer GET), medians of",
        f"{ROUNDS} alternating rounds. Load average at the end: {load:.1f} on {os.cpu_count()} cores (CPU time per",
        "call is barely moved by other work; wall-clock rates would be).",
        "",
        "| variant | CPU µs per call | share of a peer GET |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {value:.2f} | {value / peer:.1%} |" for name, value in medians.items()]
    lines += ["", "Rounds (µs per call):", ""]
    lines += [f"- {name}: {', '.join(f'{v:.2f}' for v in values)}" for name, values in rounds.items()]
    write_result("libraries", lines)
