"""No client path reaches a peer: dot segments, encoded dots and encoded separators in /app/api change nothing.

The attacks of issue 13 (item 2), sent straight to proxy-client against the real services: each once read, deleted
or reached something the caller must not (other users' favourites with their emails, every shipment, actuators,
admin-only stock reservations without any token).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from storefront_support import ADMIN, USER1, USER2, Shop

pytestmark = pytest.mark.slow

EMAIL_OF_USER2 = "amineladjimi"


@pytest.fixture(scope="module")
def raw(shop: Shop) -> Iterator[httpx.Client]:
    """A client that sends paths exactly as written (httpx keeps percent-escapes; it would resolve literal dots)."""
    with httpx.Client(base_url=shop.url, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def user1(shop: Shop) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.token(USER1)}"}


@pytest.fixture(scope="module")
def admin(shop: Shop) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.token(ADMIN)}"}


def send(client: httpx.Client, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    request = client.build_request(method, "/", headers=headers)
    request.url = request.url.copy_with(raw_path=path.encode())
    return client.send(request)


REFUSED = (400, 401, 403, 404, 405, 422)

# (method, path, with user 1's token?) -- every one of these answered 200 with someone else's data before the fix.
ATTACKS = [
    ("GET", "/app/api/favourites/1/%252e%252e/%252e", True),
    ("GET", "/app/api/favourites/1/%2e%2e/%2e", True),
    ("GET", "/app/api/favourites/1/%2E%2E/%2E", True),
    ("GET", "/app/api/shippings/orders/1/%2e%2e/%2e%2e", True),
    ("GET", "/app/api/shippings/orders/1/%252e%252e/%252e%252e", True),
    ("GET", "/app/api/shippings/1/%2e%2e", True),
    ("GET", "/app/api/products/%252e%252e/reservations/1", False),
    ("GET", "/app/api/products/%2e%2e/reservations/1", False),
    ("GET", "/app/api/products/%2e%2e/%2e%2e/actuator/info", False),
    ("GET", "/app/api/products/%252e%252e/%252e%252e/actuator/info", False),
    ("GET", "/app/api/products/1%2f..%2f..%2freservations%2f1", False),
    ("GET", "/app/api/products/1%252f..%252f..%252freservations%252f1", False),
    ("GET", "/app/api/categories/%2e%2e/products", False),
    ("GET", "/app/api/users/1/%2e%2e", True),
    ("GET", "/app/api/users/username/%2e%2e", True),
    ("GET", "/app/api/carts/1/%2e%2e", True),
    ("GET", "/app/api/orders/1/%2e%2e", True),
    ("GET", "/app/api/payments/1/%2e%2e", True),
    ("GET", "/app/api/address/1/%2e%2e", True),
]


@pytest.mark.parametrize(("method", "path", "signed_in"), ATTACKS, ids=[a[1] for a in ATTACKS])
def test_dot_segments_never_reach_another_url(
    raw: httpx.Client, user1: dict[str, str], method: str, path: str, signed_in: bool
) -> None:
    answer = send(raw, method, path, user1 if signed_in else None)
    assert answer.status_code in REFUSED, (answer.status_code, answer.text[:300])
    assert EMAIL_OF_USER2 not in answer.text
    assert "reservation" not in answer.text.lower() or answer.status_code >= 400


def test_a_shopper_cannot_delete_another_users_favourite(
    raw: httpx.Client, shop: Shop, user1: dict[str, str], admin: dict[str, str]
) -> None:
    shop.need("favourite-service")
    user2 = {"Authorization": f"Bearer {shop.token(USER2)}"}
    liked = httpx.post(f"{shop.url}/app/api/favourites", json={"productId": 2}, headers=user2, timeout=20)
    assert liked.status_code in (200, 201), liked.text
    date = liked.json()["likeDate"]
    target = f"2/2/{date}"
    for path in (
        f"/app/api/favourites/1/%2e%2e/{target}",
        f"/app/api/favourites/1/%252e%252e/{target}",
        f"/app/api/favourites/1/%2e%2e%2f%2e%2e%2f{target.replace('/', '%2f')}",
        f"/app/api/favourites/1/%252e%252e%252f2%252f2/{date}",
        f"/app/api/favourites/1/..%2f2%2f2/{date}",
        "/app/api/favourites/1/%2e%2e/2%252f2",
        "/app/api/favourites/1/%252e%252e/2%252f2",
    ):
        answer = send(raw, "DELETE", path, user1)
        assert answer.status_code in REFUSED, (path, answer.status_code, answer.text[:300])
    still = httpx.get(f"{shop.url}/app/api/favourites", headers=user2, timeout=20).json()["collection"]
    assert any(f["productId"] == 2 and f["likeDate"] == date for f in still)
    assert httpx.delete(f"{shop.url}/app/api/favourites/2/2/{date}", headers=admin, timeout=20).status_code == 200


def test_stock_reservations_are_not_reachable_through_the_catalog(
    raw: httpx.Client, shop: Shop, user1: dict[str, str]
) -> None:
    shop.need("shipping-service", "payment-service")
    headers = {**user1, "Idempotency-Key": uuid.uuid4().hex}
    placed = httpx.post(
        f"{shop.url}/app/api/checkout", json={"items": [{"productId": 1, "quantity": 1}]}, headers=headers, timeout=20
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["orderId"]
    for path in (
        f"/app/api/products/%252e%252e/reservations/{order_id}",
        f"/app/api/products/%2e%2e/reservations/{order_id}",
        f"/app/api/products/%2e%2e/reservations/{order_id}/release",
    ):
        for method, headers in (("GET", None), ("GET", user1), ("POST", None)):
            answer = send(raw, method, path, headers)
            assert answer.status_code in REFUSED, (method, path, answer.status_code, answer.text[:300])


def test_shipments_list_is_only_the_shoppers_own(raw: httpx.Client, user1: dict[str, str]) -> None:
    mine = send(raw, "GET", "/app/api/shippings", user1)
    assert mine.status_code == 200
    orders = {o["orderId"] for o in send(raw, "GET", "/app/api/orders", user1).json()["collection"]}
    assert {s["orderId"] for s in mine.json()["collection"]} <= orders
