"""The original's demo order items (Flyway V2), and a PENDING shipment for each of their orders."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import is_empty
from ecommerce.services.shipping.models import OrderItem, Shipment

ORDER_ITEMS = [(1, 1, 2), (1, 2, 1), (2, 1, 1), (2, 2, 1)]  # (product, order, quantity)


async def seed(session: AsyncSession) -> None:
    """Insert the demo order items when there are none."""
    if not await is_empty(session, OrderItem.__table__):
        return
    await session.execute(
        insert(OrderItem),
        [{"product_id": p, "order_id": o, "ordered_quantity": q} for p, o, q in ORDER_ITEMS],
    )
    orders = sorted({o for _, o, _ in ORDER_ITEMS})
    await session.execute(insert(Shipment), [{"order_id": o, "shipping_status": "PENDING"} for o in orders])
