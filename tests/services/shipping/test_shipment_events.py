"""The shipment through the outbox: OrderPlaced opens it, OrderCancelled drops it, and its moves reach the order as
ShipmentShipped and ShipmentDelivered, each applied once (SQLite and the real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from shop_testing import admin_headers, postgres_database, service_headers
from stub_peer import stub_peer

from ecommerce.services.orders import SPEC as ORDERS
from ecommerce.services.shipping import SPEC as SHIPPING

SHIP = "/shipping-service/api"
ADMIN = admin_headers()


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def own_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
        return
    async with postgres_database() as url:
        yield url


def event(kind: str, order_id: int, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"eventId": str(uuid.uuid4()), "eventType": kind, "aggregateId": order_id, "payload": payload or {}}


async def test_order_placed_opens_the_shipment_once_and_cancelled_drops_it(
    own_database: str, make_client: Callable[..., Any]
) -> None:
    from_orders = service_headers("order-service", "shipping-service")
    placed = event("OrderPlaced", 41, {"orderId": 41, "items": [{"productId": 2, "quantity": 3}]})
    async with make_client(SHIPPING, database_url=own_database, seed_demo_data=False, headers={}) as client:
        for _ in range(2):  # the second delivery of one event changes nothing
            answer = await client.post(f"{SHIP}/events", json=placed, headers=from_orders)
            assert answer.status_code == 200, answer.text
        shipment = (await client.get(f"{SHIP}/shippings/orders/41", headers=ADMIN)).json()
        assert shipment["shippingStatus"] == "PENDING"
        assert [(i["productId"], i["orderedQuantity"]) for i in shipment["items"]] == [(2, 3)]
        bad = event("OrderPlaced", 42, {"orderId": 42, "items": [{"productId": True, "quantity": 1}]})
        assert (await client.post(f"{SHIP}/events", json=bad, headers=from_orders)).status_code == 400
        cancelled = await client.post(f"{SHIP}/events", json=event("OrderCancelled", 41), headers=from_orders)
        assert cancelled.status_code == 200
        assert (await client.get(f"{SHIP}/shippings/orders/41", headers=ADMIN)).status_code == 404


async def test_a_shipment_move_is_published_to_the_order_after_it_is_stored(
    own_database: str, make_client: Callable[..., Any]
) -> None:
    with stub_peer() as orders:
        orders.answers[("GET", "/order-service/api/orders/41")] = (200, {"orderId": 41, "orderStatus": "PAID"})
        orders.answers[("POST", "/order-service/api/events")] = (200, {"applied": True})
        async with make_client(
            SHIPPING, database_url=own_database, peers={"order-service": orders.url}, peer_retries=0, headers={}
        ) as client:
            placed = event("OrderPlaced", 41, {"orderId": 41, "items": [{"productId": 2, "quantity": 1}]})
            headers = service_headers("order-service", "shipping-service")
            assert (await client.post(f"{SHIP}/events", json=placed, headers=headers)).status_code == 200
            early = await client.put(
                f"{SHIP}/shippings/orders/41/status", json={"shippingStatus": "DELIVERED"}, headers=ADMIN
            )
            assert early.status_code == 409
            moved = await client.put(
                f"{SHIP}/shippings/orders/41/status", json={"shippingStatus": "SHIPPED"}, headers=ADMIN
            )
            assert moved.status_code == 200, moved.text
            sent = [body for method, path, body in orders.calls if path == "/order-service/api/events"]
            assert [(b["eventType"], b["aggregateId"], b["payload"]["shippingStatus"]) for b in sent] == [
                ("ShipmentShipped", 41, "SHIPPED")
            ]
            orders.answers[("GET", "/order-service/api/orders/41")] = (200, {"orderId": 41, "orderStatus": "PAID"})
            refused = await client.put(
                f"{SHIP}/shippings/orders/41/status", json={"shippingStatus": "DELIVERED"}, headers=ADMIN
            )
            assert refused.status_code == 409  # the order is not SHIPPED yet: nothing stored, nothing sent
            assert (await client.get(f"{SHIP}/shippings/orders/41", headers=ADMIN)).json()[
                "shippingStatus"
            ] == "SHIPPED"


async def test_the_order_follows_its_shipment_events_once(own_database: str, make_client: Callable[..., Any]) -> None:
    headers = service_headers("shipping-service", "order-service")
    async with make_client(ORDERS, database_url=own_database, seed_demo_data=True, headers={}) as client:
        assert (await client.post("/order-service/api/orders/1/paid", headers=ADMIN)).status_code == 200
        shipped = event("ShipmentShipped", 1)
        for _ in range(2):
            assert (await client.post("/order-service/api/events", json=shipped, headers=headers)).status_code == 200
        assert (await client.get("/order-service/api/orders/1", headers=ADMIN)).json()["orderStatus"] == "SHIPPED"
        delivered = event("ShipmentDelivered", 1)
        assert (await client.post("/order-service/api/events", json=delivered, headers=headers)).status_code == 200
        assert (await client.get("/order-service/api/orders/1", headers=ADMIN)).json()["orderStatus"] == "DELIVERED"
