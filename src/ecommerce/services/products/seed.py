"""The original's demo catalog (Flyway V2 and V4), loaded into an empty database in the dev profile."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import is_empty, sync_sequence
from ecommerce.services.products.models import Category, Product

CATEGORIES = [(1, "Computer"), (2, "Mode"), (3, "Game")]
PRODUCTS = [
    (1, 1, "asus", "dfqejklejrkn"),
    (2, 1, "hp", "zsejfedbjh"),
    (3, 2, "Armani", "fjdvf"),
    (4, 3, "GTA", "qsdkjnvfrekjrf"),
]


async def seed(session: AsyncSession) -> None:
    """Insert the demo categories and products when the catalog is empty."""
    if not await is_empty(session, Category.__table__):
        return
    await session.execute(
        insert(Category),
        [{"category_id": cid, "category_title": title, "image_url": None} for cid, title in CATEGORIES],
    )
    await session.execute(
        insert(Product),
        [
            {"product_id": pid, "category_id": cid, "product_title": title, "image_url": "xxx", "sku": sku}
            | {"price_unit": Decimal("0.00"), "quantity": 50}
            for pid, cid, title, sku in PRODUCTS
        ],
    )
    await sync_sequence(session, Category.__table__, "category_id")
    await sync_sequence(session, Product.__table__, "product_id")
