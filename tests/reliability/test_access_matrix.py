"""Every resource through the gateway, both the services' own paths and the storefront's /app/api, tried with no
token, another user's token, an expired and a forged token, and an admin token; no password or hash ever leaves
a service or reaches a log line.

(The ownership rules of /app/api are tried in depth in tests/services/storefront/test_api_rules.py; here the
whole shop answers through its one entrance, with tokens the storefront really signed.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from reliability_support import ADMIN, BUSINESS, USER1, USER2, Shop, running_shop

pytestmark = pytest.mark.slow

# Anything that looks like a password hash (bcrypt, argon2, pbkdf2, sha-crypt) or a demo password.
SECRET_PATTERNS = re.compile(r"\$2[aby]\$\d\d\$|\$argon2|pbkdf2_sha|\$6\$|-demo\b")

# (method, path, who may: public | admin | nobody): one call per resource and kind of access.
# The services' own APIs check no ownership, so the gateway opens them to administrators only; shoppers use /app/api.
SERVICE_PATHS: list[tuple[str, str, str]] = [
    ("GET", "/product-service/api/products", "public"),
    ("GET", "/product-service/api/categories", "public"),
    ("POST", "/product-service/api/products", "admin"),
    ("DELETE", "/product-service/api/products/999999", "admin"),
    ("GET", "/user-service/api/users", "admin"),
    ("GET", "/user-service/api/users/1", "admin"),
    ("GET", "/user-service/api/address", "admin"),
    ("GET", "/user-service/api/credentials", "nobody"),
    ("GET", "/user-service/api/verificationTokens", "nobody"),
    ("GET", "/order-service/api/orders", "admin"),
    ("GET", "/order-service/api/orders/1", "admin"),
    ("POST", "/order-service/api/orders/1/paid", "admin"),
    ("GET", "/order-service/api/carts", "admin"),
    ("GET", "/payment-service/api/payments", "admin"),
    ("PATCH", "/payment-service/api/payments/1", "admin"),
    ("GET", "/shipping-service/api/shippings", "admin"),
    ("PUT", "/shipping-service/api/shippings/orders/1/status", "admin"),
    ("GET", "/favourite-service/api/favourites", "admin"),
    ("GET", "/product-service/actuator/prometheus", "nobody"),
    ("POST", "/order-service/actuator/faults", "nobody"),
    ("POST", "/user-service/actuator/refresh", "nobody"),
]

# /app/api: (method, path, answer for user 1 when the resource is user 2's or admin-only, answer for admin)
STOREFRONT_PATHS: list[tuple[str, str, int, int]] = [
    ("GET", "/app/api/users/2", 403, 200),
    ("GET", "/app/api/users/username/amineladjimi", 403, 200),
    ("GET", "/app/api/credentials", 403, 200),
    ("GET", "/app/api/orders/{order2}", 403, 200),
    ("GET", "/app/api/payments/{payment2}", 403, 200),
    ("GET", "/app/api/shippings/orders/{order2}", 403, 200),
    ("DELETE", "/app/api/products/999999", 403, 404),
    ("DELETE", "/app/api/users/2", 403, None),  # never actually deleted: the admin row is skipped below
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    names = (*BUSINESS, "proxy-client", "api-gateway")
    with running_shop(tmp_path_factory.mktemp("security"), names, {"SIGNIN_FREE_FAILURES": "3"}) as shop:
        yield shop


@pytest.fixture(scope="module")
def tokens(shop: Shop) -> dict[str, dict[str, str]]:
    """Headers per identity: none, user1, user2, admin, an expired and a forged admin token."""
    admin_token = shop.token(ADMIN)
    key_file = Path(shop.env["JWT_PRIVATE_KEY_FILE"])
    real_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    header = jwt.get_unverified_header(admin_token)
    claims = jwt.decode(admin_token, options={"verify_signature": False})
    now = int(time.time())
    expired = {**claims, "iat": now - 7200, "exp": now - 3600}
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "none": {},
        "user1": {"Authorization": f"Bearer {shop.token(USER1)}"},
        "user2": {"Authorization": f"Bearer {shop.token(USER2)}"},
        "admin": {"Authorization": f"Bearer {admin_token}"},
        "expired": {"Authorization": f"Bearer {jwt.encode(expired, real_key, algorithm='RS256', headers=header)}"},
        "forged": {"Authorization": f"Bearer {jwt.encode(claims, forger, algorithm='RS256', headers=header)}"},
        "none-alg": {"Authorization": f"Bearer {jwt.encode(claims, None, algorithm='none')}"},
    }


@pytest.fixture(scope="module")
def gateway(shop: Shop) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop.urls["api-gateway"], timeout=20) as client:
        yield client


def body_for(method: str) -> dict[str, object] | None:
    if method in ("POST", "PUT", "PATCH"):
        return {"productTitle": "x", "priceUnit": 1, "quantity": 1, "paymentStatus": "COMPLETED"}
    return None


@pytest.mark.parametrize(
    ("method", "path", "who"),
    [row if type(row) is not tuple else pytest.param(*row, id=f"{row[0]} {row[1]}") for row in SERVICE_PATHS],
)
def test_service_paths_through_the_gateway(
    gateway: httpx.Client, tokens: dict[str, dict[str, str]], method: str, path: str, who: str
) -> None:
    def call(identity: str) -> httpx.Response:
        return gateway.request(method, path, headers=tokens[identity], json=body_for(method))

    for identity in ("expired", "forged", "none-alg"):
        answer = call(identity)
        if who == "nobody":
            assert answer.status_code == 404, (identity, answer.text)
        elif who == "public":
            assert answer.status_code in (200, 401), (identity, answer.text)  # never the token's privileges
        else:
            assert answer.status_code == 401, (identity, answer.text)
            assert answer.headers.get("WWW-Authenticate", "").startswith("Bearer")
    none, user, admin = call("none"), call("user1"), call("admin")
    if who == "public":
        assert (none.status_code, user.status_code, admin.status_code) == (200, 200, 200)
    elif who == "nobody":
        assert (none.status_code, user.status_code, admin.status_code) == (404, 404, 404)
    else:
        assert (none.status_code, user.status_code) == (401, 403), (none.text, user.text)
        assert admin.status_code not in (401, 403), admin.text
        assert admin.status_code < 500, admin.text
    for answer in (none, user, admin):
        assert answer.status_code < 400 or answer.json()["msg"], answer.text


def order_of(gateway: httpx.Client, tokens: dict[str, dict[str, str]], user: str) -> dict[str, int]:
    """A fresh order of `user`, placed through /app/api/checkout."""
    products = gateway.get("/app/api/products").json()["collection"]
    product = next(p for p in products if p["quantity"] > 0)
    answer = gateway.post(
        "/app/api/checkout",
        headers=tokens[user],
        json={"items": [{"productId": product["productId"], "quantity": 1}]},
    )
    assert answer.status_code == 201, answer.text
    placed = answer.json()
    return {"order": placed["orderId"], "payment": placed["paymentId"]}


def test_storefront_paths_through_the_gateway(gateway: httpx.Client, tokens: dict[str, dict[str, str]]) -> None:
    theirs = order_of(gateway, tokens, "user2")
    for method, template, other_status, admin_status in STOREFRONT_PATHS:
        path = template.format(order2=theirs["order"], payment2=theirs["payment"])
        for identity in ("none", "expired", "forged", "none-alg"):
            answer = gateway.request(method, path, headers=tokens[identity])
            assert answer.status_code == 401, (identity, path, answer.text)
            assert answer.json()["msg"]
        answer = gateway.request(method, path, headers=tokens["user1"])
        assert answer.status_code == other_status, (path, answer.text)
        if admin_status is not None:
            answer = gateway.request(method, path, headers=tokens["admin"])
            assert answer.status_code == admin_status, (path, answer.text)
    own = gateway.get(f"/app/api/orders/{theirs['order']}", headers=tokens["user2"])
    assert own.status_code == 200, own.text


def test_no_password_or_hash_in_any_answer_or_log(
    shop: Shop, gateway: httpx.Client, tokens: dict[str, dict[str, str]]
) -> None:
    admin = tokens["admin"]
    answers = [
        gateway.get("/user-service/api/users", headers=admin),
        gateway.get("/user-service/api/users/1", headers=admin),
        gateway.get("/user-service/api/users/username/selimhorri", headers=admin),
        gateway.get("/app/api/users", headers=tokens["user1"]),
        gateway.get("/app/api/users/1", headers=tokens["user1"]),
        gateway.get("/app/api/credentials", headers=admin),
        gateway.get("/order-service/api/carts", headers=admin),
        gateway.post("/app/api/authenticate", json={"username": USER1[0], "password": USER1[1]}),
        gateway.post("/app/api/authenticate", json={"username": USER1[0], "password": "wrong-password"}),
    ]
    for answer in answers:
        assert answer.status_code in (200, 401), (answer.request.url, answer.text)
        assert not SECRET_PATTERNS.search(answer.text), (answer.request.url, answer.text[:500])
        assert "wrong-password" not in answer.text
    logs = shop.logs()
    assert logs, "no logs were written"
    found = SECRET_PATTERNS.search(logs)
    assert found is None, logs[max(0, found.start() - 300) : found.end() + 100]
    assert "wrong-password" not in logs
