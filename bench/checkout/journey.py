"""A shopper's purchase through the gateway and the storefront's API, driven open-loop at a fixed rate."""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

from bench.shop import GATEWAY, SHOPPERS

PRODUCTS = (1, 2, 3, 4)


class JourneyFailed(Exception):
    pass


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    late_starts: int = 0
    elapsed: float = 0.0


async def _call(session: aiohttp.ClientSession, method: str, path: str, expect: int, **kwargs: object) -> dict:  # type: ignore[type-arg]
    async with session.request(method, f"{GATEWAY}{path}", **kwargs) as response:  # type: ignore[arg-type]
        body = await response.read()
        if response.status != expect:
            raise JourneyFailed(f"{method} {path}: {response.status} {body[:160]!r}")
        return await response.json(content_type=None)


async def purchase(session: aiohttp.ClientSession) -> None:
    """Sign in, look at a product, check out one unit, pay (IN_PROGRESS, then COMPLETED), see the order PAID."""
    username, password = random.choice(SHOPPERS)
    token = await _call(
        session, "POST", "/app/api/authenticate", 200, json={"username": username, "password": password}
    )
    auth = {"Authorization": f"Bearer {token['jwtToken']}"}
    product_id = random.choice(PRODUCTS)
    await _call(session, "GET", f"/product-service/api/products/{product_id}", 200)
    order = await _call(
        session,
        "POST",
        "/app/api/checkout",
        201,
        json={"items": [{"productId": product_id, "quantity": 1}]},
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    for status in ("IN_PROGRESS", "COMPLETED"):
        await _call(
            session,
            "PATCH",
            f"/app/api/payments/{order['paymentId']}",
            200,
            json={"paymentStatus": status},
            headers=auth,
        )
    paid = await _call(session, "GET", f"/app/api/orders/{order['orderId']}", 200, headers=auth)
    if paid.get("orderStatus") != "PAID":
        raise JourneyFailed(f"order {order['orderId']} is {paid.get('orderStatus')}")


async def drive(rate: float, seconds: float, *, timeout: float = 30) -> Outcome:
    """Start `rate` purchases per second for `seconds`; each one's latency counts from its due start time."""
    outcome = Outcome()
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:

        async def one(due: float) -> None:
            try:
                await purchase(session)
                outcome.latencies.append(time.perf_counter() - due)
            except (JourneyFailed, aiohttp.ClientError, TimeoutError) as exc:
                outcome.errors.append(str(exc) or type(exc).__name__)

        total = int(rate * seconds)
        start = time.perf_counter() + 0.05
        tasks = []
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.05:
                outcome.late_starts += 1
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
        outcome.elapsed = time.perf_counter() - start
    return outcome


def summary(outcome: Outcome) -> dict[str, float]:
    latencies = sorted(outcome.latencies)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0

    for error in sorted(set(outcome.errors))[:3]:
        print(f"  error: {error}", file=sys.stderr)
    return {
        "completed": float(len(latencies)),
        "errors": float(len(outcome.errors)),
        "per_second": len(latencies) / outcome.elapsed if outcome.elapsed else 0.0,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
    }
