"""Products keep their history: a deleted product is retired, and no id ever comes back, also after a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecommerce.services.products import SPEC

BASE = "/product-service/api"
MUG = {"productTitle": "Mug", "priceUnit": 4.5, "quantity": 3, "category": {"categoryId": 1}}


async def test_a_deleted_id_never_comes_back(database_url: str, make_client: Callable[..., Any]) -> None:
    async with make_client(SPEC, database_url=database_url, seed_demo_data=True) as client:
        mug = (await client.post(f"{BASE}/products", json=MUG)).json()
        assert (await client.delete(f"{BASE}/products/{mug['productId']}")).json() is True
        watch = (await client.post(f"{BASE}/products", json={**MUG, "productTitle": "Gold watch"})).json()
        assert watch["productId"] > mug["productId"]
        kept = (await client.get(f"{BASE}/products/{mug['productId']}")).json()
        assert (kept["productTitle"], kept["priceUnit"]) == ("Mug", 4.5)
        reserve = {"orderId": 424242, "items": [{"productId": mug["productId"], "quantity": 1}]}
        refused = await client.post(f"{BASE}/reservations", json=reserve)
        assert refused.status_code == 409 and "no longer sold" in refused.json()["msg"]
        assert (await client.delete(f"{BASE}/products/{watch['productId']}")).json() is True
    async with make_client(SPEC, database_url=database_url, seed_demo_data=True) as restarted:
        again = (await restarted.post(f"{BASE}/products", json=MUG)).json()
        assert again["productId"] > watch["productId"]
        listed = [
            p["productId"]
            for p in (await restarted.get(f"{BASE}/products", params={"size": 1000})).json()["collection"]
        ]
        assert mug["productId"] not in listed and watch["productId"] not in listed
