"""shipping-service wire contract, on SQLite and on the real PostgreSQL, with its peers down."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from shop_testing import jwks_url
from stub_peer import StubPeer, stub_peer

from ecommerce.chassis.security import JwksCache, TokenVerifier
from ecommerce.services.shipping import SPEC

BASE = "/shipping-service/api"
TIMESTAMP = re.compile(r"^\d{2}-\d{2}-\d{4}__\d{2}:\d{2}:\d{2}:\d{6}$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ORDER_LINES = {1: [1, 2], 2: [1, 2], 10: [3], 11: [4], 20: [1, 2], 30: [1]}


@pytest.fixture(scope="module")
def peers_stub() -> Iterator[StubPeer]:
    """order- and product-service as one stub: the orders above with their products; order-service cannot be told
    anything (503) and the batch reads that embed are not answered (so the embeds are null)."""
    with stub_peer() as stub:
        for order_id, products in ORDER_LINES.items():
            lines = [{"productId": p, "quantity": 1} for p in products]
            stub.answers[("GET", f"/order-service/api/orders/{order_id}")] = (
                200,
                {"orderId": order_id, "orderLines": lines},
            )
            stub.answers[("POST", f"/order-service/api/orders/{order_id}/shipped")] = (503, {"msg": "down"})
        for product_id in range(1, 6):
            stub.answers[("GET", f"/product-service/api/products/{product_id}")] = (200, {"productId": product_id})
        yield stub


@pytest_asyncio.fixture(scope="module")
async def client(
    database_url: str, make_client: Callable[..., Any], peers_stub: StubPeer
) -> AsyncIterator[httpx.AsyncClient]:
    peers = dict.fromkeys(("product-service", "order-service"), peers_stub.url)
    async with make_client(SPEC, database_url=database_url, seed_demo_data=True, peers=peers, peer_retries=0) as client:
        yield client


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["timestamp", "httpStatus", "msg", "path", "traceId"]
    assert TIMESTAMP.match(body["timestamp"])
    return body


def item(product_id: int, order_id: int, quantity: int) -> dict[str, Any]:
    return {"productId": product_id, "orderId": order_id, "orderedQuantity": quantity, "product": None, "order": None}


async def everything(client: httpx.AsyncClient) -> Any:
    return (await client.get(f"{BASE}/shippings")).json()


async def test_hello(client: httpx.AsyncClient) -> None:
    response = await client.get("/shipping-service/")
    assert response.text == "shipping controller responding!!"


async def test_seeded_items_with_null_embeds_while_peers_are_down(client: httpx.AsyncClient) -> None:
    assert (await everything(client))["collection"][:4] == [item(1, 1, 2), item(2, 1, 1), item(1, 2, 1), item(2, 2, 1)]


async def test_a_cold_service_answers_a_burst_of_admin_reads(client: httpx.AsyncClient) -> None:
    """The admin's orders page asks for every order's shipment at once, right after shipping-service started.

    While the first request fetched the signing keys the others were answered 503 "Signing keys are unavailable",
    and enough 503s opened proxy-client's circuit to shipping-service: "Mark shipped" then failed with
    "shipping-service is unavailable". Here the verifier fetches the keys from a real JWKS endpoint, cold.
    """
    app = client.app  # type: ignore[attr-defined]
    trusting = app.state.token_verifier
    app.state.token_verifier = TokenVerifier(JwksCache(jwks_url()))
    try:
        answers = await asyncio.gather(*(client.get(f"{BASE}/shippings/orders/{n}") for n in (1, 2, 901, 902, 903)))
    finally:
        app.state.token_verifier = trusting
    assert [answer.status_code for answer in answers] == [200, 200, 404, 404, 404], [a.text for a in answers]


async def test_get_and_delete_by_id_use_order_then_product(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{BASE}/shippings", json={"productId": 3, "orderId": 10, "orderedQuantity": 4})
    assert created.status_code == 201
    assert created.json() == item(3, 10, 4)
    assert (await client.get(f"{BASE}/shippings/10/3")).json() == item(3, 10, 4)
    assert_error(await client.get(f"{BASE}/shippings/3/10"), 404)
    found = await client.request("GET", f"{BASE}/shippings/find", json={"productId": 3, "orderId": 10})
    assert found.json() == item(3, 10, 4)
    assert (await client.post(f"{BASE}/shippings/find", json={"productId": 3, "orderId": 10})).status_code == 200
    assert_error(await client.delete(f"{BASE}/shippings/3/10"), 404)
    deleted = await client.delete(f"{BASE}/shippings/10/3")
    assert deleted.json() is True
    assert_error(await client.get(f"{BASE}/shippings/10/3"), 404)


async def test_put_replaces_or_creates_and_delete_by_body(client: httpx.AsyncClient) -> None:
    created = await client.put(f"{BASE}/shippings", json={"productId": 4, "orderId": 11, "orderedQuantity": 1})
    assert created.status_code == 201
    replaced = await client.put(f"{BASE}/shippings", json={"productId": 4, "orderId": 11, "orderedQuantity": 5})
    assert replaced.status_code == 200
    assert replaced.json()["orderedQuantity"] == 5
    assert_error(
        await client.post(f"{BASE}/shippings", json={"productId": 4, "orderId": 11, "orderedQuantity": 1}), 409
    )
    deleted = await client.request("DELETE", f"{BASE}/shippings/delete", json={"productId": 4, "orderId": 11})
    assert deleted.json() is True


async def test_shipment_put_is_idempotent(client: httpx.AsyncClient) -> None:
    body = {"items": [{"productId": 1, "orderedQuantity": 2}, {"productId": 2, "orderedQuantity": 1}]}
    first = await client.put(f"{BASE}/shippings/orders/20", json=body)
    assert first.status_code == 200, first.text
    assert first.json() == {"orderId": 20, "shippingStatus": "PENDING", "items": [item(1, 20, 2), item(2, 20, 1)]}
    again = await client.put(f"{BASE}/shippings/orders/20", json=body)
    assert again.json() == first.json()
    assert (await client.get(f"{BASE}/shippings/orders/20")).json() == first.json()
    assert (await client.delete(f"{BASE}/shippings/orders/20")).json() is True
    assert_error(await client.get(f"{BASE}/shippings/orders/20"), 404)
    assert_error(await client.delete(f"{BASE}/shippings/orders/20"), 404)


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"productId": 1, "orderId": 888888, "orderedQuantity": 1}, 400, "Order with id: 888888 not found"),
        ({"productId": 999, "orderId": 10, "orderedQuantity": 1}, 400, "Product with id: 999 not found"),
        ({"productId": 5, "orderId": 10, "orderedQuantity": 1}, 400, "Product with id: 5 is not in Order with id: 10"),
    ],
)
async def test_an_item_names_an_order_and_a_product_of_that_order(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, named: str
) -> None:
    before = await everything(client)
    for method in ("POST", "PUT"):
        assert named in assert_error(await client.request(method, f"{BASE}/shippings", json=body), status)["msg"]
    shipment = {"items": [{"productId": body["productId"], "orderedQuantity": 1}]}
    put = await client.put(f"{BASE}/shippings/orders/{body['orderId']}", json=shipment)
    assert named in assert_error(put, status)["msg"]
    assert await everything(client) == before


async def test_a_peer_that_cannot_be_asked_is_503(client: httpx.AsyncClient, peers_stub: StubPeer) -> None:
    peers_stub.answers[("GET", "/order-service/api/orders/30")] = (503, {"msg": "down"})
    try:
        response = await client.post(f"{BASE}/shippings", json={"productId": 1, "orderId": 30, "orderedQuantity": 1})
        assert "order-service" in assert_error(response, 503)["msg"]
    finally:
        peers_stub.answers[("GET", "/order-service/api/orders/30")] = (
            200,
            {"orderId": 30, "orderLines": [{"productId": 1}]},
        )


async def test_advancing_needs_order_service_and_moves_one_step(client: httpx.AsyncClient) -> None:
    before = await client.get(f"{BASE}/shippings/orders/1")
    assert before.json()["shippingStatus"] == "PENDING"
    assert_error(await client.put(f"{BASE}/shippings/orders/1/status", json={"shippingStatus": "DELIVERED"}), 409)
    assert_error(await client.put(f"{BASE}/shippings/orders/1/status", json={"shippingStatus": "SHIPPED"}), 503)
    same = await client.put(f"{BASE}/shippings/orders/1/status", json={"shippingStatus": "PENDING"})
    assert same.status_code == 200
    assert (await client.get(f"{BASE}/shippings/orders/1")).json() == before.json()
    assert_error(await client.put(f"{BASE}/shippings/orders/999/status", json={"shippingStatus": "SHIPPED"}), 404)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/shippings", {"productId": 1, "orderId": 30}),
        ("post", "/shippings", {"productId": 1, "orderId": 30, "orderedQuantity": 0}),
        ("post", "/shippings", {"productId": "a", "orderId": 30, "orderedQuantity": 1}),
        ("get", "/shippings/x/1", None),
        ("get", "/shippings/0/1", None),
        ("put", "/shippings/orders/30", {"items": []}),
        ("put", "/shippings/orders/30", {"items": [{"productId": 1, "orderedQuantity": -2}]}),
        ("put", "/shippings/orders/1/status", {"shippingStatus": "LOST"}),
        ("delete", "/shippings/delete", {"productId": 1}),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    before = await everything(client)
    response = await client.request(method.upper(), f"{BASE}{path}", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert_error(response, response.status_code)
    assert await everything(client) == before
