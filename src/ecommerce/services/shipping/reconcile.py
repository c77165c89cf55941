"""shipping-service's reconciler, pair "orders-shipments": every order agrees with its shipment.

shipping-service owns the shipment's moves, so it runs here: its shipments are compared, a batch at a time, with
their orders (`GET /order-service/api/orders?ids=`). Kinds, and their repair:

- order_cancelled_shipment_pending, order_missing_shipment_pending: the PENDING shipment is dropped (what
  OrderCancelled does);
- order_behind_shipment (shipment SHIPPED or DELIVERED, the order not yet): ShipmentShipped and/or
  ShipmentDelivered are published again, in order;
- order_ahead_of_shipment (the order was moved by hand): the shipment takes the order's status;
- order_cancelled_shipment_sent, order_missing_shipment_sent, shipment_sent_order_unpaid: counted, never repaired
  (goods left for an order that is gone or not paid: a person decides).
A shipment whose order still has an event of ours in the outbox is in flight and left to the relay. An order placed
without a shipment is the outbox's to say (its OrderPlaced is stuck or refused: pair "outbox" on order-service).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from ecommerce.chassis import BATCH, Context, Reconciler, Tally, commit_and_deliver, in_flight, peer_rows
from ecommerce.services.shipping import service
from ecommerce.services.shipping.models import Shipment
from ecommerce.services.shipping.models import outbox as outbox_table

PAIR = "orders-shipments"
ORDERS = "order-service"
STEPS = ("PENDING", "SHIPPED", "DELIVERED")
ORDER_STEP = {"CREATED": 0, "PAID": 0, "SHIPPED": 1, "DELIVERED": 2}


async def check(context: Context, tally: Tally) -> None:
    """Compare every shipment older than the grace period with its order, and repair what can be repaired."""
    database = context.app.state.database
    after = 0
    while True:
        async with database.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Shipment.order_id, Shipment.shipping_status)
                    .where(
                        Shipment.order_id > after,
                        func.coalesce(Shipment.updated_at, Shipment.created_at) < context.cutoff,
                    )
                    .order_by(Shipment.order_id)
                    .limit(BATCH)
                )
            ).all()
            busy = await in_flight(session, outbox_table, [row.order_id for row in rows])
        if not rows:
            return
        after = rows[-1].order_id
        path = "/order-service/api/orders"
        orders = await peer_rows(context.peers, ORDERS, path, [row.order_id for row in rows], "orderId")
        for row in rows:
            if row.order_id not in busy:
                await _compare(context, tally, row, orders.get(row.order_id))


async def _compare(context: Context, tally: Tally, row: Any, order: dict[str, Any] | None) -> None:
    pending = row.shipping_status == "PENDING"
    order_status = order.get("orderStatus") if order is not None else None
    if order_status in (None, "CANCELLED"):
        gone = "missing" if order_status is None else "cancelled"
        if pending:
            tally.add(f"order_{gone}_shipment_pending", repaired=await _drop(context, row.order_id))
        else:
            tally.add(f"order_{gone}_shipment_sent", repaired=False)
        return
    step, order_step = STEPS.index(row.shipping_status), ORDER_STEP.get(str(order_status), 0)
    if step > order_step and order_status == "CREATED":
        tally.add("shipment_sent_order_unpaid", repaired=False)
    elif step > order_step:
        tally.add("order_behind_shipment", repaired=await _republish(context, row.order_id, order_step, step))
    elif step < order_step:
        tally.add("order_ahead_of_shipment", repaired=await _follow(context, row, STEPS[order_step]))


async def _drop(context: Context, order_id: int) -> bool:
    async with context.app.state.database.sessionmaker() as session, session.begin():
        return await service.drop_pending_shipment(session, order_id=order_id)


async def _republish(context: Context, order_id: int, order_step: int, step: int) -> bool:
    """Publish the moves the order missed, in order (new events: the first ones were lost or refused)."""
    async with context.app.state.database.sessionmaker() as session:
        for status in STEPS[order_step + 1 : step + 1]:
            await service.publish_move(session, order_id=order_id, status=status)
        await commit_and_deliver(session)
    return True


async def _follow(context: Context, row: Any, status: str) -> bool:
    async with context.app.state.database.sessionmaker() as session, session.begin():
        moved = await session.execute(
            update(Shipment)
            .where(Shipment.order_id == row.order_id, Shipment.shipping_status == row.shipping_status)
            .values(shipping_status=status)
        )
    return int(moved.rowcount) == 1


RECONCILER = Reconciler(PAIR, check)
