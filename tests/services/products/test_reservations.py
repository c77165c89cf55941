"""product-service stock reservation: all or none, idempotent per order, safe under concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

BASE = "/product-service/api"


async def new_product(client: httpx.AsyncClient, quantity: int) -> int:
    body = {"productTitle": "Limited", "priceUnit": 10, "quantity": quantity, "category": {"categoryId": 1}}
    response = await client.post(f"{BASE}/products", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["productId"])


async def stock(client: httpx.AsyncClient, product_id: int) -> int:
    return int((await client.get(f"{BASE}/products/{product_id}")).json()["quantity"])


def reservation(order_id: int, *lines: tuple[int, int]) -> dict[str, Any]:
    return {"orderId": order_id, "items": [{"productId": p, "quantity": q} for p, q in lines]}


async def test_reserve_takes_stock_and_is_idempotent(client: httpx.AsyncClient) -> None:
    a, b = await new_product(client, 5), await new_product(client, 3)
    response = await client.post(f"{BASE}/reservations", json=reservation(1001, (a, 2), (b, 3)))
    assert response.status_code == 201, response.text
    assert response.json() == {
        "orderId": 1001,
        "reservationStatus": "RESERVED",
        "items": [{"productId": a, "quantity": 2}, {"productId": b, "quantity": 3}],
    }
    again = await client.post(f"{BASE}/reservations", json=reservation(1001, (b, 3), (a, 2)))
    assert again.status_code == 200
    assert again.json() == response.json()
    assert (await stock(client, a), await stock(client, b)) == (3, 0)
    assert (await client.get(f"{BASE}/reservations/1001")).json() == response.json()


async def test_reserve_is_all_or_none(client: httpx.AsyncClient) -> None:
    a, b = await new_product(client, 5), await new_product(client, 1)
    response = await client.post(f"{BASE}/reservations", json=reservation(1002, (a, 2), (b, 2)))
    assert response.status_code == 409
    assert "out of stock" in response.json()["msg"]
    assert (await stock(client, a), await stock(client, b)) == (5, 1)
    assert (await client.get(f"{BASE}/reservations/1002")).status_code == 404
    missing = await client.post(f"{BASE}/reservations", json=reservation(1002, (a, 1), (999_999, 1)))
    assert missing.status_code == 404
    assert await stock(client, a) == 5


async def test_a_different_reservation_for_the_same_order_is_refused(client: httpx.AsyncClient) -> None:
    a = await new_product(client, 5)
    assert (await client.post(f"{BASE}/reservations", json=reservation(1003, (a, 1)))).status_code == 201
    response = await client.post(f"{BASE}/reservations", json=reservation(1003, (a, 2)))
    assert response.status_code == 409
    assert await stock(client, a) == 4


async def test_release_gives_stock_back_once(client: httpx.AsyncClient) -> None:
    a = await new_product(client, 5)
    await client.post(f"{BASE}/reservations", json=reservation(1004, (a, 4)))
    for _ in range(2):
        response = await client.post(f"{BASE}/reservations/1004/release")
        assert response.status_code == 200
        assert response.json()["reservationStatus"] == "RELEASED"
        assert await stock(client, a) == 5
    again = await client.post(f"{BASE}/reservations", json=reservation(1004, (a, 4)))
    assert again.status_code == 409
    assert await stock(client, a) == 5


async def test_release_before_reserve_blocks_a_late_reservation(client: httpx.AsyncClient) -> None:
    a = await new_product(client, 5)
    released = await client.post(f"{BASE}/reservations/1005/release")
    assert released.json() == {"orderId": 1005, "reservationStatus": "RELEASED", "items": []}
    assert (await client.post(f"{BASE}/reservations", json=reservation(1005, (a, 1)))).status_code == 409
    assert await stock(client, a) == 5


async def test_bad_input_is_refused_and_changes_nothing(client: httpx.AsyncClient) -> None:
    a = await new_product(client, 5)
    for body in (
        {"orderId": 1006, "items": []},
        {"orderId": 0, "items": [{"productId": a, "quantity": 1}]},
        {"orderId": 1006, "items": [{"productId": a, "quantity": 0}]},
        {"orderId": 1006, "items": [{"productId": a, "quantity": -1}]},
        {"items": [{"productId": a, "quantity": 1}]},
    ):
        response = await client.post(f"{BASE}/reservations", json=body)
        assert response.status_code == 400, body
        assert set(response.json()) >= {"timestamp", "httpStatus", "msg"}
    assert (await client.post(f"{BASE}/reservations/abc/release")).status_code == 400
    assert await stock(client, a) == 5


async def test_concurrent_reservations_never_sell_the_last_unit_twice(client: httpx.AsyncClient) -> None:
    a = await new_product(client, 3)
    responses = await asyncio.gather(
        *(client.post(f"{BASE}/reservations", json=reservation(2000 + i, (a, 1))) for i in range(12))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [409] * 9, [r.text for r in responses if r.status_code >= 500]
    assert await stock(client, a) == 0
