"""Who may read and change user-service's rows, beside the endpoints that serve them.

A shopper sees and changes only their own profile and addresses and never grants themselves a role; credentials and
verification tokens are for administrators; the components that call user-service are allowed by name: proxy-client
(sign-in, registration), order-service and favourite-service (users embedded in their answers), and every
component that verifies user tokens (the revocation list).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from ecommerce.chassis import ROLE_USER, Access, DbSession, Forbidden, allow, require_service
from ecommerce.services.users import service
from ecommerce.services.users.schemas import AddressIn, UserIn

STOREFRONT = "proxy-client"
ORDERS = "order-service"
FAVOURITES = "favourite-service"
# Every component that verifies user tokens, and so polls the revocation list.
TOKEN_VERIFIERS = (
    "api-gateway",
    "proxy-client",
    "user-service",
    "product-service",
    "favourite-service",
    "order-service",
    "shipping-service",
    "payment-service",
)
MAX_ID = 2_147_483_647

UserId = Annotated[int, Path(alias="userId", ge=1, le=MAX_ID)]
AddressId = Annotated[int, Path(alias="addressId", ge=1, le=MAX_ID)]
Username = Annotated[str, Path(min_length=1, max_length=255)]

# Any signed-in user (their rows checked below), or no component at all.
ShopperAccess = Annotated[Access, allow()]
# Users embedded in other services' answers: administrators, order-service and favourite-service.
UserLister = Annotated[Access, allow(ORDERS, FAVOURITES, users="admin")]
# Creating a user: an administrator, or proxy-client registering a shopper.
UserCreator = Annotated[Access, allow(STOREFRONT, users="admin")]
# Credentials and verification tokens: administrators only.
AdminOnly = allow(users="admin")
# Checking a password: proxy-client signing someone in.
SignInChecker = require_service(STOREFRONT)
# The revocation list: every component that verifies user tokens.
RevocationReader = require_service(*TOKEN_VERIFIERS)


async def _own_user_id(access: Annotated[Access, allow(STOREFRONT, ORDERS, FAVOURITES)], user_id: UserId) -> int:
    access.require_acts_for(user_id, "profile")
    return user_id


async def _own_username(access: Annotated[Access, allow(STOREFRONT)], username: Username) -> str:
    if access.scope_user_id is not None and access.user is not None and access.user.username != username:
        raise Forbidden("You may only see and change your own profile")
    return username


async def _owned_address_id(session: DbSession, access: ShopperAccess, address_id: AddressId) -> int:
    address = await service.get_address(session, address_id=address_id)  # 404 before 403: ids are not secrets here
    access.require_acts_for(address.user.user_id if address.user else None, "addresses")
    return address_id


async def _address_owner_filter(
    access: ShopperAccess, user_id: Annotated[int | None, Query(alias="userId", ge=1, le=MAX_ID)] = None
) -> int | None:
    scope = access.scope_user_id
    if scope is None:
        return user_id
    if user_id is not None and user_id != scope:
        raise Forbidden("You may only see and change your own addresses")
    return scope


OwnUserId = Annotated[int, Depends(_own_user_id)]
OwnUsername = Annotated[str, Depends(_own_username)]
OwnedAddressId = Annotated[int, Depends(_owned_address_id)]
AddressOwnerFilter = Annotated[int | None, Depends(_address_owner_filter)]


def check_user_body(access: Access, user_id: int | None, body: UserIn) -> None:
    """A shopper changes only their own user (never creates one) and cannot grant a role."""
    if access.is_admin:
        return
    if user_id is None:
        raise Forbidden("Only an administrator may create users this way")
    access.require_acts_for(user_id, "profile")
    if body.credential is not None and body.credential.role_based_authority != ROLE_USER:
        raise Forbidden("Only an administrator may change a role")


async def check_address_body(session: DbSession, access: Access, address_id: int | None, body: AddressIn) -> None:
    """A shopper files addresses under their own user only, and changes only addresses that are theirs."""
    access.require_acts_for(body.user.user_id, "addresses")
    if address_id is not None and not access.is_admin:
        existing = await service.get_address(session, address_id=address_id)
        access.require_acts_for(existing.user.user_id if existing.user else None, "addresses")


AdminAccess = Annotated[Access, AdminOnly]
