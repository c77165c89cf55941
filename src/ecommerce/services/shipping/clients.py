"""shipping-service's calls to product-service and order-service."""

from __future__ import annotations

from typing import Any

import structlog

from ecommerce.chassis import BadRequest, NotFound, PeerClient, PeerError, PeerUnavailable, ServiceUnavailable

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


async def require_order_lines(peers: PeerClient, order_id: int, product_ids: set[int]) -> None:
    """The order exists and holds every one of these products: 400 naming what is missing, 503 when order-service
    cannot be asked. Its lines were priced by product-service, and products with history are never deleted, so a
    product in the order is a product that exists; one left out is checked with product-service."""
    path = f"/order-service/api/orders/{order_id}"
    order = await _require(peers, "order-service", path, f"Order with id: {order_id}")
    in_order = {line.get("productId") for line in order.get("orderLines") or [] if isinstance(line, dict)}
    missing = sorted(product_ids - in_order)
    if missing:
        product = f"/product-service/api/products/{missing[0]}"
        await _require(peers, "product-service", product, f"Product with id: {missing[0]}")
        raise BadRequest(f"Product with id: {missing[0]} is not in Order with id: {order_id}")


async def _require(peers: PeerClient, peer: str, path: str, what: str) -> dict[str, Any]:
    try:
        data = await peers.get_json(peer, path)
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"{peer} is unavailable; cannot check {what}") from exc
    except PeerError as exc:
        if exc.status == 404:
            raise BadRequest(f"{what} not found") from exc
        log.warning("existence_check_failed", peer=peer, status=exc.status)
        raise ServiceUnavailable(f"{peer} could not check {what} (status {exc.status})") from exc
    if not isinstance(data, dict):
        raise ServiceUnavailable(f"{peer} sent an unexpected answer for {what}")
    return data


async def order_status(peers: PeerClient, order_id: int) -> str:
    """The order's status as order-service has it: 404 when it does not exist, 503 when it cannot be asked."""
    try:
        order = await peers.get_json("order-service", f"/order-service/api/orders/{order_id}")
    except PeerUnavailable as exc:
        raise ServiceUnavailable(f"order-service is unavailable; cannot check Order with id: {order_id}") from exc
    except PeerError as exc:
        if exc.status == 404:
            raise NotFound(f"Order with id: {order_id} not found") from exc
        raise ServiceUnavailable(f"order-service could not check Order with id: {order_id} ({exc.status})") from exc
    if not isinstance(order, dict) or not isinstance(order.get("orderStatus"), str):
        raise ServiceUnavailable(f"order-service sent an unexpected answer for Order with id: {order_id}")
    return str(order["orderStatus"])
