"""The shopper's cart, checkout and payment: one set of rules for the pages and for /app/api.

The cart is the signed `shop_cart` cookie (web.read_cart / web.write_cart), so the pages and an API client that keeps
its cookies share it. A cart line names a product and 1..99 units; a cart holds at most 50 products. Checkout turns
the cart into an order through order-service (which prices it, reserves the stock and creates the payment) and
empties it; paying moves the order's payment NOT_STARTED -> IN_PROGRESS -> COMPLETED, as the payment page does.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from ecommerce.chassis import BadRequest, Forbidden, Principal, ServiceError
from ecommerce.services.storefront import clients
from ecommerce.services.storefront.clients import Peers, Placed
from ecommerce.services.storefront.web import MAX_LINE_QUANTITY, read_cart

Cart = dict[int, int]


async def priced_cart(
    request: Request, principal: Principal | None, cart: Cart | None = None
) -> tuple[list[dict[str, Any]], float]:
    """The lines of `cart` (the request's by default) with products and subtotals, and the total.

    Products no longer sold drop out.
    """
    cart = read_cart(request) if cart is None else cart
    products = await clients.products_by_ids(Peers.of(request, principal), list(cart))
    lines = [
        {"product": products[pid], "quantity": qty, "subtotal": round(float(products[pid]["priceUnit"]) * qty, 2)}
        for pid, qty in cart.items()
        if pid in products
    ]
    return lines, round(sum(line["subtotal"] for line in lines), 2)


def added(cart: Cart, product_id: int, quantity: int) -> Cart:
    """The cart with `quantity` more units of a product (a line holds at most 99)."""
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise BadRequest(f"Choose a quantity between 1 and {MAX_LINE_QUANTITY}")
    return {**cart, product_id: min(cart.get(product_id, 0) + quantity, MAX_LINE_QUANTITY)}


def changed(cart: Cart, product_id: int, quantity: int) -> Cart:
    """The cart with a line set to `quantity` units (0 removes it)."""
    rest = {pid: qty for pid, qty in cart.items() if pid != product_id}
    return rest if quantity <= 0 else {**rest, product_id: min(quantity, MAX_LINE_QUANTITY)}


async def require_product(request: Request, principal: Principal | None, product_id: int) -> None:
    """404 (the catalog's own answer) for a product that is not sold."""
    await clients.get_product(Peers.of(request, principal), product_id)


async def place_order(request: Request, principal: Principal, cart: Cart, idempotency_key: str) -> Placed:
    """Order the cart's lines for the signed-in shopper (the user comes from the token)."""
    if not cart:
        raise BadRequest("The cart is empty")
    items = [{"productId": pid, "quantity": qty} for pid, qty in sorted(cart.items())]
    assert principal.user_id is not None
    return await clients.checkout(Peers.of(request, principal), principal.user_id, items, idempotency_key)


def order_id_of(placed: dict[str, Any]) -> Any:
    """The id of the order a checkout placed."""
    order = placed.get("order") if isinstance(placed.get("order"), dict) else placed
    return order.get("orderId") or placed.get("orderId")


async def own_order_and_payment(
    request: Request, principal: Principal, order_id: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """An order of the caller's (any order for an administrator) and its payment, when it has one yet."""
    peers = Peers.of(request, principal)
    order = await clients.get_order(peers, order_id)
    if not principal.is_admin and await clients.resolve_order_owner(peers, order) != principal.user_id:
        raise Forbidden("This is not your order")
    payments = await clients.payments_for(peers, {order_id})
    return order, payments.get(order_id)


async def pay(request: Request, principal: Principal, order_id: int) -> dict[str, Any]:
    """Complete the order's payment (already COMPLETED: answered as it is); 409 while it has none yet."""
    _, payment = await own_order_and_payment(request, principal, order_id)
    if payment is None:
        raise ServiceError("This order has no payment yet; try again in a moment", status=409)
    peers = Peers.of(request, principal)
    if payment.get("paymentStatus") == "NOT_STARTED":
        payment = await clients.advance_payment(peers, payment, "IN_PROGRESS")
    if payment.get("paymentStatus") == "IN_PROGRESS":
        payment = await clients.advance_payment(peers, payment, "COMPLETED")
    return payment
