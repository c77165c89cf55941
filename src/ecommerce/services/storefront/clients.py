"""Calls to the shop's services through the chassis PeerClient, with the caller's token passed on.

Every path the storefront uses lives here, so a change in a peer's API is one edit. Paths are built in one place,
`peer_path`: a fixed template whose holes take only validated ids or plain keys, never a client's path, a dot
segment, a separator or a percent sign; `Peers.call` refuses any other string.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, NamedTuple

from fastapi import Request

from ecommerce.chassis import PeerAnswer, PeerClient, PeerUnavailable, Principal, ServiceError, ServiceUnavailable

USERS = "user-service"
PRODUCTS = "product-service"
FAVOURITES = "favourite-service"
ORDERS = "order-service"
PAYMENTS = "payment-service"
SHIPPING = "shipping-service"
# order-service's mark on the answer of a checkout it had already placed under the same Idempotency-Key.
REPLAYED_HEADER = "Idempotent-Replayed"


MAX_ID = 2_147_483_647
# A key that may fill a hole besides an id: a username or a like date. It starts with a letter or digit, so it is
# never `.` or `..`, and holds no `/`, `\\`, `%`, `?` or `#`.
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_TEMPLATE = re.compile(r"^/[a-z-]+-service/api(/([A-Za-z]+|\{\}))*$")


class PeerPath(str):
    """A path to a peer that `peer_path` built (the only kind `Peers.call` accepts)."""

    __slots__ = ()


class UnsafeSegment(ValueError):
    """A value that is neither an id nor a plain key was about to become part of a peer's URL."""


def peer_path(template: str, *values: int | str) -> PeerPath:
    """`template` (a literal such as "/order-service/api/orders/{}") with each `{}` filled by an id in 1..2^31-1
    or a plain key; UnsafeSegment for anything else, so no client input can change which URL is called."""
    if not _TEMPLATE.match(template) or template.count("{}") != len(values):
        raise UnsafeSegment(f"not a peer path template: {template!r}")
    segments = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise UnsafeSegment(f"not an id or key: {value!r}")
        if isinstance(value, int):
            if not 1 <= value <= MAX_ID:
                raise UnsafeSegment(f"id out of range: {value}")
        elif not _KEY.match(value) or value in (".", ".."):
            raise UnsafeSegment(f"not a plain key: {value!r}")
        segments.append(str(value))
    return PeerPath(template.format(*segments))


class Peers:
    """The storefront's view of its peers for one request (carries the caller's token)."""

    def __init__(self, client: PeerClient, principal: Principal | None = None, token: str | None = None) -> None:
        self.client = client
        self.principal = principal
        self.token = token if principal is not None else None

    @classmethod
    def of(cls, request: Request, principal: Principal | None = None) -> Peers:
        return cls(request.app.state.peers, principal, getattr(request.state, "user_token", None))

    async def call(
        self,
        method: str,
        peer: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> tuple[int, Any]:
        """(status, body) of a call; ServiceUnavailable when the peer cannot answer."""
        answer = await self.exchange(
            method, peer, path, params=params, json=json, headers=headers, idempotent=idempotent
        )
        return answer.status, answer.body

    async def exchange(
        self,
        method: str,
        peer: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> PeerAnswer:
        """`call`, with the answer's headers; ServiceUnavailable when the peer cannot answer."""
        if not isinstance(path, PeerPath):
            raise UnsafeSegment(f"peer paths are built by peer_path, not {path!r}")
        sent = dict(headers or {})
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        try:
            return await self.client.exchange(
                method, peer, path, params=params, json=json, headers=sent, idempotent=idempotent
            )
        except PeerUnavailable as exc:
            raise ServiceUnavailable(f"{peer} is unavailable right now, please try again shortly") from exc

    async def fetch(self, method: str, peer: str, path: str, **kwargs: Any) -> Any:
        """The body of a successful call; the peer's own error (status and message) otherwise."""
        status, body = await self.call(method, peer, path, **kwargs)
        if status >= 400:
            raise peer_error(peer, status, body)
        return body


def peer_error(peer: str, status: int, body: Any) -> ServiceError:
    """The one error body, carrying the peer's status and message (never its body as a string)."""
    msg = body.get("msg") if isinstance(body, dict) else None
    return ServiceError(str(msg) if msg else f"{peer} answered {status}", status=status)


def collection(body: Any) -> list[dict[str, Any]]:
    """The rows of a `{"collection": [...]}` answer (or a bare list)."""
    if isinstance(body, dict):
        body = body.get("collection", [])
    return [row for row in body or [] if isinstance(row, dict)]


# --- users ------------------------------------------------------------------------------------------------


async def verify_credentials(peers: Peers, username: str, password: str) -> dict[str, Any] | None:
    """The user's id, name and role when the password is right, None when not."""
    status, body = await peers.call(
        "POST",
        USERS,
        peer_path("/user-service/api/credentials/verify"),
        json={"username": username, "password": password},
        idempotent=True,
    )
    if status in (400, 401, 403, 404):
        return None
    if status >= 400 or not isinstance(body, dict):
        raise peer_error(USERS, status, body)
    return body


async def register_user(peers: Peers, user: dict[str, Any]) -> dict[str, Any]:
    """Create a user with its credential."""
    result: dict[str, Any] = await peers.fetch("POST", USERS, peer_path("/user-service/api/users"), json=user)
    return result


async def sign_up(peers: Peers, user: dict[str, Any]) -> tuple[int, Any]:
    """Create a user with its credential, as the caller (an administrator) or as the storefront (a new shopper):
    user-service's answer as it came, for the API to relay."""
    return await peers.call("POST", USERS, peer_path("/user-service/api/users"), json=user)


async def get_user(peers: Peers, user_id: int) -> dict[str, Any]:
    """One user."""
    result: dict[str, Any] = await peers.fetch("GET", USERS, peer_path("/user-service/api/users/{}", user_id))
    return result


def address_owner(address: dict[str, Any]) -> int | None:
    """The user an address belongs to."""
    user = address.get("user") or {}
    owner = address.get("userId", user.get("userId") if isinstance(user, dict) else None)
    return owner if isinstance(owner, int) else None


async def list_addresses(peers: Peers, user_id: int) -> list[dict[str, Any]]:
    """The user's addresses."""
    body = await peers.fetch("GET", USERS, peer_path("/user-service/api/address"), params={"userId": user_id})
    return [a for a in collection(body) if address_owner(a) == user_id]


async def create_address(peers: Peers, user_id: int, fields: dict[str, str]) -> dict[str, Any]:
    """Add an address to the user."""
    result: dict[str, Any] = await peers.fetch(
        "POST", USERS, peer_path("/user-service/api/address"), json={**fields, "user": {"userId": user_id}}
    )
    return result


async def delete_address(peers: Peers, address_id: int) -> None:
    """Remove an address."""
    await peers.fetch("DELETE", USERS, peer_path("/user-service/api/address/{}", address_id))


# --- catalog ----------------------------------------------------------------------------------------------


async def list_products(peers: Peers, **params: Any) -> list[dict[str, Any]]:
    """Products filtered, sorted and paged by product-service."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    return collection(await peers.fetch("GET", PRODUCTS, peer_path("/product-service/api/products"), params=query))


async def products_by_ids(peers: Peers, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Products by id, in one call."""
    if not ids:
        return {}
    rows = await list_products(peers, ids=",".join(str(i) for i in sorted(set(ids))))
    return {row["productId"]: row for row in rows}


async def get_product(peers: Peers, product_id: int) -> dict[str, Any]:
    """One product."""
    result: dict[str, Any] = await peers.fetch(
        "GET", PRODUCTS, peer_path("/product-service/api/products/{}", product_id)
    )
    return result


async def list_categories(peers: Peers) -> list[dict[str, Any]]:
    """Every category."""
    return collection(await peers.fetch("GET", PRODUCTS, peer_path("/product-service/api/categories")))


async def save_product(peers: Peers, product: dict[str, Any], product_id: int | None = None) -> dict[str, Any]:
    """Create (no id) or replace a product."""
    if product_id is None:
        result: dict[str, Any] = await peers.fetch(
            "POST", PRODUCTS, peer_path("/product-service/api/products"), json=product
        )
    else:
        result = await peers.fetch(
            "PUT", PRODUCTS, peer_path("/product-service/api/products/{}", product_id), json=product
        )
    return result


async def delete_product(peers: Peers, product_id: int) -> None:
    """Remove a product."""
    await peers.fetch("DELETE", PRODUCTS, peer_path("/product-service/api/products/{}", product_id))


async def save_category(peers: Peers, category: dict[str, Any], category_id: int | None = None) -> dict[str, Any]:
    """Create (no id) or replace a category."""
    if category_id is None:
        result: dict[str, Any] = await peers.fetch(
            "POST", PRODUCTS, peer_path("/product-service/api/categories"), json=category
        )
    else:
        result = await peers.fetch(
            "PUT", PRODUCTS, peer_path("/product-service/api/categories/{}", category_id), json=category
        )
    return result


async def delete_category(peers: Peers, category_id: int) -> None:
    """Remove an empty category."""
    await peers.fetch("DELETE", PRODUCTS, peer_path("/product-service/api/categories/{}", category_id))


# --- favourites -------------------------------------------------------------------------------------------


async def list_favourites(peers: Peers, user_id: int) -> list[dict[str, Any]]:
    """The user's liked products."""
    body = await peers.fetch(
        "GET", FAVOURITES, peer_path("/favourite-service/api/favourites"), params={"userId": user_id}
    )
    return [f for f in collection(body) if f.get("userId") == user_id]


async def like(peers: Peers, user_id: int, product_id: int) -> None:
    """Like a product (liking twice is harmless)."""
    await peers.fetch(
        "POST",
        FAVOURITES,
        peer_path("/favourite-service/api/favourites"),
        json={"userId": user_id, "productId": product_id},
    )


async def unlike(peers: Peers, favourite: dict[str, Any]) -> None:
    """Remove a like."""
    path = peer_path(
        "/favourite-service/api/favourites/{}/{}/{}", favourite["userId"], favourite["productId"], favourite["likeDate"]
    )
    await peers.fetch("DELETE", FAVOURITES, path)


# --- orders, payments, shipping -----------------------------------------------------------------------------


class Placed(NamedTuple):
    """order-service's checkout answer, and whether it replays an earlier checkout with the same key."""

    order: dict[str, Any]
    replayed: bool


async def checkout(peers: Peers, user_id: int, items: list[dict[str, int]], idempotency_key: str) -> Placed:
    """Place an order for the user: price, reserve stock, create the order and its payment."""
    answer = await peers.exchange(
        "POST",
        ORDERS,
        peer_path("/order-service/api/orders/checkout"),
        json={"userId": user_id, "items": items},
        headers={"Idempotency-Key": idempotency_key},
        idempotent=True,
    )
    if answer.status >= 400 or not isinstance(answer.body, dict):
        raise peer_error(ORDERS, answer.status, answer.body)
    return Placed(answer.body, answer.headers.get(REPLAYED_HEADER, "").lower() == "true")


def order_owner(order: dict[str, Any]) -> int | None:
    """The user an order belongs to, when the order says so."""
    cart = order.get("cart") or {}
    owner = order.get("userId", cart.get("userId") if isinstance(cart, dict) else None)
    return owner if isinstance(owner, int) else None


async def resolve_order_owner(peers: Peers, order: dict[str, Any]) -> int | None:
    """The owner of an order, asking order-service for its cart when the order does not carry the user."""
    owner = order_owner(order)
    cart = order.get("cart")
    if owner is None and isinstance(cart, dict) and isinstance(cart.get("cartId"), int):
        found = await peers.fetch("GET", ORDERS, peer_path("/order-service/api/carts/{}", cart["cartId"]))
        owner = found.get("userId") if isinstance(found, dict) else None
    return owner if isinstance(owner, int) else None


async def list_orders(peers: Peers, user_id: int | None = None) -> list[dict[str, Any]]:
    """Orders, newest first: one user's (order-service filters by their carts), or every order."""
    params = {"userId": str(user_id)} if user_id is not None else None
    rows = collection(await peers.fetch("GET", ORDERS, peer_path("/order-service/api/orders"), params=params))
    return sorted(rows, key=lambda o: o.get("orderId") or 0, reverse=True)


async def carts_of(peers: Peers, user_id: int) -> list[dict[str, Any]]:
    """One shopper's carts: order-service lists every cart to administrators only, so those their orders are in."""
    cart_ids = sorted({order["cart"]["cartId"] for order in await list_orders(peers, user_id) if _has_cart(order)})
    carts = await asyncio.gather(
        *(peers.fetch("GET", ORDERS, peer_path("/order-service/api/carts/{}", cart_id)) for cart_id in cart_ids)
    )
    return [cart for cart in carts if isinstance(cart, dict) and cart.get("userId") == user_id]


def _has_cart(order: dict[str, Any]) -> bool:
    cart = order.get("cart")
    return isinstance(cart, dict) and isinstance(cart.get("cartId"), int)


async def order_ids_of(peers: Peers, user_id: int) -> set[int]:
    """The ids of the orders one shopper placed."""
    return {order["orderId"] for order in await list_orders(peers, user_id) if "orderId" in order}


async def placed_by(peers: Peers, order_id: int | None, user_id: int) -> bool:
    """Whether `user_id` placed `order_id` (False for an order that does not exist): one order looked up."""
    if order_id is None:
        return False
    try:
        order = await get_order(peers, order_id)
    except ServiceError as exc:
        if exc.status == 404:
            return False
        raise
    return await resolve_order_owner(peers, order) == user_id


async def get_order(peers: Peers, order_id: int) -> dict[str, Any]:
    """One order."""
    result: dict[str, Any] = await peers.fetch("GET", ORDERS, peer_path("/order-service/api/orders/{}", order_id))
    return result


def payment_order_id(payment: dict[str, Any]) -> int | None:
    """The order a payment pays."""
    order = payment.get("order") or {}
    order_id = payment.get("orderId", order.get("orderId") if isinstance(order, dict) else None)
    return order_id if isinstance(order_id, int) else None


async def payments_for(peers: Peers, order_ids: set[int] | None) -> dict[int, dict[str, Any]]:
    """Payments by order id (all of them when order_ids is None)."""
    params = {"orderId": next(iter(order_ids))} if order_ids is not None and len(order_ids) == 1 else None
    rows = collection(await peers.fetch("GET", PAYMENTS, peer_path("/payment-service/api/payments"), params=params))
    found: dict[int, dict[str, Any]] = {}
    for payment in rows:
        order_id = payment_order_id(payment)
        if order_id is not None and (order_ids is None or order_id in order_ids):
            found[order_id] = payment
    return found


async def payments_of(peers: Peers, user_id: int) -> list[dict[str, Any]]:
    """One shopper's payments: payment-service lists them one order at a time (?orderId= of their own order)."""
    mine = sorted(await order_ids_of(peers, user_id))
    path = peer_path("/payment-service/api/payments")
    found = await asyncio.gather(*(peers.fetch("GET", PAYMENTS, path, params={"orderId": i}) for i in mine))
    return [payment for body in found for payment in collection(body) if payment_order_id(payment) in set(mine)]


async def get_payment(peers: Peers, payment_id: int) -> dict[str, Any]:
    """One payment."""
    result: dict[str, Any] = await peers.fetch(
        "GET", PAYMENTS, peer_path("/payment-service/api/payments/{}", payment_id)
    )
    return result


async def advance_payment(peers: Peers, payment: dict[str, Any], status: str) -> dict[str, Any]:
    """Move a payment to `status` (payment-service refuses illegal transitions with 409)."""
    result: dict[str, Any] = await peers.fetch(
        "PATCH",
        PAYMENTS,
        peer_path("/payment-service/api/payments/{}", payment["paymentId"]),
        json={"paymentStatus": status},
    )
    return result


async def shipments_for(peers: Peers, order_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Each order's shipment (status and items); orders without one are left out."""
    found: dict[int, dict[str, Any]] = {}
    results = await asyncio.gather(
        *(
            peers.call("GET", SHIPPING, peer_path("/shipping-service/api/shippings/orders/{}", i))
            for i in sorted(order_ids)
        )
    )
    for order_id, (status, body) in zip(sorted(order_ids), results, strict=True):
        if status < 400 and isinstance(body, dict):
            found[order_id] = body
    return found


async def shipping_items_of(peers: Peers, user_id: int) -> list[dict[str, Any]]:
    """One shopper's shipping items: shipping-service lists every item to administrators only, so those of the
    shipments of their orders, by order."""
    shipments = await shipments_for(peers, await order_ids_of(peers, user_id))
    return [item for order_id, shipment in sorted(shipments.items()) for item in _items(shipment, order_id)]


def _items(shipment: dict[str, Any], order_id: int) -> list[dict[str, Any]]:
    rows = shipment.get("items")
    return [{**row, "orderId": row.get("orderId", order_id)} for row in rows or [] if isinstance(row, dict)]


SHIPPING_STEPS = ("PENDING", "SHIPPED", "DELIVERED")


async def advance_shipping(peers: Peers, order_id: int, current: str) -> None:
    """Move an order's shipment one step on (PENDING -> SHIPPED -> DELIVERED)."""
    index = SHIPPING_STEPS.index(current) if current in SHIPPING_STEPS else 0
    if index + 1 >= len(SHIPPING_STEPS):
        return
    await peers.fetch(
        "PUT",
        SHIPPING,
        peer_path("/shipping-service/api/shippings/orders/{}/status", order_id),
        json={"shippingStatus": SHIPPING_STEPS[index + 1]},
    )
