"""payment-service rules: one payment per order and a state machine whose ends drive the order.

NOT_STARTED -> IN_PROGRESS -> COMPLETED (then order-service marks the order PAID)
                           -> FAILED    (then order-service cancels the order and releases its stock)
Moving to the status a payment already has is a no-op; every other move is 409. `isPayed` is COMPLETED.

An end state is checked against the order first (it exists and can still follow), then committed together with
its event (PaymentCompleted or PaymentFailed) in the outbox, then delivered: the order follows the payment once
the payment is stored, never before, and a crash in between leaves the event for the relay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from prometheus_client import Counter
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import (
    Access,
    BadRequest,
    Conflict,
    InsertNew,
    NotFound,
    PeerClient,
    commit_and_deliver,
    publish,
)
from ecommerce.services.payments import clients
from ecommerce.services.payments.models import Payment, metadata
from ecommerce.services.payments.models import outbox as outbox_table
from ecommerce.services.payments.schemas import PaymentIn, PaymentOut

TRANSITIONS = {
    "NOT_STARTED": {"IN_PROGRESS"},
    "IN_PROGRESS": {"COMPLETED", "FAILED"},
    "COMPLETED": set(),
    "FAILED": set(),
}
INITIAL = {"NOT_STARTED", "IN_PROGRESS"}
EVENTS = {"COMPLETED": "PaymentCompleted", "FAILED": "PaymentFailed"}
# The order statuses an end state may meet: the order follows (CREATED), or already has (PAID, CANCELLED).
ORDER_CAN_FOLLOW = {"COMPLETED": {"CREATED", "PAID", "SHIPPED", "DELIVERED"}, "FAILED": {"CREATED", "CANCELLED"}}

ORDERS = "order-service"
PAYMENTS = Counter("shop_payments", "Payments that reached an end state", ["application", "outcome"])

_ROWS = select(Payment.payment_id, Payment.order_id, Payment.is_payed, Payment.payment_status)

# A purchase's statements, built once; writes on the Core table (chassis/database.py says why).
_payments = metadata.tables[Payment.__tablename__]
_ROW = _ROWS.where(Payment.payment_id == bindparam("payment_id"))
_MOVE = (
    update(_payments)
    .where(
        _payments.c.payment_id == bindparam("b_payment_id"),
        _payments.c.payment_status.in_(bindparam("b_sources", expanding=True)),
    )
    .values(payment_status=bindparam("b_status"), is_payed=bindparam("b_is_payed"))
    .returning(_payments.c.order_id)
)


_CREATE = InsertNew(_payments, "order_id", returning=(_payments.c.payment_id,), is_payed=False)


async def list_payments(
    session: AsyncSession, peers: PeerClient, *, order_id: int | None = None, ids: Sequence[int] | None = None
) -> list[PaymentOut]:
    """Payments (optionally one order's, or by ids), each with its order fetched in one batch."""
    query = _ROWS.order_by(Payment.payment_id)
    if order_id is not None:
        query = query.where(Payment.order_id == order_id)
    if ids is not None:
        query = query.where(Payment.payment_id.in_(ids))
    rows = (await session.execute(query)).all()
    orders = await clients.orders_by_id(peers, {row.order_id for row in rows})
    return [_out(row, orders) for row in rows]


async def get_payment(session: AsyncSession, peers: PeerClient, *, payment_id: int) -> PaymentOut:
    """One payment with its order, or 404."""
    row = await _row(session, payment_id)
    return _out(row, await clients.orders_by_id(peers, {row.order_id}))


async def create_payment(
    session: AsyncSession, peers: PeerClient, *, data: PaymentIn, access: Access | None = None
) -> PaymentOut:
    """Open the payment of an order that exists and waits for it; 409 when the order has one or is past paying.

    When order-service itself opens it (its checkout, for the order it has just placed), asking order-service
    back whether that order exists and waits could only say yes, and order-service reads only the payment's id
    from the answer: neither call is made (the answer's `order` is null, as when order-service cannot be asked).
    """
    if data.payment_status not in INITIAL:
        raise Conflict(f"A payment starts NOT_STARTED or IN_PROGRESS, not {data.payment_status}")
    from_orders = access is not None and access.caller is not None and access.caller.name == ORDERS
    if not from_orders:
        order = await clients.require_order(peers, data.order.order_id)
        if order["orderStatus"] != "CREATED":
            raise Conflict(f"Order with id: {data.order.order_id} is {order['orderStatus']}; it cannot be paid")
    # One statement that writes first: SQLite takes its writer lock before anything is read.
    created = (
        await session.execute(
            _CREATE.for_session(session),
            {"order_id": data.order.order_id, "payment_status": data.payment_status},
        )
    ).first()
    if created is None:
        raise Conflict(f"Order with id: {data.order.order_id} already has a payment")
    row = _Row(created.payment_id, data.order.order_id, False, data.payment_status)
    return _out(row, {} if from_orders else await clients.orders_by_id(peers, {row.order_id}))


async def change_status(
    session: AsyncSession,
    peers: PeerClient,
    *,
    payment_id: int,
    status: str,
    order: dict[str, Any] | None = None,
) -> PaymentOut:
    """Move a payment to `status` if the state machine allows it; an end state is published to order-service.

    The conditional UPDATE comes first (one writer wins, and SQLite's writer lock is taken before any read);
    when the order cannot follow (409) or cannot be checked (503) the exception rolls the move back. `order`:
    the order as order-service answered it for this request already (the caller's ownership check), so an end
    state asks order-service no second time.
    """
    sources = [source for source, targets in TRANSITIONS.items() if status in targets]
    params = {"b_payment_id": payment_id, "b_sources": sources, "b_status": status, "b_is_payed": status == "COMPLETED"}
    moved = (await session.execute(_MOVE, params)).first()
    if moved is None:
        row = await _row(session, payment_id)
        if row.payment_status != status:
            raise Conflict(f"Payment with id: {payment_id} cannot go from {row.payment_status} to {status}")
        return await get_payment(session, peers, payment_id=payment_id)
    order_id = int(moved.order_id)
    event = EVENTS.get(status)
    if event is not None:
        if order is None or order.get("orderId") != order_id:
            order = await clients.require_order(peers, order_id)
        if order["orderStatus"] not in ORDER_CAN_FOLLOW[status]:
            raise Conflict(f"Order {order_id} is {order['orderStatus']}; its payment cannot become {status}")
        payload = {"paymentId": payment_id, "orderId": order_id, "paymentStatus": status}
        await publish(
            session, outbox_table, event_type=event, aggregate_id=order_id, payload=payload, destinations=[ORDERS]
        )
        await commit_and_deliver(session)
        PAYMENTS.labels("payment-service", status).inc()
    row = _Row(payment_id, order_id, status == "COMPLETED", status)
    if event is None and order is not None and order.get("orderId") == order_id:
        return _out(row, {order_id: clients.embedded(order)})  # unchanged since the ownership check read it
    return _out(row, await clients.orders_by_id(peers, {order_id}))


async def replace_payment(
    session: AsyncSession, peers: PeerClient, *, payment_id: int | None, data: PaymentIn
) -> PaymentOut:
    """The original's PUT: the payment is named by the body (POST creates one), its order cannot change, and a new
    status goes through the state machine."""
    if payment_id is None:
        raise BadRequest("Invalid value for 'paymentId': required to replace a payment (POST creates one)")
    row = await _row(session, payment_id)
    if row.order_id != data.order.order_id:
        raise BadRequest(f"Payment with id: {payment_id} belongs to order {row.order_id}; its order cannot change")
    return await change_status(session, peers, payment_id=payment_id, status=data.payment_status)


async def delete_payment(session: AsyncSession, *, payment_id: int) -> None:
    """Remove a payment that has not taken money: 404 when missing, 409 when COMPLETED."""
    row = await _row(session, payment_id)
    if row.payment_status == "COMPLETED":
        raise Conflict(f"Payment with id: {payment_id} is COMPLETED and is kept")
    await session.execute(delete(Payment).where(Payment.payment_id == payment_id))


async def find_payment(session: AsyncSession, *, payment_id: int) -> Any:
    """The payment's row (payment_id, order_id, is_payed, payment_status), or None."""
    return (await session.execute(_ROW, {"payment_id": payment_id})).first()


async def _row(session: AsyncSession, payment_id: int) -> Any:
    row = await find_payment(session, payment_id=payment_id)
    if row is None:
        raise NotFound(f"Payment with id: {payment_id} not found")
    return row


class _Row(NamedTuple):
    """A payment's columns as the answers need them (what a write just stored, without reading it back)."""

    payment_id: int
    order_id: int
    is_payed: bool
    payment_status: str


def _out(row: Any, orders: dict[int, dict[str, Any]]) -> PaymentOut:
    return PaymentOut.model_construct(
        payment_id=row.payment_id,
        is_payed=row.payment_status == "COMPLETED",
        payment_status=row.payment_status,
        order=orders.get(row.order_id),
    )
