"""favourite-service rules: one favourite per user and product; liking again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import NotFound
from ecommerce.services.favourites.models import Favourite

_ROWS = select(Favourite.user_id, Favourite.product_id, Favourite.like_date)


def now() -> datetime:
    """The server's like date: now, in UTC, to the microsecond."""
    return datetime.now(UTC).replace(tzinfo=None)


async def list_favourites(session: AsyncSession, *, user_id: int | None = None) -> list[Any]:
    """Every favourite, or one user's, most recent first within a user."""
    query = _ROWS
    if user_id is not None:
        query = query.where(Favourite.user_id == user_id)
    query = query.order_by(Favourite.user_id, Favourite.like_date.desc(), Favourite.product_id)
    return list((await session.execute(query)).all())


async def get_favourite(session: AsyncSession, *, user_id: int, product_id: int) -> Any:
    """The favourite of this user for this product, or 404."""
    query = _ROWS.where(Favourite.user_id == user_id, Favourite.product_id == product_id)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound(f"Favourite of user {user_id} for product {product_id} not found")
    return row


async def save_favourite(
    session: AsyncSession, *, user_id: int, product_id: int, like_date: datetime | None, overwrite_date: bool
) -> tuple[Any, bool]:
    """Insert the favourite unless it exists (safe when two requests race); return it and whether it is new.

    With `overwrite_date` (PUT) an existing favourite takes the given like date; otherwise (POST) it is left alone.
    """
    values = {"user_id": user_id, "product_id": product_id, "like_date": like_date or now()}
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(Favourite)
    statement = insert.values(values)
    if overwrite_date and like_date is not None:
        statement = statement.on_conflict_do_update(
            index_elements=["user_id", "product_id"], set_={"like_date": like_date, "updated_at": now()}
        )
        existed = (
            await session.execute(
                select(Favourite.user_id).where(Favourite.user_id == user_id, Favourite.product_id == product_id)
            )
        ).first() is not None
        await session.execute(statement)
        created = not existed
    else:
        result = await session.execute(statement.on_conflict_do_nothing(index_elements=["user_id", "product_id"]))
        created = result.rowcount == 1  # type: ignore[attr-defined]
    return await get_favourite(session, user_id=user_id, product_id=product_id), created


async def delete_favourite(session: AsyncSession, *, user_id: int, product_id: int) -> None:
    """Remove the favourite; 404 when there is none."""
    result = await session.execute(
        delete(Favourite).where(Favourite.user_id == user_id, Favourite.product_id == product_id)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"Favourite of user {user_id} for product {product_id} not found")
