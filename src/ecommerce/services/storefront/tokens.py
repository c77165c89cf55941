"""Sign and verify the shop's RS256 tokens (claims: sub, userId, roles, iat, exp, iss)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from ecommerce.services.storefront.keys import KeyRing

ROLE_USER = "ROLE_USER"
ROLE_ADMIN = "ROLE_ADMIN"
ALGORITHM = "RS256"


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    user_id: int
    username: str
    roles: tuple[str, ...]
    token: str
    expires_at: int

    @property
    def is_admin(self) -> bool:
        return ROLE_ADMIN in self.roles


class InvalidToken(Exception):
    """The token is malformed, expired, or not signed by one of our keys."""


def issue(keys: KeyRing, *, user_id: int, username: str, role: str, ttl_seconds: int, issuer: str) -> str:
    """A signed token for the user."""
    now = int(time.time())
    claims = {"sub": username, "userId": user_id, "roles": [role], "iat": now, "exp": now + ttl_seconds, "iss": issuer}
    return jwt.encode(claims, keys.private_key, algorithm=ALGORITHM, headers={"kid": keys.kid})


def verify(keys: KeyRing, token: str) -> Principal:
    """The principal of a valid token; InvalidToken otherwise."""
    try:
        header = jwt.get_unverified_header(token)
        public_key = keys.public_keys.get(str(header.get("kid")))
        if public_key is None:
            raise InvalidToken("Unknown signing key")
        claims = jwt.decode(
            token, public_key, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]}, leeway=5
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    user_id, roles = claims.get("userId"), claims.get("roles")
    if not isinstance(user_id, int) or not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("Token lacks userId or roles")
    return Principal(
        user_id=user_id, username=str(claims["sub"]), roles=tuple(roles), token=token, expires_at=int(claims["exp"])
    )
