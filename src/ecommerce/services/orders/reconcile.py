"""order-service's reconciler, pair "reservations-orders": stock stays taken only for orders that live.

order-service decides whether an order lives, so it runs here: product-service's RESERVED reservations are read a
page at a time (`GET /product-service/api/reservations?status=RESERVED&after=`) and compared with the orders here.
Kinds, and their repair (the ordinary, idempotent `POST .../reservations/{orderId}/release`):

- reservation_order_cancelled: the order was cancelled and its OrderCancelled never released the stock;
- reservation_order_missing: the order does not exist (deleted, or a database restored to before it).
An order whose OrderCancelled is still in the outbox is in flight and left to the relay.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ecommerce.chassis import BATCH, Context, Reconciler, Tally, in_flight
from ecommerce.services.orders import clients
from ecommerce.services.orders.models import Order
from ecommerce.services.orders.models import outbox as outbox_table

PAIR = "reservations-orders"
PRODUCTS = "product-service"


async def check(context: Context, tally: Tally) -> None:
    """Compare every RESERVED reservation with its order, and release the stock of orders that do not live."""
    database = context.app.state.database
    after = 0
    while True:
        page: Any = await context.peers.get_json(
            PRODUCTS,
            "/product-service/api/reservations",
            params={"status": "RESERVED", "after": after, "limit": BATCH},
        )
        rows = page.get("collection", []) if isinstance(page, dict) else []
        order_ids = [row["orderId"] for row in rows if isinstance(row.get("orderId"), int) and row["orderId"] > after]
        if not order_ids:
            return
        after = order_ids[-1]
        async with database.sessionmaker() as session:
            found = await session.execute(
                select(Order.order_id, Order.order_status).where(Order.order_id.in_(order_ids))
            )
            statuses = {row.order_id: row.order_status for row in found}
            busy = await in_flight(session, outbox_table, order_ids)
        for order_id in order_ids:
            status = statuses.get(order_id)
            if order_id in busy or status not in (None, "CANCELLED"):
                continue
            kind = "reservation_order_missing" if status is None else "reservation_order_cancelled"
            await clients.release_stock(context.peers, order_id)
            tally.add(kind, repaired=True)


RECONCILER = Reconciler(PAIR, check)
