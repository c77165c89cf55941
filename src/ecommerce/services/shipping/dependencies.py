"""Who may read and change shipping-service's rows, beside the endpoints that serve them.

A shipment and its items belong to whoever placed the order (order-service knows, and is asked with this
component's service token): a shopper reads only their own; order-service opens and drops an order's shipment;
items and status changes are an administrator's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from ecommerce.chassis import Access, PeerError, PeerUnavailable, ServiceUnavailable, allow

ORDERS = "order-service"
MAX_ID = 2_147_483_647

OrderId = Annotated[int, Path(alias="orderId", ge=1, le=MAX_ID)]

# Any signed-in user (their shipments checked below); no component.
ShopperAccess = Annotated[Access, allow()]
# Opening and dropping an order's shipment: order-service (checkout, a deleted order), or an administrator.
ShipmentKeeper = allow(ORDERS, users="admin")
# Every item, item changes and status changes: administrators only.
AdminOnly = allow(users="admin")


async def require_own_order(request: Request, access: Access, order_id: int) -> None:
    """403 unless the caller placed `order_id` (administrators: any order)."""
    if access.scope_user_id is None:
        return
    # The one look-up of an order's owner this service makes; clients.py batches the embedded order fields.
    try:
        order = await request.app.state.peers.get_json(ORDERS, f"/order-service/api/orders/{order_id}")
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"{ORDERS} is unavailable; cannot check Order with id: {order_id}") from exc
    except PeerError:
        order = None
    cart = order.get("cart") if isinstance(order, dict) else None
    access.require_acts_for(cart.get("userId") if isinstance(cart, dict) else None, "shipments")


async def _own_order_id(request: Request, access: ShopperAccess, order_id: OrderId) -> int:
    await require_own_order(request, access, order_id)
    return order_id


# An order id of the caller's (administrators: any).
OwnOrderId = Annotated[int, Depends(_own_order_id)]
