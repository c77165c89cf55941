"""order-service wire contract, on SQLite and on the real PostgreSQL, with every peer down."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from stub_peer import StubPeer, stub_peer

from ecommerce.services.orders import SPEC

BASE = "/order-service/api"
TIMESTAMP = re.compile(r"^\d{2}-\d{2}-\d{4}__\d{2}:\d{2}:\d{2}:\d{6}$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def users() -> Iterator[StubPeer]:
    """user-service as a stub that knows users 1..4 and 42..44."""
    with stub_peer() as stub:
        for user_id in (*range(1, 5), 42, 43, 44):
            stub.answers[("GET", f"/user-service/api/users/{user_id}")] = (200, {"userId": user_id})
        yield stub


@pytest_asyncio.fixture(scope="module")
async def client(
    database_url: str, make_client: Callable[..., Any], users: StubPeer
) -> AsyncIterator[httpx.AsyncClient]:
    nobody = f"http://127.0.0.1:{free_port()}"
    peers = dict.fromkeys(("product-service", "payment-service", "shipping-service"), nobody)
    peers["user-service"] = users.url
    async with make_client(SPEC, database_url=database_url, seed_demo_data=True, peers=peers, peer_retries=0) as client:
        yield client


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["timestamp", "httpStatus", "msg", "path", "traceId"]
    assert TIMESTAMP.match(body["timestamp"])
    assert body["httpStatus"] == httpx.codes(status).name
    return body


async def snapshot(client: httpx.AsyncClient) -> tuple[Any, Any]:
    return (await client.get(f"{BASE}/carts")).json(), (await client.get(f"{BASE}/orders")).json()


async def test_hello(client: httpx.AsyncClient) -> None:
    response = await client.get("/order-service/")
    assert response.status_code == 200
    assert response.text == "Order controller responding!!"


async def test_seeded_carts_embed_a_null_user_while_user_service_is_down(client: httpx.AsyncClient) -> None:
    carts = (await client.get(f"{BASE}/carts")).json()["collection"]
    assert carts[:4] == [{"cartId": i, "userId": i, "user": None} for i in range(1, 5)]
    assert (await client.get(f"{BASE}/carts/2")).json() == {"cartId": 2, "userId": 2, "user": None}


async def test_seeded_order_shape(client: httpx.AsyncClient) -> None:
    order = (await client.get(f"{BASE}/orders/1")).json()
    assert TIMESTAMP.match(order.pop("orderDate"))
    assert order == {
        "orderId": 1,
        "orderDesc": "init",
        "orderFee": 5000.0,
        "orderStatus": "CREATED",
        "paymentId": None,
        "cart": {"cartId": 1, "userId": 1},
        "orderLines": [],
    }
    listed = (await client.get(f"{BASE}/orders", params={"ids": "3,1"})).json()["collection"]
    assert [o["orderId"] for o in listed] == [1, 3]


async def test_orders_of_one_user_through_their_carts(client: httpx.AsyncClient) -> None:
    mine = (await client.get(f"{BASE}/orders", params={"userId": 3})).json()["collection"]
    assert mine and {order["cart"]["userId"] for order in mine} == {3}
    assert (await client.get(f"{BASE}/orders", params={"userId": 424242})).json() == {"collection": []}
    assert (await client.get(f"{BASE}/orders", params={"userId": "x"})).status_code == 400


async def test_cart_crud(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{BASE}/carts", json={"userId": 42})
    assert created.status_code == 201
    cart = created.json()
    assert cart == {"cartId": cart["cartId"], "userId": 42, "user": None}
    updated = await client.put(f"{BASE}/carts/{cart['cartId']}", json={"userId": 43})
    assert updated.json()["userId"] == 43
    replaced = await client.put(f"{BASE}/carts", json={"cartId": cart["cartId"], "userId": 44})
    assert replaced.json()["userId"] == 44
    deleted = await client.delete(f"{BASE}/carts/{cart['cartId']}")
    assert deleted.status_code == 200
    assert deleted.json() is True
    assert_error(await client.get(f"{BASE}/carts/{cart['cartId']}"), 404)
    assert_error(await client.delete(f"{BASE}/carts/{cart['cartId']}"), 404)
    assert_error(await client.delete(f"{BASE}/carts/1"), 409)


async def test_put_without_an_id_creates_and_with_one_updates(client: httpx.AsyncClient) -> None:
    created = await client.put(f"{BASE}/carts", json={"userId": 42})
    assert created.status_code == 201, created.text
    cart_id = created.json()["cartId"]
    updated = await client.put(f"{BASE}/carts", json={"cartId": cart_id, "userId": 43})
    assert updated.status_code == 200 and updated.json()["userId"] == 43

    placed = await client.put(f"{BASE}/orders", json={"orderDesc": "by put", "cart": {"cartId": cart_id}})
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["orderDesc"] == "by put" and order["cart"]["cartId"] == cart_id
    changed = await client.put(
        f"{BASE}/orders", json={"orderId": order["orderId"], "orderDesc": "changed", "cart": {"cartId": cart_id}}
    )
    assert changed.status_code == 200 and changed.json()["orderDesc"] == "changed"
    assert (await client.delete(f"{BASE}/orders/{order['orderId']}")).json() is True
    assert (await client.delete(f"{BASE}/carts/{cart_id}")).json() is True


async def test_a_cart_needs_a_user_that_exists(client: httpx.AsyncClient, users: StubPeer) -> None:
    before = await snapshot(client)
    assert (
        "User with id: 999999 not found"
        in assert_error(await client.post(f"{BASE}/carts", json={"userId": 999999}), 400)["msg"]
    )
    assert "999999" in assert_error(await client.put(f"{BASE}/carts/3", json={"userId": 999999}), 400)["msg"]
    assert_error(await client.put(f"{BASE}/carts", json={"cartId": 3, "userId": 999999}), 400)
    users.answers[("GET", "/user-service/api/users/43")] = (503, {"msg": "down"})
    try:
        assert "user-service" in assert_error(await client.put(f"{BASE}/carts/3", json={"userId": 43}), 503)["msg"]
    finally:
        users.answers[("GET", "/user-service/api/users/43")] = (200, {"userId": 43})
    assert await snapshot(client) == before


async def test_order_without_lines_has_fee_zero_whatever_the_client_says(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{BASE}/orders", json={"orderDesc": "gift", "orderFee": 99999, "cart": {"cartId": 2}})
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["orderFee"] == 0.0
    assert order["orderStatus"] == "CREATED"
    assert order["cart"] == {"cartId": 2, "userId": 2}
    url = f"{BASE}/orders/{order['orderId']}"
    updated = await client.put(url, json={"orderDesc": "changed", "orderFee": 5, "cart": {"cartId": 3}})
    assert updated.json()["orderDesc"] == "changed"
    assert updated.json()["orderFee"] == 0.0
    assert updated.json()["cart"]["cartId"] == 3
    assert (await client.delete(url)).json() is True
    assert_error(await client.get(url), 404)


async def test_order_with_lines_needs_product_service(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    body = {"cart": {"cartId": 1}, "orderLines": [{"productId": 1, "quantity": 2}]}
    assert_error(await client.post(f"{BASE}/orders", json=body), 503)
    assert await snapshot(client) == before


async def test_status_moves_forward_only(client: httpx.AsyncClient) -> None:
    order = (await client.post(f"{BASE}/orders", json={"cart": {"cartId": 1}})).json()
    url = f"{BASE}/orders/{order['orderId']}"
    assert_error(await client.post(f"{url}/shipped"), 409)
    assert_error(await client.post(f"{url}/delivered"), 409)
    for event, status in (("paid", "PAID"), ("paid", "PAID"), ("shipped", "SHIPPED"), ("delivered", "DELIVERED")):
        response = await client.post(f"{url}/{event}")
        assert response.status_code == 200, response.text
        assert response.json()["orderStatus"] == status
    assert_error(await client.post(f"{url}/cancel"), 409)
    assert_error(await client.delete(url), 409)
    assert_error(await client.post(f"{BASE}/orders/99999/paid"), 404)


async def test_cancel_without_lines_needs_no_peer(client: httpx.AsyncClient) -> None:
    order = (await client.post(f"{BASE}/orders", json={"cart": {"cartId": 1}})).json()
    url = f"{BASE}/orders/{order['orderId']}"
    assert (await client.post(f"{url}/cancel")).json()["orderStatus"] == "CANCELLED"
    assert (await client.post(f"{url}/cancel")).json()["orderStatus"] == "CANCELLED"
    assert_error(await client.post(f"{url}/paid"), 409)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/carts", {}),
        ("post", "/carts", {"userId": "x"}),
        ("post", "/carts", {"userId": 0}),
        ("post", "/orders", {"orderDesc": "no cart"}),
        ("post", "/orders", {"cart": {"cartId": 99999}}),
        ("post", "/orders", {"cart": {"cartId": 1}, "orderDate": "yesterday"}),
        ("post", "/orders", {"cart": {"cartId": 1}, "orderLines": [{"productId": 1, "quantity": 0}]}),
        ("put", "/orders/1", {"cart": {"cartId": 1}, "orderLines": [{"productId": 1, "quantity": 1}]}),
        ("put", "/carts/abc", {"userId": 1}),
        ("get", "/orders?ids=1,a", None),
        ("post", "/orders/checkout", {"userId": 1, "items": [{"productId": 1, "quantity": 1}]}),
        ("post", "/orders/checkout", {"userId": 1, "items": []}),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    before = await snapshot(client)
    response = await client.request(method.upper(), f"{BASE}{path}", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert_error(response, response.status_code)
    assert await snapshot(client) == before


async def test_checkout_with_product_service_down_is_503_and_leaves_nothing(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    body = {"userId": 1, "items": [{"productId": 1, "quantity": 1}]}
    response = await client.post(f"{BASE}/orders/checkout", json=body, headers={"Idempotency-Key": "k-down"})
    assert_error(response, 503)
    assert await snapshot(client) == before
