"""The dev profile's demo catalog (demo_catalog.py), loaded into an empty database; qa and prod start empty."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import is_empty, sync_sequence
from ecommerce.services.products.demo_catalog import CATEGORIES, PRODUCTS
from ecommerce.services.products.models import Category, Product


async def seed(session: AsyncSession) -> None:
    """Insert the demo categories and products when the catalog is empty (ids 1.. in the demo's order)."""
    if not await is_empty(session, Category.__table__):
        return
    await session.execute(
        insert(Category),
        [{"category_id": cid, "category_title": title, "image_url": None} for cid, title in CATEGORIES],
    )
    await session.execute(
        insert(Product),
        [
            {
                "product_id": pid,
                "category_id": p.category_id,
                "product_title": p.title,
                "description": p.description,
                "image_url": p.image_url,
                "sku": p.sku,
                "price_unit": p.price_unit,
                "quantity": p.quantity,
            }
            for pid, p in enumerate(PRODUCTS, start=1)
        ],
    )
    await sync_sequence(session, Category.__table__, "category_id")
    await sync_sequence(session, Product.__table__, "product_id")
