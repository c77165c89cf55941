"""Who may call an endpoint: a signed-in user (by their rules) or one of the shop's components (by name).

A request may carry a user's token (`Authorization: Bearer`), a service token (`X-Service-Token`, minted by the
calling component for this component's name, see identity.py), or both:
- with a user token, the user's rules apply (any signed-in user, then the endpoint's ownership checks; or admins
  only), whichever component forwarded it;
- with only a service token, the endpoint's allow-list of calling components applies (403 for any other);
- with neither, or with a token that does not verify, 401 with the one error body.

Each service's `dependencies.py` names its rules with these pieces (`allow`, `require_service`, `Access`); a
public endpoint (the catalog's reads, health) declares none. A service token is verified once and then remembered
until it expires (identity.ServiceTokenVerifier), so a busy peer costs one dictionary look-up per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from ecommerce.chassis.errors import Forbidden, Unauthorized
from ecommerce.chassis.identity import SERVICE_TOKEN_HEADER, Caller, IdentityError, ServiceTokenVerifier
from ecommerce.chassis.security import Principal, authenticate, bearer_token

UserRule = Literal["user", "admin", "none"]
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ecommerce"'}


@dataclass(frozen=True, slots=True)
class Access:
    """The proven caller of one request: `user` when a user token came (their rules apply), else `caller`."""

    user: Principal | None
    caller: Caller | None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin

    @property
    def scope_user_id(self) -> int | None:
        """The user whose rows a shopper may see; None when every row may be seen (an admin, or a component)."""
        if self.user is None or self.user.is_admin:
            return None
        return self.user.user_id if self.user.user_id is not None else -1

    def acts_for(self, user_id: int | None) -> bool:
        """True when this request may read or change `user_id`'s rows: that user, an admin, or an allowed
        component."""
        scope = self.scope_user_id
        return scope is None or (user_id is not None and scope == user_id)

    def require_acts_for(self, user_id: int | None, what: str) -> None:
        """403 unless this request may read or change `user_id`'s rows."""
        if not self.acts_for(user_id):
            raise Forbidden(f"You may only see and change your own {what}")


async def service_caller(request: Request) -> Caller | None:
    """The component a valid `X-Service-Token` proves; None without one; 401 for a token that does not verify
    (wrong key, expired, or minted for another component)."""
    token = request.headers.get(SERVICE_TOKEN_HEADER)
    if token is None:
        return None
    verifier: ServiceTokenVerifier | None = getattr(request.app.state, "service_token_verifier", None)
    if verifier is None:
        raise Unauthorized("Service tokens are not accepted here", headers=_CHALLENGE)
    try:
        return verifier.verify(token)
    except IdentityError as exc:
        raise Unauthorized(str(exc), headers=_CHALLENGE) from exc


def allow(*components: str, users: UserRule = "user") -> DependsParam:
    """A dependency giving the request's `Access`: a user token under rule `users` ("user": any signed-in user,
    ownership checked by the endpoint; "admin": administrators only; "none": no user at all), or else a service
    token from one of `components`."""
    allowed = frozenset(components)

    async def checker(request: Request, caller: Annotated[Caller | None, Depends(service_caller)]) -> Access:
        return await _access(request, caller, allowed, users)

    dependency: DependsParam = Depends(checker)
    return dependency


def require_service(*components: str) -> DependsParam:
    """A dependency for endpoints only the shop's own components call (event consumers, stock reservations):
    the caller from a service token of one of `components`; a user token is refused (403)."""
    allowed = frozenset(components)

    async def checker(request: Request, caller: Annotated[Caller | None, Depends(service_caller)]) -> Caller:
        access = await _access(request, caller, allowed, "none")
        assert access.caller is not None
        return access.caller

    dependency: DependsParam = Depends(checker)
    return dependency


async def _access(request: Request, caller: Caller | None, allowed: frozenset[str], users: UserRule) -> Access:
    token = bearer_token(request.headers.get("authorization"))
    if token is not None:
        user = await authenticate(request, token)
        if users == "none" or (users == "admin" and not user.is_admin):
            raise Forbidden("Not allowed for this user")
        return Access(user, caller)
    if caller is None:
        raise Unauthorized("Sign-in or a service token required", headers=_CHALLENGE)
    if caller.name not in allowed:
        raise Forbidden(f"{caller.name} may not call this endpoint")
    return Access(None, caller)
