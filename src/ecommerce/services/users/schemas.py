"""user-service JSON shapes: the original's field names, without any password or hash on the way out."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from ecommerce.chassis import ApiModel, LocalDate

Role = Literal["ROLE_USER", "ROLE_ADMIN"]
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Text255 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$"
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def _email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value) or ".." in value:
        raise ValueError("must be a valid email address")
    local, _, domain = value.rpartition("@")
    if len(local) > 64:
        raise ValueError("must be a valid email address")
    return f"{local}@{domain.lower()}"


def _password(value: str) -> str:
    if len(value.encode()) > 72:
        raise ValueError("must be at most 72 bytes")
    return value


Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, pattern=USERNAME_PATTERN)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=72), AfterValidator(_password)]


# --- responses ------------------------------------------------------------------------------------------


class UserRef(ApiModel):
    """A user's six scalar fields, as nested in an address or a credential."""

    user_id: int
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    email: str | None = None
    phone: str | None = None


class CredentialRef(ApiModel):
    """A credential's scalars as nested in a user or a token; never the password."""

    credential_id: int
    username: str
    role_based_authority: Role
    is_enabled: bool
    is_account_non_expired: bool
    is_account_non_locked: bool
    is_credentials_non_expired: bool


class UserOut(UserRef):
    """A user with its credential (null when the user has none)."""

    credential: CredentialRef | None = None


class CredentialOut(CredentialRef):
    """A credential with its user."""

    user: UserRef | None = None


class AddressOut(ApiModel):
    """An address with its user."""

    address_id: int
    full_address: str | None = None
    postal_code: str | None = None
    city: str | None = None
    user: UserRef | None = None


class VerificationTokenOut(ApiModel):
    """A verification token with its credential; `expireDate` as dd-MM-yyyy."""

    verification_token_id: int
    token: str | None = None
    expire_date: LocalDate | None = None
    credential: CredentialRef | None = None


class VerifiedIdentity(ApiModel):
    """The answer of a successful credential check."""

    user_id: int
    username: str
    role_based_authority: Role


class Revocation(ApiModel):
    """Tokens of `userId` issued (`iat`) before `notBefore` (epoch seconds) are void."""

    user_id: int
    not_before: int


class Revocations(ApiModel):
    """The revocation floors set within the longest token lifetime (older ones can only concern expired tokens)."""

    revocations: list[Revocation]


# --- requests -------------------------------------------------------------------------------------------


class UserIdRef(ApiModel):
    """A reference by id in a request body, e.g. `{"userId": 1}` (other fields are ignored)."""

    user_id: Id


class CredentialIdRef(ApiModel):
    """A reference by id in a request body, e.g. `{"credentialId": 1}` (other fields are ignored)."""

    credential_id: Id


class CredentialFields(ApiModel):
    """The writable fields of a credential; `password` is plain text, hashed before it is stored."""

    credential_id: Id | None = None
    username: Username
    password: Password | None = None
    # The password being replaced: required when a caller who is not an administrator sets a new `password`.
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    role_based_authority: Role = "ROLE_USER"
    is_enabled: bool = True
    is_account_non_expired: bool = True
    is_account_non_locked: bool = True
    is_credentials_non_expired: bool = True


class CredentialIn(CredentialFields):
    """Body of POST and PUT on credentials: the credential and the user it belongs to."""

    user: UserIdRef | None = None


class UserIn(ApiModel):
    """Body of POST and PUT on users; POST needs `credential` with a password."""

    user_id: Id | None = None
    first_name: Text255 | None = None
    last_name: Text255 | None = None
    image_url: Text255 | None = None
    email: Email | None = None
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^\+?[0-9 ()./-]{3,32}$")]
        | None
    ) = None
    credential: CredentialFields | None = None


class AddressIn(ApiModel):
    """Body of POST and PUT on addresses."""

    address_id: Id | None = None
    full_address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    postal_code: Text255 | None = None
    city: Text255 | None = None
    user: UserIdRef


class VerificationTokenIn(ApiModel):
    """Body of POST and PUT on verification tokens."""

    verification_token_id: Id | None = None
    token: Annotated[str, StringConstraints(max_length=255)] = ""
    expire_date: LocalDate | None = None
    credential: CredentialIdRef


class VerifyIn(ApiModel):
    """Body of the credential check."""

    username: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
