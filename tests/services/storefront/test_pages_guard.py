"""Pages and API without peers: guards, CSRF, cookies, the JWKS and the token check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from ecommerce.services.storefront import SPEC
from ecommerce.services.storefront.keys import generate_private_key, private_pem
from ecommerce.services.storefront.tokens import issue


@pytest_asyncio.fixture
async def client(make_client: Callable[..., Any], tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(SPEC, data_dir=tmp_path, peers={"product-service": "http://127.0.0.1:9"}) as client:
        client.headers.pop("Authorization", None)  # a visitor: only the tokens each test signs
        yield client


@pytest.mark.parametrize("page", ["/app/account", "/app/orders", "/app/favourites", "/app/checkout", "/app/orders/1"])
async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient, page: str) -> None:
    answer = await client.get(page)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/app/signin?next=%2Fapp%2F")


async def test_admin_pages_refuse_customers(client: httpx.AsyncClient) -> None:
    keys = client.app.state.keys  # type: ignore[attr-defined]
    token = issue(keys, user_id=1, username="ann", role="ROLE_USER", ttl_seconds=60, issuer="proxy-client")
    client.cookies.set("shop_session", token, path="/app")
    answer = await client.get("/app/admin/products")
    assert answer.status_code == 403
    assert "administrators" in answer.text


async def test_forms_without_a_valid_csrf_token_are_refused(client: httpx.AsyncClient) -> None:
    page = await client.get("/app/signin")
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert "shop_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/app" in cookie
    forged = await client.post("/app/cart/add", data={"productId": "1", "csrf_token": "0" * 64})
    assert forged.status_code == 403
    missing = await client.post("/app/signout", data={})
    assert missing.status_code == 403


async def test_the_cart_cookie_is_signed(client: httpx.AsyncClient) -> None:
    page = await client.get("/app/signin")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    added = await client.post("/app/cart/add", data={"productId": "4", "quantity": "2", "csrf_token": token})
    assert added.status_code == 303
    signed = client.cookies.get("shop_cart")
    assert signed and "." in signed
    payload, signature = signed.split(".")
    client.cookies.set("shop_cart", f"{payload}.{'0' * len(signature)}", path="/app")
    page = await client.get("/app/signin")
    assert 'data-testid="cart-count"' not in page.text


async def test_jwks_and_token_check(client: httpx.AsyncClient) -> None:
    jwks = (await client.get("/app/.well-known/jwks.json")).json()
    assert jwks["keys"][0]["kty"] == "RSA" and jwks["keys"][0]["alg"] == "RS256"
    keys = client.app.state.keys  # type: ignore[attr-defined]
    token = issue(keys, user_id=5, username="eve", role="ROLE_USER", ttl_seconds=60, issuer="proxy-client")
    # The original's answer: a JSON boolean.
    assert (await client.get(f"/app/api/authenticate/jwt/{token}")).json() is True
    assert (await client.get("/app/api/authenticate/jwt/abc.def.ghi")).json() is False
    expired = issue(keys, user_id=5, username="eve", role="ROLE_USER", ttl_seconds=-60, issuer="proxy-client")
    assert (await client.get(f"/app/api/authenticate/jwt/{expired}")).json() is False


async def test_bad_bearer_token_is_401_with_the_error_body(client: httpx.AsyncClient) -> None:
    answer = await client.get("/app/api/orders", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert answer.json()["httpStatus"] == "UNAUTHORIZED"


async def test_api_writes_ignore_the_session_cookie(client: httpx.AsyncClient) -> None:
    keys = client.app.state.keys  # type: ignore[attr-defined]
    token = issue(keys, user_id=4, username="admin", role="ROLE_ADMIN", ttl_seconds=60, issuer="proxy-client")
    client.cookies.set("shop_session", token, path="/app")
    answer = await client.post("/app/api/categories", json={"categoryTitle": "x"})
    assert answer.status_code == 401


async def test_pages_stay_small(client: httpx.AsyncClient) -> None:
    for path in ("/app/signin", "/app/signup", "/app/static/shop.css", "/app/static/shop.js"):
        answer = await client.get(path)
        assert answer.status_code == 200
        assert len(answer.content) < 100_000


async def test_every_page_sends_the_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/app/signin", "/app/static/shop.css", "/app/api/authenticate/jwt/x", "/app/nowhere"):
        answer = await client.get(path)
        csp = answer.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert "script-src 'self'" in csp and "object-src 'none'" in csp, csp
        assert answer.headers.get("x-frame-options") == "DENY"
        assert answer.headers.get("x-content-type-options") == "nosniff"
        assert answer.headers.get("referrer-policy") == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in answer.headers  # the dev profile serves plain http


async def test_redirects_are_relative_whatever_the_host_header(client: httpx.AsyncClient) -> None:
    for path in ("/app/account/", "/app/signin/", "/app/account"):
        answer = await client.get(path, headers={"Host": "evil.example"})
        assert answer.status_code in (303, 307), answer.status_code
        location = answer.headers["location"]
        assert location.startswith("/app/") and "evil" not in location, location


async def test_the_prod_profile_adds_hsts(make_client: Callable[..., Any], tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes(private_pem(generate_private_key()))
    async with make_client(SPEC, data_dir=tmp_path, profile="prod", jwt_private_key_file=key, headers={}) as client:
        answer = await client.get("/app/signin")
        assert answer.headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.mark.parametrize(
    ("path", "status", "headline"),
    [
        ("/app/?page=abc", 400, "That request did not look right"),
        ("/app/?page=0", 400, "That request did not look right"),
        ("/app/?q=" + "x" * 101, 400, "That request did not look right"),
        ("/app/products/abc", 404, "We could not find that page"),
        ("/app/products/0", 404, "We could not find that page"),
        ("/app/nowhere", 404, "We could not find that page"),
        ("/app/", 503, "Part of the shop is taking a short break"),  # product-service is not there
    ],
)
async def test_pages_answer_errors_as_pages(client: httpx.AsyncClient, path: str, status: int, headline: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert headline in answer.text and 'data-testid="error-page"' in answer.text
    assert "Back to the catalog" in answer.text and '"httpStatus"' not in answer.text
    if status == 503:
        assert "Your cart is safe; please try again in a minute." in answer.text


async def test_the_api_keeps_answering_json_errors(client: httpx.AsyncClient) -> None:
    for path in ("/app/api/products/abc", "/app/api/nowhere", "/app/static/nothing.css"):
        answer = await client.get(path)
        assert answer.status_code in (400, 404) and answer.json()["httpStatus"], path


async def test_inputs_carry_the_limits_the_server_enforces(client: httpx.AsyncClient) -> None:
    signup = (await client.get("/app/signup")).text
    assert 'id="search-q" type="search" name="q" maxlength="100"' in signup
    for name, limit in (("firstName", 255), ("email", 254), ("phone", 32), ("username", 64)):
        assert f'name="{name}" maxlength="{limit}"' in signup, name
    assert 'type="password" maxlength="72"' in signup
