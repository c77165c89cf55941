"""PostgreSQL "restarted" in the middle of checkout load.

The machine's own server is never touched: the four checkout services run on a throwaway cluster (initdb as the
`postgres` user in a temp dir, on a free port), which the test stops and starts while checkouts keep coming.
What must hold: the services say they are not ready while the database is gone, become ready again by
themselves, no order that was answered 201 is lost, and no checkout is left half-written (every live order has
its payment and shipment, and the stock adds up).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from reliability_support import Shop, new_shop
from shop_testing import admin_headers, free_port, jwks_url, require, user_headers

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PG_BIN = Path("/usr/lib/postgresql/15/bin")
CHECKOUT_SERVICES = ("product-service", "payment-service", "shipping-service", "order-service")
UNITS = 10_000


class ThrowawayCluster:
    """A PostgreSQL cluster of our own: initdb, start, stop (fast: every connection cut), removed afterwards."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="reliability-pg-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb refuses root
            command = ["su", "postgres", "-s", "/bin/sh", "-c", subprocess.list2cmdline(command)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "app", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "pg.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://app@127.0.0.1:{self.port}/{database}"


def _can_initdb() -> bool:
    if not (PG_BIN / "initdb").exists():
        return False
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False
        return shutil.which("su") is not None
    return True


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    require(_can_initdb(), f"no PostgreSQL server binaries in {PG_BIN} (or no postgres user to run initdb as)")
    cluster = ThrowawayCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest_asyncio.fixture(scope="module")
async def shop(cluster: ThrowawayCluster, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Shop]:
    admin = await asyncpg.connect(f"postgresql://app@127.0.0.1:{cluster.port}/postgres")
    try:
        for name in CHECKOUT_SERVICES:
            await admin.execute(f'CREATE DATABASE "{name.split("-")[0]}db"')
    finally:
        await admin.close()
    # No storefront here: the services trust the tests' user-token key (shoppers check out, the admin inspects).
    env = {"PEER_TIMEOUT_SECONDS": "2", "PEER_RETRIES": "1", "DB_POOL_TIMEOUT": "2", "JWT_JWKS_URL": jwks_url()}
    for name in CHECKOUT_SERVICES:
        env[f"{name.upper().replace('-', '_')}_DATABASE_URL"] = cluster.url(f"{name.split('-')[0]}db")
    shop = new_shop(tmp_path_factory.mktemp("pg-restart"), CHECKOUT_SERVICES, env)
    try:
        for name in CHECKOUT_SERVICES:
            shop.start(name)
        yield shop
    finally:
        shop.stop_all()


def url(shop: Shop, service: str, path: str) -> str:
    return f"{shop.urls[service]}/{service}{path}"


async def ready(http: httpx.AsyncClient, shop: Shop, service: str) -> bool:
    try:
        answer = await http.get(url(shop, service, "/actuator/health/readiness"), timeout=5)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


async def until(predicate: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{message} not reached within {timeout} s")


async def test_checkouts_survive_a_database_restart(cluster: ThrowawayCluster, shop: Shop) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        body = {"productTitle": "Restart", "priceUnit": 2.5, "quantity": UNITS, "category": {"categoryId": 1}}
        created = await http.post(url(shop, "product-service", "/api/products"), json=body, headers=admin_headers())
        assert created.status_code == 201, created.text
        product = created.json()["productId"]
        answers: list[tuple[str, int, dict[str, Any] | None]] = []
        stop = asyncio.Event()

        async def shopper(user: int) -> None:
            while not stop.is_set():
                key = uuid.uuid4().hex
                checkout = {"userId": user, "items": [{"productId": product, "quantity": 1}]}
                try:
                    answer = await http.post(
                        url(shop, "order-service", "/api/orders/checkout"),
                        json=checkout,
                        headers={**user_headers(user), "Idempotency-Key": key},  # each checks out for themselves
                    )
                    status = answer.status_code
                    payload = (
                        answer.json() if answer.headers.get("content-type", "").startswith("application/json") else None
                    )
                except httpx.HTTPError as exc:
                    status, payload = 0, {"msg": f"{type(exc).__name__}: {exc}"}
                answers.append((key, status, payload))
                await asyncio.sleep(0.05)

        shoppers = [asyncio.create_task(shopper(user)) for user in (1, 2, 3)]
        try:
            await asyncio.sleep(2)
            before = sum(1 for _, status, _ in answers if status == 201)
            assert before > 0, answers[:5]
            await asyncio.to_thread(cluster.stop)
            for service in CHECKOUT_SERVICES:
                await until(lambda s=service: _not(ready(http, shop, s)), 10, f"{service} not ready")
            await asyncio.sleep(2)
            await asyncio.to_thread(cluster.start)
            for service in CHECKOUT_SERVICES:
                await until(lambda s=service: ready(http, shop, s), 30, f"{service} ready again")
            recovered = len(answers)
            await asyncio.sleep(7)  # longer than a circuit stays open (5 s) after the failures of the outage
        finally:
            stop.set()
            await asyncio.gather(*shoppers)
        after = [(s, (p or {}).get("msg")) for _, s, p in answers[recovered:]]
        assert any(status == 201 for status, _ in after), f"no checkout succeeded after the restart: {after[:12]}"
        unexpected = [(s, p) for _, s, p in answers if s not in (201, 409, 503)]
        assert not unexpected, unexpected[:10]
        placed = {payload["orderId"] for _, status, payload in answers if status == 201 and payload}
        # Compensations that could not reach the database are retried in the background: give them time.
        problems: list[str | None] = []

        async def consistent() -> bool:
            problems.append(await _inconsistency(http, shop, product, placed))
            return problems[-1] is None

        try:
            await until(consistent, 90, "a consistent shop")  # an abandoned checkout waits for its 60 s lease
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {problems[-1]}") from None
    logs = shop.logs()
    assert "unhandled_error" not in logs


async def _not(awaitable: Any) -> bool:
    return not await awaitable


async def _inconsistency(http: httpx.AsyncClient, shop: Shop, product: int, placed: set[int]) -> str | None:
    """None when every 201 order is there and live, every live order has its payment and shipment, and the stock
    adds up; else what is wrong."""
    admin = admin_headers()  # every shopper's orders, payments and shipments
    listed = await http.get(url(shop, "order-service", "/api/orders"), headers=admin)
    if listed.status_code != 200:
        return f"orders: {listed.status_code}"
    orders = [o for o in listed.json()["collection"] if any(line["productId"] == product for line in o["orderLines"])]
    live = {o["orderId"]: o for o in orders if o["orderStatus"] != "CANCELLED"}
    missing = placed - set(live)
    assert not missing, f"orders answered 201 but lost or cancelled: {sorted(missing)}"
    for order in live.values():
        if order["orderStatus"] != "CREATED" or order["paymentId"] is None:
            return f"order {order['orderId']} is {order['orderStatus']} with payment {order['paymentId']}"
        payment = await http.get(url(shop, "payment-service", f"/api/payments/{order['paymentId']}"), headers=admin)
        shipment = await http.get(
            url(shop, "shipping-service", f"/api/shippings/orders/{order['orderId']}"), headers=admin
        )
        if payment.status_code != 200 or shipment.status_code != 200:
            return f"order {order['orderId']}: payment {payment.status_code}, shipment {shipment.status_code}"
    sold = sum(line["quantity"] for o in live.values() for line in o["orderLines"] if line["productId"] == product)
    stock = (await http.get(url(shop, "product-service", f"/api/products/{product}"))).json()["quantity"]
    if stock + sold != UNITS:
        return f"stock {stock} + sold {sold} != {UNITS} ({len(orders) - len(live)} cancelled)"
    return None
