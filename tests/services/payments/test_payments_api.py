"""payment-service wire contract and state machine, on SQLite and on the real PostgreSQL (order-service down)."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from stub_peer import StubPeer, stub_peer

from ecommerce.services.payments import SPEC

BASE = "/payment-service/api"
TIMESTAMP = re.compile(r"^\d{2}-\d{2}-\d{4}__\d{2}:\d{2}:\d{2}:\d{6}$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def order(order_id: int, status: str = "CREATED") -> tuple[int, dict[str, Any]]:
    return 200, {"orderId": order_id, "orderStatus": status, "orderLines": []}


@pytest.fixture(scope="module")
def orders() -> Iterator[StubPeer]:
    """order-service as a stub: orders 1 and 501.. are CREATED, 902 is PAID; order 1..4 cannot be read (503), and the
    batch read that embeds orders is not answered (so `order` is null); events are taken."""
    with stub_peer() as stub:
        for order_id in (501, 777, 888, 900, 903, 904):
            stub.answers[("GET", f"/order-service/api/orders/{order_id}")] = order(order_id)
        for order_id in range(1, 5):
            stub.answers[("GET", f"/order-service/api/orders/{order_id}")] = (503, {"msg": "down"})
        stub.answers[("GET", "/order-service/api/orders/902")] = order(902, "PAID")
        stub.answers[("POST", "/order-service/api/events")] = (200, {"applied": True})
        yield stub


@pytest_asyncio.fixture(scope="module")
async def client(
    database_url: str, make_client: Callable[..., Any], orders: StubPeer
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(
        SPEC, database_url=database_url, seed_demo_data=True, peers={"order-service": orders.url}, peer_retries=0
    ) as client:
        yield client


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["timestamp", "httpStatus", "msg", "path", "traceId"]
    assert TIMESTAMP.match(body["timestamp"])
    assert body["httpStatus"] == httpx.codes(status).name
    return body


async def test_hello(client: httpx.AsyncClient) -> None:
    response = await client.get("/payment-service/")
    assert response.status_code == 200
    assert response.text == "Payment controller responding!!"


async def test_seeded_payments_with_order_null_while_order_service_is_down(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/payments")
    assert response.status_code == 200
    seeded = response.json()["collection"][:4]
    assert seeded == [
        {"paymentId": i, "isPayed": False, "paymentStatus": "IN_PROGRESS", "order": None} for i in range(1, 5)
    ]
    assert (await client.get(f"{BASE}/payments/2")).json() == seeded[1]
    assert (await client.get(f"{BASE}/payments", params={"orderId": 3})).json()["collection"] == [seeded[2]]
    assert (await client.get(f"{BASE}/payments", params={"ids": "4,1"})).json()["collection"] == [seeded[0], seeded[3]]


async def test_create_then_walk_the_state_machine(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{BASE}/payments", json={"order": {"orderId": 501}, "isPayed": True})
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment == {
        "paymentId": payment["paymentId"],
        "isPayed": False,
        "paymentStatus": "NOT_STARTED",
        "order": None,
    }
    url = f"{BASE}/payments/{payment['paymentId']}"
    assert_error(await client.patch(url, json={"paymentStatus": "COMPLETED"}), 409)
    assert_error(await client.patch(url, json={"paymentStatus": "FAILED"}), 409)
    moved = await client.patch(url, json={"paymentStatus": "IN_PROGRESS"})
    assert moved.status_code == 200
    assert moved.json()["paymentStatus"] == "IN_PROGRESS"
    again = await client.patch(url, json={"paymentStatus": "IN_PROGRESS"})
    assert again.json()["paymentStatus"] == "IN_PROGRESS"
    assert_error(await client.patch(url, json={"paymentStatus": "NOT_STARTED"}), 409)


async def test_completing_needs_order_service_and_changes_nothing_without_it(client: httpx.AsyncClient) -> None:
    for status in ("COMPLETED", "FAILED"):
        body = assert_error(await client.patch(f"{BASE}/payments/1", json={"paymentStatus": status}), 503)
        assert "order-service" in body["msg"]
    put = await client.put(
        f"{BASE}/payments", json={"paymentId": 1, "paymentStatus": "COMPLETED", "order": {"orderId": 1}}
    )
    assert_error(put, 503)
    assert (await client.get(f"{BASE}/payments/1")).json()["paymentStatus"] == "IN_PROGRESS"


async def test_a_payment_needs_an_order_that_exists_and_is_not_paid(client: httpx.AsyncClient) -> None:
    before = (await client.get(f"{BASE}/payments")).json()
    missing = assert_error(await client.post(f"{BASE}/payments", json={"order": {"orderId": 888888}}), 400)
    assert "Order with id: 888888 not found" in missing["msg"]
    assert "PAID" in assert_error(await client.post(f"{BASE}/payments", json={"order": {"orderId": 902}}), 409)["msg"]
    assert (
        "order-service"
        in assert_error(await client.post(f"{BASE}/payments", json={"order": {"orderId": 1}}), 503)["msg"]
    )
    assert (await client.get(f"{BASE}/payments")).json() == before


async def test_a_completed_payment_is_published_after_it_is_stored(client: httpx.AsyncClient, orders: StubPeer) -> None:
    orders.calls.clear()
    payment = (await client.post(f"{BASE}/payments", json={"order": {"orderId": 903}})).json()
    url = f"{BASE}/payments/{payment['paymentId']}"
    assert (await client.patch(url, json={"paymentStatus": "IN_PROGRESS"})).status_code == 200
    done = await client.patch(url, json={"paymentStatus": "COMPLETED"})
    assert done.status_code == 200, done.text
    events = [body for method, path, body in orders.calls if path == "/order-service/api/events"]
    mine = [e for e in events if e["aggregateId"] == 903]
    assert [e["eventType"] for e in mine] == ["PaymentCompleted"]
    assert mine[0]["payload"] == {"paymentId": payment["paymentId"], "orderId": 903, "paymentStatus": "COMPLETED"}


async def test_one_payment_per_order(client: httpx.AsyncClient) -> None:
    assert (await client.post(f"{BASE}/payments", json={"order": {"orderId": 777}})).status_code == 201
    assert_error(await client.post(f"{BASE}/payments", json={"order": {"orderId": 777}}), 409)
    assert len((await client.get(f"{BASE}/payments", params={"orderId": 777})).json()["collection"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"order": {}},
        {"order": {"orderId": 0}},
        {"order": {"orderId": "x"}},
        {"order": {"orderId": 900}, "paymentStatus": "PAID"},
        {"order": {"orderId": 900}, "paymentStatus": "COMPLETED"},
    ],
)
async def test_bad_creates_are_refused_and_change_nothing(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    before = (await client.get(f"{BASE}/payments")).json()
    response = await client.post(f"{BASE}/payments", json=body)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert (await client.get(f"{BASE}/payments")).json() == before


async def test_bad_updates_and_missing_ids(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(f"{BASE}/payments/99999"), 404)
    assert_error(await client.get(f"{BASE}/payments/abc"), 400)
    assert_error(await client.get(f"{BASE}/payments", params={"ids": "1,x"}), 400)
    assert_error(await client.patch(f"{BASE}/payments/99999", json={"paymentStatus": "IN_PROGRESS"}), 404)
    assert_error(await client.patch(f"{BASE}/payments/1", json={"paymentStatus": "DONE"}), 400)
    assert_error(
        await client.put(f"{BASE}/payments", json={"paymentStatus": "IN_PROGRESS", "order": {"orderId": 1}}), 400
    )
    moved = await client.put(
        f"{BASE}/payments", json={"paymentId": 1, "paymentStatus": "IN_PROGRESS", "order": {"orderId": 2}}
    )
    assert_error(moved, 400)
    assert_error(await client.delete(f"{BASE}/payments/99999"), 404)


async def test_delete(client: httpx.AsyncClient) -> None:
    payment = (await client.post(f"{BASE}/payments", json={"order": {"orderId": 888}})).json()
    response = await client.delete(f"{BASE}/payments/{payment['paymentId']}")
    assert response.status_code == 200
    assert response.json() is True
    assert_error(await client.get(f"{BASE}/payments/{payment['paymentId']}"), 404)
