"""Keyset paging of the product list (`after`), on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

BASE = "/product-service/api/products"


async def ids(client: httpx.AsyncClient, **params: Any) -> list[int]:
    response = await client.get(BASE, params=params)
    assert response.status_code == 200, response.text
    return [p["productId"] for p in response.json()["collection"]]


async def test_after_walks_the_catalog_in_id_order(client: httpx.AsyncClient) -> None:
    everything = await ids(client)
    walked: list[int] = []
    cursor = 0
    while page := await ids(client, after=cursor, size=3):
        assert len(page) <= 3
        walked += page
        cursor = page[-1]
    assert walked == sorted(everything)
    assert await ids(client, after=cursor) == []


async def test_after_matches_offset_paging_and_filters(client: httpx.AsyncClient) -> None:
    assert await ids(client, after=2, size=2) == await ids(client, page=1, size=2, sort="productId,asc") == [3, 4]
    computers = await ids(client, after=0, categoryId=1)
    assert computers[:2] == [1, 2] and computers == sorted(computers)  # the demo catalog's Computer products
    assert await ids(client, after=1, categoryId=1) == computers[1:]
    assert await ids(client, after=0, sort="productId,asc", size=1) == [1]


async def test_after_refuses_page_other_sorts_and_bad_values(client: httpx.AsyncClient) -> None:
    for params in ({"after": 1, "page": 0}, {"after": 1, "sort": "priceUnit,desc"}, {"after": -1}, {"after": "x"}):
        response = await client.get(BASE, params=params)
        assert response.status_code == 400, params
        assert response.json()["httpStatus"] == "BAD_REQUEST"
