"""Purchases while the services that must agree are killed: nothing disagrees once the relay and reconcilers ran.

On the real PostgreSQL, order-, payment-, product- and shipping-service run as processes; shoppers make at least
200 purchases (checkout, then pay or fail the payment, retrying with the same Idempotency-Key as a client would)
while each of the four is killed with SIGKILL at random moments and started again. One divergence a crash of the
old kind leaves is also planted (a payment COMPLETED whose event never left). Then `ecommerce reconcile` runs, and:

- every order agrees with its payment (PAID with COMPLETED, CREATED with an open one, CANCELLED with a FAILED one
  or none) and with its shipment (a PENDING shipment with the order's lines while it lives, none once cancelled);
- stock + reserved (live orders' reservations, sold ones included) is the initial stock of every product, and
  each reservation is RESERVED exactly when its order lives;
- no order or payment is duplicated (one payment per order, one order per Idempotency-Key, the same order on every
  replay of a key), every event was delivered and none refused;
- the reconcilers' metrics show what they repaired (the planted divergence among it).
Load is bounded (8 shoppers on 127.0.0.1); the whole test takes about two minutes.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import shop_testing
from reliability_support import Shop, new_shop

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SERVICES = ("product-service", "payment-service", "shipping-service", "order-service")
OWNERS = ("payment-service", "shipping-service", "order-service")
PURCHASES = 200
SHOPPERS = 8
PRODUCTS = 5
STOCK = 200
LIVE = ("CREATED", "PAID", "SHIPPED", "DELIVERED")
ADMIN = shop_testing.admin_headers()


@pytest_asyncio.fixture
async def databases() -> AsyncIterator[dict[str, str]]:
    """A fresh database per service on the machine's PostgreSQL (asyncpg DSNs), dropped afterwards."""
    dsn = shop_testing.POSTGRES_ADMIN_DSN
    try:
        admin = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError):
        shop_testing.require(False, f"PostgreSQL is not reachable at {dsn}")
        raise
    run = uuid.uuid4().hex[:8]
    names = {service: f"crash_{run}_{service.split('-')[0]}" for service in SERVICES}
    base = dsn.rsplit("/", 1)[0]
    try:
        for name in names.values():
            await admin.execute(f'CREATE DATABASE "{name}"')
        yield {service: f"{base}/{name}" for service, name in names.items()}
    finally:
        for name in names.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def shop(databases: dict[str, str], tmp_path: Path) -> Iterator[Shop]:
    env = {
        "PEER_TIMEOUT_SECONDS": "2",
        "PEER_RETRIES": "1",
        "DB_POOL_TIMEOUT": "3",
        "CHECKOUT_LEASE_SECONDS": "10",
        "RECONCILE_INTERVAL_SECONDS": "5",
        "RECONCILE_GRACE_SECONDS": "3",
        "JWT_JWKS_URL": shop_testing.jwks_url(),  # the tests' user tokens (an administrator's) are good
    }
    for service, dsn in databases.items():
        env[f"{service.upper().replace('-', '_')}_DATABASE_URL"] = dsn.replace("postgresql://", "postgresql+asyncpg://")
    shop = new_shop(tmp_path / "shop", SERVICES, env)
    try:
        for service in SERVICES:
            shop.start(service)
        yield shop
    finally:
        shop.stop_all()


def url(shop: Shop, service: str, path: str) -> str:
    return f"{shop.urls[service]}/{service}{path}"


class Shoppers:
    """Purchases as a client makes them: a key per checkout, retried on 5xx and lost connections."""

    def __init__(self, shop: Shop, products: list[int]) -> None:
        self.shop = shop
        self.products = products
        self.lock = threading.Lock()
        self.started = 0
        self.outcomes: dict[str, int] = defaultdict(int)
        self.orders_by_key: dict[str, int] = {}
        self.replays_disagreeing: list[tuple[str, int, int]] = []
        self.unexpected: list[tuple[str, int, str]] = []

    def note(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def purchase(self, http: httpx.Client) -> None:
        key = uuid.uuid4().hex
        items = [{"productId": random.choice(self.products), "quantity": random.randint(1, 2)}]
        body = {"userId": random.randint(1, 4), "items": items}
        order = self._until_answered(
            http, "POST", url(self.shop, "order-service", "/api/orders/checkout"), body, {"Idempotency-Key": key}
        )
        if order is None:
            self.note("checkout_gave_up")
            return
        with self.lock:
            seen = self.orders_by_key.setdefault(key, order["orderId"])
            if seen != order["orderId"]:
                self.replays_disagreeing.append((key, seen, order["orderId"]))
        end = "COMPLETED" if random.random() < 0.85 else "FAILED"
        for status in ("IN_PROGRESS", end):
            path = f"/api/payments/{order['paymentId']}"
            moved = self._until_answered(
                http, "PATCH", url(self.shop, "payment-service", path), {"paymentStatus": status}, {}
            )
            if moved is None:
                self.note(f"payment_{status.lower()}_gave_up")
                return
        self.note(f"paid_{end.lower()}")

    def _until_answered(
        self, http: httpx.Client, method: str, target: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any] | None:
        """The 2xx answer, retrying what a crash explains (5xx, no connection, a key still in progress) for 25 s."""
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            try:
                answer = http.request(method, target, json=body, headers={**ADMIN, **headers}, timeout=10)
            except httpx.HTTPError:
                time.sleep(0.3)
                continue
            if answer.status_code < 300:
                result: dict[str, Any] = answer.json()
                return result
            message = str(answer.json().get("msg", "")) if answer.content else ""
            if answer.status_code == 409 and "out of stock" in message:
                self.note("out_of_stock")
                return None
            if answer.status_code >= 500 or (answer.status_code == 409 and "in progress" in message):
                time.sleep(0.3)
                continue
            with self.lock:
                self.unexpected.append((target, answer.status_code, message))
            return None
        return None


def kill_and_restart(shop: Shop, stop: threading.Event, killed: dict[str, int]) -> None:
    """Kill one of the four with SIGKILL every 1.5-4 s, in shuffled rounds, and start it again at once."""
    while not stop.is_set():
        for service in random.sample(SERVICES, len(SERVICES)):
            if stop.wait(random.uniform(1.5, 4.0)):
                return
            shop.services[service].process.kill()
            shop.services[service].process.wait()
            killed[service] += 1
            shop.start(service)


@pytest.mark.timeout(900)  # 75-110 s on a quiet machine; a machine busy with other work can take several times that
async def test_services_agree_after_purchases_under_random_kills(shop: Shop) -> None:
    with httpx.Client(timeout=10, headers=ADMIN) as http:
        products = []
        for n in range(PRODUCTS):
            body = {"productTitle": f"Crash {n}", "priceUnit": 3.5, "quantity": STOCK, "category": {"categoryId": 1}}
            created = http.post(url(shop, "product-service", "/api/products"), json=body)
            assert created.status_code == 201, created.text
            products.append(created.json()["productId"])

    shoppers = Shoppers(shop, products)
    killed: dict[str, int] = defaultdict(int)
    stop_killing = threading.Event()
    killer = threading.Thread(target=kill_and_restart, args=(shop, stop_killing, killed), daemon=True)
    killer.start()

    def shopper() -> None:
        with httpx.Client() as http:
            while True:
                with shoppers.lock:
                    enough = shoppers.started >= PURCHASES and all(killed[s] for s in SERVICES)
                    if enough or shoppers.started >= 3 * PURCHASES:
                        return
                    shoppers.started += 1
                shoppers.purchase(http)

    started = time.monotonic()
    try:
        with ThreadPoolExecutor(SHOPPERS) as pool:
            for future in [pool.submit(shopper) for _ in range(SHOPPERS)]:
                future.result()
    finally:  # never leave the killer running into the next test, whatever happened here
        stop_killing.set()
        killer.join(90)
    load_seconds = time.monotonic() - started
    assert not killer.is_alive()
    for service in SERVICES:  # the last restart may have been cut short by the end of the load
        if shop.services[service].process.poll() is not None:
            shop.start(service)
    print(f"\npurchases: {shoppers.started} in {load_seconds:.0f} s; {dict(shoppers.outcomes)}; killed {dict(killed)}")
    assert shoppers.started >= PURCHASES
    assert all(killed[s] >= 1 for s in SERVICES), killed
    assert not shoppers.unexpected, shoppers.unexpected[:10]
    assert not shoppers.replays_disagreeing, shoppers.replays_disagreeing[:5]
    assert shoppers.outcomes["paid_completed"] >= PURCHASES // 4, shoppers.outcomes

    dsns = _dsns(shop)
    planted = await _plant_lost_payment_event(shop, dsns)
    await _until_no_checkout_in_flight(dsns["order-service"])
    reports = [_reconcile(shop) for _ in range(2)]
    for _ in range(4):  # the repairs' own events are delivered; a last run finds nothing left
        await _until_delivered(dsns)
        final = _reconcile(shop)
        if final.returncode == 0:
            break
    assert final.returncode == 0, final.stdout + final.stderr

    state = await _read_state(dsns)
    problems = _disagreements(state, products)
    assert not problems, "\n".join(problems[:30])
    assert state["orders"][planted]["order_status"] == "PAID"

    repaired = _repaired_metrics(shop)
    print("reconcilers repaired:", repaired)
    print(reports[0].stdout[-2000:])
    assert repaired.get(("payment-service", "orders-payments", "payment_completed_order_created"), 0) >= 1, repaired


def _dsns(shop: Shop) -> dict[str, str]:
    found = {}
    for service in SERVICES:
        value = shop.env[f"{service.upper().replace('-', '_')}_DATABASE_URL"]
        found[service] = value.replace("postgresql+asyncpg://", "postgresql://")
    return found


async def _fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def _plant_lost_payment_event(shop: Shop, dsns: dict[str, str]) -> int:
    """A live checkout whose payment is then COMPLETED behind the service's back: no event, as a crash of the old
    code left it (the order stays CREATED until a reconciler publishes PaymentCompleted)."""
    with httpx.Client(timeout=30, headers=ADMIN) as http:
        products = await _fetch(dsns["product-service"], "SELECT product_id FROM products WHERE quantity > 0 LIMIT 1")
        body = {"userId": 1, "items": [{"productId": products[0]["product_id"], "quantity": 1}]}
        deadline = time.monotonic() + 30
        while True:
            placed = http.post(
                url(shop, "order-service", "/api/orders/checkout"),
                json=body,
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            if placed.status_code == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert placed.status_code == 201, placed.text
    order = placed.json()
    conn = await asyncpg.connect(dsns["payment-service"])
    try:
        await conn.execute(
            "UPDATE payments SET payment_status = 'COMPLETED', is_payed = true WHERE payment_id = $1",
            order["paymentId"],
        )
    finally:
        await conn.close()
    return int(order["orderId"])


async def _until_no_checkout_in_flight(dsn: str) -> None:
    """Abandoned checkouts (order-service killed half-way) are undone once their lease (10 s here) has passed."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = await _fetch(dsn, "SELECT count(*) AS n FROM checkout_keys WHERE NOT completed")
        if rows[0]["n"] == 0:
            return
        time.sleep(1)
    raise AssertionError("checkouts still unfinished 60 s after the load")


async def _until_delivered(dsns: dict[str, str]) -> None:
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        pending = 0
        for service in ("order-service", "payment-service", "shipping-service"):
            rows = await _fetch(dsns[service], "SELECT count(*) AS n FROM outbox_events WHERE delivered_at IS NULL")
            pending += rows[0]["n"]
        if pending == 0:
            return
        time.sleep(1)
    raise AssertionError(f"{pending} events still undelivered")


def _reconcile(shop: Shop) -> subprocess.CompletedProcess[str]:
    """`ecommerce reconcile` as an operator runs it, against the running shop."""
    env = {
        **os.environ,
        **shop_testing.TEST_SECRETS,
        "ECOMMERCE_PEERS": json.dumps(shop.urls),
        "ECOMMERCE_DATA_DIR": str(shop.root / "cli"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "ecommerce", "reconcile", "--grace-seconds", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _read_state(dsns: dict[str, str]) -> dict[str, Any]:
    orders = await _fetch(dsns["order-service"], "SELECT order_id, order_status FROM orders WHERE order_id > 4")
    lines = await _fetch(dsns["order-service"], "SELECT order_id, product_id, quantity FROM order_lines")
    keys = await _fetch(dsns["order-service"], "SELECT order_id FROM checkout_keys WHERE order_id IS NOT NULL")
    payments = await _fetch(dsns["payment-service"], "SELECT payment_id, order_id, payment_status FROM payments")
    shipments = await _fetch(dsns["shipping-service"], "SELECT order_id, shipping_status FROM shipments")
    items = await _fetch(dsns["shipping-service"], "SELECT order_id, product_id, ordered_quantity FROM order_items")
    products = await _fetch(dsns["product-service"], "SELECT product_id, quantity FROM products")
    reservations = await _fetch(dsns["product-service"], "SELECT order_id, reservation_status FROM stock_reservations")
    held = await _fetch(dsns["product-service"], "SELECT order_id, product_id, quantity FROM stock_reservation_lines")
    refused = []
    for service in ("order-service", "payment-service", "shipping-service"):
        rows = await _fetch(
            dsns[service], "SELECT event_type, last_error FROM outbox_events WHERE last_error LIKE 'refused%'"
        )
        refused += [(service, row["event_type"], row["last_error"]) for row in rows]
    order_lines: dict[int, dict[int, int]] = defaultdict(dict)
    for row in lines:
        order_lines[row["order_id"]][row["product_id"]] = row["quantity"]
    shipment_items: dict[int, dict[int, int]] = defaultdict(dict)
    for row in items:
        shipment_items[row["order_id"]][row["product_id"]] = row["ordered_quantity"]
    reserved_lines: dict[int, dict[int, int]] = defaultdict(dict)
    for row in held:
        reserved_lines[row["order_id"]][row["product_id"]] = row["quantity"]
    payments_by_order: dict[int, list[str]] = defaultdict(list)
    for row in payments:
        payments_by_order[row["order_id"]].append(row["payment_status"])
    return {
        "orders": {row["order_id"]: dict(row) for row in orders},
        "lines": order_lines,
        "keys": [row["order_id"] for row in keys],
        "payments": payments_by_order,
        "shipments": {row["order_id"]: row["shipping_status"] for row in shipments},
        "items": shipment_items,
        "stock": {row["product_id"]: row["quantity"] for row in products},
        "reservations": {row["order_id"]: row["reservation_status"] for row in reservations},
        "reserved_lines": reserved_lines,
        "refused": refused,
    }


def _disagreements(state: dict[str, Any], products: list[int]) -> list[str]:
    problems = [f"event refused: {refused}" for refused in state["refused"]]
    orders = state["orders"]
    if len(state["keys"]) != len(set(state["keys"])):
        problems.append("one order for two Idempotency-Keys")
    for order_id, payments in state["payments"].items():
        if len(payments) > 1:
            problems.append(f"order {order_id} has {len(payments)} payments")
        if order_id > 4 and order_id not in orders:
            problems.append(f"payment of order {order_id}, which does not exist")
    for order_id, order in orders.items():
        status = order["order_status"]
        payment = (state["payments"].get(order_id) or [None])[0]
        shipment = state["shipments"].get(order_id)
        reservation = state["reservations"].get(order_id)
        lines = state["lines"].get(order_id, {})
        if status in ("PAID", "SHIPPED", "DELIVERED") and payment != "COMPLETED":
            problems.append(f"order {order_id} {status}, payment {payment}")
        if status == "CREATED" and payment not in ("NOT_STARTED", "IN_PROGRESS"):
            problems.append(f"order {order_id} CREATED, payment {payment}")
        if status == "CANCELLED" and payment not in (None, "FAILED"):
            problems.append(f"order {order_id} CANCELLED, payment {payment}")
        if status in LIVE:
            if shipment != "PENDING" or state["items"].get(order_id, {}) != lines:
                problems.append(f"order {order_id} {status}: shipment {shipment} {state['items'].get(order_id)}")
            if reservation != "RESERVED" or state["reserved_lines"].get(order_id, {}) != lines:
                problems.append(f"order {order_id} {status}: reservation {reservation}")
        else:
            if shipment is not None:
                problems.append(f"order {order_id} CANCELLED still has a {shipment} shipment")
            if reservation == "RESERVED":
                problems.append(f"order {order_id} CANCELLED still holds stock")
    for order_id, status in state["reservations"].items():
        if status == "RESERVED" and order_id not in orders:
            problems.append(f"stock held for order {order_id}, which does not exist")
    for order_id in state["shipments"]:
        if order_id > 4 and order_id not in orders:
            problems.append(f"shipment of order {order_id}, which does not exist")
    for product in products:
        held = sum(
            quantity.get(product, 0)
            for order_id, quantity in state["reserved_lines"].items()
            if state["reservations"].get(order_id) == "RESERVED"
        )
        if state["stock"][product] + held != STOCK:
            problems.append(f"product {product}: stock {state['stock'][product]} + held {held} != {STOCK}")
    return problems


def _repaired_metrics(shop: Shop) -> dict[tuple[str, str, str], float]:
    repaired: dict[tuple[str, str, str], float] = {}
    pattern = re.compile(r"^shop_reconcile_repaired_total\{([^}]*)\} (\S+)$")
    for service in OWNERS:
        scrape = httpx.get(url(shop, service, "/actuator/prometheus"), headers=shop_testing.operator_headers())
        assert scrape.status_code == 200, scrape.text
        assert "shop_reconcile_runs_total" in scrape.text
        for line in scrape.text.splitlines():
            found = pattern.match(line)
            if found:
                labels = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
                repaired[(labels["application"], labels["pair"], labels["kind"])] = float(found.group(2))
    return repaired
