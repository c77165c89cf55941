"""product-service's events: it consumes OrderCancelled from order-service (`POST /api/events`).

OrderCancelled gives the order's reserved stock back (once: the reservation moves RESERVED -> RELEASED, and a
release of an order never reserved records it so a late reservation is refused). The inbox makes a redelivered
event a no-op.
"""

from __future__ import annotations

from fastapi import APIRouter

from ecommerce.chassis import DbSession, Event, consume, event_senders
from ecommerce.services.products import reservations
from ecommerce.services.products.models import inbox

APPLICATION = "product-service"
router = APIRouter(prefix="/api", tags=["events"])


@router.post("/events", dependencies=[event_senders("order-service")])
async def receive(session: DbSession, event: Event) -> dict[str, bool]:
    """Apply an event once; a duplicate is acknowledged and ignored."""
    applied = await consume(session, inbox, event, APPLICATION)
    if applied and event.event_type == "OrderCancelled":
        await reservations.release_stock(session, order_id=event.aggregate_id)
    return {"applied": applied}
