"""order-service's calls to its peers: users (cart reads), products (prices, stock), payments."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import structlog

from ecommerce.chassis import BadRequest, Conflict, PeerClient, PeerError, PeerUnavailable, ServiceUnavailable

log = structlog.get_logger("ecommerce.orders.clients")

USERS = "user-service"
PRODUCTS = "product-service"
PAYMENTS = "payment-service"


def _ids(ids: set[int]) -> str:
    return ",".join(map(str, sorted(ids)))


def _msg(exc: PeerError) -> str:
    return str(exc.body.get("msg")) if isinstance(exc.body, dict) and exc.body.get("msg") else str(exc)


async def users_by_id(peers: PeerClient, user_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The users with these ids, in one call; empty (so embedded users are null) when user-service cannot say."""
    if not user_ids:
        return {}
    try:
        body = await peers.get_json(USERS, "/user-service/api/users", params={"ids": _ids(user_ids)})
    except PeerError as exc:
        log.warning("users_unavailable", status=exc.status, error=str(exc))
        return {}
    users = body.get("collection", []) if isinstance(body, dict) else []
    return {user["userId"]: user for user in users if isinstance(user, dict) and "userId" in user}


async def require_user(peers: PeerClient, user_id: int) -> None:
    """400 when user-service does not know the user, 503 when it cannot be asked (never a silent accept)."""
    try:
        await peers.get_json(USERS, f"/user-service/api/users/{user_id}")
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"{USERS} is unavailable; cannot check User with id: {user_id}") from exc
    except PeerError as exc:
        if exc.status == 404:
            raise BadRequest(f"User with id: {user_id} not found") from exc
        log.warning("existence_check_failed", peer=USERS, status=exc.status)
        raise ServiceUnavailable(f"{USERS} could not check User with id: {user_id} (status {exc.status})") from exc


async def prices(peers: PeerClient, product_ids: set[int]) -> dict[int, tuple[Decimal, str | None]]:
    """Each product's current unit price and title, in one call; 400 for an unknown product, 503 when
    product-service is out."""
    try:
        body = await peers.get_json(PRODUCTS, "/product-service/api/products", params={"ids": _ids(product_ids)})
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"Products cannot be priced now: {exc}") from exc
    except PeerError as exc:
        raise BadRequest(f"Products cannot be priced: {_msg(exc)}") from exc
    found = {p["productId"]: (Decimal(str(p["priceUnit"])), p.get("productTitle")) for p in body.get("collection", [])}
    missing = sorted(product_ids - set(found))
    if missing:
        raise BadRequest(f"Product with id: {missing[0]} not found")
    return found


class StockReleased(Conflict):
    """The order's reservation was released (its checkout undone): the order can never hold stock again."""


async def reserve_stock(peers: PeerClient, order_id: int, lines: dict[int, int]) -> None:
    """Reserve every line for the order or none: 409 when stock is short (StockReleased when the order's stock was
    released already), 503 when product-service is out."""
    body = {"orderId": order_id, "items": [{"productId": p, "quantity": q} for p, q in sorted(lines.items())]}
    try:
        await peers.post_json(PRODUCTS, "/product-service/api/reservations", json=body, idempotent=True)
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"Stock cannot be reserved now: {exc}") from exc
    except PeerError as exc:
        message = _msg(exc)
        if exc.status == 409 and "was released" in message:
            raise StockReleased(message) from exc
        raise Conflict(message) from exc


async def release_stock(peers: PeerClient, order_id: int) -> None:
    """Give the order's reserved stock back (idempotent); 503 when product-service is out."""
    try:
        await peers.post_json(
            PRODUCTS, f"/product-service/api/reservations/{order_id}/release", json={}, idempotent=True
        )
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"Stock of order {order_id} cannot be released now: {exc}") from exc


async def open_payment(peers: PeerClient, order_id: int) -> int:
    """The order's payment id, creating it NOT_STARTED unless it exists; 503 when payment-service is out."""
    path = "/payment-service/api/payments"
    try:
        try:
            payment = await peers.post_json(PAYMENTS, path, json={"order": {"orderId": order_id}})
            return int(payment["paymentId"])
        except PeerUnavailable:
            raise
        except PeerError as exc:
            if exc.status != 409:
                raise Conflict(f"The payment cannot be opened: {_msg(exc)}") from exc
        existing = await peers.get_json(PAYMENTS, path, params={"orderId": order_id})
        return int(existing["collection"][0]["paymentId"])
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"The payment cannot be opened now: {exc}") from exc


async def drop_payment(peers: PeerClient, order_id: int) -> None:
    """Remove the order's payment if one was opened (undoing a checkout); errors are logged, not raised."""
    try:
        found = await peers.get_json(PAYMENTS, "/payment-service/api/payments", params={"orderId": order_id})
        for payment in found.get("collection", []):
            await peers.request("DELETE", PAYMENTS, f"/payment-service/api/payments/{payment['paymentId']}")
    except PeerError as exc:
        log.warning("payment_not_dropped", order_id=order_id, error=str(exc))
