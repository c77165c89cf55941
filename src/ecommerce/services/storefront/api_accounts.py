"""/app/api users, address, credentials and verificationTokens: each operation of the original, declared.

A shopper sees and changes only their own user and addresses (the owner always comes from the token, the role can
never be raised, a new password needs the current one, which user-service checks); credentials and verification
tokens are for administrators, who may do everything.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from ecommerce.chassis import Principal
from ecommerce.services.storefront import clients
from ecommerce.services.storefront.api_support import (
    AddressId,
    CredentialId,
    JsonBody,
    JsonObject,
    TokenId,
    UserId,
    Username,
    body_id,
    fetch,
    only_mine,
    own,
    query,
    relay,
    revoke_here,
)
from ecommerce.services.storefront.auth import ApiAdmin, ApiUser, user_id_of
from ecommerce.services.storefront.tokens import ROLE_USER

router = APIRouter()
P = clients.peer_path
USERS = clients.USERS
DELETED = 253_402_300_799  # a deleted user's tokens never count again (user-service publishes the same floor)


# --- users ---------------------------------------------------------------------------------------------------


@router.get("/users")
async def list_users(
    request: Request, me: ApiUser, ids: Annotated[str | None, Query(max_length=12_000)] = None
) -> Response:
    if me.is_admin:
        return await relay(request, me, "GET", USERS, P("/user-service/api/users"), params=query(request, "ids"))
    mine = await fetch(request, me, USERS, P("/user-service/api/users/{}", user_id_of(me)))
    return JSONResponse({"collection": [mine]})


@router.get("/users/username/{username}")
async def get_user_by_username(request: Request, me: ApiUser, username: Username) -> Response:
    own(me.is_admin or username.casefold() == me.username.casefold(), "user")
    return await relay(request, me, "GET", USERS, P("/user-service/api/users/username/{}", username))


@router.get("/users/{userId}")
async def get_user(request: Request, me: ApiUser, user_id: UserId) -> Response:
    own(me.is_admin or user_id == me.user_id, "user")
    return await relay(request, me, "GET", USERS, P("/user-service/api/users/{}", user_id))


@router.put("/users")
async def replace_user(request: Request, me: ApiUser, body: JsonObject) -> Response:
    _own_user_body(me, body, None)
    response = await relay(request, me, "PUT", USERS, P("/user-service/api/users"), json=body)
    _after_credential_change(request, body)
    return response


@router.put("/users/{userId}")
async def update_user(request: Request, me: ApiUser, user_id: UserId, body: JsonObject) -> Response:
    _own_user_body(me, body, user_id)
    response = await relay(request, me, "PUT", USERS, P("/user-service/api/users/{}", user_id), json=body)
    _after_credential_change(request, body | {"userId": user_id})
    return response


@router.delete("/users/{userId}")
async def delete_user(request: Request, me: ApiUser, user_id: UserId) -> Response:
    own(me.is_admin or user_id == me.user_id, "user")
    response = await relay(request, me, "DELETE", USERS, P("/user-service/api/users/{}", user_id))
    revoke_here(request, user_id, DELETED)
    return response


def _own_user_body(me: Principal, body: dict[str, Any], path_id: int | None) -> None:
    """A shopper's change is to their own user, and never to their role."""
    if me.is_admin:
        return
    own(path_id in (None, me.user_id), "user")
    own(body.setdefault("userId", me.user_id) == me.user_id, "user")
    if isinstance(body.get("credential"), dict):
        body["credential"]["roleBasedAuthority"] = ROLE_USER


def _after_credential_change(request: Request, body: dict[str, Any]) -> None:
    credential, user_id = body.get("credential"), body.get("userId")
    if isinstance(credential, dict) and credential.get("password") and isinstance(user_id, int):
        revoke_here(request, user_id)  # user-service raised the floor too; here it holds before the next poll


# --- addresses -----------------------------------------------------------------------------------------------


@router.get("/address")
async def list_addresses(request: Request, me: ApiUser) -> Response:
    if me.is_admin:
        return await relay(request, me, "GET", USERS, P("/user-service/api/address"), params=query(request, "userId"))
    mine = user_id_of(me)
    keep = lambda a: clients.address_owner(a) == mine  # noqa: E731
    return await only_mine(request, me, USERS, P("/user-service/api/address"), keep, userId=mine)


@router.get("/address/{addressId}")
async def get_address(request: Request, me: ApiUser, address_id: AddressId) -> Response:
    address = await fetch(request, me, USERS, P("/user-service/api/address/{}", address_id))
    own(me.is_admin or clients.address_owner(address) == me.user_id, "address")
    return JSONResponse(address)


@router.post("/address", status_code=201)
async def create_address(request: Request, me: ApiUser, body: JsonObject) -> Response:
    if not me.is_admin:
        body["user"] = {"userId": me.user_id}
    return await relay(request, me, "POST", USERS, P("/user-service/api/address"), json=body)


@router.put("/address")
async def replace_address(request: Request, me: ApiUser, body: JsonObject) -> Response:
    if not me.is_admin:
        await _own_address_body(request, me, body, body_id(body, "addressId"))
    return await relay(request, me, "PUT", USERS, P("/user-service/api/address"), json=body)


@router.put("/address/{addressId}")
async def update_address(request: Request, me: ApiUser, address_id: AddressId, body: JsonObject) -> Response:
    if not me.is_admin:
        await _own_address_body(request, me, body, address_id)
    return await relay(request, me, "PUT", USERS, P("/user-service/api/address/{}", address_id), json=body)


@router.delete("/address/{addressId}")
async def delete_address(request: Request, me: ApiUser, address_id: AddressId) -> Response:
    if not me.is_admin:
        address = await fetch(request, me, USERS, P("/user-service/api/address/{}", address_id))
        own(clients.address_owner(address) == me.user_id, "address")
    return await relay(request, me, "DELETE", USERS, P("/user-service/api/address/{}", address_id))


async def _own_address_body(request: Request, me: Principal, body: dict[str, Any], address_id: int) -> None:
    existing = await fetch(request, me, USERS, P("/user-service/api/address/{}", address_id))
    own(clients.address_owner(existing) == me.user_id, "address")
    body["addressId"] = address_id
    body["user"] = {"userId": me.user_id}


# --- credentials and verification tokens: administrators only ------------------------------------------------


@router.get("/credentials")
async def list_credentials(request: Request, me: ApiAdmin) -> Response:
    return await relay(request, me, "GET", USERS, P("/user-service/api/credentials"))


@router.get("/credentials/username/{username}")
async def get_credential_by_username(request: Request, me: ApiAdmin, username: Username) -> Response:
    return await relay(request, me, "GET", USERS, P("/user-service/api/credentials/username/{}", username))


@router.get("/credentials/{credentialId}")
async def get_credential(request: Request, me: ApiAdmin, credential_id: CredentialId) -> Response:
    return await relay(request, me, "GET", USERS, P("/user-service/api/credentials/{}", credential_id))


@router.post("/credentials", status_code=201)
async def create_credential(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "POST", USERS, P("/user-service/api/credentials"), json=body)


@router.put("/credentials")
async def replace_credential(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", USERS, P("/user-service/api/credentials"), json=body)


@router.put("/credentials/{credentialId}")
async def update_credential(request: Request, me: ApiAdmin, credential_id: CredentialId, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", USERS, P("/user-service/api/credentials/{}", credential_id), json=body)


@router.delete("/credentials/{credentialId}")
async def delete_credential(request: Request, me: ApiAdmin, credential_id: CredentialId) -> Response:
    return await relay(request, me, "DELETE", USERS, P("/user-service/api/credentials/{}", credential_id))


@router.get("/verificationTokens")
async def list_tokens(request: Request, me: ApiAdmin) -> Response:
    return await relay(request, me, "GET", USERS, P("/user-service/api/verificationTokens"))


@router.get("/verificationTokens/{verificationTokenId}")
async def get_token(request: Request, me: ApiAdmin, token_id: TokenId) -> Response:
    return await relay(request, me, "GET", USERS, P("/user-service/api/verificationTokens/{}", token_id))


@router.post("/verificationTokens", status_code=201)
async def create_token(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "POST", USERS, P("/user-service/api/verificationTokens"), json=body)


@router.put("/verificationTokens")
async def replace_token(request: Request, me: ApiAdmin, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", USERS, P("/user-service/api/verificationTokens"), json=body)


@router.put("/verificationTokens/{verificationTokenId}")
async def update_token(request: Request, me: ApiAdmin, token_id: TokenId, body: JsonBody) -> Response:
    return await relay(request, me, "PUT", USERS, P("/user-service/api/verificationTokens/{}", token_id), json=body)


@router.delete("/verificationTokens/{verificationTokenId}")
async def delete_token(request: Request, me: ApiAdmin, token_id: TokenId) -> Response:
    return await relay(request, me, "DELETE", USERS, P("/user-service/api/verificationTokens/{}", token_id))
