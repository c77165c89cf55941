"""shipping-service's events: what it publishes (models.outbox) and what it consumes (`POST /api/events`).

Published, to order-service: ShipmentShipped, ShipmentDelivered (service.advance_shipment).
Consumed, from order-service:
- OrderPlaced (a completed checkout): the order's shipment is opened PENDING with its items, on order-service's
  word (the payload is the order's lines); a shipment already on its way is left as it is.
- OrderCancelled: the order's shipment is dropped while it is PENDING, with its items; a shipment already on its
  way is left alone (an order cannot be cancelled once paid, so that would be a divergence for the reconciler).
Each event is applied once (the inbox), in the transaction of its change, and events of one order arrive in the
order they were published, so a cancellation is never overtaken by its order's placement.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ecommerce.chassis import BadRequest, DbSession, Event, consume, event_senders
from ecommerce.services.shipping import service
from ecommerce.services.shipping.models import inbox

APPLICATION = "shipping-service"
router = APIRouter(prefix="/api", tags=["events"])


@router.post("/events", dependencies=[event_senders("order-service")])
async def receive(session: DbSession, event: Event) -> dict[str, bool]:
    """Apply an event once; a duplicate is acknowledged and ignored, a malformed OrderPlaced is 400 (not retried)."""
    items = _items(event.payload) if event.event_type == "OrderPlaced" else {}
    applied = await consume(session, inbox, event, APPLICATION)
    if not applied:
        return {"applied": False}
    if event.event_type == "OrderPlaced":
        await service.open_shipment(session, order_id=event.aggregate_id, items=items)
    elif event.event_type == "OrderCancelled":
        await service.drop_pending_shipment(session, order_id=event.aggregate_id)
    return {"applied": True}


def _items(payload: dict[str, Any]) -> dict[int, int]:
    items: dict[int, int] = {}
    for line in payload.get("items") or []:
        pid, qty = (line.get("productId"), line.get("quantity")) if isinstance(line, dict) else (None, None)
        if type(pid) is not int or type(qty) is not int or pid < 1 or qty < 1:
            raise BadRequest("OrderPlaced needs items of productId and quantity (positive integers)")
        items[pid] = items.get(pid, 0) + qty
    if not items:
        raise BadRequest("OrderPlaced needs at least one item")
    return items
