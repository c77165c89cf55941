"""Strict input and reference checks hold through /app/api too: NUL in a body or a query string and a boolean
where a number belongs are 400 with the one error body, and a payment for an order that does not exist is refused
(naming the order), as they are at the services themselves."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from storefront_support import ADMIN, USER1, Shop

pytestmark = pytest.mark.slow

ERROR_KEYS = ["timestamp", "httpStatus", "msg", "path", "traceId"]


@pytest.fixture(scope="module")
def api(shop: Shop) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{shop.url}/app/api", timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def admin(shop: Shop) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.token(ADMIN)}"}


@pytest.fixture(scope="module")
def user1(shop: Shop) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.token(USER1)}"}


def bad_request(answer: httpx.Response) -> str:
    assert answer.status_code == 400, (answer.status_code, answer.text)
    body = answer.json()
    assert list(body) == ERROR_KEYS and body["httpStatus"] == "BAD_REQUEST", body
    return str(body["msg"])


def test_nul_in_a_query_string_is_400(api: httpx.Client) -> None:
    bad_request(api.get("/products", params={"q": "a\x00b"}))


def test_nul_in_a_body_is_400(api: httpx.Client, admin: dict[str, str]) -> None:
    product = {"productTitle": "Mug\x00", "priceUnit": 3.5, "quantity": 2, "category": {"categoryId": 1}}
    bad_request(api.post("/products", json=product, headers=admin))
    registration = {
        "firstName": "Nul\x00",
        "lastName": "Byte",
        "email": "nul@example.com",
        "credential": {"username": "nulbyte", "password": "s3cret-pass"},
    }
    bad_request(api.post("/users", json=registration))


def test_a_boolean_is_not_a_number(api: httpx.Client, admin: dict[str, str], user1: dict[str, str]) -> None:
    product = {"productTitle": "Mug", "priceUnit": 3.5, "quantity": True, "category": {"categoryId": 1}}
    bad_request(api.post("/products", json=product, headers=admin))
    checkout = {"items": [{"productId": 1, "quantity": True}]}
    bad_request(api.post("/checkout", json=checkout, headers=user1))


def test_a_payment_for_a_missing_order_is_refused(api: httpx.Client, admin: dict[str, str], shop: Shop) -> None:
    shop.need("payment-service", "order-service")
    msg = bad_request(
        api.post("/payments", json={"order": {"orderId": 888888}, "paymentStatus": "NOT_STARTED"}, headers=admin)
    )
    assert "888888" in msg
