"""payment-service JSON shapes: the original's fields, `FAILED` added to the status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ecommerce.chassis import ApiModel

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
PaymentStatus = Literal["NOT_STARTED", "IN_PROGRESS", "COMPLETED", "FAILED"]


class OrderRef(ApiModel):
    """The order a payment is for, by id."""

    order_id: Id


class PaymentIn(ApiModel):
    """Body of POST and PUT: `isPayed` is accepted but ignored, it always follows the status."""

    payment_id: Id | None = None
    is_payed: bool | None = None
    payment_status: PaymentStatus = "NOT_STARTED"
    order: OrderRef


class PaymentStatusIn(ApiModel):
    """Body of PATCH /api/payments/{paymentId}: the status to move to."""

    payment_status: PaymentStatus


class PaymentOut(ApiModel):
    """A payment with its order embedded (null when order-service cannot say)."""

    payment_id: int
    is_payed: bool
    payment_status: str
    order: dict[str, Any] | None
