"""favourite-service HTTP routes: the original's paths (with the GET-with-body ones kept), thin over `service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from ecommerce.chassis import Collection, DbSession, PeerCalls
from ecommerce.services.favourites import service as favourite_service
from ecommerce.services.favourites.dependencies import OwnerFilter, OwnUserId, ShopperAccess, check_owner
from ecommerce.services.favourites.schemas import FavouriteIn, FavouriteOut

router = APIRouter(prefix="/api")

MAX_ID = 2_147_483_647
ProductId = Annotated[int, Path(alias="productId", ge=1, le=MAX_ID)]
LikeDate = Annotated[str, Path(alias="likeDate", max_length=64, description="dd-MM-yyyy__HH:mm:ss:SSSSSS")]


@router.get("/favourites", tags=["favourites"])
async def list_favourites(
    session: DbSession,
    user_id: OwnerFilter,
    peers: PeerCalls,
) -> Collection[FavouriteOut]:
    favourites = await favourite_service.list_with_details(session, peers, user_id=user_id)
    return Collection[FavouriteOut](collection=favourites)


@router.get("/favourites/find", tags=["favourites"])
async def find_favourite(
    session: DbSession, peers: PeerCalls, body: FavouriteIn, access: ShopperAccess
) -> FavouriteOut:
    """The original's GET with a JSON body `{"userId","productId","likeDate"}`."""
    check_owner(access, body.user_id)
    return await favourite_service.get_with_details(session, peers, user_id=body.user_id, product_id=body.product_id)


@router.post("/favourites/find", tags=["favourites"])
async def find_favourite_post(
    session: DbSession, peers: PeerCalls, body: FavouriteIn, access: ShopperAccess
) -> FavouriteOut:
    """The same lookup as `GET /find`, for clients and proxies that cannot send a body with GET."""
    check_owner(access, body.user_id)
    return await favourite_service.get_with_details(session, peers, user_id=body.user_id, product_id=body.product_id)


@router.get("/favourites/{userId}/{productId}/{likeDate}", tags=["favourites"])
async def get_favourite_dated(
    session: DbSession, peers: PeerCalls, user_id: OwnUserId, product_id: ProductId, like_date: LikeDate
) -> FavouriteOut:
    return await favourite_service.get_with_details(
        session, peers, user_id=user_id, product_id=product_id, like_date=like_date
    )


@router.get("/favourites/{userId}/{productId}", tags=["favourites"])
async def get_favourite(
    session: DbSession, peers: PeerCalls, user_id: OwnUserId, product_id: ProductId
) -> FavouriteOut:
    return await favourite_service.get_with_details(session, peers, user_id=user_id, product_id=product_id)


@router.post("/favourites", status_code=201, tags=["favourites"])
async def create_favourite(
    session: DbSession, peers: PeerCalls, body: FavouriteIn, response: Response, access: ShopperAccess
) -> FavouriteOut:
    """Like a product: 201 when new, 200 with the existing favourite (its date unchanged) when liked already."""
    check_owner(access, body.user_id)
    favourite, created = await favourite_service.save_with_details(session, peers, data=body, overwrite_date=False)
    response.status_code = 201 if created else 200
    return favourite


@router.put("/favourites", tags=["favourites"])
async def put_favourite(
    session: DbSession, peers: PeerCalls, body: FavouriteIn, response: Response, access: ShopperAccess
) -> FavouriteOut:
    """Upsert: 201 when new, 200 when it existed (a given `likeDate` replaces the stored one)."""
    check_owner(access, body.user_id)
    favourite, created = await favourite_service.save_with_details(session, peers, data=body, overwrite_date=True)
    response.status_code = 201 if created else 200
    return favourite


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
    favourite_service.check_like_date(like_date)
    await favourite_service.delete_favourite(session, user_id=user_id, product_id=product_id)
    return True


@router.delete("/favourites/{userId}/{productId}", tags=["favourites"])
async def delete_favourite(session: DbSession, user_id: OwnUserId, product_id: ProductId) -> bool:
    await favourite_service.delete_favourite(session, user_id=user_id, product_id=product_id)
    return True
