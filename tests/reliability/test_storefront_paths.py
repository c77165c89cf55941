"""The /app/api dot-segment attacks of issue 13 (item 2) through the gateway, whose /app/** is public at the edge.

`%252e` passes the gateway's path check as `%2e` and reached proxy-client, which forwarded it; here each attack must
be refused, and nothing of another user, an actuator or a stock reservation may come back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from reliability_support import BUSINESS, USER1, USER2, Shop, running_shop

pytestmark = pytest.mark.slow

REFUSED = (400, 401, 403, 404, 405, 422)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    names = (*BUSINESS, "proxy-client", "api-gateway")
    with running_shop(tmp_path_factory.mktemp("storefront-paths"), names) as shop:
        yield shop


@pytest.fixture(scope="module")
def gateway(shop: Shop) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop.urls["api-gateway"], timeout=20) as client:
        yield client


def send(client: httpx.Client, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """Send `path` byte for byte (no client-side normalization of dots or escapes)."""
    request = client.build_request(method, "/", headers=headers)
    request.url = request.url.copy_with(raw_path=path.encode())
    return client.send(request)


def test_dot_segment_attacks_through_the_gateway(shop: Shop, gateway: httpx.Client) -> None:
    user1 = {"Authorization": f"Bearer {shop.token(USER1)}"}
    user2 = {"Authorization": f"Bearer {shop.token(USER2)}"}
    placed = gateway.post(
        "/app/api/checkout",
        json={"items": [{"productId": 1, "quantity": 1}]},
        headers={**user1, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["orderId"]
    liked = gateway.post("/app/api/favourites", json={"productId": 3}, headers=user2)
    assert liked.status_code in (200, 201), liked.text

    attacks = [
        ("GET", "/app/api/favourites/1/%252e%252e/%252e", user1),
        ("GET", "/app/api/shippings/orders/1/%252e%252e/%252e%252e", user1),
        ("GET", f"/app/api/products/%252e%252e/reservations/{order_id}", None),
        ("GET", "/app/api/products/%252e%252e/%252e%252e/actuator/info", None),
        ("DELETE", "/app/api/favourites/1/%252e%252e/2%252f3", user1),
    ]
    for method, path, headers in attacks:
        answer = send(gateway, method, path, headers)
        assert answer.status_code in REFUSED, (method, path, answer.status_code, answer.text[:300])
        assert "amineladjimi" not in answer.text and "reservationStatus" not in answer.text
    theirs = gateway.get("/app/api/favourites", headers=user2).json()["collection"]
    assert any(f["productId"] == 3 for f in theirs), "user 2's favourite was deleted by user 1"
