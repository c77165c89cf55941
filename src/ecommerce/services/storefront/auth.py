"""Who is calling: the token from the Authorization header or the session cookie, and the role checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ecommerce.chassis import Forbidden, Unauthorized
from ecommerce.services.storefront.keys import KeyRing
from ecommerce.services.storefront.tokens import InvalidToken, Principal, verify

SESSION_COOKIE = "shop_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def keyring(request: Request) -> KeyRing:
    """The app's signing keys."""
    keys: KeyRing = request.app.state.keys
    return keys


def principal_from(request: Request, *, allow_cookie: bool) -> Principal | None:
    """The caller's verified principal, None when anonymous; Unauthorized for a bad bearer token."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        try:
            return verify(keyring(request), header[7:].strip())
        except InvalidToken:
            raise Unauthorized("Invalid or expired token", headers={"WWW-Authenticate": "Bearer"}) from None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and allow_cookie:
        try:
            return verify(keyring(request), cookie)
        except InvalidToken:
            return None
    return None


async def api_principal(request: Request) -> Principal | None:
    """API caller: a bearer token, or the session cookie for reads (writes need the header: no CSRF by cookie)."""
    return principal_from(request, allow_cookie=request.method in _SAFE_METHODS)


async def api_user(request: Request) -> Principal:
    """A signed-in API caller, 401 otherwise."""
    principal = await api_principal(request)
    if principal is None:
        raise Unauthorized("Sign in first", headers={"WWW-Authenticate": "Bearer"})
    return principal


def require_admin(principal: Principal | None) -> Principal:
    """The principal when it is an admin: 401 when anonymous, 403 otherwise."""
    if principal is None:
        raise Unauthorized("Sign in first", headers={"WWW-Authenticate": "Bearer"})
    if not principal.is_admin:
        raise Forbidden("Only an administrator may do this")
    return principal


MaybeApiUser = Annotated[Principal | None, Depends(api_principal)]
ApiUser = Annotated[Principal, Depends(api_user)]
