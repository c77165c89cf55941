"""payment-service's reconciler, pair "orders-payments": every order agrees with its payment.

payment-service owns the decision (a payment says whether money was taken), so it runs here: its payments are
compared, a batch at a time, with their orders (`GET /order-service/api/orders?ids=`). Kinds, and their repair:

- payment_completed_order_created: PaymentCompleted is published again (the order becomes PAID);
- payment_failed_order_created: PaymentFailed is published again (the order is cancelled, its stock released);
- order_cancelled_payment_open: the open payment becomes FAILED (what OrderCancelled does);
- order_paid_payment_open: the order was marked paid by hand: the payment becomes COMPLETED (order-service's
  record that the money came);
- order_missing_payment_open: an open payment of an order that no longer exists becomes FAILED;
- payment_completed_order_cancelled, payment_completed_order_missing, order_paid_payment_failed: counted, never
  repaired (money taken for nothing, or an order shipped without money: a person decides).
A payment whose order still has an event of ours in the outbox is in flight: the relay, not the reconciler, ends it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from ecommerce.chassis import BATCH, Context, Reconciler, Tally, commit_and_deliver, in_flight, peer_rows, publish
from ecommerce.services.payments import service
from ecommerce.services.payments.models import Payment
from ecommerce.services.payments.models import outbox as outbox_table

PAIR = "orders-payments"
ORDERS = "order-service"
OPEN = ("NOT_STARTED", "IN_PROGRESS")
PAID = ("PAID", "SHIPPED", "DELIVERED")


async def check(context: Context, tally: Tally) -> None:
    """Compare every payment older than the grace period with its order, and repair what can be repaired."""
    database = context.app.state.database
    after = 0
    while True:
        async with database.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Payment.payment_id, Payment.order_id, Payment.payment_status)
                    .where(
                        Payment.payment_id > after,
                        func.coalesce(Payment.updated_at, Payment.created_at) < context.cutoff,
                    )
                    .order_by(Payment.payment_id)
                    .limit(BATCH)
                )
            ).all()
            busy = await in_flight(session, outbox_table, [row.order_id for row in rows])
        if not rows:
            return
        after = rows[-1].payment_id
        path = "/order-service/api/orders"
        orders = await peer_rows(context.peers, ORDERS, path, [row.order_id for row in rows], "orderId")
        for row in rows:
            if row.order_id not in busy:
                await _compare(context, tally, row, orders.get(row.order_id))


async def _compare(context: Context, tally: Tally, row: Any, order: dict[str, Any] | None) -> None:
    status = row.payment_status
    order_status = order.get("orderStatus") if order is not None else None
    if status == "COMPLETED":
        if order_status == "CREATED":
            tally.add("payment_completed_order_created", repaired=await _republish(context, row))
        elif order_status == "CANCELLED":
            tally.add("payment_completed_order_cancelled", repaired=False)
        elif order_status is None:
            tally.add("payment_completed_order_missing", repaired=False)
    elif status == "FAILED":
        if order_status == "CREATED":
            tally.add("payment_failed_order_created", repaired=await _republish(context, row))
        elif order_status in PAID:
            tally.add("order_paid_payment_failed", repaired=False)
    elif order_status == "CANCELLED":
        tally.add("order_cancelled_payment_open", repaired=await _settle(context, row, "FAILED"))
    elif order_status in PAID:
        tally.add("order_paid_payment_open", repaired=await _settle(context, row, "COMPLETED"))
    elif order_status is None:
        tally.add("order_missing_payment_open", repaired=await _settle(context, row, "FAILED"))


async def _republish(context: Context, row: Any) -> bool:
    """Publish the payment's end state again (a new event: the first one was lost or refused)."""
    payload = {"paymentId": row.payment_id, "orderId": row.order_id, "paymentStatus": row.payment_status}
    async with context.app.state.database.sessionmaker() as session:
        await publish(
            session,
            outbox_table,
            event_type=service.EVENTS[row.payment_status],
            aggregate_id=row.order_id,
            payload=payload,
            destinations=[ORDERS],
        )
        await commit_and_deliver(session)
    return True


async def _settle(context: Context, row: Any, status: str) -> bool:
    """Bring an open payment to the end its order already has (no event: the order is there already)."""
    async with context.app.state.database.sessionmaker() as session, session.begin():
        moved = await session.execute(
            update(Payment)
            .where(Payment.payment_id == row.payment_id, Payment.payment_status.in_(OPEN))
            .values(payment_status=status, is_payed=status == "COMPLETED")
        )
    return int(moved.rowcount) == 1


RECONCILER = Reconciler(PAIR, check)
