"""order-service HTTP routes: the original's carts and orders, status moves, and the checkout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse

from ecommerce.chassis import BadRequest, Collection, DbSession, PeerCalls, parse_ids
from ecommerce.services.orders import checkout as checkout_flow
from ecommerce.services.orders import service as order_service
from ecommerce.services.orders.dependencies import (
    AdminOnly,
    OrderOwnerFilter,
    OwnedCartId,
    OwnedOrder,
    ShopperAccess,
    StatusEventSender,
    check_cart_body,
    check_cart_owner,
)
from ecommerce.services.orders.schemas import CartIn, CartOut, CheckoutIn, OrderIn, OrderOut

router = APIRouter(prefix="/api")
root_router = APIRouter(include_in_schema=False)

OrderId = Annotated[int, Path(alias="orderId", ge=1, le=2_147_483_647)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=255, description="one key per checkout attempt")
]


@root_router.get("/", response_class=PlainTextResponse)
async def hello() -> str:
    return "Order controller responding!!"


# --- carts ----------------------------------------------------------------------------------------------


@router.get("/carts", tags=["carts"], dependencies=[AdminOnly])
async def list_carts(session: DbSession, peers: PeerCalls) -> Collection[CartOut]:
    return Collection[CartOut](collection=await order_service.list_carts(session, peers))


@router.get("/carts/{cartId}", tags=["carts"])
async def get_cart(session: DbSession, peers: PeerCalls, cart_id: OwnedCartId) -> CartOut:
    return await order_service.get_cart(session, peers, cart_id=cart_id)


@router.post("/carts", status_code=201, tags=["carts"])
async def create_cart(session: DbSession, peers: PeerCalls, body: CartIn, access: ShopperAccess) -> CartOut:
    check_cart_owner(access, body.user_id)
    return await order_service.create_cart(session, peers, data=body)


@router.put("/carts", tags=["carts"])
async def replace_cart(
    session: DbSession, peers: PeerCalls, body: CartIn, response: Response, access: ShopperAccess
) -> CartOut:
    await check_cart_body(session, access, body.cart_id, body.user_id)
    cart, created = await order_service.save_cart(session, peers, data=body)
    response.status_code = 201 if created else 200
    return cart


@router.put("/carts/{cartId}", tags=["carts"])
async def update_cart(
    session: DbSession, peers: PeerCalls, cart_id: OwnedCartId, body: CartIn, access: ShopperAccess
) -> CartOut:
    check_cart_owner(access, body.user_id)
    return await order_service.update_cart(session, peers, cart_id=cart_id, data=body)


@router.delete("/carts/{cartId}", tags=["carts"])
async def delete_cart(session: DbSession, cart_id: OwnedCartId) -> bool:
    await order_service.delete_cart(session, cart_id=cart_id)
    return True


# --- orders ---------------------------------------------------------------------------------------------


@router.post("/orders/checkout", status_code=201, tags=["checkout"])
async def checkout(
    peers: PeerCalls,
    request: Request,
    body: CheckoutIn,
    response: Response,
    access: ShopperAccess,
    key: IdempotencyKey = None,
) -> OrderOut:
    check_cart_owner(access, body.user_id)  # an order is placed for the signed-in shopper only
    if not key or not key.strip():
        raise BadRequest("The Idempotency-Key header is required")
    order, replayed = await checkout_flow.checkout_or_resume(
        request.app.state.database, peers, key=key.strip(), data=body
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return order


@router.get("/orders", tags=["orders"])
async def list_orders(
    session: DbSession,
    user_id: OrderOwnerFilter,
    ids: Annotated[str | None, Query(max_length=12_000, description="comma-separated order ids")] = None,
    cart_id: Annotated[int | None, Query(alias="cartId", ge=1, le=2_147_483_647)] = None,
) -> Collection[OrderOut]:
    orders = await order_service.list_orders(session, ids=parse_ids(ids), cart_id=cart_id, user_id=user_id)
    return Collection[OrderOut](collection=orders)


@router.get("/orders/{orderId}", tags=["orders"])
async def get_order(order: OwnedOrder) -> OrderOut:
    return order


@router.post("/orders", status_code=201, tags=["orders"], dependencies=[AdminOnly])
async def create_order(session: DbSession, peers: PeerCalls, body: OrderIn) -> OrderOut:
    return await order_service.create_order(session, peers, data=body)


@router.put("/orders", tags=["orders"], dependencies=[AdminOnly])
async def replace_order(session: DbSession, peers: PeerCalls, body: OrderIn, response: Response) -> OrderOut:
    order, created = await order_service.save_order(session, peers, data=body)
    response.status_code = 201 if created else 200
    return order


@router.put("/orders/{orderId}", tags=["orders"], dependencies=[AdminOnly])
async def update_order(session: DbSession, order_id: OrderId, body: OrderIn) -> OrderOut:
    return await order_service.update_order(session, order_id=order_id, data=body)


@router.delete("/orders/{orderId}", tags=["orders"], dependencies=[AdminOnly])
async def delete_order(session: DbSession, order_id: OrderId) -> bool:
    await order_service.delete_order(session, order_id=order_id)
    return True


def _status_route(event: str) -> None:
    async def advance(session: DbSession, peers: PeerCalls, order_id: OrderId) -> OrderOut:
        return await order_service.advance_order(session, peers, order_id=order_id, event=event)

    advance.__name__ = f"order_{event}"
    router.add_api_route(
        f"/orders/{{orderId}}/{event}",
        advance,
        methods=["POST"],
        tags=["orders"],
        summary=f"Order event '{event}'",
        response_model=OrderOut,
        dependencies=[StatusEventSender],
    )


for _event in order_service.EVENTS:
    _status_route(_event)
