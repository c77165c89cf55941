"""product-service wire contract, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

BASE = "/product-service/api"
TIMESTAMP = re.compile(r"^\d{2}-\d{2}-\d{4}__\d{2}:\d{2}:\d{2}:\d{6}$")


def assert_error(response: httpx.Response, status: int, path: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["timestamp", "httpStatus", "msg", "path", "traceId"]
    assert TIMESTAMP.match(body["timestamp"])
    assert body["httpStatus"] == httpx.codes(status).name
    assert body["msg"]
    if path is not None:
        assert body["path"] == path
    return body


def new_product(**overrides: Any) -> dict[str, Any]:
    body = {
        "productTitle": "Laptop",
        "imageUrl": "img.png",
        "priceUnit": 999.9,
        "quantity": 5,
        "category": {"categoryId": 1},
    }
    return body | overrides


async def snapshot(client: httpx.AsyncClient) -> tuple[Any, Any]:
    products = (await client.get(f"{BASE}/products")).json()
    categories = (await client.get(f"{BASE}/categories")).json()
    return products, categories


async def test_seeded_product_has_the_original_shape(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/products/1")
    assert response.status_code == 200
    assert response.json() == {
        "productId": 1,
        "productTitle": "asus",
        "imageUrl": "/app/images/catalog/laptop.svg",
        "description": "A 14-inch everyday laptop with 16 GB of memory and a 512 GB SSD.",
        "sku": "dfqejklejrkn",
        "priceUnit": 749.0,
        "quantity": 50,
        "category": {"categoryId": 1, "categoryTitle": "Computer", "imageUrl": None},
    }


async def test_lists_use_the_collection_envelope(client: httpx.AsyncClient) -> None:
    products = (await client.get(f"{BASE}/products")).json()
    assert list(products) == ["collection"]
    assert {p["productTitle"] for p in products["collection"]} >= {"asus", "hp", "Armani", "GTA"}
    categories = (await client.get(f"{BASE}/categories")).json()["collection"]
    computer = next(c for c in categories if c["categoryId"] == 1)
    assert computer == {"categoryId": 1, "categoryTitle": "Computer", "imageUrl": None, "parentCategory": None}


async def test_create_update_delete_product(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{BASE}/products", json=new_product(sku="LAP-1"))
    assert created.status_code == 201
    product = created.json()
    assert product["priceUnit"] == 999.9
    assert product["category"]["categoryTitle"] == "Computer"
    pid = product["productId"]

    updated = await client.put(
        f"{BASE}/products/{pid}", json=new_product(sku="LAP-1", productTitle="Laptop 2", quantity=7)
    )
    assert updated.status_code == 200
    assert updated.json()["productTitle"] == "Laptop 2"
    assert (await client.get(f"{BASE}/products/{pid}")).json()["quantity"] == 7

    replaced = await client.put(f"{BASE}/products", json=new_product(productId=pid, sku="LAP-1", priceUnit="10.005"))
    assert replaced.status_code == 400  # three decimal places are refused, not rounded silently

    deleted = await client.delete(f"{BASE}/products/{pid}")
    assert deleted.status_code == 200
    assert deleted.json() is True
    # Retired, not removed: still readable by id for the history, gone from the catalog, deleted only once.
    assert (await client.get(f"{BASE}/products/{pid}")).status_code == 200
    assert pid not in [p["productId"] for p in (await client.get(f"{BASE}/products")).json()["collection"]]
    assert_error(await client.delete(f"{BASE}/products/{pid}"), 404)


async def test_put_without_id_creates(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{BASE}/products", json=new_product(sku="PUT-NEW"))
    assert response.status_code == 201
    assert response.json()["sku"] == "PUT-NEW"


async def test_duplicate_sku_is_a_conflict(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    body = assert_error(await client.post(f"{BASE}/products", json=new_product(sku="dfqejklejrkn")), 409)
    assert "sku" in body["msg"]
    assert await snapshot(client) == before


async def test_missing_category_is_refused(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    assert_error(await client.post(f"{BASE}/products", json=new_product(category={"categoryId": 9999})), 400)
    assert_error(await client.post(f"{BASE}/products", json={"productTitle": "x"}), 400)
    assert await snapshot(client) == before


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"{not json", None),
        (b'{"productTitle": "", "category": {"categoryId": 1}}', "productTitle"),
        (b'{"productTitle": "x", "priceUnit": -1, "category": {"categoryId": 1}}', "priceUnit"),
        (b'{"productTitle": "x", "quantity": -5, "category": {"categoryId": 1}}', "quantity"),
        (b'{"productTitle": "x", "quantity": "many", "category": {"categoryId": 1}}', "quantity"),
        (b'{"productTitle": ["x"], "category": {"categoryId": 1}}', "productTitle"),
        (b'{"productTitle": "x", "category": {"categoryId": "one"}}', "category.categoryId"),
        (b"[]", None),
        (b"null", None),
    ],
)
async def test_bad_bodies_are_400_and_change_nothing(
    client: httpx.AsyncClient, content: bytes, field: str | None
) -> None:
    before = await snapshot(client)
    response = await client.post(f"{BASE}/products", content=content, headers={"Content-Type": "application/json"})
    body = assert_error(response, 400, f"{BASE}/products")
    if field:
        assert field in body["msg"]
    assert await snapshot(client) == before


async def test_huge_body_is_413(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    title = "x" * (1024 * 1024 + 10)
    response = await client.post(f"{BASE}/products", json=new_product(productTitle=title))
    assert_error(response, 413)
    assert await snapshot(client) == before


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "99999999999999999999", "1.5", "1%20OR%201=1"])
async def test_bad_ids_are_400(client: httpx.AsyncClient, bad_id: str) -> None:
    assert_error(await client.get(f"{BASE}/products/{bad_id}"), 400)
    assert_error(await client.delete(f"{BASE}/products/{bad_id}"), 400)


async def test_unknown_id_is_404(client: httpx.AsyncClient) -> None:
    body = assert_error(await client.get(f"{BASE}/products/424242"), 404, f"{BASE}/products/424242")
    assert body["msg"] == "Product with id: 424242 not found"
    assert_error(await client.get(f"{BASE}/categories/424242"), 404)
    assert_error(await client.delete(f"{BASE}/categories/424242"), 404)


async def test_sql_looking_and_unicode_text_is_stored_verbatim(client: httpx.AsyncClient) -> None:
    title = "Robert'); DROP TABLE products;-- ✓ 日本語 🚀"
    created = await client.post(f"{BASE}/products", json=new_product(productTitle=title, sku="ユニコード"))
    assert created.status_code == 201
    fetched = (await client.get(f"{BASE}/products/{created.json()['productId']}")).json()
    assert fetched["productTitle"] == title
    found = (await client.get(f"{BASE}/products", params={"q": "DROP TABLE"})).json()["collection"]
    assert [p["productTitle"] for p in found] == [title]
    wildcard = (await client.get(f"{BASE}/products", params={"q": "%"})).json()["collection"]
    assert wildcard == []


async def test_paging_sorting_filtering_and_batch(client: httpx.AsyncClient) -> None:
    page = (await client.get(f"{BASE}/products", params={"page": 0, "size": 2, "sort": "productId,asc"})).json()
    assert [p["productId"] for p in page["collection"]] == [1, 2]
    second = (await client.get(f"{BASE}/products", params={"page": 1, "size": 2, "sort": "productId,asc"})).json()
    assert [p["productId"] for p in second["collection"]] == [3, 4]
    games = (await client.get(f"{BASE}/products", params={"categoryId": 3})).json()["collection"]
    assert "GTA" in {p["productTitle"] for p in games} and {p["category"]["categoryId"] for p in games} == {3}
    batch = (await client.get(f"{BASE}/products", params={"ids": "4,2,999"})).json()["collection"]
    assert sorted(p["productId"] for p in batch) == [2, 4]
    desc = (await client.get(f"{BASE}/products", params={"sort": "productId,desc", "size": 1})).json()["collection"]
    assert desc[0]["productId"] > 4 or desc[0]["productId"] == 4
    assert_error(await client.get(f"{BASE}/products", params={"sort": "password,asc"}), 400)
    assert_error(await client.get(f"{BASE}/products", params={"ids": "1,x"}), 400)
    assert_error(await client.get(f"{BASE}/products", params={"size": 0}), 400)


async def test_categories_with_parents(client: httpx.AsyncClient) -> None:
    created = await client.post(
        f"{BASE}/categories", json={"categoryTitle": "Laptops", "parentCategory": {"categoryId": 1}}
    )
    assert created.status_code == 201
    child = created.json()
    assert child["parentCategory"] == {"categoryId": 1, "categoryTitle": "Computer", "imageUrl": None}
    cid = child["categoryId"]

    cycle = await client.put(
        f"{BASE}/categories/1", json={"categoryTitle": "Computer", "parentCategory": {"categoryId": cid}}
    )
    assert_error(cycle, 400)
    assert_error(await client.delete(f"{BASE}/categories/1"), 409)  # it has products and a sub-category

    renamed = await client.put(f"{BASE}/categories/{cid}", json={"categoryTitle": "Notebooks"})
    assert renamed.json()["categoryTitle"] == "Notebooks"
    assert renamed.json()["parentCategory"] is None
    assert (await client.delete(f"{BASE}/categories/{cid}")).json() is True


async def test_request_id_is_echoed_and_used(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/products/1", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    error = await client.get(f"{BASE}/products/9999", headers={"traceparent": traceparent})
    assert error.json()["traceId"] == "0af7651916cd43dd8448eb211c80319c"


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/product-service/docs")).status_code == 200
    spec = (await client.get("/product-service/openapi.json")).json()
    assert "/product-service/api/products/{productId}" in spec["paths"]


async def test_a_write_answers_what_the_read_path_then_reads(client: httpx.AsyncClient) -> None:
    # Writes answer from the rows they wrote; the reads go through the one read path: both must say the same.
    created = await client.put(
        f"{BASE}/categories", json={"categoryTitle": "Tablets", "parentCategory": {"categoryId": 1}}
    )
    assert created.status_code == 201
    category = created.json()
    assert category == (await client.get(f"{BASE}/categories/{category['categoryId']}")).json()
    assert category in (await client.get(f"{BASE}/categories")).json()["collection"]

    moved = await client.put(f"{BASE}/categories", json={"categoryId": category["categoryId"], "categoryTitle": "Pads"})
    assert moved.status_code == 200
    assert moved.json() == {**category, "categoryTitle": "Pads", "parentCategory": None}
    assert moved.json() == (await client.get(f"{BASE}/categories/{category['categoryId']}")).json()

    product = await client.post(
        f"{BASE}/products",
        json=new_product(sku="TAB-1", priceUnit=12.5, description="ten inches", category={"categoryId": 1}),
    )
    assert product.status_code == 201
    by_id = (await client.get(f"{BASE}/products/{product.json()['productId']}")).json()
    assert product.json() == by_id
    assert by_id["priceUnit"] == 12.5 and by_id["category"]["categoryTitle"] == "Computer"
    listed = (await client.get(f"{BASE}/products", params={"ids": str(by_id["productId"])})).json()["collection"]
    assert listed == [by_id]
