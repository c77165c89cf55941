"""The original's demo favourites (Flyway V2): user 1 likes products 1 and 2, user 2 likes product 2."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import is_empty
from ecommerce.services.favourites.models import Favourite

FAVOURITES = [(1, 1), (1, 2), (2, 2)]


async def seed(session: AsyncSession) -> None:
    """Insert the demo favourites, liked now, when there are none."""
    if not await is_empty(session, Favourite.__table__):
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    await session.execute(
        insert(Favourite), [{"user_id": uid, "product_id": pid, "like_date": now} for uid, pid in FAVOURITES]
    )
