"""/app/api favourites, carts, orders, payments and shippings: each operation of the original, declared.

A shopper sees and changes only their own favourites and carts, reads only their own orders, payments and
shipments (orders come from checkout), and may move their own payment on; administrators may do everything.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ecommerce.chassis import Forbidden, Principal
from ecommerce.services.storefront import clients
from ecommerce.services.storefront.api_support import (
    CartId,
    JsonBody,
    JsonObject,
    LikeDate,
    OrderId,
    PaymentId,
    ProductId,
    UserId,
    body_id,
    fetch,
    only_mine,
    own,
    query,
    relay,
)
from ecommerce.services.storefront.auth import ApiAdmin, ApiUser, user_id_of

router = APIRouter()
P = clients.peer_path
FAVOURITES, ORDERS, PAYMENTS, SHIPPING = clients.FAVOURITES, clients.ORDERS, clients.PAYMENTS, clients.SHIPPING


# --- favourites ----------------------------------------------------------------------------------------------


@router.get("/favourites")
async def list_favourites(request: Request, me: ApiUser) -> Response:
    path = P("/favourite-service/api/favourites")
    if me.is_admin:
        return await relay(request, me, "GET", FAVOURITES, path, params=query(request, "userId"))
    mine = user_id_of(me)
    return await only_mine(request, me, FAVOURITES, path, lambda f: f.get("userId") == mine, userId=mine)


@router.get("/favourites/find")
async def find_favourite(request: Request, me: ApiUser, body: JsonObject) -> Response:
    own(me.is_admin or body_id(body, "userId") == me.user_id, "favourite")
    return await relay(request, me, "POST", FAVOURITES, P("/favourite-service/api/favourites/find"), json=body)


@router.post("/favourites/find")
async def find_favourite_by_post(request: Request, me: ApiUser, body: JsonObject) -> Response:
    return await find_favourite(request, me, body)


@router.get("/favourites/{userId}/{productId}/{likeDate}")
async def get_favourite(
    request: Request, me: ApiUser, user_id: UserId, product_id: ProductId, like_date: LikeDate
) -> Response:
    own(me.is_admin or user_id == me.user_id, "favourite")
    path = P("/favourite-service/api/favourites/{}/{}/{}", user_id, product_id, like_date)
    return await relay(request, me, "GET", FAVOURITES, path)


@router.post("/favourites", status_code=201)
async def create_favourite(request: Request, me: ApiUser, body: JsonObject) -> Response:
    if not me.is_admin:
        body["userId"] = me.user_id
    return await relay(request, me, "POST", FAVOURITES, P("/favourite-service/api/favourites"), json=body)


@router.put("/favourites")
async def replace_favourite(request: Request, me: ApiUser, body: JsonObject) -> Response:
    if not me.is_admin:
        body["userId"] = me.user_id
    return await relay(request, me, "PUT", FAVOURITES, P("/favourite-service/api/favourites"), json=body)


@router.delete("/favourites/delete")
async def delete_favourite_by_body(request: Request, me: ApiUser, body: JsonObject) -> Response:
    own(me.is_admin or body_id(body, "userId") == me.user_id, "favourite")
    return await relay(request, me, "DELETE", FAVOURITES, P("/favourite-service/api/favourites/delete"), json=body)


@router.delete("/favourites/{userId}/{productId}/{likeDate}")
async def delete_favourite(
    request: Request, me: ApiUser, user_id: UserId, product_id: ProductId, like_date: LikeDate
) -> Response:
    own(me.is_admin or user_id == me.user_id, "favourite")
    path = P("/favourite-service/api/favourites/{}/{}/{}", user_id, product_id, like_date)
    return await relay(request, me, "DELETE", FAVOURITES, path)


# --- carts ---------------------------------------------------------------------------------------------------


@router.get("/carts")
async def list_carts(request: Request, me: ApiUser) -> Response:
    if me.is_admin:
        return await relay(request, me, "GET", ORDERS, P("/order-service/api/carts"))
    return JSONResponse({"collection": await clients.carts_of(clients.Peers.of(request, me), user_id_of(me))})


@router.get("/carts/{cartId}")
async def get_cart(request: Request, me: ApiUser, cart_id: CartId) -> Response:
    cart = await fetch(request, me, ORDERS, P("/order-service/api/carts/{}", cart_id))
    own(me.is_admin or cart.get("userId") == me.user_id, "cart")
    return JSONResponse(cart)


@router.post("/carts", status_code=201)
async def create_cart(request: Request, me: ApiUser, body: JsonObject) -> Response:
    if not me.is_admin:
        body.pop("cartId", None)
        body["userId"] = me.user_id
    return await relay(request, me, "POST", ORDERS, P("/order-service/api/carts"), json=body)


@router.put("/carts")
async def replace_cart(request: Request, me: ApiUser, body: JsonObject) -> Response:
    if not me.is_admin:
        await _own_cart_body(request, me, body, body_id(body, "cartId"))
    return await relay(request, me, "PUT", ORDERS, P("/order-service/api/carts"), json=body)


@router.put("/carts/{cartId}")
async def update_cart(request: Request, me: ApiUser, cart_id: CartId, body: JsonObject) -> Response:
    if not me.is_admin:
        await _own_cart_body(request, me, body, cart_id)
    return await relay(request, me, "PUT", ORDERS, P("/order-service/api/carts/{}", cart_id), json=body)


@router.delete("/carts/{cartId}")
async def delete_cart(request: Request, me: ApiUser, cart_id: CartId) -> Response:
    if not me.is_admin:
        cart = await fetch(request, me, ORDERS, P("/order-service/api/carts/{}", cart_id))
        own(cart.get("userId") == me.user_id, "cart")
    return await relay(request, me, "DELETE", ORDERS, P("/order-service/api/carts/{}", cart_id))


async def _own_cart_body(request: Request, me: Principal, body: dict[str, Any], cart_id: int) -> None:
    cart = await fetch(request, me, ORDERS, P("/order-service/api/carts/{}", cart_id))
    own(cart.get("userId") == me.user_id, "cart")
    body.update(cartId=cart_id, userId=me.user_id)


# --- orders: read your own; only administrators change them (shoppers order through checkout) ----------------


@router.get("/orders")
async def list_orders(request: Request, me: ApiUser) -> Response:
    if me.is_admin:
        params = query(request, "ids", "cartId", "userId")
        return await relay(request, me, "GET", ORDERS, P("/order-service/api/orders"), params=params)
    peers = clients.Peers.of(request, me)
    return JSONResponse({"collection": await clients.list_orders(peers, user_id_of(me))})


@router.get("/orders/{orderId}")
async def get_order(request: Request, me: ApiUser, order_id: OrderId) -> Response:
    order = await fetch(request, me, ORDERS, P("/order-service/api/orders/{}", order_id))
    if not me.is_admin:
        owner = await clients.resolve_order_owner(clients.Peers.of(request, me), order)
        own(owner == me.user_id, "order")
    return JSONResponse(order)


@router.post("/orders", status_code=201)
async def create_order(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "POST", ORDERS, P("/order-service/api/orders"), json=body)


@router.put("/orders")
async def replace_order(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", ORDERS, P("/order-service/api/orders"), json=body)


@router.put("/orders/{orderId}")
async def update_order(request: Request, me: ApiAdmin, order_id: OrderId, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", ORDERS, P("/order-service/api/orders/{}", order_id), json=body)


@router.delete("/orders/{orderId}")
async def delete_order(request: Request, me: ApiAdmin, order_id: OrderId) -> Response:
    return await relay(request, me, "DELETE", ORDERS, P("/order-service/api/orders/{}", order_id))


async def _owns_order(request: Request, me: Principal, order_id: int | None) -> bool:
    """Whether the caller placed `order_id` (an administrator owns every order)."""
    return me.is_admin or await clients.placed_by(clients.Peers.of(request, me), order_id, user_id_of(me))


# --- payments: read your own, move your own on ---------------------------------------------------------------


@router.get("/payments")
async def list_payments(request: Request, me: ApiUser) -> Response:
    path = P("/payment-service/api/payments")
    if me.is_admin:
        return await relay(request, me, "GET", PAYMENTS, path, params=query(request, "orderId", "ids"))
    return JSONResponse({"collection": await clients.payments_of(clients.Peers.of(request, me), user_id_of(me))})


@router.get("/payments/{paymentId}")
async def get_payment(request: Request, me: ApiUser, payment_id: PaymentId) -> Response:
    payment = await fetch(request, me, PAYMENTS, P("/payment-service/api/payments/{}", payment_id))
    own(await _owns_order(request, me, clients.payment_order_id(payment)), "payment")
    return JSONResponse(payment)


@router.patch("/payments/{paymentId}")
async def move_payment(request: Request, me: ApiUser, payment_id: PaymentId, body: JsonBody) -> Response:
    # payment-service lets a shopper move only a payment of their own order (their token travels with the call).
    return await relay(request, me, "PATCH", PAYMENTS, P("/payment-service/api/payments/{}", payment_id), json=body)


@router.put("/payments")
async def replace_payment(request: Request, me: ApiUser, body: JsonObject) -> Response:
    if not me.is_admin:
        payment_id = body_id(body, "paymentId")
        payment = await fetch(request, me, PAYMENTS, P("/payment-service/api/payments/{}", payment_id))
        order_id = clients.payment_order_id(payment)
        own(await _owns_order(request, me, order_id), "payment")
        body.update(paymentId=payment_id, order={"orderId": order_id})
    return await relay(request, me, "PUT", PAYMENTS, P("/payment-service/api/payments"), json=body)


@router.post("/payments", status_code=201)
async def create_payment(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "POST", PAYMENTS, P("/payment-service/api/payments"), json=body)


@router.delete("/payments/{paymentId}")
async def delete_payment(request: Request, me: ApiAdmin, payment_id: PaymentId) -> Response:
    return await relay(request, me, "DELETE", PAYMENTS, P("/payment-service/api/payments/{}", payment_id))


# --- shippings: read your own orders' items and shipment; only administrators change them -------------------


@router.get("/shippings")
async def list_shipping_items(request: Request, me: ApiUser) -> Response:
    if me.is_admin:
        return await relay(request, me, "GET", SHIPPING, P("/shipping-service/api/shippings"))
    items = await clients.shipping_items_of(clients.Peers.of(request, me), user_id_of(me))
    return JSONResponse({"collection": items})


@router.get("/shippings/orders/{orderId}")
async def get_shipment(request: Request, me: ApiUser, order_id: OrderId) -> Response:
    _shipment_of(await _owns_order(request, me, order_id))
    return await relay(request, me, "GET", SHIPPING, P("/shipping-service/api/shippings/orders/{}", order_id))


@router.put("/shippings/orders/{orderId}/status")
async def advance_shipment(request: Request, me: ApiAdmin, order_id: OrderId, body: JsonBody) -> Response:
    path = P("/shipping-service/api/shippings/orders/{}/status", order_id)
    return await relay(request, me, "PUT", SHIPPING, path, json=body)


@router.get("/shippings/find")
async def find_shipping_item(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "POST", SHIPPING, P("/shipping-service/api/shippings/find"), json=body)


@router.post("/shippings/find")
async def find_shipping_item_by_post(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await find_shipping_item(request, me, body)


@router.delete("/shippings/delete")
async def delete_shipping_item_by_body(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "DELETE", SHIPPING, P("/shipping-service/api/shippings/delete"), json=body)


@router.get("/shippings/{orderId}/{productId}")
async def get_shipping_item(request: Request, me: ApiUser, order_id: OrderId, product_id: ProductId) -> Response:
    _shipment_of(await _owns_order(request, me, order_id))
    path = P("/shipping-service/api/shippings/{}/{}", order_id, product_id)
    return await relay(request, me, "GET", SHIPPING, path)


@router.post("/shippings", status_code=201)
async def create_shipping_item(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "POST", SHIPPING, P("/shipping-service/api/shippings"), json=body)


@router.put("/shippings")
async def replace_shipping_item(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", SHIPPING, P("/shipping-service/api/shippings"), json=body)


@router.delete("/shippings/{orderId}/{productId}")
async def delete_shipping_item(request: Request, me: ApiAdmin, order_id: OrderId, product_id: ProductId) -> Response:
    path = P("/shipping-service/api/shippings/{}/{}", order_id, product_id)
    return await relay(request, me, "DELETE", SHIPPING, path)


def _shipment_of(owned: bool) -> None:
    if not owned:
        raise Forbidden("You may only see and change your own shipment")
