"""user-service HTTP routes: the original's paths, thin handlers over `service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from ecommerce.chassis import Collection, DbSession, parse_ids
from ecommerce.services.users import service
from ecommerce.services.users.dependencies import (
    AddressOwnerFilter,
    AdminAccess,
    AdminOnly,
    OwnedAddressId,
    OwnUserId,
    OwnUsername,
    RevocationReader,
    ShopperAccess,
    SignInChecker,
    UserCreator,
    UserLister,
    check_address_body,
    check_user_body,
)
from ecommerce.services.users.schemas import (
    AddressIn,
    AddressOut,
    CredentialIn,
    CredentialOut,
    Revocations,
    UserIn,
    UserOut,
    VerificationTokenIn,
    VerificationTokenOut,
    VerifiedIdentity,
    VerifyIn,
)

router = APIRouter(prefix="/api")

MAX_ID = 2_147_483_647
UserId = Annotated[int, Path(alias="userId", ge=1, le=MAX_ID)]
CredentialId = Annotated[int, Path(alias="credentialId", ge=1, le=MAX_ID)]
TokenId = Annotated[int, Path(alias="verificationTokenId", ge=1, le=MAX_ID)]
Username = Annotated[str, Path(min_length=1, max_length=255)]


def _rounds(request: Request) -> int:
    return int(request.app.state.settings.bcrypt_rounds)


# --- users ----------------------------------------------------------------------------------------------


@router.get("/users", tags=["users"])
async def list_users(
    session: DbSession,
    _: UserLister,
    ids: Annotated[str | None, Query(max_length=12_000, description="comma-separated user ids")] = None,
) -> Collection[UserOut]:
    users = await service.list_users(session, ids=parse_ids(ids, limit=service.MAX_BATCH))
    return Collection[UserOut](collection=users)


@router.get("/users/username/{username}", tags=["users"])
async def get_user_by_username(session: DbSession, username: OwnUsername) -> UserOut:
    return await service.get_user_by_username(session, username=username)


@router.get("/users/{userId}", tags=["users"])
async def get_user(session: DbSession, user_id: OwnUserId) -> UserOut:
    return await service.get_user(session, user_id=user_id)


@router.post("/users", status_code=201, tags=["users"])
async def create_user(session: DbSession, request: Request, body: UserIn, _: UserCreator) -> UserOut:
    return await service.create_user(session, data=body, rounds=_rounds(request))


@router.put("/users", tags=["users"])
async def replace_user(
    session: DbSession, request: Request, body: UserIn, response: Response, access: ShopperAccess
) -> UserOut:
    check_user_body(access, body.user_id, body)
    user, created = await service.save_user(session, data=body, rounds=_rounds(request), by_admin=access.is_admin)
    response.status_code = 201 if created else 200
    return user


@router.put("/users/{userId}", tags=["users"])
async def update_user(
    session: DbSession, request: Request, user_id: UserId, body: UserIn, access: ShopperAccess
) -> UserOut:
    check_user_body(access, user_id, body)
    return await service.update_user(
        session, user_id=user_id, data=body, rounds=_rounds(request), by_admin=access.is_admin
    )


@router.delete("/users/{userId}", tags=["users"])
async def delete_user(session: DbSession, user_id: OwnUserId) -> bool:
    await service.delete_user(session, user_id=user_id)
    return True


# --- addresses ------------------------------------------------------------------------------------------


@router.get("/address", tags=["addresses"])
async def list_addresses(session: DbSession, user_id: AddressOwnerFilter) -> Collection[AddressOut]:
    return Collection[AddressOut](collection=await service.list_addresses(session, user_id=user_id))


@router.get("/address/{addressId}", tags=["addresses"])
async def get_address(session: DbSession, address_id: OwnedAddressId) -> AddressOut:
    return await service.get_address(session, address_id=address_id)


@router.post("/address", status_code=201, tags=["addresses"])
async def create_address(session: DbSession, body: AddressIn, access: ShopperAccess) -> AddressOut:
    await check_address_body(session, access, None, body)
    return await service.create_address(session, data=body)


@router.put("/address", tags=["addresses"])
async def replace_address(session: DbSession, body: AddressIn, response: Response, access: ShopperAccess) -> AddressOut:
    await check_address_body(session, access, body.address_id, body)
    address, created = await service.save_address(session, data=body)
    response.status_code = 201 if created else 200
    return address


@router.put("/address/{addressId}", tags=["addresses"])
async def update_address(
    session: DbSession, address_id: OwnedAddressId, body: AddressIn, access: ShopperAccess
) -> AddressOut:
    await check_address_body(session, access, address_id, body)
    return await service.update_address(session, address_id=address_id, data=body)


@router.delete("/address/{addressId}", tags=["addresses"])
async def delete_address(session: DbSession, address_id: OwnedAddressId) -> bool:
    await service.delete_address(session, address_id=address_id)
    return True


# --- credentials ----------------------------------------------------------------------------------------


@router.get("/credentials", tags=["credentials"], dependencies=[AdminOnly])
async def list_credentials(session: DbSession) -> Collection[CredentialOut]:
    return Collection[CredentialOut](collection=await service.list_credentials(session))


@router.post("/credentials/verify", tags=["credentials"], dependencies=[SignInChecker])
async def verify_credentials(session: DbSession, request: Request, body: VerifyIn) -> VerifiedIdentity:
    """Check a username and password (internal: the storefront signs people in with it)."""
    return await service.verify_credentials(
        session, username=body.username, password=body.password, rounds=_rounds(request)
    )


@router.get("/credentials/revocations", tags=["credentials"], dependencies=[RevocationReader])
async def list_revocations(session: DbSession, request: Request) -> Revocations:
    """Per user, the instant before which their tokens are void (token verifiers poll this)."""
    lifetime = int(request.app.state.settings.token_max_lifetime_seconds)
    return Revocations(revocations=await service.list_revocations(session, max_lifetime_seconds=lifetime))


@router.get("/credentials/username/{username}", tags=["credentials"], dependencies=[AdminOnly])
async def get_credential_by_username(session: DbSession, username: Username) -> CredentialOut:
    return await service.get_credential_by_username(session, username=username)


@router.get("/credentials/{credentialId}", tags=["credentials"], dependencies=[AdminOnly])
async def get_credential(session: DbSession, credential_id: CredentialId) -> CredentialOut:
    return await service.get_credential(session, credential_id=credential_id)


@router.post("/credentials", status_code=201, tags=["credentials"], dependencies=[AdminOnly])
async def create_credential(session: DbSession, request: Request, body: CredentialIn) -> CredentialOut:
    return await service.create_credential(session, data=body, rounds=_rounds(request))


@router.put("/credentials", tags=["credentials"], dependencies=[AdminOnly])
async def replace_credential(
    session: DbSession, request: Request, body: CredentialIn, response: Response, access: AdminAccess
) -> CredentialOut:
    credential, created = await service.save_credential(
        session, data=body, rounds=_rounds(request), by_admin=access.is_admin
    )
    response.status_code = 201 if created else 200
    return credential


@router.put("/credentials/{credentialId}", tags=["credentials"], dependencies=[AdminOnly])
async def update_credential(
    session: DbSession, request: Request, credential_id: CredentialId, body: CredentialIn, access: AdminAccess
) -> CredentialOut:
    return await service.update_credential(
        session, credential_id=credential_id, data=body, rounds=_rounds(request), by_admin=access.is_admin
    )


@router.delete("/credentials/{credentialId}", tags=["credentials"], dependencies=[AdminOnly])
async def delete_credential(session: DbSession, credential_id: CredentialId) -> bool:
    await service.delete_credential(session, credential_id=credential_id)
    return True


# --- verification tokens --------------------------------------------------------------------------------


@router.get("/verificationTokens", tags=["verification tokens"], dependencies=[AdminOnly])
async def list_tokens(session: DbSession) -> Collection[VerificationTokenOut]:
    return Collection[VerificationTokenOut](collection=await service.list_tokens(session))


@router.get("/verificationTokens/{verificationTokenId}", tags=["verification tokens"], dependencies=[AdminOnly])
async def get_token(session: DbSession, token_id: TokenId) -> VerificationTokenOut:
    return await service.get_token(session, token_id=token_id)


@router.post("/verificationTokens", status_code=201, tags=["verification tokens"], dependencies=[AdminOnly])
async def create_token(session: DbSession, body: VerificationTokenIn) -> VerificationTokenOut:
    return await service.create_token(session, data=body)


@router.put("/verificationTokens", tags=["verification tokens"], dependencies=[AdminOnly])
async def replace_token(session: DbSession, body: VerificationTokenIn, response: Response) -> VerificationTokenOut:
    token, created = await service.save_token(session, data=body)
    response.status_code = 201 if created else 200
    return token


@router.put("/verificationTokens/{verificationTokenId}", tags=["verification tokens"], dependencies=[AdminOnly])
async def update_token(session: DbSession, token_id: TokenId, body: VerificationTokenIn) -> VerificationTokenOut:
    return await service.update_token(session, token_id=token_id, data=body)


@router.delete("/verificationTokens/{verificationTokenId}", tags=["verification tokens"], dependencies=[AdminOnly])
async def delete_token(session: DbSession, token_id: TokenId) -> bool:
    await service.delete_token(session, token_id=token_id)
    return True
