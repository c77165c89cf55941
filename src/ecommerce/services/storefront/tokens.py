"""Sign the shop's RS256 user tokens; they are verified by the chassis' one `TokenVerifier` over our own key set.

Claims: `sub` (username), `userId`, `roles`, `iat`, `exp`, `jti`, `iss` (`proxy-client`) and `aud` (`ecommerce`):
every verifier in the shop checks issuer and audience with the same 5 s leeway, and refuses a token issued before
its user's revocation floor (user-service's `credentials/revocations`).
"""

from __future__ import annotations

import time
import uuid

import jwt

from ecommerce.chassis import ROLE_ADMIN, ROLE_USER, USER_TOKEN_AUDIENCE, JwksCache, TokenVerifier
from ecommerce.services.storefront.keys import KeyRing

__all__ = ["ALGORITHM", "ROLE_ADMIN", "ROLE_USER", "issue", "verifier_for"]

ALGORITHM = "RS256"


def issue(keys: KeyRing, *, user_id: int, username: str, role: str, ttl_seconds: int, issuer: str) -> str:
    """A signed token for the user."""
    now = int(time.time())
    claims = {
        "sub": username,
        "userId": user_id,
        "roles": [role],
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "iss": issuer,
        "aud": USER_TOKEN_AUDIENCE,
    }
    return jwt.encode(claims, keys.private_key, algorithm=ALGORITHM, headers={"kid": keys.kid})


def verifier_for(keys: KeyRing, *, issuer: str) -> TokenVerifier:
    """The chassis verifier over the storefront's own key set (no JWKS round trip to itself)."""
    return TokenVerifier(JwksCache(document=keys.jwks()), issuer=issuer, audience=USER_TOKEN_AUDIENCE)
