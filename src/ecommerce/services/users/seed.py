"""The original's demo users (Flyway V2, V4, V6, V8) with known demo passwords, loaded into an empty database.

Demo passwords are `<username>-demo` (so `admin` / `admin-demo`), hashed at seed time with a low cost (4, as the
original's `$2a$04$` hashes); a successful sign-in upgrades the hash to the configured cost. `admin` is a real
ROLE_ADMIN. The original gave all four users the same default email; the seed gives each its own, because
emails are unique here.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import is_empty, sync_sequence
from ecommerce.services.users.models import Address, Credential, User, VerificationToken
from ecommerce.services.users.passwords import hash_password

SEED_ROUNDS = 4
DEFAULT_IMAGE = "https://bootdey.com/img/Content/avatar/avatar7.png"
DEFAULT_PHONE = "+21622125144"

# user_id, first name, last name, username, role
USERS = [
    (1, "selim", "horri", "selimhorri", "ROLE_USER"),
    (2, "amine", "ladjimi", "amineladjimi", "ROLE_USER"),
    (3, "omar", "derouiche", "omarderouiche", "ROLE_USER"),
    (4, "admin", "admin", "admin", "ROLE_ADMIN"),
]
# address_id, user_id, full address, postal code, city
ADDRESSES = [
    (1, 1, "carthage byrsa", "2016", "carthage"),
    (2, 2, "carthage byrsa", "2016", "carthage"),
    (3, 3, "carthage byrsa", "2016", "carthage"),
    (4, 4, "carthage byrsa", "2016", "carthage"),
    (5, 2, "kram", "2015", "kram"),
    (6, 1, "kram", "2015", "kram"),
]


def demo_password(username: str) -> str:
    """The documented demo password of a seeded user."""
    return f"{username}-demo"


async def seed(session: AsyncSession) -> None:
    """Insert the demo users, addresses, credentials and tokens when there are no users."""
    if not await is_empty(session, User.__table__):
        return
    await session.execute(
        insert(User),
        [
            {
                "user_id": uid,
                "first_name": first,
                "last_name": last,
                "image_url": DEFAULT_IMAGE,
                "email": f"{username}@example.com",
                "phone": DEFAULT_PHONE,
            }
            for uid, first, last, username, _ in USERS
        ],
    )
    await session.execute(
        insert(Address),
        [
            {"address_id": aid, "user_id": uid, "full_address": full, "postal_code": postal, "city": city}
            for aid, uid, full, postal, city in ADDRESSES
        ],
    )
    await session.execute(
        insert(Credential),
        [
            {
                "credential_id": uid,
                "user_id": uid,
                "username": username,
                "password": await hash_password(demo_password(username), rounds=SEED_ROUNDS),
                "role": role,
                "is_enabled": True,
                "is_account_non_expired": True,
                "is_account_non_locked": True,
                "is_credentials_non_expired": True,
            }
            for uid, _, _, username, role in USERS
        ],
    )
    await session.execute(
        insert(VerificationToken),
        [
            {"verification_token_id": uid, "credential_id": uid, "verif_token": "", "expire_date": date(2021, 12, 31)}
            for uid, *_ in USERS
        ],
    )
    for table, column in (
        (User.__table__, "user_id"),
        (Address.__table__, "address_id"),
        (Credential.__table__, "credential_id"),
        (VerificationToken.__table__, "verification_token_id"),
    ):
        await sync_sequence(session, table, column)
