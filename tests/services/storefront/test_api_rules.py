"""Who may see and change what through /app/api, tried on every resource against the real services."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest
from storefront_support import ADMIN, USER1, USER2, Shop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(shop: Shop) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{shop.url}/app/api", timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def user1(shop: Shop) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.token(USER1)}"}


@pytest.fixture(scope="module")
def user2(shop: Shop) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.token(USER2)}"}


@pytest.fixture(scope="module")
def admin(shop: Shop) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.token(ADMIN)}"}


def rows(answer: httpx.Response) -> list[dict]:
    assert answer.status_code == 200, answer.text
    collection: list[dict] = answer.json()["collection"]
    return collection


def test_sign_in_gives_a_token_with_user_and_role(api: httpx.Client) -> None:
    answer = api.post("/authenticate", json={"username": ADMIN[0], "password": ADMIN[1]})
    assert answer.status_code == 200
    token = answer.json()["jwtToken"]
    assert api.get(f"/authenticate/jwt/{token}").json() is True
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "admin" and claims["roles"] == ["ROLE_ADMIN"]


def test_wrong_password_is_401_and_repeated_failures_are_slowed(api: httpx.Client) -> None:
    name = f"nobody{uuid.uuid4().hex[:8]}"
    statuses = [api.post("/authenticate", json={"username": name, "password": "wrong"}) for _ in range(4)]
    assert [a.status_code for a in statuses[:3]] == [401, 401, 401]
    assert statuses[0].json()["httpStatus"] == "UNAUTHORIZED"
    assert statuses[3].status_code == 429 and int(statuses[3].headers["Retry-After"]) >= 1


def test_self_registration_is_always_role_user(api: httpx.Client, shop: Shop) -> None:
    username = f"shopper{uuid.uuid4().hex[:8]}"
    body = {
        "firstName": "Sam",
        "lastName": "Shopper",
        "email": f"{username}@example.com",
        "credential": {"username": username, "password": "s3cret-pass", "roleBasedAuthority": "ROLE_ADMIN"},
    }
    created = api.post("/users", json=body)
    assert created.status_code == 201, created.text
    assert "password" not in created.text
    token = shop.token((username, "s3cret-pass"))
    assert jwt.decode(token, options={"verify_signature": False})["roles"] == ["ROLE_USER"]


def test_catalog_is_public_to_read_and_admin_only_to_write(
    api: httpx.Client, user1: dict[str, str], admin: dict[str, str]
) -> None:
    assert len(rows(api.get("/products"))) >= 4
    assert rows(api.get("/products", params={"q": "asus"}))[0]["productTitle"] == "asus"
    assert api.get("/categories/1").status_code == 200
    new = {"productTitle": "Lamp", "priceUnit": 12.5, "quantity": 3, "category": {"categoryId": 1}}
    assert api.post("/products", json=new).status_code == 401
    assert api.post("/products", json=new, headers=user1).status_code == 403
    assert api.post("/categories", json={"categoryTitle": "Nope"}, headers=user1).status_code == 403
    created = api.post("/products", json=new, headers=admin)
    assert created.status_code == 201, created.text
    product_id = created.json()["productId"]
    assert api.delete(f"/products/{product_id}", headers=user1).status_code == 403
    assert api.delete(f"/products/{product_id}", headers=admin).json() is True


def test_service_errors_come_back_as_the_one_error_body(api: httpx.Client) -> None:
    answer = api.get("/products/999999")
    assert answer.status_code == 404
    body = answer.json()
    assert body["httpStatus"] == "NOT_FOUND" and "999999" in body["msg"] and "{" not in body["msg"]


def test_users_see_only_themselves(api: httpx.Client, user1: dict[str, str], admin: dict[str, str]) -> None:
    assert api.get("/users").status_code == 401
    mine = rows(api.get("/users", headers=user1))
    assert [u["userId"] for u in mine] == [1]
    assert api.get("/users/1", headers=user1).status_code == 200
    assert api.get("/users/2", headers=user1).status_code == 403
    assert api.get(f"/users/username/{USER1[0]}", headers=user1).status_code == 200
    assert api.get(f"/users/username/{USER2[0]}", headers=user1).status_code == 403
    assert api.delete("/users/2", headers=user1).status_code == 403
    assert api.put("/users", json={"userId": 2, "firstName": "x"}, headers=user1).status_code == 403
    assert len(rows(api.get("/users", headers=admin))) >= 4


def test_credentials_and_verification_tokens_are_admin_only(
    api: httpx.Client, user1: dict[str, str], admin: dict[str, str]
) -> None:
    for resource in ("credentials", "verificationTokens"):
        assert api.get(f"/{resource}").status_code == 401
        assert api.get(f"/{resource}", headers=user1).status_code == 403
        assert api.get(f"/{resource}/1", headers=user1).status_code == 403
        assert api.get(f"/{resource}", headers=admin).status_code == 200


def test_addresses_are_private(api: httpx.Client, user1: dict[str, str], user2: dict[str, str]) -> None:
    mine = rows(api.get("/address", headers=user1))
    assert mine and all(a["user"]["userId"] == 1 for a in mine)
    theirs = rows(api.get("/address", headers=user2))
    assert theirs and theirs[0]["addressId"] not in {a["addressId"] for a in mine}
    assert api.get(f"/address/{theirs[0]['addressId']}", headers=user1).status_code == 403
    assert api.delete(f"/address/{theirs[0]['addressId']}", headers=user1).status_code == 403
    body = {"fullAddress": "1 Main St", "postalCode": "1000", "city": "Tunis", "user": {"userId": 2}}
    created = api.post("/address", json=body, headers=user1)
    assert created.status_code == 201, created.text
    assert created.json()["user"]["userId"] == 1  # the owner comes from the token
    stolen = {**body, "addressId": theirs[0]["addressId"]}
    assert api.put("/address", json=stolen, headers=user1).status_code == 403
    assert api.delete(f"/address/{created.json()['addressId']}", headers=user1).json() is True


def test_favourites_are_private(api: httpx.Client, shop: Shop, user1: dict[str, str], user2: dict[str, str]) -> None:
    shop.need("favourite-service")
    liked = api.post("/favourites", json={"userId": 2, "productId": 3}, headers=user1)
    assert liked.status_code in (200, 201), liked.text
    assert liked.json()["userId"] == 1
    mine = rows(api.get("/favourites", headers=user1))
    assert mine and all(f["userId"] == 1 for f in mine)
    theirs = rows(api.get("/favourites", headers=user2))
    assert all(f["userId"] == 2 for f in theirs)
    if theirs:
        f = theirs[0]
        assert (
            api.delete(f"/favourites/{f['userId']}/{f['productId']}/{f['likeDate']}", headers=user1).status_code == 403
        )
    assert api.get("/favourites").status_code == 401


def test_carts_are_private(api: httpx.Client, user1: dict[str, str], admin: dict[str, str]) -> None:
    mine = rows(api.get("/carts", headers=user1))
    assert mine and all(c["userId"] == 1 for c in mine)
    assert api.get("/carts/2", headers=user1).status_code == 403
    assert api.delete("/carts/2", headers=user1).status_code == 403
    created = api.post("/carts", json={"userId": 2}, headers=user1)
    assert created.status_code == 201 and created.json()["userId"] == 1
    assert api.put("/carts", json={"cartId": 2, "userId": 1}, headers=user1).status_code == 403
    assert len(rows(api.get("/carts", headers=admin))) >= 4


def test_orders_payments_and_shipments_are_private(
    api: httpx.Client, shop: Shop, user1: dict[str, str], admin: dict[str, str]
) -> None:
    orders = rows(api.get("/orders", headers=user1))
    assert orders and all(o["cart"]["userId"] == 1 for o in orders)
    all_orders = rows(api.get("/orders", headers=admin))
    other = next(o for o in all_orders if o["cart"]["userId"] != 1)
    assert api.get(f"/orders/{other['orderId']}", headers=user1).status_code == 403
    assert api.get(f"/orders/{orders[0]['orderId']}", headers=user1).status_code == 200
    assert api.post("/orders", json={"cart": {"cartId": 1}}, headers=user1).status_code == 403
    assert api.delete(f"/orders/{orders[0]['orderId']}", headers=user1).status_code == 403

    mine = {o["orderId"] for o in orders}
    payments = rows(api.get("/payments", headers=user1))
    assert all(p["order"]["orderId"] in mine for p in payments)
    everyone = rows(api.get("/payments", headers=admin))
    foreign = next(p for p in everyone if p["order"]["orderId"] not in mine)
    assert api.get(f"/payments/{foreign['paymentId']}", headers=user1).status_code == 403
    assert api.delete(f"/payments/{foreign['paymentId']}", headers=user1).status_code == 403
    assert payments and api.get(f"/payments/{payments[0]['paymentId']}", headers=user1).status_code == 200

    shop.need("shipping-service")
    shipments = rows(api.get("/shippings", headers=user1))
    assert all(s["orderId"] in mine for s in shipments)
    assert api.get(f"/shippings/orders/{other['orderId']}", headers=user1).status_code == 403
    assert shipments and api.get(f"/shippings/orders/{shipments[0]['orderId']}", headers=user1).status_code == 200
    assert api.get("/shippings/orders/999999", headers=user1).status_code == 403  # no such order: not theirs
    assert api.post("/shippings", json={}, headers=user1).status_code == 403


def test_checkout_is_for_the_signed_in_user(api: httpx.Client, shop: Shop, user1: dict[str, str]) -> None:
    shop.need("shipping-service", "payment-service")
    body = {"items": [{"productId": 2, "quantity": 1}], "userId": 3}
    assert api.post("/checkout", json=body).status_code == 401
    headers = {**user1, "Idempotency-Key": uuid.uuid4().hex}
    placed = api.post("/checkout", json=body, headers=headers)
    assert placed.status_code == 201, placed.text
    assert placed.json()["cart"]["userId"] == 1
    again = api.post("/checkout", json=body, headers=headers)
    assert again.json()["orderId"] == placed.json()["orderId"]
