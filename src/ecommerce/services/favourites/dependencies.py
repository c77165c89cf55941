"""Who may read and change favourite-service's rows: a shopper only their own favourites, an administrator any.
No component calls favourite-service: proxy-client speaks for the signed-in shopper with their own token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from ecommerce.chassis import Access, Forbidden, allow

MAX_ID = 2_147_483_647
UserId = Annotated[int, Path(alias="userId", ge=1, le=MAX_ID)]

# Any signed-in user (their rows checked below); no component.
ShopperAccess = Annotated[Access, allow()]


async def _own_user_id(access: ShopperAccess, user_id: UserId) -> int:
    access.require_acts_for(user_id, "favourites")
    return user_id


async def _owner_filter(
    access: ShopperAccess,
    user_id: Annotated[int | None, Query(alias="userId", ge=1, le=MAX_ID, description="one user's favourites")] = None,
) -> int | None:
    scope = access.scope_user_id
    if scope is None:
        return user_id
    if user_id is not None and user_id != scope:
        raise Forbidden("You may only see and change your own favourites")
    return scope


# The `userId` of the path, when it is the caller's (or the caller is an administrator).
OwnUserId = Annotated[int, Depends(_own_user_id)]
# Whose favourites a list shows: a shopper's own, whatever they ask; anyone's for an administrator.
OwnerFilter = Annotated[int | None, Depends(_owner_filter)]


def check_owner(access: Access, user_id: int) -> None:
    """403 unless the favourite named in a body is the caller's (or the caller is an administrator)."""
    access.require_acts_for(user_id, "favourites")
