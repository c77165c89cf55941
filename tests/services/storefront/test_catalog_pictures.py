"""The dev shop's demo catalog as a shopper meets it: priced products whose pictures the storefront serves itself."""

from __future__ import annotations

import re

import httpx
import pytest
from storefront_support import Shop

from ecommerce.services.products.demo_catalog import PRODUCTS
from ecommerce.services.storefront.assets import CATALOG_DIR

pytestmark = pytest.mark.slow


def test_every_demo_product_is_priced_and_its_picture_is_served_by_the_storefront(shop: Shop) -> None:
    shop.need("product-service")
    with httpx.Client(base_url=shop.url, timeout=10) as client:
        listed = client.get("/app/api/products", params={"size": 1000}).json()["collection"]
        demo_titles = {p.title for p in PRODUCTS}
        rows = [p for p in listed if p["productTitle"] in demo_titles]  # other tests may add products of their own
        assert len(rows) == len(PRODUCTS) >= 44
        assert [p["productTitle"] for p in rows if p["priceUnit"] <= 0] == []
        for product in rows:
            picture = client.get(product["imageUrl"])
            assert picture.status_code == 200, product
            assert picture.headers["content-type"].startswith("image/svg+xml")
            assert picture.content.startswith(b"<svg") and b"<script" not in picture.content
        # The catalog page shows those pictures (with the title as the alternative text), not placeholders.
        html = client.get("/app/").text
        shown = re.findall(r'<img src="(/app/images/[^"]+)" alt="([^"]*)"', html)
        assert shown and all(src.startswith("/app/images/catalog/") and alt for src, alt in shown)
        assert client.get("/app/images/catalog/no-such-picture.svg").status_code == 404


def test_the_pictures_carry_their_licence() -> None:
    notice = (CATALOG_DIR / "NOTICE").read_text()
    assert "MIT License" in notice and "Microsoft Corporation" in notice
