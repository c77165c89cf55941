"""The dev profile's demo catalog: the original's rows kept, a believable shop around them; qa and prod start empty."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecommerce.services.products import SPEC
from ecommerce.services.products.demo_catalog import ORIGINAL

BASE = "/product-service/api"


async def test_the_dev_catalog_has_the_originals_and_at_least_44_priced_products_with_pictures(
    database_url: str, make_client: Callable[..., Any]
) -> None:
    async with make_client(SPEC, database_url=database_url, profile="dev") as client:
        rows = (await client.get(f"{BASE}/products", params={"size": 1000})).json()["collection"]
        categories = (await client.get(f"{BASE}/categories")).json()["collection"]
    assert len(rows) >= 44
    assert [p for p in rows if p["priceUnit"] <= 0] == []
    assert all(p["description"] and p["imageUrl"].startswith("/app/images/catalog/") for p in rows)
    assert all(p["quantity"] >= 0 for p in rows) and any(p["quantity"] == 0 for p in rows)
    by_id = {p["productId"]: p for p in rows}
    for pid, original in enumerate(ORIGINAL, start=1):
        assert (by_id[pid]["productTitle"], by_id[pid]["sku"]) == (original.title, original.sku)
        assert by_id[pid]["category"]["categoryId"] == original.category_id
    assert {c["categoryTitle"] for c in categories} >= {"Computer", "Mode", "Game"}
    used = {p["category"]["categoryId"] for p in rows}
    assert used == {c["categoryId"] for c in categories}, "every category has products"


async def test_qa_and_prod_start_with_an_empty_catalog(tmp_path: Path, make_client: Callable[..., Any]) -> None:
    for profile in ("qa", "prod"):
        url = f"sqlite+aiosqlite:///{tmp_path / profile}.db"
        async with make_client(SPEC, database_url=url, profile=profile) as client:
            assert (await client.get(f"{BASE}/products")).json()["collection"] == []


async def test_a_description_is_stored_and_answered(database_url: str, make_client: Callable[..., Any]) -> None:
    async with make_client(SPEC, database_url=database_url, seed_demo_data=True) as client:
        body = {"productTitle": "Lamp", "description": "  A warm desk lamp.  ", "priceUnit": 20, "quantity": 2}
        created = await client.post(f"{BASE}/products", json=body | {"category": {"categoryId": 5}})
        assert created.status_code == 201, created.text
        assert created.json()["description"] == "A warm desk lamp."
        again = (await client.get(f"{BASE}/products/{created.json()['productId']}")).json()
        assert again["description"] == "A warm desk lamp."
        too_long = await client.post(f"{BASE}/products", json=body | {"description": "x" * 2001})
        assert too_long.status_code == 400
