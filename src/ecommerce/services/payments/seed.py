"""The original's demo payments (Flyway V2): orders 1..4, in progress, not payed."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import is_empty, sync_sequence
from ecommerce.services.payments.models import Payment


async def seed(session: AsyncSession) -> None:
    """Insert the demo payments when there are none."""
    if not await is_empty(session, Payment.__table__):
        return
    await session.execute(
        insert(Payment),
        [{"payment_id": i, "order_id": i, "is_payed": False, "payment_status": "IN_PROGRESS"} for i in range(1, 5)],
    )
    await sync_sequence(session, Payment.__table__, "payment_id")
