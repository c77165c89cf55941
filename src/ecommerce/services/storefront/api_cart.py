"""/app/api/cart: the pages' cart (the signed `shop_cart` cookie) for a signed-in API client, and paying an order.

A client keeps the cookie as a browser does (curl: `-b jar -c jar`), and proves who it is with its bearer token: a
cart change needs the header, so a cookie alone never changes a cart through the API. The rules are shopping.py's,
the same the pages follow.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field

from ecommerce.chassis import ApiModel
from ecommerce.services.storefront import shopping
from ecommerce.services.storefront.api_support import OrderId, ProductId
from ecommerce.services.storefront.auth import ApiUser
from ecommerce.services.storefront.clients import REPLAYED_HEADER
from ecommerce.services.storefront.web import MAX_LINE_QUANTITY, read_cart, write_cart

router = APIRouter(tags=["cart"])
Quantity = Annotated[int, Field(ge=1, le=MAX_LINE_QUANTITY)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


class CartLineIn(ApiModel):
    """A product to put in the cart, and how many more of it (a line holds at most 99)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is a 400, not a line of one unit

    product_id: Annotated[int, Field(ge=1, le=2_147_483_647)]
    quantity: Quantity = 1


class QuantityIn(ApiModel):
    """A line's new quantity."""

    model_config = ConfigDict(extra="forbid")

    quantity: Quantity


class CartLineOut(ApiModel):
    product_id: int
    quantity: int
    subtotal: float
    product: dict[str, Any] = Field(description="The product as GET /app/api/products/{productId} answers it")


class CartOut(ApiModel):
    """The cart: its lines (products no longer sold drop out), the total in euros and the number of units."""

    lines: list[CartLineOut]
    total: float
    item_count: int


async def _answer(request: Request, me: Any, response: Response, cart: shopping.Cart | None = None) -> CartOut:
    if cart is not None:
        write_cart(request, response, cart)
    lines, total = await shopping.priced_cart(request, me, cart)
    rows = [
        CartLineOut(
            product_id=line["product"]["productId"],
            quantity=line["quantity"],
            subtotal=line["subtotal"],
            product=line["product"],
        )
        for line in lines
    ]
    return CartOut(lines=rows, total=total, item_count=sum(r.quantity for r in rows))


@router.get("/cart")
async def view_cart(request: Request, me: ApiUser, response: Response) -> CartOut:
    """The signed-in shopper's cart, priced now."""
    return await _answer(request, me, response)


@router.post("/cart/lines")
async def add_to_cart(request: Request, me: ApiUser, body: CartLineIn, response: Response) -> CartOut:
    """Put a product (or more of it) in the cart: 404 for a product the catalog does not sell."""
    await shopping.require_product(request, me, body.product_id)
    return await _answer(request, me, response, shopping.added(read_cart(request), body.product_id, body.quantity))


@router.put("/cart/lines/{productId}")
async def change_line(
    request: Request, me: ApiUser, product_id: ProductId, body: QuantityIn, response: Response
) -> CartOut:
    """Set a line's quantity (the line is added when the cart did not have it)."""
    await shopping.require_product(request, me, product_id)
    return await _answer(request, me, response, shopping.changed(read_cart(request), product_id, body.quantity))


@router.delete("/cart/lines/{productId}")
async def remove_line(request: Request, me: ApiUser, product_id: ProductId, response: Response) -> CartOut:
    """Take a product out of the cart (nothing to do when it is not there)."""
    return await _answer(request, me, response, shopping.changed(read_cart(request), product_id, 0))


@router.delete("/cart")
async def empty_cart(request: Request, me: ApiUser, response: Response) -> CartOut:
    """Empty the cart."""
    return await _answer(request, me, response, {})


@router.post("/cart/checkout", status_code=201)
async def checkout_cart(request: Request, me: ApiUser, idempotency_key: IdempotencyKey = None) -> Response:
    """Order the cart's lines (400 when it is empty) and empty it; the answer is POST /app/api/checkout's.

    Send an `Idempotency-Key` to retry safely: a retry that reaches an order already placed answers it again with
    `Idempotent-Replayed: true`.
    """
    placed = await shopping.place_order(request, me, read_cart(request), idempotency_key or uuid.uuid4().hex)
    answer = JSONResponse(placed.order, status_code=201, headers={REPLAYED_HEADER: "true"} if placed.replayed else None)
    write_cart(request, answer, {})
    return answer


@router.post("/orders/{orderId}/pay")
async def pay_order(request: Request, me: ApiUser, order_id: OrderId) -> Response:
    """Complete the payment of one of the shopper's orders (NOT_STARTED -> IN_PROGRESS -> COMPLETED); the payment.

    409 while order-service has not created the payment yet (a moment after checkout).
    """
    return JSONResponse(await shopping.pay(request, me, order_id))
