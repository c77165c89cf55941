"""Who may read and change order-service's rows, beside the endpoints that serve them.

A shopper reads only their own orders and changes only their own carts; orders are placed through checkout (for
the signed-in shopper only) and changed by administrators; the components that call order-service are allowed by
name: payment-service and shipping-service (orders embedded in their answers, and the status events of their
payments and shipments).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from ecommerce.chassis import Access, DbSession, NotFound, allow
from ecommerce.services.orders import service as order_service
from ecommerce.services.orders.schemas import OrderOut

PAYMENTS = "payment-service"
SHIPPING = "shipping-service"
MAX_ID = 2_147_483_647

CartId = Annotated[int, Path(alias="cartId", ge=1, le=MAX_ID)]
OrderId = Annotated[int, Path(alias="orderId", ge=1, le=MAX_ID)]

# Any signed-in user (their rows checked below); no component.
ShopperAccess = Annotated[Access, allow()]
# Orders read by the services that embed them.
OrderReader = Annotated[Access, allow(PAYMENTS, SHIPPING)]
# Every cart, and changing orders outside checkout: administrators only.
AdminOnly = allow(users="admin")
# An order's status events: payment-service and shipping-service, or an administrator.
StatusEventSender = allow(PAYMENTS, SHIPPING, users="admin")


async def _owned_cart_id(session: DbSession, access: ShopperAccess, cart_id: CartId) -> int:
    if access.scope_user_id is not None:
        owner = await order_service.cart_row(session, cart_id=cart_id)
        if owner is None:
            raise NotFound(f"Cart with id: {cart_id} not found")
        access.require_acts_for(owner.user_id, "carts")
    return cart_id


async def _owned_order(session: DbSession, access: OrderReader, order_id: OrderId) -> OrderOut:
    order = await order_service.get_order(session, order_id=order_id)
    access.require_acts_for(order.cart.user_id, "orders")
    return order


async def _order_owner_filter(
    access: OrderReader, user_id: Annotated[int | None, Query(alias="userId", ge=1, le=MAX_ID)] = None
) -> int | None:
    scope = access.scope_user_id
    if scope is not None and user_id is not None and user_id != scope:
        access.require_acts_for(user_id, "orders")
    return user_id if scope is None else scope


# A cart id of the caller's (any for administrators).
OwnedCartId = Annotated[int, Depends(_owned_cart_id)]
# An order of the caller's, looked up (any order for administrators and the allowed components).
OwnedOrder = Annotated[OrderOut, Depends(_owned_order)]
# Whose orders a list shows: a shopper's own, whatever they ask; anyone's otherwise.
OrderOwnerFilter = Annotated[int | None, Depends(_order_owner_filter)]


def check_cart_owner(access: Access, user_id: int | None) -> None:
    """403 unless a cart (or checkout) named in a body is for the caller (or the caller is an administrator)."""
    access.require_acts_for(user_id, "carts")


async def check_cart_body(session: DbSession, access: Access, cart_id: int | None, user_id: int | None) -> None:
    """A shopper's cart body names them, and an existing cart it replaces is theirs."""
    check_cart_owner(access, user_id)
    if cart_id is not None:
        await _owned_cart_id(session, access, cart_id)
