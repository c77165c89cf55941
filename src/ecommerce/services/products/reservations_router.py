"""product-service stock reservation routes (used by order-service's checkout)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from ecommerce.chassis import DbSession
from ecommerce.services.products import reservations
from ecommerce.services.products.dependencies import StockKeeper
from ecommerce.services.products.reservations import ReservationIn, ReservationOut

router = APIRouter(prefix="/api", tags=["reservations"], dependencies=[StockKeeper])

OrderId = Annotated[int, Path(alias="orderId", ge=1, le=2_147_483_647)]


@router.post("/reservations", status_code=201)
async def reserve_stock(session: DbSession, body: ReservationIn, response: Response) -> ReservationOut:
    reservation, created = await reservations.reserve_stock(session, data=body)
    if not created:
        response.status_code = 200
    return reservation


@router.get("/reservations/{orderId}")
async def get_reservation(session: DbSession, order_id: OrderId) -> ReservationOut:
    return await reservations.get_reservation(session, order_id=order_id)


@router.post("/reservations/{orderId}/release")
async def release_stock(session: DbSession, order_id: OrderId) -> ReservationOut:
    return await reservations.release_stock(session, order_id=order_id)
