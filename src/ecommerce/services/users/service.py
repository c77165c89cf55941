"""user-service rules: reads with Core selects, writes through the ORM, passwords only ever as bcrypt hashes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from ecommerce.services.users.models import Address, Credential, TokenRevocation, User, VerificationToken
from ecommerce.services.users.passwords import check_password, hash_cost, hash_password
from ecommerce.services.users.schemas import (
    AddressIn,
    AddressOut,
    CredentialFields,
    CredentialIn,
    CredentialOut,
    CredentialRef,
    Revocation,
    UserIn,
    UserOut,
    UserRef,
    VerificationTokenIn,
    VerificationTokenOut,
    VerifiedIdentity,
)

MAX_BATCH = 1000
BAD_CREDENTIALS = "Bad credentials"
# The revocation floor of a deleted user: no token of theirs is ever valid again (9999-12-31T23:59:59Z).
NEVER = 253_402_300_799

_USER_COLUMNS = (User.user_id, User.first_name, User.last_name, User.image_url, User.email, User.phone)
_CREDENTIAL_COLUMNS = (
    Credential.credential_id,
    Credential.username,
    Credential.role,
    Credential.is_enabled,
    Credential.is_account_non_expired,
    Credential.is_account_non_locked,
    Credential.is_credentials_non_expired,
)

_USER_ROWS = select(*_USER_COLUMNS, *_CREDENTIAL_COLUMNS).outerjoin(Credential, Credential.user_id == User.user_id)
_CREDENTIAL_ROWS = select(*_CREDENTIAL_COLUMNS, *_USER_COLUMNS).join(User, User.user_id == Credential.user_id)
_ADDRESS_ROWS = select(
    Address.address_id, Address.full_address, Address.postal_code, Address.city, *_USER_COLUMNS
).join(User, User.user_id == Address.user_id)
_TOKEN_ROWS = select(
    VerificationToken.verification_token_id,
    VerificationToken.verif_token,
    VerificationToken.expire_date,
    *_CREDENTIAL_COLUMNS,
).join(Credential, Credential.credential_id == VerificationToken.credential_id)


def _user_ref(row: Any) -> UserRef:
    return UserRef.model_construct(
        user_id=row.user_id,
        first_name=row.first_name,
        last_name=row.last_name,
        image_url=row.image_url,
        email=row.email,
        phone=row.phone,
    )


def _credential_ref(row: Any) -> CredentialRef | None:
    if row.credential_id is None:
        return None
    return CredentialRef.model_construct(
        credential_id=row.credential_id,
        username=row.username,
        role_based_authority=row.role,
        is_enabled=row.is_enabled,
        is_account_non_expired=row.is_account_non_expired,
        is_account_non_locked=row.is_account_non_locked,
        is_credentials_non_expired=row.is_credentials_non_expired,
    )


def _username_is(username: str) -> Any:
    return func.lower(Credential.username) == username.lower()


# --- users ----------------------------------------------------------------------------------------------


def _user_out(row: Any) -> UserOut:
    return UserOut.model_construct(**_user_ref(row).__dict__, credential=_credential_ref(row))


async def list_users(session: AsyncSession, *, ids: Sequence[int] | None = None) -> list[UserOut]:
    """Every user (or those with the given ids), each with its credential or null."""
    query = _USER_ROWS
    if ids is not None:
        query = query.where(User.user_id.in_(ids))
    rows = (await session.execute(query.order_by(User.user_id))).all()
    return [_user_out(row) for row in rows]


async def get_user(session: AsyncSession, *, user_id: int) -> UserOut:
    """One user, or 404."""
    row = (await session.execute(_USER_ROWS.where(User.user_id == user_id))).first()
    if row is None:
        raise NotFound(f"User with id: {user_id} not found")
    return _user_out(row)


async def get_user_by_username(session: AsyncSession, *, username: str) -> UserOut:
    """The user whose credential has this username (letter case ignored), or 404."""
    row = (await session.execute(_USER_ROWS.where(_username_is(username)))).first()
    if row is None:
        raise NotFound(f"User with username: {username} not found")
    return _user_out(row)


async def create_user(session: AsyncSession, *, data: UserIn, rounds: int) -> UserOut:
    """Create a user and its credential together (one transaction); the credential points at the user."""
    if data.credential is None:
        raise BadRequest("Invalid value for 'credential': a new user needs a credential")
    if data.credential.password is None:
        raise BadRequest("Invalid value for 'credential.password': a new credential needs a password")
    await _require_free_email(session, data.email, user_id=None)
    await _require_free_username(session, data.credential.username, credential_id=None)
    user = User(**_user_fields(data))
    session.add(user)
    await session.flush()
    session.add(await _new_credential(user.user_id, data.credential, rounds))
    await session.flush()
    return await get_user(session, user_id=user.user_id)


async def update_user(
    session: AsyncSession, *, user_id: int, data: UserIn, rounds: int, by_admin: bool = False
) -> UserOut:
    """Apply the body to the user (the original ignored it); a given credential is updated or added.

    Anyone but an administrator changes a password only with the current one (`credential.currentPassword`).
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User with id: {user_id} not found")
    await _require_free_email(session, data.email, user_id=user_id)
    for key, value in _user_fields(data).items():
        setattr(user, key, value)
    if data.credential is not None:
        credential = (
            await session.execute(select(Credential).where(Credential.user_id == user_id))
        ).scalar_one_or_none()
        if credential is None:
            if data.credential.password is None:
                raise BadRequest("Invalid value for 'credential.password': a new credential needs a password")
            await _require_free_username(session, data.credential.username, credential_id=None)
            session.add(await _new_credential(user_id, data.credential, rounds))
        else:
            await _apply_credential(session, credential, data.credential, rounds, by_admin=by_admin)
    await session.flush()
    return await get_user(session, user_id=user_id)


async def save_user(
    session: AsyncSession, *, data: UserIn, rounds: int, by_admin: bool = False
) -> tuple[UserOut, bool]:
    """PUT without a path id: create when the body has no `userId`, else update that user; True when created."""
    if data.user_id is None:
        return await create_user(session, data=data, rounds=rounds), True
    return await update_user(session, user_id=data.user_id, data=data, rounds=rounds, by_admin=by_admin), False


async def delete_user(session: AsyncSession, *, user_id: int) -> None:
    """Remove a user with its credential, tokens and addresses, and void their signed-in tokens; 404 when none."""
    result = await session.execute(delete(User).where(User.user_id == user_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"User with id: {user_id} not found")
    await revoke_tokens(session, user_id=user_id, not_before=NEVER)


def _user_fields(data: UserIn) -> dict[str, Any]:
    return {
        "first_name": data.first_name,
        "last_name": data.last_name,
        "image_url": data.image_url,
        "email": data.email,
        "phone": data.phone,
    }


async def _require_user(session: AsyncSession, user_id: int) -> None:
    if await session.get(User, user_id) is None:
        raise BadRequest(f"User with id: {user_id} not found")


async def _require_free_email(session: AsyncSession, email: str | None, *, user_id: int | None) -> None:
    if email is None:
        return
    query = select(User.user_id).where(func.lower(User.email) == email.lower())
    if user_id is not None:
        query = query.where(User.user_id != user_id)
    if (await session.execute(query)).first() is not None:
        raise Conflict(f"A user with email '{email}' already exists")


# --- credentials ----------------------------------------------------------------------------------------


def _credential_out(row: Any) -> CredentialOut:
    ref = _credential_ref(row)
    assert ref is not None
    return CredentialOut.model_construct(**ref.__dict__, user=_user_ref(row))


async def list_credentials(session: AsyncSession) -> list[CredentialOut]:
    """Every credential with its user."""
    rows = (await session.execute(_CREDENTIAL_ROWS.order_by(Credential.credential_id))).all()
    return [_credential_out(row) for row in rows]


async def get_credential(session: AsyncSession, *, credential_id: int) -> CredentialOut:
    """One credential, or 404."""
    row = (await session.execute(_CREDENTIAL_ROWS.where(Credential.credential_id == credential_id))).first()
    if row is None:
        raise NotFound(f"Credential with id: {credential_id} not found")
    return _credential_out(row)


async def get_credential_by_username(session: AsyncSession, *, username: str) -> CredentialOut:
    """The credential with this username (letter case ignored), or 404."""
    row = (await session.execute(_CREDENTIAL_ROWS.where(_username_is(username)))).first()
    if row is None:
        raise NotFound(f"Credential with username: {username} not found")
    return _credential_out(row)


async def create_credential(session: AsyncSession, *, data: CredentialIn, rounds: int) -> CredentialOut:
    """Give an existing user (who has none yet) a credential."""
    if data.user is None:
        raise BadRequest("Invalid value for 'user': a credential belongs to a user")
    if data.password is None:
        raise BadRequest("Invalid value for 'password': a new credential needs a password")
    await _require_user(session, data.user.user_id)
    taken = select(Credential.credential_id).where(Credential.user_id == data.user.user_id)
    if (await session.execute(taken)).first() is not None:
        raise Conflict(f"User with id: {data.user.user_id} already has a credential")
    await _require_free_username(session, data.username, credential_id=None)
    credential = await _new_credential(data.user.user_id, data, rounds)
    session.add(credential)
    await session.flush()
    return await get_credential(session, credential_id=credential.credential_id)


async def update_credential(
    session: AsyncSession, *, credential_id: int, data: CredentialIn, rounds: int, by_admin: bool = False
) -> CredentialOut:
    """Apply the body; the password changes only when one is given; a credential never changes owner."""
    credential = await session.get(Credential, credential_id)
    if credential is None:
        raise NotFound(f"Credential with id: {credential_id} not found")
    if data.user is not None and data.user.user_id != credential.user_id:
        raise BadRequest("Invalid value for 'user': a credential cannot move to another user")
    await _apply_credential(session, credential, data, rounds, by_admin=by_admin)
    await session.flush()
    return await get_credential(session, credential_id=credential_id)


async def save_credential(
    session: AsyncSession, *, data: CredentialIn, rounds: int, by_admin: bool = False
) -> tuple[CredentialOut, bool]:
    """PUT without a path id: create when the body has no `credentialId`, else update it; True when created."""
    if data.credential_id is None:
        return await create_credential(session, data=data, rounds=rounds), True
    updated = await update_credential(
        session, credential_id=data.credential_id, data=data, rounds=rounds, by_admin=by_admin
    )
    return updated, False


async def delete_credential(session: AsyncSession, *, credential_id: int) -> None:
    """Remove a credential and its tokens, and void the user's signed-in tokens; 404 when there is none."""
    user_id = (
        await session.execute(select(Credential.user_id).where(Credential.credential_id == credential_id))
    ).scalar_one_or_none()
    if user_id is None:
        raise NotFound(f"Credential with id: {credential_id} not found")
    await session.execute(delete(Credential).where(Credential.credential_id == credential_id))
    await revoke_tokens(session, user_id=user_id, not_before=_now())


async def verify_credentials(session: AsyncSession, *, username: str, password: str, rounds: int) -> VerifiedIdentity:
    """Check a username and password: the identity, or 401 (same work whether or not the user exists).

    A hash made with a lower cost than today's setting (e.g. the original's `$2a$04$`) is upgraded on success.
    """
    credential = (await session.execute(select(Credential).where(_username_is(username)))).scalar_one_or_none()
    matches = await check_password(password, credential.password if credential else None, rounds=rounds)
    if credential is None or not matches or not _may_sign_in(credential):
        raise Unauthorized(BAD_CREDENTIALS)
    cost = hash_cost(credential.password)
    if cost is not None and cost < rounds:
        credential.password = await hash_password(password, rounds=rounds)
        await session.flush()
    return VerifiedIdentity(
        user_id=credential.user_id, username=credential.username, role_based_authority=credential.role
    )


def _may_sign_in(credential: Credential) -> bool:
    return (
        credential.is_enabled
        and credential.is_account_non_expired
        and credential.is_account_non_locked
        and credential.is_credentials_non_expired
    )


async def _new_credential(user_id: int, data: CredentialFields, rounds: int) -> Credential:
    assert data.password is not None
    return Credential(
        user_id=user_id,
        username=data.username,
        password=await hash_password(data.password, rounds=rounds),
        role=data.role_based_authority,
        is_enabled=data.is_enabled,
        is_account_non_expired=data.is_account_non_expired,
        is_account_non_locked=data.is_account_non_locked,
        is_credentials_non_expired=data.is_credentials_non_expired,
    )


async def _apply_credential(
    session: AsyncSession, credential: Credential, data: CredentialFields, rounds: int, *, by_admin: bool
) -> None:
    """Apply a credential's fields; a new password, role or account flag voids the tokens signed until now."""
    await _require_free_username(session, data.username, credential_id=credential.credential_id)
    if data.password is not None and not by_admin:
        await _require_current_password(credential, data.current_password, rounds)
    before = _token_facts(credential)
    credential.username = data.username
    credential.role = data.role_based_authority
    credential.is_enabled = data.is_enabled
    credential.is_account_non_expired = data.is_account_non_expired
    credential.is_account_non_locked = data.is_account_non_locked
    credential.is_credentials_non_expired = data.is_credentials_non_expired
    if data.password is not None:
        credential.password = await hash_password(data.password, rounds=rounds)
    if data.password is not None or _token_facts(credential) != before:
        await revoke_tokens(session, user_id=credential.user_id, not_before=_now())


def _token_facts(credential: Credential) -> tuple[object, ...]:
    """What a signed token vouches for (role) or relies on (the account may sign in)."""
    return (credential.role, _may_sign_in(credential))


async def _require_current_password(credential: Credential, current: str | None, rounds: int) -> None:
    if current is None:
        raise BadRequest("Invalid value for 'credential.currentPassword': the current password is required")
    if not await check_password(current, credential.password, rounds=rounds):
        raise Forbidden("The current password is wrong")


# --- token revocation -----------------------------------------------------------------------------------


def _now() -> int:
    return int(time.time())


async def revoke_tokens(session: AsyncSession, *, user_id: int, not_before: int) -> None:
    """Void the user's tokens issued before `not_before` (epoch seconds); a floor only ever rises."""
    row = await session.get(TokenRevocation, user_id)
    now = datetime.now(UTC).replace(tzinfo=None)
    if row is None:
        session.add(TokenRevocation(user_id=user_id, not_before=not_before, set_at=now))
    else:
        row.not_before = max(row.not_before, not_before)
        row.set_at = now
    await session.flush()


async def list_revocations(session: AsyncSession, *, max_lifetime_seconds: int) -> list[Revocation]:
    """The floors set within the longest token lifetime: any older one can only concern expired tokens."""
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=max_lifetime_seconds)
    query = select(TokenRevocation.user_id, TokenRevocation.not_before).where(TokenRevocation.set_at >= since)
    rows = (await session.execute(query.order_by(TokenRevocation.user_id))).all()
    return [Revocation(user_id=row.user_id, not_before=row.not_before) for row in rows]


async def _require_free_username(session: AsyncSession, username: str, *, credential_id: int | None) -> None:
    query = select(Credential.credential_id).where(_username_is(username))
    if credential_id is not None:
        query = query.where(Credential.credential_id != credential_id)
    if (await session.execute(query)).first() is not None:
        raise Conflict(f"A user with username '{username}' already exists")


# --- addresses ------------------------------------------------------------------------------------------


def _address_out(row: Any) -> AddressOut:
    return AddressOut.model_construct(
        address_id=row.address_id,
        full_address=row.full_address,
        postal_code=row.postal_code,
        city=row.city,
        user=_user_ref(row),
    )


async def list_addresses(session: AsyncSession, *, user_id: int | None = None) -> list[AddressOut]:
    """Every address (or one user's) with its user."""
    query = _ADDRESS_ROWS
    if user_id is not None:
        query = query.where(Address.user_id == user_id)
    rows = (await session.execute(query.order_by(Address.address_id))).all()
    return [_address_out(row) for row in rows]


async def get_address(session: AsyncSession, *, address_id: int) -> AddressOut:
    """One address, or 404."""
    row = (await session.execute(_ADDRESS_ROWS.where(Address.address_id == address_id))).first()
    if row is None:
        raise NotFound(f"Address with id: {address_id} not found")
    return _address_out(row)


async def create_address(session: AsyncSession, *, data: AddressIn) -> AddressOut:
    """Add an address to an existing user."""
    await _require_user(session, data.user.user_id)
    address = Address(**_address_fields(data))
    session.add(address)
    await session.flush()
    return await get_address(session, address_id=address.address_id)


async def update_address(session: AsyncSession, *, address_id: int, data: AddressIn) -> AddressOut:
    """Apply the body to the address."""
    address = await session.get(Address, address_id)
    if address is None:
        raise NotFound(f"Address with id: {address_id} not found")
    await _require_user(session, data.user.user_id)
    for key, value in _address_fields(data).items():
        setattr(address, key, value)
    await session.flush()
    return await get_address(session, address_id=address_id)


async def save_address(session: AsyncSession, *, data: AddressIn) -> tuple[AddressOut, bool]:
    """PUT without a path id: create when the body has no `addressId`, else update it; True when created."""
    if data.address_id is None:
        return await create_address(session, data=data), True
    return await update_address(session, address_id=data.address_id, data=data), False


async def delete_address(session: AsyncSession, *, address_id: int) -> None:
    """Remove an address; 404 when there is none."""
    result = await session.execute(delete(Address).where(Address.address_id == address_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"Address with id: {address_id} not found")


def _address_fields(data: AddressIn) -> dict[str, Any]:
    return {
        "user_id": data.user.user_id,
        "full_address": data.full_address,
        "postal_code": data.postal_code,
        "city": data.city,
    }


# --- verification tokens --------------------------------------------------------------------------------


def _token_out(row: Any) -> VerificationTokenOut:
    return VerificationTokenOut.model_construct(
        verification_token_id=row.verification_token_id,
        token=row.verif_token,
        expire_date=row.expire_date,
        credential=_credential_ref(row),
    )


async def list_tokens(session: AsyncSession) -> list[VerificationTokenOut]:
    """Every verification token with its credential."""
    rows = (await session.execute(_TOKEN_ROWS.order_by(VerificationToken.verification_token_id))).all()
    return [_token_out(row) for row in rows]


async def get_token(session: AsyncSession, *, token_id: int) -> VerificationTokenOut:
    """One verification token, or 404."""
    row = (await session.execute(_TOKEN_ROWS.where(VerificationToken.verification_token_id == token_id))).first()
    if row is None:
        raise NotFound(f"VerificationToken with id: {token_id} not found")
    return _token_out(row)


async def create_token(session: AsyncSession, *, data: VerificationTokenIn) -> VerificationTokenOut:
    """Add a verification token to an existing credential."""
    await _require_credential(session, data.credential.credential_id)
    token = VerificationToken(**_token_fields(data))
    session.add(token)
    await session.flush()
    return await get_token(session, token_id=token.verification_token_id)


async def update_token(session: AsyncSession, *, token_id: int, data: VerificationTokenIn) -> VerificationTokenOut:
    """Apply the body to the token."""
    token = await session.get(VerificationToken, token_id)
    if token is None:
        raise NotFound(f"VerificationToken with id: {token_id} not found")
    await _require_credential(session, data.credential.credential_id)
    for key, value in _token_fields(data).items():
        setattr(token, key, value)
    await session.flush()
    return await get_token(session, token_id=token_id)


async def save_token(session: AsyncSession, *, data: VerificationTokenIn) -> tuple[VerificationTokenOut, bool]:
    """PUT without a path id: create when the body has no `verificationTokenId`, else update it; True when created."""
    if data.verification_token_id is None:
        return await create_token(session, data=data), True
    return await update_token(session, token_id=data.verification_token_id, data=data), False


async def delete_token(session: AsyncSession, *, token_id: int) -> None:
    """Remove a token; 404 when there is none."""
    result = await session.execute(delete(VerificationToken).where(VerificationToken.verification_token_id == token_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"VerificationToken with id: {token_id} not found")


def _token_fields(data: VerificationTokenIn) -> dict[str, Any]:
    return {
        "credential_id": data.credential.credential_id,
        "verif_token": data.token,
        "expire_date": data.expire_date,
    }


async def _require_credential(session: AsyncSession, credential_id: int) -> None:
    if await session.get(Credential, credential_id) is None:
        raise BadRequest(f"Credential with id: {credential_id} not found")
