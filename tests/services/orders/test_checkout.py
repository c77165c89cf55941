"""Checkout across real processes (order, product, payment, shipping services), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from checkout_shop import SERVICES, Shop, postgres_databases
from shop_testing import admin_headers, operator_headers

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture(scope="module", params=["sqlite", "postgres"])
async def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Shop]:
    data_dir = tmp_path_factory.mktemp("shop")
    env = {"PEER_TIMEOUT_SECONDS": "1", "PEER_RETRIES": "1"}
    if request.param == "sqlite":
        shop = Shop(data_dir, None, env)
        shop.start()
        try:
            yield shop
        finally:
            shop.stop()
        return
    async with postgres_databases(SERVICES) as urls:
        shop = Shop(data_dir, urls, env)
        shop.start()
        try:
            yield shop
        finally:
            shop.stop()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, headers=admin_headers()) as client:
        yield client


async def new_product(shop: Shop, http: httpx.AsyncClient, *, quantity: int, price: float = 12.5) -> int:
    body = {"productTitle": "Widget", "priceUnit": price, "quantity": quantity, "category": {"categoryId": 1}}
    response = await http.post(shop.url("product-service", "/api/products"), json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["productId"])


async def stock(shop: Shop, http: httpx.AsyncClient, product_id: int) -> int:
    return int((await http.get(shop.url("product-service", f"/api/products/{product_id}"))).json()["quantity"])


async def checkout(
    shop: Shop, http: httpx.AsyncClient, items: list[tuple[int, int]], *, user_id: int = 1, key: str | None = None
) -> httpx.Response:
    body = {"userId": user_id, "items": [{"productId": p, "quantity": q} for p, q in items]}
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    return await http.post(shop.url("order-service", "/api/orders/checkout"), json=body, headers=headers)


async def order(shop: Shop, http: httpx.AsyncClient, order_id: int) -> dict[str, Any]:
    return dict((await http.get(shop.url("order-service", f"/api/orders/{order_id}"))).json())


async def orders(shop: Shop, http: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await http.get(shop.url("order-service", "/api/orders"))).json()["collection"])


async def set_payment(shop: Shop, http: httpx.AsyncClient, payment_id: int, status: str) -> httpx.Response:
    url = shop.url("payment-service", f"/api/payments/{payment_id}")
    return await http.patch(url, json={"paymentStatus": status})


async def test_happy_path_to_a_paid_shipped_and_delivered_order(shop: Shop, http: httpx.AsyncClient) -> None:
    product = await new_product(shop, http, quantity=5, price=12.5)
    response = await checkout(shop, http, [(product, 2)], user_id=3)
    assert response.status_code == 201, response.text
    placed = response.json()
    assert placed["orderStatus"] == "CREATED"
    assert placed["orderFee"] == 25.0
    assert placed["orderLines"] == [{"productId": product, "productTitle": "Widget", "quantity": 2, "unitPrice": 12.5}]
    assert placed["cart"] == {"cartId": 3, "userId": 3}
    assert isinstance(placed["paymentId"], int)
    assert await stock(shop, http, product) == 3
    order_id, payment_id = placed["orderId"], placed["paymentId"]

    payment = (await http.get(shop.url("payment-service", f"/api/payments/{payment_id}"))).json()
    assert payment["paymentStatus"] == "NOT_STARTED"
    assert payment["isPayed"] is False
    assert payment["order"]["orderId"] == order_id
    assert payment["order"]["orderFee"] == 25.0
    shipment = (await http.get(shop.url("shipping-service", f"/api/shippings/orders/{order_id}"))).json()
    assert shipment["shippingStatus"] == "PENDING"
    assert [(i["productId"], i["orderedQuantity"]) for i in shipment["items"]] == [(product, 2)]
    assert shipment["items"][0]["product"]["productTitle"] == "Widget"
    assert shipment["items"][0]["order"]["orderId"] == order_id

    early = await http.put(
        shop.url("shipping-service", f"/api/shippings/orders/{order_id}/status"), json={"shippingStatus": "SHIPPED"}
    )
    assert early.status_code == 409, early.text
    assert (await set_payment(shop, http, payment_id, "IN_PROGRESS")).status_code == 200
    paid = await set_payment(shop, http, payment_id, "COMPLETED")
    assert paid.status_code == 200, paid.text
    assert paid.json()["isPayed"] is True
    assert (await order(shop, http, order_id))["orderStatus"] == "PAID"
    for status in ("SHIPPED", "DELIVERED"):
        moved = await http.put(
            shop.url("shipping-service", f"/api/shippings/orders/{order_id}/status"), json={"shippingStatus": status}
        )
        assert moved.status_code == 200, moved.text
        assert (await order(shop, http, order_id))["orderStatus"] == status
    assert await stock(shop, http, product) == 3


async def test_the_same_key_twice_gives_the_same_order_once(shop: Shop, http: httpx.AsyncClient) -> None:
    product = await new_product(shop, http, quantity=5)
    before = len(await orders(shop, http))
    key = uuid.uuid4().hex
    first = await checkout(shop, http, [(product, 1)], key=key)
    second = await checkout(shop, http, [(product, 1)], key=key)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json() == first.json()
    assert len(await orders(shop, http)) == before + 1
    assert await stock(shop, http, product) == 4
    other = await checkout(shop, http, [(product, 2)], key=key)
    assert other.status_code == 422
    assert await stock(shop, http, product) == 4


async def test_concurrent_retries_of_one_key_make_one_order(shop: Shop, http: httpx.AsyncClient) -> None:
    product = await new_product(shop, http, quantity=5)
    before = len(await orders(shop, http))
    key = uuid.uuid4().hex
    responses = await asyncio.gather(*(checkout(shop, http, [(product, 1)], key=key) for _ in range(4)))
    succeeded = [r for r in responses if r.status_code == 201]
    assert succeeded, [r.text for r in responses]
    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses]
    assert {r.json()["orderId"] for r in succeeded} == {succeeded[0].json()["orderId"]}
    assert len(await orders(shop, http)) == before + 1
    assert await stock(shop, http, product) == 4


async def test_out_of_stock_is_409_and_leaves_nothing_held(shop: Shop, http: httpx.AsyncClient) -> None:
    plenty, scarce = await new_product(shop, http, quantity=9), await new_product(shop, http, quantity=1)
    response = await checkout(shop, http, [(plenty, 2), (scarce, 2)])
    assert response.status_code == 409, response.text
    assert "out of stock" in response.json()["msg"]
    assert (await stock(shop, http, plenty), await stock(shop, http, scarce)) == (9, 1)
    last = (await orders(shop, http))[-1]
    assert last["orderStatus"] == "CANCELLED"
    assert last["paymentId"] is None
    shipment = await http.get(shop.url("shipping-service", f"/api/shippings/orders/{last['orderId']}"))
    assert shipment.status_code == 404
    payments = await http.get(shop.url("payment-service", "/api/payments"), params={"orderId": last["orderId"]})
    assert payments.json()["collection"] == []


async def test_unknown_product_is_400(shop: Shop, http: httpx.AsyncClient) -> None:
    before = await orders(shop, http)
    response = await checkout(shop, http, [(987_654, 1)])
    assert response.status_code == 400
    assert await orders(shop, http) == before


async def test_a_failed_payment_cancels_the_order_and_releases_the_stock(shop: Shop, http: httpx.AsyncClient) -> None:
    product = await new_product(shop, http, quantity=4)
    placed = (await checkout(shop, http, [(product, 3)])).json()
    assert await stock(shop, http, product) == 1
    assert (await set_payment(shop, http, placed["paymentId"], "IN_PROGRESS")).status_code == 200
    failed = await set_payment(shop, http, placed["paymentId"], "FAILED")
    assert failed.status_code == 200, failed.text
    assert failed.json()["isPayed"] is False
    assert (await order(shop, http, placed["orderId"]))["orderStatus"] == "CANCELLED"
    assert await stock(shop, http, product) == 4
    assert (await set_payment(shop, http, placed["paymentId"], "COMPLETED")).status_code == 409


async def test_a_resumed_checkout_whose_undo_released_the_stock_is_undone_and_can_be_retried(
    shop: Shop, http: httpx.AsyncClient
) -> None:
    """order-service died in a checkout's undo after product-service released the stock: the key still names a
    CREATED order. Its client's retry must finish the undo and answer as a failed checkout does (503, try again),
    not 409 for a reservation it cannot know about; the next retry with the same key places a new order."""
    product = await new_product(shop, http, quantity=5)
    key = uuid.uuid4().hex
    placed = (await checkout(shop, http, [(product, 2)], key=key)).json()
    order_id = placed["orderId"]
    # What the undo had done before the crash: the payment dropped, the stock released; the key left unfinished.
    assert (await http.delete(shop.url("payment-service", f"/api/payments/{placed['paymentId']}"))).status_code < 300
    released = await http.post(shop.url("product-service", f"/api/reservations/{order_id}/release"))
    assert released.status_code == 200, released.text
    # No lease at all (free to claim): the worker that undoes abandoned checkouts takes only expired ones, so the
    # client's retry, not the worker, is the run that resumes it.
    await shop.order_database(
        "UPDATE checkout_keys SET completed = false, lease_until = NULL WHERE idempotency_key = :key", key=key
    )
    resumed = await checkout(shop, http, [(product, 2)], key=key)
    assert resumed.status_code == 503, resumed.text
    assert set(resumed.json()) >= {"timestamp", "httpStatus", "msg"}
    assert (await order(shop, http, order_id))["orderStatus"] == "CANCELLED"
    assert await stock(shop, http, product) == 5
    again = await checkout(shop, http, [(product, 2)], key=key)
    assert again.status_code == 201, again.text
    assert again.json()["orderId"] != order_id
    assert await stock(shop, http, product) == 3


def circuit_state(shop: Shop, peer: str) -> float:
    text = httpx.get(shop.url("order-service", "/actuator/prometheus"), headers=operator_headers()).text
    match = re.search(rf'circuit_breaker_state\{{application="order-service",peer="{peer}"\}} (\S+)', text)
    assert match, "no circuit_breaker_state series"
    return float(match.group(1))


async def until_payments_pass(shop: Shop, http: httpx.AsyncClient) -> None:
    """Check out until order-service's circuit to payment-service is closed again (after a test's stand-in)."""
    product = await new_product(shop, http, quantity=100)
    deadline = time.monotonic() + 30
    while (await checkout(shop, http, [(product, 1)])).status_code != 201 or circuit_state(shop, "payment-service"):
        assert time.monotonic() < deadline, "the circuit to payment-service did not close"
        await asyncio.sleep(0.5)


class _StandIn(BaseHTTPRequestHandler):
    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        return


class _Failing(_StandIn):
    def _fail(self) -> None:
        self.answer(500, b'{"msg":"boom"}')

    do_GET = do_POST = do_DELETE = _fail  # noqa: N815


def stand_in(port: int, handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """A stand-in for a stopped peer on its port, answering with `handler`, until closed."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def test_a_failing_then_down_peer_opens_the_circuit_which_closes_again(
    shop: Shop, http: httpx.AsyncClient
) -> None:
    product = await new_product(shop, http, quantity=50)
    shop.stop("payment-service")
    try:
        failing = stand_in(shop.ports["payment-service"], _Failing)
        next(failing)
        for _ in range(3):
            response = await checkout(shop, http, [(product, 1)])
            assert response.status_code == 503, response.text
        failing.close()
        for _ in range(3):
            assert (await checkout(shop, http, [(product, 1)])).status_code == 503
        assert circuit_state(shop, "payment-service") == 1
        started = time.monotonic()
        assert (await checkout(shop, http, [(product, 1)])).status_code == 503
        assert time.monotonic() - started < 1.0
        assert await stock(shop, http, product) == 50
        assert all(o["orderStatus"] == "CANCELLED" for o in (await orders(shop, http))[-7:])
    finally:
        shop.start("payment-service")
    await asyncio.sleep(5.2)
    for _ in range(3):
        response = await checkout(shop, http, [(product, 1)])
        assert response.status_code == 201, response.text
    assert circuit_state(shop, "payment-service") == 0
    assert await stock(shop, http, product) == 47


@pytest.mark.parametrize("payment_answer", [201, 500], ids=["payment-opened", "payment-failed"])
async def test_a_run_that_outlived_its_lease_neither_completes_nor_undoes_the_checkout(
    shop: Shop, http: httpx.AsyncClient, payment_answer: int
) -> None:
    """While a checkout waits on payment-service, its lease expires and another run takes the key over. Whatever
    payment-service then answers, the first run must leave the outcome to the other: no 201 for an order the other
    may cancel, no undo of a checkout the other may complete."""
    product = await new_product(shop, http, quantity=5)
    key = uuid.uuid4().hex

    class TakenOverMeanwhile(_StandIn):
        def do_POST(self) -> None:  # noqa: N802 - answers only after another run took the key
            taken = "UPDATE checkout_keys SET lease_until = :until WHERE idempotency_key = :key"
            until = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=8)  # the other run's lease
            asyncio.run(shop.order_database(taken, until=until, key=key))
            self.answer(payment_answer, b'{"paymentId": 999999}' if payment_answer == 201 else b'{"msg": "boom"}')

    shop.stop("payment-service")
    try:
        payments = stand_in(shop.ports["payment-service"], TakenOverMeanwhile)
        next(payments)
        response = await checkout(shop, http, [(product, 2)], key=key)
        payments.close()
        assert response.status_code == 503, response.text
        assert "taken over" in response.json()["msg"]
        assert (await orders(shop, http))[-1]["orderStatus"] == "CREATED"  # left as it was, for the other run
        assert await stock(shop, http, product) == 3
    finally:
        shop.start("payment-service")
    # The other run never comes back: once its lease has passed, the worker undoes the abandoned checkout.
    deadline = time.monotonic() + 30
    while (await orders(shop, http))[-1]["orderStatus"] != "CANCELLED" and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    assert (await orders(shop, http))[-1]["orderStatus"] == "CANCELLED"
    assert await stock(shop, http, product) == 5
    await until_payments_pass(shop, http)  # the stand-in's 500 counts against payment-service
    again = await checkout(shop, http, [(product, 2)], key=key)
    assert again.status_code == 201, again.text
    assert await stock(shop, http, product) == 3


async def test_a_slow_peer_times_out_into_503_and_undo(shop: Shop, http: httpx.AsyncClient) -> None:
    product = await new_product(shop, http, quantity=5)
    payments = shop.processes["payment-service"]
    payments.send_signal(signal.SIGSTOP)
    try:
        response = await checkout(shop, http, [(product, 2)])
    finally:
        payments.send_signal(signal.SIGCONT)
    assert response.status_code == 503, response.text
    assert await stock(shop, http, product) == 5
    last = (await orders(shop, http))[-1]
    assert last["orderStatus"] == "CANCELLED"


async def test_a_stopped_shipping_service_gets_the_shipment_when_it_is_back(
    shop: Shop, http: httpx.AsyncClient
) -> None:
    product = await new_product(shop, http, quantity=5)
    deadline = time.monotonic() + 20  # an earlier test may have left a circuit open: wait until checkouts pass
    while (await checkout(shop, http, [(product, 1)])).status_code != 201 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    shipping = shop.processes["shipping-service"]
    shipping.send_signal(signal.SIGSTOP)
    try:
        response = await checkout(shop, http, [(product, 2)])
        assert response.status_code == 201, response.text  # the shipment follows through the outbox
    finally:
        shipping.send_signal(signal.SIGCONT)
    order_id = response.json()["orderId"]
    url = shop.url("shipping-service", f"/api/shippings/orders/{order_id}")
    deadline = time.monotonic() + 20
    while (found := await http.get(url)).status_code == 404 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert found.status_code == 200, found.text
    assert [(i["productId"], i["orderedQuantity"]) for i in found.json()["items"]] == [(product, 2)]
    assert await stock(shop, http, product) == 2


async def test_concurrent_checkouts_for_the_last_units(shop: Shop, http: httpx.AsyncClient) -> None:
    units = 5
    product = await new_product(shop, http, quantity=units)
    # The shoppers with a cart (users 1..4); a user without one must be known to user-service, which is not running.
    shoppers = [1 + i % 4 for i in range(4 * units)]
    responses = await asyncio.gather(*(checkout(shop, http, [(product, 1)], user_id=u) for u in shoppers))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == units, [r.text for r in responses if r.status_code not in (201, 409)]
    assert statuses.count(409) == 3 * units
    assert await stock(shop, http, product) == 0
    placed = [await order(shop, http, r.json()["orderId"]) for r in responses if r.status_code == 201]
    assert all(o["orderStatus"] == "CREATED" and o["paymentId"] for o in placed)


def test_logs_are_clean(shop: Shop, tmp_path: Path) -> None:
    for name in SERVICES:
        assert "unhandled_error" not in shop.logs(name), shop.logs(name)
