"""The /app/api surface: sign-in, self-registration, checkout, and the original's resources with ownership rules.

Rules: the catalog is public to read and admin-only to write; a signed-in user sees and changes only their own
profile, addresses, favourites and carts, and reads only their own orders, payments and shipments (orders are
created by checkout; a user may move their own payment on); credentials and verification tokens are admin-only;
an admin may do everything. Each operation is a declared route (api_accounts, api_catalog, api_orders) that calls
one named peer endpoint with validated ids: no client path is ever forwarded, and anything not declared is a 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints

from ecommerce.chassis import ApiModel, BadRequest, TokenError
from ecommerce.services.storefront import api_accounts, api_cart, api_catalog, api_orders, clients
from ecommerce.services.storefront.api_support import JsonObject, answer
from ecommerce.services.storefront.auth import ApiUser, MaybeApiUser, check, keyring, user_id_of
from ecommerce.services.storefront.signin import sign_in
from ecommerce.services.storefront.tokens import ROLE_USER

router = APIRouter(prefix="/api", tags=["storefront api"])
well_known = APIRouter(tags=["keys"])

Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class AuthenticationRequest(ApiModel):
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class AuthenticationResponse(ApiModel):
    jwt_token: str


class CheckoutLine(ApiModel):
    product_id: Annotated[int, Field(ge=1, le=2_147_483_647)]
    quantity: Annotated[int, Field(ge=1, le=10_000)]


class CheckoutRequest(ApiModel):
    items: Annotated[list[CheckoutLine], Field(min_length=1, max_length=100)]


@well_known.get("/.well-known/jwks.json")
async def jwks(request: Request) -> JSONResponse:
    """The public keys tokens are verified with: the current one and those kept after a rotation."""
    return JSONResponse(keyring(request).jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.post("/authenticate")
async def authenticate(request: Request, body: AuthenticationRequest) -> AuthenticationResponse:
    token, _ = await sign_in(request, body.username, body.password)
    return AuthenticationResponse(jwt_token=token)


@router.get("/authenticate/jwt/{jwt}")
async def check_token(request: Request, jwt: Annotated[str, Path(max_length=8192)]) -> bool:
    """Whether a token is valid: signature, issuer, audience, expiry, not revoked.

    The original's answer, a JSON boolean (its clients parse `true`/`false`). Whose token it is, its roles and expiry
    are the token's own claims, which a client reads from its payload.
    """
    try:
        await check(request, jwt)
    except TokenError:
        return False
    return True


@router.post("/users", status_code=201)
async def register(request: Request, principal: MaybeApiUser, body: JsonObject) -> Any:
    """Public self-registration: the role is always ROLE_USER (an admin may choose another)."""
    if not isinstance(body.get("credential"), dict):
        raise BadRequest("A user needs a 'credential' with 'username' and 'password'")
    body.pop("userId", None)
    admin = principal is not None and principal.is_admin
    if not admin:
        body["credential"]["roleBasedAuthority"] = ROLE_USER
    status, created = await clients.sign_up(clients.Peers.of(request, principal if admin else None), body)
    return answer(clients.USERS, status, created)


@router.post("/checkout", status_code=201)
async def checkout(
    request: Request,
    principal: ApiUser,
    body: CheckoutRequest,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> Any:
    """Place an order for the signed-in user (the user comes from the token, never from the body)."""
    items = [{"productId": line.product_id, "quantity": line.quantity} for line in body.items]
    key = idempotency_key or uuid.uuid4().hex
    placed = await clients.checkout(clients.Peers.of(request, principal), user_id_of(principal), items, key)
    return JSONResponse(
        placed.order, status_code=201, headers={clients.REPLAYED_HEADER: "true"} if placed.replayed else None
    )


for _resources in (api_accounts.router, api_cart.router, api_catalog.router, api_orders.router):
    router.include_router(_resources)
