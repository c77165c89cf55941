"""order-service JSON shapes: the original's cart and order, plus status, lines and the checkout."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from ecommerce.chassis import ApiModel, LocalDateTime, Money

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Quantity = Annotated[int, Field(ge=1, le=10_000)]
MAX_LINES = 100


class CartIn(ApiModel):
    """Body of POST and PUT on carts."""

    cart_id: Id | None = None
    user_id: Id


class CartOut(ApiModel):
    """A cart with its user embedded (null when user-service cannot say)."""

    cart_id: int
    user_id: int | None
    user: dict[str, Any] | None = None


class CartRef(ApiModel):
    """A cart inside an order."""

    cart_id: int
    user_id: int | None = None


class CartIdIn(ApiModel):
    """A cart named by id in a request body."""

    cart_id: Id


class LineIn(ApiModel):
    """A product and how many of it."""

    product_id: Id
    quantity: Quantity


class LineOut(ApiModel):
    """An order line as bought: the product's title and unit price when the order was placed."""

    product_id: int
    product_title: str | None = None
    quantity: int
    unit_price: Money


class OrderIn(ApiModel):
    """Body of POST and PUT on orders. `orderFee` is accepted and ignored: it is computed from the lines."""

    order_id: Id | None = None
    order_date: LocalDateTime | None = None
    order_desc: Annotated[str, StringConstraints(max_length=255)] | None = None
    order_fee: Any = None
    cart: CartIdIn
    order_lines: Annotated[list[LineIn], Field(max_length=MAX_LINES)] | None = None


class OrderOut(ApiModel):
    """An order with its cart, status, lines and payment."""

    order_id: int
    order_date: LocalDateTime
    order_desc: str | None
    order_fee: Money
    order_status: str
    payment_id: int | None
    cart: CartRef
    order_lines: list[LineOut]


class CheckoutIn(ApiModel):
    """Body of POST /api/orders/checkout."""

    user_id: Id
    items: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)]


def order_fee(lines: list[LineOut]) -> Decimal:
    """The order's fee: the sum of its lines, to the cent."""
    return sum((line.unit_price * line.quantity for line in lines), Decimal("0")).quantize(Decimal("0.01"))
