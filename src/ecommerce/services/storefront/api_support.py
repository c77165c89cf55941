"""What every /app/api route shares: validated path ids, JSON bodies, the ownership check, relaying a call.

A route names the peer endpoint it calls (a `clients.peer_path` template); ids come in as ints in 1..2^31-1 and
the few keys (a username, a like date) by strict patterns, so nothing a client writes in the path can change which
URL a peer is called at.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import Depends, Path, Request
from fastapi.responses import JSONResponse, Response

from ecommerce.chassis import BadRequest, Forbidden, Principal
from ecommerce.services.storefront import clients
from ecommerce.services.storefront.auth import verifier

MAX_ID = clients.MAX_ID
LIKE_DATE_PATTERN = r"^\d{2}-\d{2}-\d{4}__\d{2}:\d{2}:\d{2}:\d{6}$"
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


def path_id(alias: str) -> Any:
    """A path id: an int in 1..2^31-1 (anything else is a 400 before any peer is called)."""
    return Path(alias=alias, ge=1, le=MAX_ID)


UserId = Annotated[int, path_id("userId")]
AddressId = Annotated[int, path_id("addressId")]
CredentialId = Annotated[int, path_id("credentialId")]
TokenId = Annotated[int, path_id("verificationTokenId")]
ProductId = Annotated[int, path_id("productId")]
CategoryId = Annotated[int, path_id("categoryId")]
CartId = Annotated[int, path_id("cartId")]
OrderId = Annotated[int, path_id("orderId")]
PaymentId = Annotated[int, path_id("paymentId")]
Username = Annotated[str, Path(pattern=USERNAME_PATTERN, max_length=128)]
LikeDate = Annotated[str, Path(alias="likeDate", pattern=LIKE_DATE_PATTERN)]


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Malformed JSON body") from None


async def _json_object(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("Expected a JSON object body")
    return body


JsonBody = Annotated[Any, Depends(_json_body)]
JsonObject = Annotated[dict[str, Any], Depends(_json_object)]


def own(condition: bool, what: str) -> None:
    """403 unless the row is the caller's."""
    if not condition:
        raise Forbidden(f"You may only see and change your own {what}")


def body_id(body: Any, field: str) -> int:
    """A positive id from a JSON body field, 400 otherwise."""
    value = body.get(field) if isinstance(body, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise BadRequest(f"Invalid value for '{field}': a positive id is required")
    return value


def query(request: Request, *names: str) -> dict[str, str] | None:
    """The caller's query parameters among `names` (the peer validates their values; they never touch the path)."""
    picked = {name: request.query_params[name] for name in names if name in request.query_params}
    return picked or None


async def relay(
    request: Request,
    principal: Principal | None,
    method: str,
    peer: str,
    path: clients.PeerPath,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
) -> Response:
    """Call one peer endpoint on the caller's behalf and answer with what it said."""
    status, body = await clients.Peers.of(request, principal).call(method, peer, path, params=params, json=json)
    return answer(peer, status, body)


async def fetch(request: Request, principal: Principal | None, peer: str, path: clients.PeerPath) -> dict[str, Any]:
    """One row (the peer's own error when it has none)."""
    row = await clients.Peers.of(request, principal).fetch("GET", peer, path)
    if not isinstance(row, dict):
        raise BadRequest(f"{peer} answered an unexpected body")
    return row


async def only_mine(
    request: Request, principal: Principal, peer: str, path: clients.PeerPath, keep: Any, **params: Any
) -> Response:
    """A list call answered with only the rows `keep` accepts: the caller's own."""
    status, body = await clients.Peers.of(request, principal).call("GET", peer, path, params=params or None)
    if status >= 400:
        return answer(peer, status, body)
    return JSONResponse({"collection": [row for row in clients.collection(body) if keep(row)]})


def answer(peer: str, status: int, body: Any) -> Response:
    """The peer's answer as ours; its errors as the one error body, never nested in a string."""
    if status >= 400:
        raise clients.peer_error(peer, status, body)
    if status == 204 or body is None:
        return Response(status_code=status)
    return JSONResponse(body, status_code=status)


def revoke_here(request: Request, user_id: int, not_before: int | None = None) -> None:
    """Refuse the user's older tokens at once here, before the next poll of user-service's list says so too."""
    floors = verifier(request).revocations.not_before
    moment = int(time.time()) if not_before is None else not_before
    floors[user_id] = max(moment, floors.get(user_id, moment))
