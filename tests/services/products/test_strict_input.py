"""product-service refuses what PostgreSQL cannot store and booleans posing as numbers, on both backends."""

from __future__ import annotations

import json

import httpx
import pytest

BASE = "/product-service/api"


def assert_400(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert list(body) == ["timestamp", "httpStatus", "msg", "path", "traceId"]
    assert body["httpStatus"] == "BAD_REQUEST"
    return str(body["msg"])


@pytest.mark.parametrize("query", ["q=a%00b", "q=%00", "sort=productId%00", "ids=1%00"])
async def test_nul_in_a_query_parameter_is_400(client: httpx.AsyncClient, query: str) -> None:
    msg = assert_400(await client.get(f"{BASE}/products?{query}"))
    assert "cannot be stored" in msg


@pytest.mark.parametrize("title", ["Mug\u0000", "Mug\ud800"])
async def test_unstorable_text_in_a_body_is_400_and_stores_nothing(client: httpx.AsyncClient, title: str) -> None:
    before = (await client.get(f"{BASE}/products")).json()
    body = {"productTitle": title, "priceUnit": 1, "quantity": 1, "category": {"categoryId": 1}}
    raw = json.dumps(body)  # ASCII JSON: the escapes \u0000 and \ud800, as a client sends them
    response = await client.post(f"{BASE}/products", content=raw, headers={"Content-Type": "application/json"})
    assert "productTitle" in assert_400(response)
    assert (await client.get(f"{BASE}/products")).json() == before


@pytest.mark.parametrize("field", ["quantity", "priceUnit"])
async def test_a_boolean_is_not_a_number(client: httpx.AsyncClient, field: str) -> None:
    body = {"productTitle": "Mug", "priceUnit": 1, "quantity": 1, "category": {"categoryId": 1}, field: True}
    assert field in assert_400(await client.post(f"{BASE}/products", json=body))
    ref = {"productTitle": "Mug", "priceUnit": 1, "quantity": 1, "category": {"categoryId": True}}
    assert "categoryId" in assert_400(await client.post(f"{BASE}/products", json=ref))


async def test_money_keeps_its_cents(client: httpx.AsyncClient) -> None:
    body = {"productTitle": "Cup", "priceUnit": 19.99, "quantity": 3, "category": {"categoryId": 1}}
    created = await client.post(f"{BASE}/products", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["priceUnit"] == 19.99
    too_precise = {**body, "priceUnit": 0.30000000000000004}
    assert "priceUnit" in assert_400(await client.post(f"{BASE}/products", json=too_precise))
