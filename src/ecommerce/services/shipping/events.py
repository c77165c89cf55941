"""shipping-service's events: it consumes OrderCancelled from order-service (`POST /api/events`).

OrderCancelled drops the order's shipment while it is PENDING, with its items; a shipment already on its way is
left alone (the order cannot be cancelled once paid, so that would be a divergence for the reconciler).
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import delete

from ecommerce.chassis import DbSession
from ecommerce.chassis.outbox import Event, consume, event_senders
from ecommerce.services.shipping.models import OrderItem, Shipment, inbox

APPLICATION = "shipping-service"
router = APIRouter(prefix="/api", tags=["events"])


@router.post("/events", dependencies=[event_senders("order-service")])
async def receive(session: DbSession, event: Event) -> dict[str, bool]:
    """Apply an event once; a duplicate is acknowledged and ignored."""
    applied = await consume(session, inbox, event, APPLICATION)
    if applied and event.event_type == "OrderCancelled":
        order_id = event.aggregate_id
        dropped = await session.execute(
            delete(Shipment).where(Shipment.order_id == order_id, Shipment.shipping_status == "PENDING")
        )
        if int(dropped.rowcount) == 1:  # type: ignore[attr-defined]
            await session.execute(delete(OrderItem).where(OrderItem.order_id == order_id))
    return {"applied": applied}
