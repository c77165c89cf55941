"""shipping-service's calls to product-service and order-service."""

from __future__ import annotations

from typing import Any

import structlog

from ecommerce.chassis import Conflict, ServiceUnavailable
from ecommerce.chassis.http import PeerClient, PeerError, PeerUnavailable

log = structlog.get_logger("ecommerce.shipping.clients")

_PRODUCT_FIELDS = ("productId", "productTitle", "imageUrl", "sku", "priceUnit", "quantity")
_ORDER_FIELDS = ("orderId", "orderDate", "orderDesc", "orderFee", "orderStatus")


async def _batch(peers: PeerClient, peer: str, path: str, ids: set[int], key: str, fields: tuple[str, ...]) -> Any:
    if not ids:
        return {}
    try:
        body = await peers.get_json(peer, path, params={"ids": ",".join(map(str, sorted(ids)))})
    except PeerError as exc:
        log.warning("embed_unavailable", peer=peer, status=exc.status, error=str(exc))
        return {}
    rows = body.get("collection", []) if isinstance(body, dict) else []
    return {row[key]: {f: row.get(f) for f in fields} for row in rows if isinstance(row, dict) and key in row}


async def products_by_id(peers: PeerClient, ids: set[int]) -> dict[int, dict[str, Any]]:
    """Products in one call, in the original's embedded shape; empty when product-service cannot say."""
    return await _batch(peers, "product-service", "/product-service/api/products", ids, "productId", _PRODUCT_FIELDS)


async def orders_by_id(peers: PeerClient, ids: set[int]) -> dict[int, dict[str, Any]]:
    """Orders in one call, in the original's embedded shape; empty when order-service cannot say."""
    return await _batch(peers, "order-service", "/order-service/api/orders", ids, "orderId", _ORDER_FIELDS)


async def tell_order(peers: PeerClient, order_id: int, event: str) -> None:
    """Move the order along (`shipped`, `delivered`); 409 when it refuses, 503 when it cannot be told."""
    try:
        await peers.post_json(
            "order-service", f"/order-service/api/orders/{order_id}/{event}", json={}, idempotent=True
        )
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"order-service cannot be told that order {order_id} is {event}: {exc}") from exc
    except PeerError as exc:
        detail = exc.body.get("msg") if isinstance(exc.body, dict) else None
        raise Conflict(f"Order {order_id} refused '{event}': {detail or exc}") from exc
