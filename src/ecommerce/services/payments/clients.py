"""payment-service's calls to order-service."""

from __future__ import annotations

from typing import Any

import structlog

from ecommerce.chassis import BadRequest, Conflict, PeerClient, PeerError, PeerUnavailable, ServiceUnavailable

log = structlog.get_logger("ecommerce.payments.clients")

ORDERS = "order-service"
_ORDER_FIELDS = ("orderId", "orderDate", "orderDesc", "orderFee", "orderStatus")


async def orders_by_id(peers: PeerClient, order_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The orders with these ids in one call, in the original's embedded shape; empty when order-service is down."""
    if not order_ids:
        return {}
    try:
        body = await peers.get_json(
            ORDERS, "/order-service/api/orders", params={"ids": ",".join(map(str, sorted(order_ids)))}
        )
    except PeerError as exc:
        log.warning("orders_unavailable", status=exc.status, error=str(exc))
        return {}
    return {
        order["orderId"]: embedded(order)
        for order in body.get("collection", [])
        if isinstance(order, dict) and "orderId" in order
    }


def embedded(order: dict[str, Any]) -> dict[str, Any]:
    """An order as a payment embeds it (the original's shape)."""
    return {key: order.get(key) for key in _ORDER_FIELDS}


async def require_order(peers: PeerClient, order_id: int) -> dict[str, Any]:
    """The order as order-service has it: 400 when it does not exist, 503 when order-service cannot be asked."""
    try:
        order = await peers.get_json(ORDERS, f"/order-service/api/orders/{order_id}")
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"{ORDERS} is unavailable; cannot check Order with id: {order_id}") from exc
    except PeerError as exc:
        if exc.status == 404:
            raise BadRequest(f"Order with id: {order_id} not found") from exc
        log.warning("existence_check_failed", peer=ORDERS, status=exc.status)
        raise ServiceUnavailable(f"{ORDERS} could not check Order with id: {order_id} (status {exc.status})") from exc
    if not isinstance(order, dict) or "orderStatus" not in order:
        raise ServiceUnavailable(f"{ORDERS} sent an unexpected answer for Order with id: {order_id}")
    return order


async def tell_order(peers: PeerClient, order_id: int, event: str) -> None:
    """Move the order along (`paid` or `cancel`); 409 when the order refuses, 503 when it cannot be told."""
    try:
        await peers.post_json(ORDERS, f"/order-service/api/orders/{order_id}/{event}", json={}, idempotent=True)
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"order-service cannot be told that order {order_id} is {event}: {exc}") from exc
    except PeerError as exc:
        detail = exc.body.get("msg") if isinstance(exc.body, dict) else None
        raise Conflict(f"Order {order_id} refused '{event}': {detail or exc}") from exc
