"""Stock reservation for checkout: all lines of an order or none, released once, both idempotent per order.

Stock is taken with one conditional UPDATE per line (`quantity >= :n` in the WHERE clause), never read-then-write,
so two concurrent checkouts can never sell the same last unit, on SQLite and on PostgreSQL alike. Lines are taken
in product id order so concurrent reservations lock rows in the same order and cannot deadlock. Each command
starts with a write (the reservation row), so on SQLite the writer lock is taken before anything is read.
"""

from __future__ import annotations

from typing import Annotated, Any

from prometheus_client import Counter
from pydantic import Field
from sqlalchemy import BindParameter, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import ApiModel, Conflict, InsertNew, NotFound
from ecommerce.services.products.models import Product, StockReservation, StockReservationLine, metadata

RESERVED = "RESERVED"
RELEASED = "RELEASED"
MAX_LINES = 100

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]

RESERVATIONS_REFUSED = Counter(
    "shop_stock_reservations_refused", "Reservations refused for lack of stock", ["application"]
)

# A reservation's writes, built once, on the Core tables (chassis/database.py says why).
_products = metadata.tables[Product.__tablename__]
_reservations = metadata.tables[StockReservation.__tablename__]
_wanted: BindParameter[int] = bindparam("b_quantity")  # the line's quantity, in the WHERE and the SET
_TAKE = (
    update(_products)
    .where(
        _products.c.product_id == bindparam("b_product_id"),
        _products.c.quantity >= _wanted,
        _products.c.retired_at.is_(None),
    )
    .values(quantity=_products.c.quantity - _wanted)
)
_INSERT_LINES = insert(metadata.tables[StockReservationLine.__tablename__])


_INSERT_RESERVATION = InsertNew(_reservations, "order_id")


class ReservationLine(ApiModel):
    """One product and how many units of it."""

    product_id: Id
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]


class ReservationIn(ApiModel):
    """Body of POST /api/reservations."""

    order_id: Id
    items: Annotated[list[ReservationLine], Field(min_length=1, max_length=MAX_LINES)]


class ReservationOut(ApiModel):
    """A reservation with its lines (none when it was released before anything was taken)."""

    order_id: int
    reservation_status: str
    items: list[ReservationLine]


async def reserve_stock(session: AsyncSession, *, data: ReservationIn) -> tuple[ReservationOut, bool]:
    """Take every line's units for the order, or none (409 when one is short); returns (reservation, created)."""
    lines = _merged(data.items)
    if not await _insert_reservation(session, data.order_id, RESERVED):
        existing = await get_reservation(session, order_id=data.order_id)
        if existing.reservation_status == RELEASED:
            raise Conflict(f"The reservation for order {data.order_id} was released")
        if {(line.product_id, line.quantity) for line in existing.items} != set(lines.items()):
            raise Conflict(f"Order {data.order_id} already holds a different reservation")
        return existing, False
    for product_id, quantity in sorted(lines.items()):
        taken = await session.execute(_TAKE, {"b_product_id": product_id, "b_quantity": quantity})
        if _rowcount(taken) != 1:
            await _refuse(session, product_id, quantity)
    await session.execute(
        _INSERT_LINES,
        [{"order_id": data.order_id, "product_id": pid, "quantity": qty} for pid, qty in sorted(lines.items())],
    )
    # The answer is what was just written (its lines in product id order, as get_reservation lists them).
    items = [ReservationLine.model_construct(product_id=pid, quantity=qty) for pid, qty in sorted(lines.items())]
    return ReservationOut.model_construct(order_id=data.order_id, reservation_status=RESERVED, items=items), True


async def release_stock(session: AsyncSession, *, order_id: int) -> ReservationOut:
    """Give a reservation's units back, once; releasing an unknown order records it so it can never reserve."""
    if await _insert_reservation(session, order_id, RELEASED):
        return ReservationOut.model_construct(order_id=order_id, reservation_status=RELEASED, items=[])
    released = await session.execute(
        update(StockReservation)
        .where(StockReservation.order_id == order_id, StockReservation.reservation_status == RESERVED)
        .values(reservation_status=RELEASED)
    )
    reservation = await get_reservation(session, order_id=order_id)
    if _rowcount(released) == 1:
        for line in reservation.items:
            await session.execute(
                update(Product)
                .where(Product.product_id == line.product_id)
                .values(quantity=Product.quantity + line.quantity)
            )
    return reservation


async def get_reservation(session: AsyncSession, *, order_id: int) -> ReservationOut:
    """The order's reservation, or 404."""
    status = (
        await session.execute(select(StockReservation.reservation_status).where(StockReservation.order_id == order_id))
    ).scalar_one_or_none()
    if status is None:
        raise NotFound(f"Reservation for order: {order_id} not found")
    rows = (
        await session.execute(
            select(StockReservationLine.product_id, StockReservationLine.quantity)
            .where(StockReservationLine.order_id == order_id)
            .order_by(StockReservationLine.product_id)
        )
    ).all()
    items = [ReservationLine.model_construct(product_id=row.product_id, quantity=row.quantity) for row in rows]
    return ReservationOut.model_construct(order_id=order_id, reservation_status=status, items=items)


async def list_reservations(session: AsyncSession, *, status: str, after: int, limit: int) -> list[ReservationOut]:
    """Reservations in `status`, by order id after `after` (a page for order-service's reconciler)."""
    order_ids = (
        (
            await session.execute(
                select(StockReservation.order_id)
                .where(StockReservation.reservation_status == status, StockReservation.order_id > after)
                .order_by(StockReservation.order_id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    return [await get_reservation(session, order_id=order_id) for order_id in order_ids]


def _merged(items: list[ReservationLine]) -> dict[int, int]:
    lines: dict[int, int] = {}
    for item in items:
        lines[item.product_id] = lines.get(item.product_id, 0) + item.quantity
    return lines


async def _insert_reservation(session: AsyncSession, order_id: int, status: str) -> bool:
    """Insert the reservation row unless the order has one; True when this call inserted it."""
    statement = _INSERT_RESERVATION.for_session(session)
    values = {"order_id": order_id, "reservation_status": status}
    return _rowcount(await session.execute(statement, values)) == 1


async def _refuse(session: AsyncSession, product_id: int, quantity: int) -> None:
    row = (
        await session.execute(select(Product.quantity, Product.retired_at).where(Product.product_id == product_id))
    ).first()
    if row is None:
        raise NotFound(f"Product with id: {product_id} not found")
    if row.retired_at is not None:
        raise Conflict(f"Product with id: {product_id} is no longer sold")
    available = row.quantity
    RESERVATIONS_REFUSED.labels("product-service").inc()
    raise Conflict(f"Product with id: {product_id} is out of stock ({available} left, {quantity} wanted)")


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
