"""favourite-service's calls to user-service and product-service: batched reads, existence checks for writes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import structlog

from ecommerce.chassis import BadRequest, PeerClient, PeerError, PeerUnavailable, ServiceUnavailable
from ecommerce.services.favourites.schemas import ProductRef, UserRef

log = structlog.get_logger("ecommerce.favourites.clients")

USER_SERVICE = "user-service"
PRODUCT_SERVICE = "product-service"
BATCH = 500  # ids per lookup call; a list of fewer distinct ids takes one call per peer

_USER_FIELDS = tuple(UserRef.model_fields)
_PRODUCT_FIELDS = tuple(ProductRef.model_fields)


def user_ref(data: dict[str, Any]) -> UserRef:
    """Keep the six user fields of user-service's answer (it also sends the credential)."""
    values: dict[str, Any] = {field: data.get(UserRef.model_fields[field].alias or field) for field in _USER_FIELDS}
    return UserRef.model_construct(**values)


def product_ref(data: dict[str, Any]) -> ProductRef:
    """Keep the original's six product fields of product-service's answer (it also sends the category)."""
    values: dict[str, Any] = {
        field: data.get(ProductRef.model_fields[field].alias or field) for field in _PRODUCT_FIELDS
    }
    return ProductRef.model_construct(**values)


async def users_by_id(peers: PeerClient, ids: Iterable[int]) -> dict[int, UserRef]:
    """The users with these ids, in batches; missing ones are left out, and none at all when the peer fails."""
    rows = await _batched(peers, USER_SERVICE, "/user-service/api/users", ids)
    return {row["userId"]: user_ref(row) for row in rows}


async def products_by_id(peers: PeerClient, ids: Iterable[int]) -> dict[int, ProductRef]:
    """The products with these ids, in batches; missing ones are left out, and none at all when the peer fails."""
    rows = await _batched(peers, PRODUCT_SERVICE, "/product-service/api/products", ids)
    return {row["productId"]: product_ref(row) for row in rows}


async def _batched(peers: PeerClient, peer: str, path: str, ids: Iterable[int]) -> list[dict[str, Any]]:
    unique = sorted(set(ids))
    if not unique:
        return []
    chunks = [unique[i : i + BATCH] for i in range(0, len(unique), BATCH)]
    try:
        answers = await asyncio.gather(
            *(peers.get_json(peer, path, params={"ids": ",".join(map(str, chunk))}) for chunk in chunks)
        )
    except PeerError as exc:
        # Degrade, never fail the read: the favourites still answer with the embedded object null.
        log.warning("embed_unavailable", peer=peer, status=exc.status, error=str(exc), ids=len(unique))
        return []
    rows: list[dict[str, Any]] = []
    for answer in answers:
        collection = answer.get("collection") if isinstance(answer, dict) else None
        if not isinstance(collection, list):
            log.warning("embed_unexpected_answer", peer=peer)
            return []
        rows.extend(row for row in collection if isinstance(row, dict))
    return rows


async def require_user(peers: PeerClient, user_id: int) -> UserRef:
    """The user, or 400 when user-service does not know it, or 503 when it cannot answer."""
    return user_ref(
        await _require(peers, USER_SERVICE, f"/user-service/api/users/{user_id}", f"User with id: {user_id}")
    )


async def require_product(peers: PeerClient, product_id: int) -> ProductRef:
    """The product, or 400 when product-service does not know it, or 503 when it cannot answer."""
    path = f"/product-service/api/products/{product_id}"
    return product_ref(await _require(peers, PRODUCT_SERVICE, path, f"Product with id: {product_id}"))


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
