"""The pages' cart through /app/api: view, add, change, remove, check out, pay; and a replayed checkout said so."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from storefront_support import USER1, USER2, Shop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def token(shop: Shop) -> str:
    shop.need("product-service", "order-service", "payment-service")
    return shop.token(USER2)


@pytest.fixture
def api(shop: Shop, token: str) -> Iterator[httpx.Client]:
    """A client that keeps its cookies (the cart) as curl's cookie jar does, signed in by its header."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{shop.url}/app/api", headers=headers, timeout=20) as client:
        yield client


def test_a_replayed_checkout_carries_idempotent_replayed(api: httpx.Client) -> None:
    key = uuid.uuid4().hex
    body = {"items": [{"productId": 9, "quantity": 1}]}
    first = api.post("/checkout", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = api.post("/checkout", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["orderId"] == first.json()["orderId"]


def test_a_shopper_fills_changes_and_empties_the_cart(api: httpx.Client) -> None:
    assert api.get("/cart").json() == {"lines": [], "total": 0.0, "itemCount": 0}
    added = api.post("/cart/lines", json={"productId": 5, "quantity": 2})
    assert added.status_code == 200, added.text
    api.post("/cart/lines", json={"productId": 6})
    cart = api.post("/cart/lines", json={"productId": 5, "quantity": 1}).json()
    assert [(line["productId"], line["quantity"]) for line in cart["lines"]] == [(5, 3), (6, 1)]
    price = {line["productId"]: line["product"]["priceUnit"] for line in cart["lines"]}
    assert cart["total"] == round(3 * price[5] + price[6], 2) and cart["itemCount"] == 4
    changed = api.put("/cart/lines/6", json={"quantity": 5}).json()
    assert [(line["productId"], line["quantity"]) for line in changed["lines"]] == [(5, 3), (6, 5)]
    removed = api.delete("/cart/lines/5").json()
    assert [line["productId"] for line in removed["lines"]] == [6]
    assert api.get("/cart").json()["itemCount"] == 5
    assert api.delete("/cart").json()["lines"] == []
    assert api.get("/cart").json()["lines"] == []


def test_the_cart_refuses_what_the_pages_refuse(api: httpx.Client) -> None:
    api.delete("/cart")
    for body in ({"productId": 5, "quantity": 0}, {"productId": 5, "quantity": 100}, {"productId": 0}, {}):
        answer = api.post("/cart/lines", json=body)
        assert answer.status_code == 400 and answer.json()["httpStatus"] == "BAD_REQUEST", body
    assert api.post("/cart/lines", json={"productId": 999_999}).status_code == 404
    assert api.put("/cart/lines/5", json={"quantity": 0}).status_code == 400
    assert api.post("/cart/checkout").status_code == 400  # an empty cart
    api.post("/cart/lines", json={"productId": 5, "quantity": 99})
    assert api.post("/cart/lines", json={"productId": 5, "quantity": 5}).json()["lines"][0]["quantity"] == 99
    api.delete("/cart")


def test_the_cart_needs_a_signed_in_shopper_and_a_cookie_alone_changes_nothing(shop: Shop, api: httpx.Client) -> None:
    api.post("/cart/lines", json={"productId": 5})
    with httpx.Client(base_url=f"{shop.url}/app/api", cookies=api.cookies, timeout=20) as anonymous:
        assert anonymous.get("/cart").status_code == 401
        assert anonymous.post("/cart/lines", json={"productId": 6}).status_code == 401
        assert anonymous.post("/cart/checkout").status_code == 401
    api.delete("/cart")


def test_the_api_cart_is_the_pages_cart(shop: Shop, api: httpx.Client) -> None:
    api.delete("/cart")
    api.post("/cart/lines", json={"productId": 7, "quantity": 2})
    with httpx.Client(base_url=shop.url, cookies=api.cookies, timeout=20) as browser:
        page = browser.get("/app/cart")
        assert page.status_code == 200 and "Laser Printer L1440" in page.text
    api.delete("/cart")


def test_check_out_the_cart_pay_and_see_the_order(shop: Shop, api: httpx.Client) -> None:
    api.delete("/cart")
    api.post("/cart/lines", json={"productId": 8, "quantity": 2})
    key = uuid.uuid4().hex
    placed = api.post("/cart/checkout", headers={"Idempotency-Key": key})
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert [(line["productId"], line["quantity"]) for line in order["orderLines"]] == [(8, 2)]
    assert api.get("/cart").json()["lines"] == [], "checkout empties the cart"
    paid = api.post(f"/orders/{order['orderId']}/pay")
    assert paid.status_code == 200, paid.text
    assert paid.json()["paymentStatus"] == "COMPLETED"
    assert api.post(f"/orders/{order['orderId']}/pay").json()["paymentStatus"] == "COMPLETED"  # paying again: as is
    assert api.get(f"/orders/{order['orderId']}").json()["orderId"] == order["orderId"]
    # Another shopper may not pay it.
    other = {"Authorization": f"Bearer {shop.token(USER1)}"}
    assert api.post(f"/orders/{order['orderId']}/pay", headers=other).status_code == 403
