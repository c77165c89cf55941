"""payment-service HTTP routes: the original's paths, plus PATCH for a status change and ?orderId= / ?ids=."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import PlainTextResponse

from ecommerce.chassis import Collection, DbSession, PeerCalls, parse_ids
from ecommerce.services.payments import service as payment_service
from ecommerce.services.payments.dependencies import (
    AdminOnly,
    KeeperAccess,
    OwnedPayment,
    PaymentFilter,
    PaymentKeeper,
    ReadablePaymentId,
)
from ecommerce.services.payments.schemas import PaymentIn, PaymentOut, PaymentStatusIn

router = APIRouter(prefix="/api", tags=["payments"])
root_router = APIRouter(include_in_schema=False)

PaymentId = Annotated[int, Path(alias="paymentId", ge=1, le=2_147_483_647)]


@root_router.get("/", response_class=PlainTextResponse)
async def hello() -> str:
    return "Payment controller responding!!"


@router.get("/payments")
async def list_payments(
    session: DbSession,
    query: PaymentFilter,
    peers: PeerCalls,
) -> Collection[PaymentOut]:
    order_id, ids = query
    payments = await payment_service.list_payments(session, peers, order_id=order_id, ids=parse_ids(ids))
    return Collection[PaymentOut](collection=payments)


@router.get("/payments/{paymentId}")
async def get_payment(session: DbSession, peers: PeerCalls, payment_id: ReadablePaymentId) -> PaymentOut:
    return await payment_service.get_payment(session, peers, payment_id=payment_id)


@router.post("/payments", status_code=201)
async def create_payment(session: DbSession, peers: PeerCalls, body: PaymentIn, access: KeeperAccess) -> PaymentOut:
    return await payment_service.create_payment(session, peers, data=body, access=access)


@router.put("/payments", dependencies=[AdminOnly])
async def replace_payment(session: DbSession, peers: PeerCalls, body: PaymentIn) -> PaymentOut:
    return await payment_service.replace_payment(session, peers, payment_id=body.payment_id, data=body)


@router.patch("/payments/{paymentId}")
async def change_status(
    session: DbSession, peers: PeerCalls, payment: OwnedPayment, body: PaymentStatusIn
) -> PaymentOut:
    return await payment_service.change_status(
        session, peers, payment_id=payment.payment_id, status=body.payment_status, order=payment.order
    )


@router.delete("/payments/{paymentId}", dependencies=[PaymentKeeper])
async def delete_payment(session: DbSession, payment_id: PaymentId) -> bool:
    await payment_service.delete_payment(session, payment_id=payment_id)
    return True
