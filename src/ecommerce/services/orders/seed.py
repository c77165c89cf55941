"""The original's demo carts and orders (Flyway V2 and V4): carts 1..4 for users 1..4, one order each."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import is_empty, sync_sequence
from ecommerce.services.orders.models import Cart, Order


async def seed(session: AsyncSession) -> None:
    """Insert the demo carts and orders when there are none (the original's fee of 5000, without lines)."""
    if not await is_empty(session, Cart.__table__):
        return
    await session.execute(insert(Cart), [{"cart_id": i, "user_id": i} for i in range(1, 5)])
    await session.execute(
        insert(Order),
        [
            {"order_id": i, "cart_id": i, "order_desc": "init", "order_fee": Decimal("5000.00")}
            | {"order_status": "CREATED", "stock_release_pending": False}
            for i in range(1, 5)
        ],
    )
    await sync_sequence(session, Cart.__table__, "cart_id")
    await sync_sequence(session, Order.__table__, "order_id")
