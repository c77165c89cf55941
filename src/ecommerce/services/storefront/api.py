"""The /app/api surface: sign-in, self-registration, checkout, and the original's resources with ownership rules.

Rules: the catalog is public to read and admin-only to write; a signed-in user sees and changes only their own
profile, addresses, favourites and carts, and reads only their own orders, payments and shipments (orders are
created by checkout; a user may move their own payment on); credentials and verification tokens are admin-only;
an admin may do everything. Anything not listed is admin-only.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field, StringConstraints

from ecommerce.chassis import ApiModel, BadRequest, Forbidden, NotFound, ServiceError, Unauthorized
from ecommerce.services.storefront import clients
from ecommerce.services.storefront.auth import ApiUser, MaybeApiUser, keyring, require_admin
from ecommerce.services.storefront.signin import sign_in
from ecommerce.services.storefront.tokens import ROLE_USER, InvalidToken, Principal, verify

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
async def check_token(request: Request, jwt: Annotated[str, Path(max_length=8192)]) -> dict[str, Any]:
    """Whether a token is valid, and whose it is."""
    try:
        principal = verify(keyring(request), jwt)
    except InvalidToken as exc:
        return {"valid": False, "reason": str(exc)}
    return {
        "valid": True,
        "username": principal.username,
        "userId": principal.user_id,
        "roles": list(principal.roles),
        "expiresAt": principal.expires_at,
    }


@router.post("/users", status_code=201)
async def register(request: Request, principal: MaybeApiUser) -> Any:
    """Public self-registration: the role is always ROLE_USER (an admin may choose another)."""
    body = await _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        raise BadRequest("A user needs a 'credential' with 'username' and 'password'")
    body.pop("userId", None)
    if principal is None or not principal.is_admin:
        body["credential"]["roleBasedAuthority"] = ROLE_USER
    peers = clients.Peers.of(request, principal if principal and principal.is_admin else None)
    status, answer = await peers.call("POST", clients.USERS, "/user-service/api/users", json=body)
    return _answer(clients.USERS, status, answer)


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
    return await clients.checkout(clients.Peers.of(request, principal), principal.user_id, items, key)


# --- the mirror ----------------------------------------------------------------------------------------------

RESOURCES: dict[str, tuple[str, str]] = {
    "users": (clients.USERS, "/user-service/api/users"),
    "address": (clients.USERS, "/user-service/api/address"),
    "credentials": (clients.USERS, "/user-service/api/credentials"),
    "verificationTokens": (clients.USERS, "/user-service/api/verificationTokens"),
    "categories": (clients.PRODUCTS, "/product-service/api/categories"),
    "products": (clients.PRODUCTS, "/product-service/api/products"),
    "favourites": (clients.FAVOURITES, "/favourite-service/api/favourites"),
    "carts": (clients.ORDERS, "/order-service/api/carts"),
    "orders": (clients.ORDERS, "/order-service/api/orders"),
    "payments": (clients.PAYMENTS, "/payment-service/api/payments"),
    "shippings": (clients.SHIPPING, "/shipping-service/api/shippings"),
}
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass
class Call:
    """One request to a mirrored resource."""

    request: Request
    principal: Principal | None
    peer: str
    base: str
    segments: list[str]
    method: str
    body: Any

    @property
    def user(self) -> Principal:
        if self.principal is None:
            raise Unauthorized("Sign in first", headers={"WWW-Authenticate": "Bearer"})
        return self.principal

    @property
    def peers(self) -> clients.Peers:
        return clients.Peers.of(self.request, self.principal)

    async def forward(self, *, params: dict[str, Any] | None = None, body: Any = None) -> tuple[int, Any]:
        path = self.base + "".join(f"/{s}" for s in self.segments)
        query = {**self.request.query_params, **(params or {})}
        sent = body if body is not None else self.body
        return await self.peers.call(self.method, self.peer, path, params=query or None, json=sent)

    async def passthrough(self, **kwargs: Any) -> Response:
        status, body = await self.forward(**kwargs)
        return _answer(self.peer, status, body)

    async def fetch(self, suffix: str) -> dict[str, Any]:
        """GET one row of this resource by sub-path (the peer's error when missing)."""
        row = await self.peers.fetch("GET", self.peer, f"{self.base}/{suffix}")
        if not isinstance(row, dict):
            raise NotFound("Not found")
        return row

    def segment_id(self, index: int = 0) -> int:
        try:
            value = int(self.segments[index])
        except (IndexError, ValueError):
            raise BadRequest(f"Invalid id '{'/'.join(self.segments)}'") from None
        if not 1 <= value <= 2_147_483_647:
            raise BadRequest(f"Invalid id {value}")
        return value


@router.api_route("/{resource}", methods=_METHODS, include_in_schema=False)
@router.api_route("/{resource}/{rest:path}", methods=_METHODS, include_in_schema=False)
async def mirror(request: Request, principal: MaybeApiUser, resource: str, rest: str = "") -> Response:
    """Forward to the service behind `resource`, applying the ownership rules."""
    target = RESOURCES.get(resource)
    if target is None:
        raise NotFound(f"No resource at {request.url.path}")
    segments = [s for s in rest.split("/") if s]
    body = (
        await _json_body(request)
        if request.method in ("POST", "PUT", "PATCH") or segments[:1] in (["find"], ["delete"])
        else None
    )
    call = Call(request, principal, target[0], target[1], segments, request.method, body)
    if principal is not None and principal.is_admin:
        return await call.passthrough()
    return await POLICIES.get(resource, _admin_only)(call)


async def _admin_only(call: Call) -> Response:
    require_admin(call.principal)
    return await call.passthrough()


async def _catalog(call: Call) -> Response:
    if call.method == "GET":
        return await call.passthrough()
    return await _admin_only(call)


async def _users(call: Call) -> Response:
    me = call.user
    path, method = call.segments, call.method
    if method == "GET" and not path:
        user = await call.peers.fetch("GET", call.peer, f"{call.base}/{me.user_id}")
        return JSONResponse({"collection": [user]})
    if method in ("GET", "DELETE") and len(path) == 1:
        _own(call.segment_id() == me.user_id, "user")
        return await call.passthrough()
    if method == "GET" and len(path) == 2 and path[0] == "username":
        _own(path[1] == me.username, "user")
        return await call.passthrough()
    if method == "PUT" and len(path) <= 1:
        body = _dict_body(call)
        if path:
            _own(call.segment_id() == me.user_id, "user")
        _own(body.setdefault("userId", me.user_id) == me.user_id, "user")
        if isinstance(body.get("credential"), dict):
            body["credential"]["roleBasedAuthority"] = ROLE_USER
        return await call.passthrough(body=body)
    raise Forbidden("Only an administrator may do this")


async def _addresses(call: Call) -> Response:
    me = call.user
    path, method = call.segments, call.method
    if method == "GET" and not path:
        return await _filtered(call, lambda a: clients.address_owner(a) == me.user_id, userId=me.user_id)
    if method == "POST" and not path:
        body = _dict_body(call)
        body["user"] = {"userId": me.user_id}
        return await call.passthrough(body=body)
    if method in ("GET", "DELETE", "PUT") and len(path) <= 1:
        body = _dict_body(call) if method == "PUT" else None
        address_id = call.segment_id() if path else _int(body, "addressId")
        existing = await call.fetch(str(address_id))
        _own(clients.address_owner(existing) == me.user_id, "address")
        if body is not None:
            body["addressId"] = address_id
            body["user"] = {"userId": me.user_id}
        return await call.passthrough(body=body)
    raise Forbidden("Only an administrator may do this")


async def _favourites(call: Call) -> Response:
    me = call.user
    path, method = call.segments, call.method
    if method == "GET" and not path:
        return await _filtered(call, lambda f: f.get("userId") == me.user_id, userId=me.user_id)
    if method in ("POST", "PUT") and not path:
        body = _dict_body(call)
        body["userId"] = me.user_id
        return await call.passthrough(body=body)
    if method in ("GET", "DELETE") and len(path) == 3:
        _own(call.segment_id(0) == me.user_id, "favourite")
        return await call.passthrough()
    if path in (["find"], ["delete"]):
        _own(_int(_dict_body(call), "userId") == me.user_id, "favourite")
        return await call.passthrough()
    raise Forbidden("Only an administrator may do this")


async def _carts(call: Call) -> Response:
    me = call.user
    path, method = call.segments, call.method
    if method == "GET" and not path:
        return await _filtered(call, lambda c: c.get("userId") == me.user_id, userId=me.user_id)
    if method == "POST" and not path:
        body = _dict_body(call)
        body.pop("cartId", None)
        body["userId"] = me.user_id
        return await call.passthrough(body=body)
    if method in ("GET", "DELETE", "PUT") and len(path) <= 1:
        body = _dict_body(call) if method == "PUT" else None
        cart_id = call.segment_id() if path else _int(body, "cartId")
        _own((await call.fetch(str(cart_id))).get("userId") == me.user_id, "cart")
        if body is not None:
            body.update(cartId=cart_id, userId=me.user_id)
        return await call.passthrough(body=body)
    raise Forbidden("Only an administrator may do this")


async def _orders(call: Call) -> Response:
    me = call.user
    path, method = call.segments, call.method
    if method == "GET" and not path:
        return JSONResponse({"collection": await clients.list_orders(call.peers, me.user_id)})
    if method == "GET" and len(path) == 1:
        order = await call.fetch(str(call.segment_id()))
        _own(await clients.resolve_order_owner(call.peers, order) == me.user_id, "order")
        return JSONResponse(order)
    raise Forbidden("Orders are placed through checkout; only an administrator may change them")


async def _my_order_ids(call: Call) -> set[int]:
    return {o["orderId"] for o in await clients.list_orders(call.peers, call.user.user_id) if "orderId" in o}


async def _owns_order(call: Call, order_id: int | None) -> bool:
    """Whether the caller placed `order_id`: one order looked up, however many orders they have."""
    if order_id is None:
        return False
    try:
        order = await clients.get_order(call.peers, order_id)
    except ServiceError as exc:
        if exc.status == 404:
            return False
        raise
    return await clients.resolve_order_owner(call.peers, order) == call.user.user_id


async def _payments(call: Call) -> Response:
    call.user  # noqa: B018  (401 for anonymous callers before anything else)
    path, method = call.segments, call.method
    if method == "GET" and not path:
        mine = await _my_order_ids(call)
        return await _filtered(call, lambda p: clients.payment_order_id(p) in mine)
    if (method in ("GET", "PATCH") and len(path) == 1) or (method == "PUT" and not path):
        body = _dict_body(call) if method in ("PUT", "PATCH") else None
        payment_id = call.segment_id() if path else _int(body, "paymentId")
        payment = await call.fetch(str(payment_id))
        _own(await _owns_order(call, clients.payment_order_id(payment)), "payment")
        if body is not None and method == "PUT":
            body["paymentId"] = payment_id
            body["order"] = {"orderId": clients.payment_order_id(payment)}
        return await call.passthrough(body=body)
    raise Forbidden("Only an administrator may do this")


async def _shippings(call: Call) -> Response:
    call.user  # noqa: B018  (401 for anonymous callers before anything else)
    path, method = call.segments, call.method
    if method == "GET" and not path:
        mine = await _my_order_ids(call)
        return await _filtered(call, lambda s: s.get("orderId") in mine)
    if method == "GET" and path and path[0] not in ("find", "delete"):
        _own(await _owns_order(call, call.segment_id(1 if path[0] == "orders" else 0)), "shipment")
        return await call.passthrough()
    raise Forbidden("Only an administrator may change shipments")


POLICIES: dict[str, Callable[[Call], Awaitable[Response]]] = {
    "categories": _catalog,
    "products": _catalog,
    "users": _users,
    "address": _addresses,
    "favourites": _favourites,
    "carts": _carts,
    "orders": _orders,
    "payments": _payments,
    "shippings": _shippings,
}


async def _filtered(call: Call, keep: Callable[[dict[str, Any]], bool], **params: Any) -> Response:
    """Forward a list call (with `params`) and answer only the rows `keep` accepts: the caller's own."""
    status, body = await call.forward(params=params or None)
    if status >= 400:
        return _answer(call.peer, status, body)
    return JSONResponse({"collection": [row for row in clients.collection(body) if keep(row)]})


def _own(condition: bool, what: str) -> None:
    if not condition:
        raise Forbidden(f"You may only see and change your own {what}")


def _dict_body(call: Call) -> dict[str, Any]:
    if not isinstance(call.body, dict):
        raise BadRequest("Expected a JSON object body")
    return call.body


def _int(body: Any, field: str) -> int:
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 2_147_483_647:
        raise BadRequest(f"Invalid value for '{field}': a positive id is required")
    return value


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Malformed JSON body") from None


def _answer(peer: str, status: int, body: Any) -> Response:
    """The peer's answer as ours; its errors as the one error body, never nested in a string."""
    if status >= 400:
        raise clients.peer_error(peer, status, body)
    if status == 204 or body is None:
        return Response(status_code=status)
    return JSONResponse(body, status_code=status)
