"""Who may read and change payment-service's rows, beside the endpoints that serve them.

A payment belongs to whoever placed its order (order-service knows, and is asked with this component's service
token): a shopper reads only the payments of their own orders and may move them on; creating and deleting
payments is order-service's (the checkout and a deleted order) or an administrator's; replacing one is an
administrator's.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from fastapi import Depends, Path, Query, Request

from ecommerce.chassis import Access, Forbidden, NotFound, allow
from ecommerce.services.payments import clients
from ecommerce.services.payments import service as payment_service

ORDERS = "order-service"
MAX_ID = 2_147_483_647

PaymentId = Annotated[int, Path(alias="paymentId", ge=1, le=MAX_ID)]

# Any signed-in user (their payments checked below), or order-service.
PaymentAccess = Annotated[Access, allow(ORDERS)]
# Any signed-in user (their payments checked below); no component.
ShopperAccess = Annotated[Access, allow()]
# Creating and deleting payments: order-service, or an administrator.
PaymentKeeper = allow(ORDERS, users="admin")
KeeperAccess = Annotated[Access, PaymentKeeper]
# Replacing a payment wholesale: administrators only.
AdminOnly = allow(users="admin")


class PaymentRef(NamedTuple):
    """A payment the caller may move on, and its order as order-service answered the ownership check (None when
    the caller is an administrator or a component: no check, nothing asked)."""

    payment_id: int
    order: dict[str, Any] | None


async def _require_own_order(request: Request, access: Access, order_id: int | None) -> dict[str, Any] | None:
    if access.scope_user_id is None:
        return None
    order: dict[str, Any] = await clients.require_order(request.app.state.peers, order_id) if order_id else {}
    cart = order.get("cart") if isinstance(order.get("cart"), dict) else {}
    access.require_acts_for(cart.get("userId") if cart else None, "payments")
    return order


async def _owned_payment(request: Request, access: ShopperAccess, payment_id: PaymentId) -> PaymentRef:
    order = None
    if access.scope_user_id is not None:
        # A read of its own (no transaction on PostgreSQL), its connection given back before asking order-service.
        async with request.app.state.database.read_sessionmaker() as session:
            found = await payment_service.find_payment(session, payment_id=payment_id)
        if found is None:
            raise NotFound(f"Payment with id: {payment_id} not found")
        order = await _require_own_order(request, access, found.order_id)
    return PaymentRef(payment_id, order)


async def _readable_payment_id(request: Request, access: PaymentAccess, payment_id: PaymentId) -> int:
    return (await _owned_payment(request, access, payment_id)).payment_id


async def _payment_filter(
    request: Request,
    access: PaymentAccess,
    order_id: Annotated[int | None, Query(alias="orderId", ge=1, le=MAX_ID)] = None,
    ids: Annotated[str | None, Query(max_length=12_000)] = None,
) -> tuple[int | None, str | None]:
    if access.scope_user_id is not None:
        if order_id is None or ids is not None:
            raise Forbidden("You may only list the payments of one of your orders (?orderId=)")
        await _require_own_order(request, access, order_id)
    return order_id, ids


# A payment of the caller's (order-service and administrators: any); for reading.
ReadablePaymentId = Annotated[int, Depends(_readable_payment_id)]
# A payment of the caller's (administrators: any), for moving it on, with its order when the ownership check
# read it (an end state then needs no second read).
OwnedPayment = Annotated[PaymentRef, Depends(_owned_payment)]
# (orderId, ids) of a list: a shopper names one of their own orders.
PaymentFilter = Annotated[tuple[int | None, str | None], Depends(_payment_filter)]
