"""favourite-service HTTP routes: the original's paths (with the GET-with-body ones kept), thin over `service`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from ecommerce.chassis import BadRequest, Collection, DbSession
from ecommerce.chassis.http import PeerClient
from ecommerce.chassis.wire import DATETIME_FORMAT
from ecommerce.services.favourites import clients
from ecommerce.services.favourites import service as favourite_service
from ecommerce.services.favourites.dependencies import OwnerFilter, OwnUserId, ShopperAccess, check_owner
from ecommerce.services.favourites.schemas import FavouriteIn, FavouriteOut, ProductRef, UserRef

router = APIRouter(prefix="/api")

MAX_ID = 2_147_483_647
ProductId = Annotated[int, Path(alias="productId", ge=1, le=MAX_ID)]
LikeDate = Annotated[str, Path(alias="likeDate", max_length=64, description="dd-MM-yyyy__HH:mm:ss:SSSSSS")]


def _peers(request: Request) -> PeerClient:
    return request.app.state.peers  # type: ignore[no-any-return]


def _check_like_date(raw: str) -> None:
    # The key is user and product; a well-formed like date is accepted whatever its value (see api-changes.md).
    try:
        datetime.strptime(raw, DATETIME_FORMAT)
    except ValueError:
        raise BadRequest(
            "Invalid value for 'likeDate': must be a date-time formatted dd-MM-yyyy__HH:mm:ss:SSSSSS"
        ) from None


def _out(row: Any, user: UserRef | None, product: ProductRef | None) -> FavouriteOut:
    return FavouriteOut.model_construct(
        user_id=row.user_id, product_id=row.product_id, like_date=row.like_date, user=user, product=product
    )


async def _embedded(request: Request, rows: Sequence[Any]) -> list[FavouriteOut]:
    """Each favourite with its user and product, fetched in one batched call per peer (null when unavailable)."""
    peers = _peers(request)
    users, products = await asyncio.gather(
        clients.users_by_id(peers, (row.user_id for row in rows)),
        clients.products_by_id(peers, (row.product_id for row in rows)),
    )
    return [_out(row, users.get(row.user_id), products.get(row.product_id)) for row in rows]


async def _one(request: Request, session: DbSession, user_id: int, product_id: int) -> FavouriteOut:
    row = await favourite_service.get_favourite(session, user_id=user_id, product_id=product_id)
    await session.close()  # give the connection back before waiting on peers
    return (await _embedded(request, [row]))[0]


async def _save(request: Request, session: DbSession, body: FavouriteIn, response: Response, *, put: bool) -> Any:
    # Check the peers before touching the database, so no connection is held while waiting on them.
    peers = _peers(request)
    user, product = await asyncio.gather(
        clients.require_user(peers, body.user_id), clients.require_product(peers, body.product_id)
    )
    row, created = await favourite_service.save_favourite(
        session, user_id=body.user_id, product_id=body.product_id, like_date=body.like_date, overwrite_date=put
    )
    response.status_code = 201 if created else 200
    return _out(row, user, product)


@router.get("/favourites", tags=["favourites"])
async def list_favourites(
    request: Request,
    session: DbSession,
    user_id: OwnerFilter,
) -> Collection[FavouriteOut]:
    rows = await favourite_service.list_favourites(session, user_id=user_id)
    await session.close()  # give the connection back before waiting on peers
    return Collection[FavouriteOut](collection=await _embedded(request, rows))


@router.get("/favourites/find", tags=["favourites"])
async def find_favourite(
    request: Request, session: DbSession, body: FavouriteIn, access: ShopperAccess
) -> FavouriteOut:
    """The original's GET with a JSON body `{"userId","productId","likeDate"}`."""
    check_owner(access, body.user_id)
    return await _one(request, session, body.user_id, body.product_id)


@router.post("/favourites/find", tags=["favourites"])
async def find_favourite_post(
    request: Request, session: DbSession, body: FavouriteIn, access: ShopperAccess
) -> FavouriteOut:
    """The same lookup as `GET /find`, for clients and proxies that cannot send a body with GET."""
    check_owner(access, body.user_id)
    return await _one(request, session, body.user_id, body.product_id)


@router.get("/favourites/{userId}/{productId}/{likeDate}", tags=["favourites"])
async def get_favourite_dated(
    request: Request, session: DbSession, user_id: OwnUserId, product_id: ProductId, like_date: LikeDate
) -> FavouriteOut:
    _check_like_date(like_date)
    return await _one(request, session, user_id, product_id)


@router.get("/favourites/{userId}/{productId}", tags=["favourites"])
async def get_favourite(
    request: Request, session: DbSession, user_id: OwnUserId, product_id: ProductId
) -> FavouriteOut:
    return await _one(request, session, user_id, product_id)


@router.post("/favourites", status_code=201, tags=["favourites"])
async def create_favourite(
    request: Request, session: DbSession, body: FavouriteIn, response: Response, access: ShopperAccess
) -> FavouriteOut:
    """Like a product: 201 when new, 200 with the existing favourite (its date unchanged) when liked already."""
    check_owner(access, body.user_id)
    return await _save(request, session, body, response, put=False)  # type: ignore[no-any-return]


@router.put("/favourites", tags=["favourites"])
async def put_favourite(
    request: Request, session: DbSession, body: FavouriteIn, response: Response, access: ShopperAccess
) -> FavouriteOut:
    """Upsert: 201 when new, 200 when it existed (a given `likeDate` replaces the stored one)."""
    check_owner(access, body.user_id)
    return await _save(request, session, body, response, put=True)  # type: ignore[no-any-return]


@router.delete("/favourites/delete", tags=["favourites"])
async def delete_favourite_by_body(session: DbSession, body: FavouriteIn, access: ShopperAccess) -> bool:
    """The original's DELETE with a JSON body `{"userId","productId","likeDate"}`."""
    check_owner(access, body.user_id)
    await favourite_service.delete_favourite(session, user_id=body.user_id, product_id=body.product_id)
    return True


@router.delete("/favourites/{userId}/{productId}/{likeDate}", tags=["favourites"])
async def delete_favourite_dated(
    session: DbSession, user_id: OwnUserId, product_id: ProductId, like_date: LikeDate
) -> bool:
    _check_like_date(like_date)
    await favourite_service.delete_favourite(session, user_id=user_id, product_id=product_id)
    return True


@router.delete("/favourites/{userId}/{productId}", tags=["favourites"])
async def delete_favourite(session: DbSession, user_id: OwnUserId, product_id: ProductId) -> bool:
    await favourite_service.delete_favourite(session, user_id=user_id, product_id=product_id)
    return True
