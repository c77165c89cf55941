"""order-service's events: what it publishes (models.outbox) and what it consumes (`POST /api/events`).

Published: OrderPlaced, to shipping-service (open the order's shipment), in the transaction that completes a
checkout; OrderCancelled, to product-service (release the reservation), shipping-service (drop the pending
shipment) and payment-service (fail a payment that took no money), in the transaction that cancels the order.
Consumed, from payment-service: PaymentCompleted (CREATED -> PAID) and PaymentFailed (CREATED -> CANCELLED, which
publishes OrderCancelled); from shipping-service: ShipmentShipped (PAID -> SHIPPED) and ShipmentDelivered
(SHIPPED -> DELIVERED). Each event is applied once (the inbox), in the transaction of its change; an event
for an order that has moved on already changes nothing, and one that contradicts it is counted for the reconciler.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter
from prometheus_client import Counter
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import DbSession, Event, NotFound, commit_and_deliver, consume, event_senders
from ecommerce.services.orders import service as order_service
from ecommerce.services.orders.models import Order, inbox, metadata

log = structlog.get_logger("ecommerce.orders.events")

APPLICATION = "order-service"
CONTRADICTIONS = Counter(
    "shop_event_contradictions", "Events that contradict the order's status (left to the reconciler)", ["application"]
)
router = APIRouter(prefix="/api", tags=["events"])


# What each event moves the order from and to (the moves the shipment's events drive).
SHIPMENT_MOVES = {"ShipmentShipped": ("PAID", "SHIPPED"), "ShipmentDelivered": ("SHIPPED", "DELIVERED")}

# An event's statements, built once; the write on the Core table (chassis/database.py says why).
_orders = metadata.tables[Order.__tablename__]
_STATUS = select(Order.order_status).where(Order.order_id == bindparam("order_id"))
_PAID = (
    update(_orders)
    .where(_orders.c.order_id == bindparam("b_order_id"), _orders.c.order_status == "CREATED")
    .values(order_status="PAID", payment_id=bindparam("b_payment_id"))
    .returning(_orders.c.order_fee)
)


@router.post("/events", dependencies=[event_senders("payment-service", "shipping-service")])
async def receive(session: DbSession, event: Event) -> dict[str, bool]:
    """Apply an event once; a duplicate is acknowledged and ignored, an unknown order is 404 (not retried)."""
    status = (await session.execute(_STATUS, {"order_id": event.aggregate_id})).scalar_one_or_none()
    if status is None:
        raise NotFound(f"Order with id: {event.aggregate_id} not found")
    applied = await consume(session, inbox, event, APPLICATION)
    if applied:
        await _apply(session, event, status)
        await commit_and_deliver(session)
    return {"applied": applied}


async def _apply(session: AsyncSession, event: Event, status: str) -> None:
    order_id = event.aggregate_id
    if event.event_type == "PaymentCompleted":
        payment_id = event.payload.get("paymentId")
        fee = (await session.execute(_PAID, {"b_order_id": order_id, "b_payment_id": payment_id})).scalar_one_or_none()
        if fee is not None:
            order_service.REVENUE.labels(APPLICATION).inc(float(fee))
        elif status == "CANCELLED":
            CONTRADICTIONS.labels(APPLICATION).inc()
            log.warning("payment_completed_for_cancelled_order", order_id=order_id, payment_id=payment_id)
    elif event.event_type == "PaymentFailed":
        moved = await session.execute(
            update(Order)
            .where(Order.order_id == order_id, Order.order_status == "CREATED")
            .values(order_status="CANCELLED")
        )
        if int(moved.rowcount) == 1:  # type: ignore[attr-defined]
            await order_service.publish_cancelled(session, order_id)
        elif status != "CANCELLED":
            CONTRADICTIONS.labels(APPLICATION).inc()
            log.warning("payment_failed_for_order", order_id=order_id, status=status)
    elif event.event_type in SHIPMENT_MOVES:
        source, target = SHIPMENT_MOVES[event.event_type]
        moved = await session.execute(
            update(Order).where(Order.order_id == order_id, Order.order_status == source).values(order_status=target)
        )
        if int(moved.rowcount) != 1 and status not in (target, "DELIVERED"):  # type: ignore[attr-defined]
            CONTRADICTIONS.labels(APPLICATION).inc()
            log.warning("shipment_event_for_order", order_id=order_id, status=status, event=event.event_type)
