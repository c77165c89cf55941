"""shipping-service HTTP routes: the original's paths with the ids in the right order, plus shipments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import PlainTextResponse

from ecommerce.chassis import Collection, DbSession, PeerCalls
from ecommerce.services.shipping import service as shipping_service
from ecommerce.services.shipping.dependencies import (
    AdminOnly,
    OwnOrderId,
    ShipmentKeeper,
    ShopperAccess,
    require_own_order,
)
from ecommerce.services.shipping.schemas import (
    OrderItemId,
    OrderItemIn,
    OrderItemOut,
    ShipmentIn,
    ShipmentOut,
    ShipmentStatusIn,
)

router = APIRouter(prefix="/api", tags=["shippings"])
root_router = APIRouter(include_in_schema=False)

OrderId = Annotated[int, Path(alias="orderId", ge=1, le=2_147_483_647)]
ProductId = Annotated[int, Path(alias="productId", ge=1, le=2_147_483_647)]


@root_router.get("/", response_class=PlainTextResponse)
async def hello() -> str:
    return "shipping controller responding!!"


@router.get("/shippings", dependencies=[AdminOnly])
async def list_items(session: DbSession, peers: PeerCalls) -> Collection[OrderItemOut]:
    return Collection[OrderItemOut](collection=await shipping_service.list_items(session, peers))


@router.get("/shippings/find")
@router.post("/shippings/find", operation_id="find_item_by_post")  # one operation id per method in the OpenAPI
async def find_item(
    session: DbSession, peers: PeerCalls, request: Request, body: OrderItemId, access: ShopperAccess
) -> OrderItemOut:
    await require_own_order(request, access, body.order_id)
    return await shipping_service.get_item(session, peers, order_id=body.order_id, product_id=body.product_id)


@router.delete("/shippings/delete", dependencies=[AdminOnly])
async def delete_item_by_body(session: DbSession, body: OrderItemId) -> bool:
    await shipping_service.delete_item(session, order_id=body.order_id, product_id=body.product_id)
    return True


@router.get("/shippings/orders/{orderId}", tags=["shipments"])
async def get_shipment(session: DbSession, peers: PeerCalls, order_id: OwnOrderId) -> ShipmentOut:
    return await shipping_service.get_shipment(session, peers, order_id=order_id)


@router.put("/shippings/orders/{orderId}", tags=["shipments"], dependencies=[ShipmentKeeper])
async def put_shipment(session: DbSession, peers: PeerCalls, order_id: OrderId, body: ShipmentIn) -> ShipmentOut:
    return await shipping_service.put_shipment(session, peers, order_id=order_id, data=body)


@router.delete("/shippings/orders/{orderId}", tags=["shipments"], dependencies=[ShipmentKeeper])
async def delete_shipment(session: DbSession, order_id: OrderId) -> bool:
    await shipping_service.delete_shipment(session, order_id=order_id)
    return True


@router.put("/shippings/orders/{orderId}/status", tags=["shipments"], dependencies=[AdminOnly])
async def advance_shipment(
    session: DbSession, peers: PeerCalls, order_id: OrderId, body: ShipmentStatusIn
) -> ShipmentOut:
    return await shipping_service.advance_shipment(session, peers, order_id=order_id, status=body.shipping_status)


@router.get("/shippings/{orderId}/{productId}")
async def get_item(session: DbSession, peers: PeerCalls, order_id: OwnOrderId, product_id: ProductId) -> OrderItemOut:
    return await shipping_service.get_item(session, peers, order_id=order_id, product_id=product_id)


@router.post("/shippings", status_code=201, dependencies=[AdminOnly])
async def create_item(session: DbSession, peers: PeerCalls, body: OrderItemIn) -> OrderItemOut:
    return await shipping_service.create_item(session, peers, data=body)


@router.put("/shippings", dependencies=[AdminOnly])
async def save_item(session: DbSession, peers: PeerCalls, body: OrderItemIn, response: Response) -> OrderItemOut:
    item, created = await shipping_service.save_item(session, peers, data=body)
    if created:
        response.status_code = 201
    return item


@router.delete("/shippings/{orderId}/{productId}", dependencies=[AdminOnly])
async def delete_item(session: DbSession, order_id: OrderId, product_id: ProductId) -> bool:
    await shipping_service.delete_item(session, order_id=order_id, product_id=product_id)
    return True
