"""What product-service answers the "reservations-orders" reconciler (it runs in order-service, which decides
whether an order lives, and so whether its stock stays taken): the reservations, a page at a time.

`GET /product-service/api/reservations?status=RESERVED&after=<orderId>&limit=<n>` -> `{"collection": [...]}`,
for order-service and administrators. The repair is the ordinary, idempotent
`POST /api/reservations/{orderId}/release`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ecommerce.chassis import Collection, DbSession, allow
from ecommerce.services.products import reservations
from ecommerce.services.products.reservations import ReservationOut

router = APIRouter(prefix="/api", tags=["reservations"], dependencies=[allow("order-service", users="admin")])


@router.get("/reservations")
async def list_reservations(
    session: DbSession,
    status: Annotated[Literal["RESERVED", "RELEASED"], Query()] = "RESERVED",
    after: Annotated[int, Query(ge=0, le=2_147_483_647)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Collection[ReservationOut]:
    rows = await reservations.list_reservations(session, status=status, after=after, limit=limit)
    return Collection[ReservationOut](collection=rows)
