"""Every route of every business service, called directly (not through the gateway): without credentials, with
wrong service tokens, as a component the endpoint does not allow, and as a shopper reaching for another's rows.

The routes are enumerated from each app, so a new endpoint without a rule fails here.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from shop_testing import mesh_secrets, service_headers, user_headers

from ecommerce.chassis import ServiceSpec
from ecommerce.chassis.identity import SERVICE_TOKEN_HEADER, MeshSecrets, ServiceTokens
from ecommerce.services.favourites import SPEC as FAVOURITES
from ecommerce.services.orders import SPEC as ORDERS
from ecommerce.services.payments import SPEC as PAYMENTS
from ecommerce.services.products import SPEC as PRODUCTS
from ecommerce.services.shipping import SPEC as SHIPPING
from ecommerce.services.users import SPEC as USERS

SPECS = (USERS, PRODUCTS, FAVOURITES, ORDERS, SHIPPING, PAYMENTS)
# Public: the catalog's reads, and the services' "responding" roots.
PUBLIC = re.compile(r"^/product-service/api/(products|categories)(/\{\w+\})?$")
PARAMS = {"likeDate": "01-01-2024__10:00:00:000000", "username": "selimhorri"}
STRANGER = "service-discovery"  # a component of the shop that no business endpoint allows


def _routes(app: Any, spec: ServiceSpec) -> list[tuple[str, str]]:
    """(method, concrete path) of every API route the app serves (its OpenAPI document lists them all)."""
    found = []
    for template, operations in app.openapi()["paths"].items():
        if not template.startswith(f"{spec.context_path}/api/"):
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: PARAMS.get(m.group(1), "1"), template)
        for method in operations:
            if not (PUBLIC.match(template) and method == "get"):
                found.append((method.upper(), path))
    assert len(found) > 5, spec.name
    return found


@pytest_asyncio.fixture(params=SPECS, ids=[spec.name for spec in SPECS])
async def service(
    request: pytest.FixtureRequest, make_client: Callable[..., Any], tmp_path: Any
) -> AsyncIterator[tuple[ServiceSpec, httpx.AsyncClient]]:
    spec: ServiceSpec = request.param
    url = f"sqlite+aiosqlite:///{tmp_path / 'matrix.db'}"
    async with make_client(spec, headers={}, database_url=url, seed_demo_data=True, peer_retries=0) as client:
        yield spec, client


def _expired_service_token(audience: str) -> str:
    kid, key = mesh_secrets().signing_key
    now = int(time.time())
    claims = {"iss": "ecommerce-mesh", "sub": "order-service", "aud": audience, "iat": now - 400, "exp": now - 60}
    return jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})


async def test_every_route_refuses_unproven_callers(service: tuple[ServiceSpec, httpx.AsyncClient]) -> None:
    spec, client = service
    foreign = ServiceTokens(MeshSecrets.parse("other:" + "z" * 40, "o" * 12, "p" * 12), "order-service")
    attempts = {
        "anonymous": {},
        "foreign key": {SERVICE_TOKEN_HEADER: foreign.token_for(spec.name)},
        "expired": {SERVICE_TOKEN_HEADER: _expired_service_token(spec.name)},
        "other audience": service_headers("order-service", "some-other-service"),
        "expired user": user_headers(1, exp=int(time.time()) - 60),
        "wrong issuer": user_headers(1, iss="somebody"),
    }
    for method, path in _routes(client.app, spec):  # type: ignore[attr-defined]
        for name, headers in attempts.items():
            answer = await client.request(method, path, headers=headers, json={})
            assert answer.status_code == 401, (name, method, path, answer.text)
            assert answer.json()["msg"], (name, method, path)
        stranger = await client.request(method, path, headers=service_headers(STRANGER, spec.name), json={})
        assert stranger.status_code == 403, (method, path, stranger.text)


SHOPPER_REFUSED = [
    ("GET", "/user-service/api/users/2"),
    ("GET", "/user-service/api/users/username/amineladjimi"),
    ("DELETE", "/user-service/api/users/2"),
    ("GET", "/user-service/api/users"),
    ("GET", "/user-service/api/address?userId=2"),
    ("GET", "/user-service/api/credentials"),
    ("GET", "/user-service/api/verificationTokens"),
    ("POST", "/user-service/api/credentials/verify"),
    ("GET", "/favourite-service/api/favourites?userId=2"),
    ("GET", "/favourite-service/api/favourites/2/1"),
    ("DELETE", "/favourite-service/api/favourites/2/1"),
    ("GET", "/order-service/api/carts"),
    ("GET", "/order-service/api/orders?userId=2"),
    ("POST", "/order-service/api/orders/1/paid"),
    ("DELETE", "/order-service/api/orders/1"),
    ("POST", "/product-service/api/reservations"),
    ("DELETE", "/product-service/api/products/1"),
    ("GET", "/payment-service/api/payments"),
    ("PUT", "/payment-service/api/payments"),
    ("GET", "/shipping-service/api/shippings"),
    ("PUT", "/shipping-service/api/shippings/orders/1/status"),
]


async def test_a_shopper_cannot_reach_anothers_rows(service: tuple[ServiceSpec, httpx.AsyncClient]) -> None:
    spec, client = service
    shopper = user_headers(1, "selimhorri")
    mine = [row for row in SHOPPER_REFUSED if row[1].startswith(spec.context_path)]
    for method, path in mine:
        answer = await client.request(method, path, headers=shopper, json={"userId": 2, "productId": 1})
        assert answer.status_code == 403, (method, path, answer.text)
    if spec is FAVOURITES:
        body = {"userId": 2, "productId": 1}
        for method in ("POST", "PUT"):
            assert (
                await client.request(method, "/favourite-service/api/favourites", json=body, headers=shopper)
            ).status_code == 403
    if spec is USERS:
        own = await client.get("/user-service/api/users/1", headers=shopper)
        assert own.status_code == 200, own.text
        listed = await client.get("/user-service/api/address", headers=shopper)
        assert all(a["user"]["userId"] == 1 for a in listed.json()["collection"])
        escalate = {"userId": 1, "credential": {"username": "selimhorri", "roleBasedAuthority": "ROLE_ADMIN"}}
        assert (await client.put("/user-service/api/users/1", json=escalate, headers=shopper)).status_code == 403
    if spec is ORDERS:
        listed = await client.get("/order-service/api/orders", headers=shopper)
        assert listed.status_code == 200
        assert all(o["cart"]["userId"] == 1 for o in listed.json()["collection"])
        checkout = {"userId": 2, "items": [{"productId": 1, "quantity": 1}]}
        placed = await client.post(
            "/order-service/api/orders/checkout", json=checkout, headers=shopper | {"Idempotency-Key": "k"}
        )
        assert placed.status_code == 403, placed.text
