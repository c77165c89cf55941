"""List reads compile once per shape: the values are bind parameters, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from ecommerce.services.products import reads
from ecommerce.services.products import service as product_service

BASE = "/product-service/api/products"
SHAPE: dict[str, Any] = {"category": True, "search": False, "ids": None, "after": False, "order": None, "paged": True}


async def listed(client: httpx.AsyncClient, **params: Any) -> list[int]:
    response = await client.get(BASE, params=params)
    assert response.status_code == 200, response.text
    return [p["productId"] for p in response.json()["collection"]]


def test_one_statement_per_shape_and_its_sql_compiled_once() -> None:
    statement = product_service._products_statement(**SHAPE)
    assert product_service._products_statement(**SHAPE) is statement
    assert statement.compiled(reads._SQLITE) is statement.compiled(reads._SQLITE)
    assert product_service._products_statement(**{**SHAPE, "order": ("productTitle", "desc")}) is not statement
    assert product_service._cached_products.cache_info().maxsize == product_service.SHAPES


def test_values_are_bind_parameters_never_sql() -> None:
    shape = {**SHAPE, "search": True, "after": True, "ids": 4}
    compiled = product_service._products_statement(**shape).compiled(reads._PG)
    assert set(compiled.names) == {"category_id", "pattern", "after", "limit", "offset", "id_0", "id_1", "id_2", "id_3"}
    assert "%" not in compiled.sql


def test_ids_are_padded_to_a_power_of_two_and_long_lists_are_not_kept() -> None:
    assert product_service._padded([4, 2, 9]) == [4, 2, 9, 9]
    assert product_service._padded([7]) == [7]
    assert len(product_service._padded(list(range(1, 66)))) == 128
    long = {**SHAPE, "ids": 128}
    assert product_service._products_statement(**long) is not product_service._products_statement(**long)
    assert product_service._order("productTitle , DESC", product_service.PRODUCT_SORTS) == ("productTitle", "desc")


async def test_reads_of_one_shape_answer_their_own_values(client: httpx.AsyncClient) -> None:
    computers, games = await listed(client, categoryId=1, size=50), await listed(client, categoryId=3, size=50)
    assert computers and games and not set(computers) & set(games)
    assert await listed(client, ids="4,2,999") == [2, 4]  # padded with 999 twice: no row comes back twice
    assert await listed(client, ids="3") == [3]
    everything = await listed(client, size=1000)
    many = ",".join(str(i) for i in [*everything, *range(100_000, 100_100)])  # past CACHED_IDS: built per call
    assert await listed(client, ids=many) == everything
    assert await listed(client, q="%", size=5) == [] and await listed(client, q="_", size=5) == []
    assert await listed(client, page=1, size=2) == everything[2:4]
