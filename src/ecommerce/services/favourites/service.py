"""favourite-service rules: one favourite per user and product; liking again changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import DATETIME_FORMAT, BadRequest, NotFound, PeerClient
from ecommerce.services.favourites import clients
from ecommerce.services.favourites.models import Favourite
from ecommerce.services.favourites.schemas import FavouriteIn, FavouriteOut, ProductRef, UserRef

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


# --- with the user and the product embedded (what the API answers) ----------------------------------------
# The session is closed before waiting on peers, so no database connection is held while they answer.


async def list_with_details(
    session: AsyncSession, peers: PeerClient, *, user_id: int | None = None
) -> list[FavouriteOut]:
    """`list_favourites`, each with its user and product (null when that peer cannot answer)."""
    rows = await list_favourites(session, user_id=user_id)
    await session.close()
    return await _embedded(peers, rows)


async def get_with_details(
    session: AsyncSession, peers: PeerClient, *, user_id: int, product_id: int, like_date: str | None = None
) -> FavouriteOut:
    """`get_favourite` with its user and product; a `like_date` given in the path must be well-formed."""
    if like_date is not None:
        check_like_date(like_date)
    row = await get_favourite(session, user_id=user_id, product_id=product_id)
    await session.close()
    return (await _embedded(peers, [row]))[0]


async def save_with_details(
    session: AsyncSession, peers: PeerClient, *, data: FavouriteIn, overwrite_date: bool
) -> tuple[FavouriteOut, bool]:
    """`save_favourite` once both peers confirm the user and the product exist; True when it is new.

    The peers are asked before the database is touched, so no connection is held while waiting on them.
    """
    user, product = await asyncio.gather(
        clients.require_user(peers, data.user_id), clients.require_product(peers, data.product_id)
    )
    row, created = await save_favourite(
        session,
        user_id=data.user_id,
        product_id=data.product_id,
        like_date=data.like_date,
        overwrite_date=overwrite_date,
    )
    return _out(row, user, product), created


def check_like_date(raw: str) -> None:
    """400 unless `raw` is a like date (the key is user and product: any well-formed date is accepted)."""
    try:
        datetime.strptime(raw, DATETIME_FORMAT)
    except ValueError:
        raise BadRequest(
            "Invalid value for 'likeDate': must be a date-time formatted dd-MM-yyyy__HH:mm:ss:SSSSSS"
        ) from None


async def _embedded(peers: PeerClient, rows: Sequence[Any]) -> list[FavouriteOut]:
    # Each favourite with its user and product, fetched in one batched call per peer.
    users, products = await asyncio.gather(
        clients.users_by_id(peers, (row.user_id for row in rows)),
        clients.products_by_id(peers, (row.product_id for row in rows)),
    )
    return [_out(row, users.get(row.user_id), products.get(row.product_id)) for row in rows]


def _out(row: Any, user: UserRef | None, product: ProductRef | None) -> FavouriteOut:
    return FavouriteOut.model_construct(
        user_id=row.user_id, product_id=row.product_id, like_date=row.like_date, user=user, product=product
    )
