"""Who is calling: the token from the Authorization header or the session cookie, verified by the chassis verifier
(issuer, audience, expiry with 5 s leeway, the user's revocation floor), and the role checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ecommerce.chassis import Forbidden, Principal, TokenError, TokenVerifier, Unauthorized, bearer_token
from ecommerce.services.storefront.keys import KeyRing

SESSION_COOKIE = "shop_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def keyring(request: Request) -> KeyRing:
    """The app's signing keys."""
    keys: KeyRing = request.app.state.keys
    return keys


def verifier(request: Request) -> TokenVerifier:
    """The app's token verifier (built over our own key set at start-up)."""
    found: TokenVerifier = request.app.state.token_verifier
    return found


async def check(request: Request, token: str) -> Principal:
    """The principal of a valid, unrevoked token of a known user; TokenError otherwise."""
    principal = await verifier(request).verify(token)
    if principal.user_id is None:
        raise TokenError("Token lacks userId")
    return principal


async def principal_from(request: Request, *, allow_cookie: bool) -> Principal | None:
    """The caller's verified principal, None when anonymous; Unauthorized for a bad bearer token.

    The token itself is kept on `request.state.user_token`: calls to peers on the caller's behalf carry it on.
    """
    token = bearer_token(request.headers.get("authorization"))
    if token is not None:
        try:
            principal = await check(request, token)
        except TokenError:
            raise Unauthorized("Invalid or expired token", headers=_CHALLENGE) from None
    else:
        token = request.cookies.get(SESSION_COOKIE) if allow_cookie else None
        if not token:
            return None
        try:
            principal = await check(request, token)
        except TokenError:
            return None
    request.state.user_token = token
    return principal


async def api_principal(request: Request) -> Principal | None:
    """API caller: a bearer token, or the session cookie for reads (writes need the header: no CSRF by cookie)."""
    return await principal_from(request, allow_cookie=request.method in _SAFE_METHODS)


async def api_user(request: Request) -> Principal:
    """A signed-in API caller, 401 otherwise."""
    principal = await api_principal(request)
    if principal is None:
        raise Unauthorized("Sign in first", headers=_CHALLENGE)
    return principal


async def api_admin(request: Request) -> Principal:
    """An administrator: 401 when anonymous, 403 for anyone else."""
    return require_admin(await api_principal(request))


def require_admin(principal: Principal | None) -> Principal:
    """The principal when it is an admin: 401 when anonymous, 403 otherwise."""
    if principal is None:
        raise Unauthorized("Sign in first", headers=_CHALLENGE)
    if not principal.is_admin:
        raise Forbidden("Only an administrator may do this")
    return principal


def user_id_of(principal: Principal) -> int:
    """The caller's user id (every token the storefront accepts carries one)."""
    assert principal.user_id is not None
    return principal.user_id


MaybeApiUser = Annotated[Principal | None, Depends(api_principal)]
ApiUser = Annotated[Principal, Depends(api_user)]
ApiAdmin = Annotated[Principal, Depends(api_admin)]
