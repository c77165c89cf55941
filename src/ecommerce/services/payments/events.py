"""payment-service's events: what it publishes (models.outbox) and what it consumes (`POST /api/events`).

Published, to order-service: PaymentCompleted, PaymentFailed (service.change_status).
Consumed, from order-service: OrderCancelled: a payment that has not taken money ends FAILED (no event back:
the order is cancelled already). Each event is applied once (the inbox), in the transaction of its change.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import update

from ecommerce.chassis import DbSession, Event, consume, event_senders
from ecommerce.services.payments.models import Payment, inbox

APPLICATION = "payment-service"
router = APIRouter(prefix="/api", tags=["events"])


@router.post("/events", dependencies=[event_senders("order-service")])
async def receive(session: DbSession, event: Event) -> dict[str, bool]:
    """Apply an event once; a duplicate is acknowledged and ignored."""
    applied = await consume(session, inbox, event, APPLICATION)
    if applied and event.event_type == "OrderCancelled":
        await session.execute(
            update(Payment)
            .where(Payment.order_id == event.aggregate_id, Payment.payment_status.in_(("NOT_STARTED", "IN_PROGRESS")))
            .values(payment_status="FAILED", is_payed=False)
        )
    return {"applied": applied}
