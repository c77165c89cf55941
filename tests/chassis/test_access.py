"""Who may call: user tokens (issuer, audience, leeway, revocation), service tokens, the management guard, and the
chassis-wide refusal of deeply nested JSON."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fastapi import APIRouter, Request
from shop_testing import (
    mesh_secrets,
    operator_headers,
    prometheus_headers,
    service_headers,
    trusting_verifier,
    user_headers,
    user_token,
)

from ecommerce.chassis import ServiceSettings, ServiceSpec, create_app
from ecommerce.chassis.access import Access, allow, require_service
from ecommerce.chassis.http import PeerClient
from ecommerce.chassis.identity import (
    SERVICE_TOKEN_HEADER,
    Caller,
    IdentityError,
    MeshSecrets,
    ServiceTokens,
    verify_service_token,
)
from ecommerce.chassis.security import Revocations, TokenError, parse_revocations, revocation_poller

router = APIRouter()


@router.get("/mixed/{userId}")
async def mixed(access: Annotated[Access, allow("order-service")], request: Request) -> dict[str, Any]:
    access.require_acts_for(int(request.path_params["userId"]), "rows")
    return {"user": access.user.user_id if access.user else None, "caller": access.caller and access.caller.name}


@router.get("/admin")
async def admin_only(access: Annotated[Access, allow("payment-service", users="admin")]) -> dict[str, bool]:
    return {"admin": access.is_admin}


@router.post("/events")
async def events(caller: Annotated[Caller, require_service("order-service")]) -> dict[str, str]:
    return {"caller": caller.name}


@router.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    return {"bytes": len(await request.body())}


SPEC = ServiceSpec(name="demo-service", port=8999, context_path="/demo", routers=(router,))


@pytest.fixture
async def client(make_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(SPEC, headers={}) as client:
        yield client


def _token_for(caller: str, audience: str = "demo-service") -> dict[str, str]:
    return service_headers(caller, audience)


async def test_user_token_rules(client: httpx.AsyncClient) -> None:
    assert (await client.get("/demo/mixed/1")).status_code == 401
    assert (await client.get("/demo/mixed/1", headers=user_headers(1))).json() == {"user": 1, "caller": None}
    assert (await client.get("/demo/mixed/2", headers=user_headers(1))).status_code == 403
    admin = user_headers(9, roles=("ROLE_ADMIN",))
    assert (await client.get("/demo/mixed/2", headers=admin)).status_code == 200
    assert (await client.get("/demo/admin", headers=user_headers(1))).status_code == 403
    assert (await client.get("/demo/admin", headers=admin)).json() == {"admin": True}
    # A shopper's token with a peer's service token: the shopper's rules still apply.
    both = {**user_headers(1), **_token_for("order-service")}
    assert (await client.get("/demo/mixed/2", headers=both)).status_code == 403


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "somebody-else"},
        {"aud": "another-shop"},
        {"iss": None},
        {"aud": None},
        {"exp": int(time.time()) - 6},  # beyond the 5 s leeway
    ],
    ids=["issuer", "audience", "no-issuer", "no-audience", "expired-beyond-leeway"],
)
async def test_user_tokens_with_wrong_claims_are_refused(client: httpx.AsyncClient, claims: dict[str, Any]) -> None:
    token = user_token(1, **claims)
    answer = await client.get("/demo/mixed/1", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401, answer.text
    assert answer.json()["msg"]


async def test_leeway_is_five_seconds(client: httpx.AsyncClient) -> None:
    just_expired = user_headers(1, exp=int(time.time()) - 2)
    assert (await client.get("/demo/mixed/1", headers=just_expired)).status_code == 200


async def test_service_tokens(client: httpx.AsyncClient) -> None:
    assert (await client.get("/demo/mixed/5", headers=_token_for("order-service"))).json() == {
        "user": None,
        "caller": "order-service",
    }
    assert (await client.get("/demo/mixed/5", headers=_token_for("favourite-service"))).status_code == 403
    assert (await client.get("/demo/mixed/5", headers=_token_for("order-service", "user-service"))).status_code == 401
    forged = ServiceTokens(MeshSecrets.parse("other:" + "x" * 40, "o" * 12, "p" * 12), "order-service")
    wrong_key = {SERVICE_TOKEN_HEADER: forged.token_for("demo-service")}
    assert (await client.get("/demo/mixed/5", headers=wrong_key)).status_code == 401
    garbage = {SERVICE_TOKEN_HEADER: "not-a-token"}
    assert (await client.get("/demo/mixed/5", headers=garbage)).status_code == 401
    # A bad service token is refused even beside a good user token.
    assert (await client.get("/demo/mixed/1", headers={**user_headers(1), **garbage})).status_code == 401


async def test_service_only_endpoint(client: httpx.AsyncClient) -> None:
    assert (await client.post("/demo/events")).status_code == 401
    assert (await client.post("/demo/events", headers=_token_for("order-service"))).json() == {
        "caller": "order-service"
    }
    assert (await client.post("/demo/events", headers=_token_for("payment-service"))).status_code == 403
    admin = user_headers(9, roles=("ROLE_ADMIN",))
    assert (await client.post("/demo/events", headers=admin)).status_code == 403


def test_expired_service_token_is_refused() -> None:
    secrets = mesh_secrets()
    kid, key = secrets.signing_key
    now = int(time.time())
    claims = {"iss": "ecommerce-mesh", "sub": "order-service", "aud": "demo-service", "iat": now - 400, "exp": now - 6}
    token = jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})
    with pytest.raises(IdentityError, match="expired"):
        verify_service_token(secrets, token, "demo-service")


async def test_revoked_tokens_are_refused_even_when_cached() -> None:
    verifier = trusting_verifier()
    token = user_token(1, iat=int(time.time()) - 60)
    assert (await verifier.verify(token)).user_id == 1
    verifier.revocations.replace({1: int(time.time()) - 10})
    with pytest.raises(TokenError, match="revoked"):
        await verifier.verify(token)
    fresh = user_token(1)
    assert (await verifier.verify(fresh)).user_id == 1
    assert Revocations({2: 10**10}).refuses(await verifier.verify(fresh)) is False


def test_parse_revocations() -> None:
    assert parse_revocations({"revocations": [{"userId": 1, "notBefore": 5}, {"userId": 1, "notBefore": 7}]}) == {1: 7}
    for bad in ({}, {"revocations": [{"userId": "1", "notBefore": 5}]}, []):
        with pytest.raises(ValueError):
            parse_revocations(bad)


async def test_revocation_poller_keeps_the_last_good_list(tmp_path: Any) -> None:
    """Polled through the PeerClient with a service token for user-service; a failure keeps what was known."""
    seen: list[httpx.Request] = []
    answers = [
        httpx.Response(200, json={"revocations": [{"userId": 4, "notBefore": 100}]}),
        httpx.Response(503, json={"msg": "down"}),
    ]

    class Peers:
        async def get_json(self, peer: str, path: str, **_: Any) -> Any:
            seen.append(httpx.Request("GET", f"http://{peer}{path}"))
            answer = answers.pop(0) if answers else httpx.Response(503)
            if answer.status_code >= 400:
                raise RuntimeError("user-service unavailable")
            return answer.json()

    settings = ServiceSettings(data_dir=tmp_path, jwt_jwks_url="http://keys.invalid", revocation_poll_seconds=0.05)
    app = create_app(SPEC, settings)
    app.state.peers = Peers()
    async with revocation_poller(app):
        await asyncio.sleep(0.3)
    assert app.state.token_verifier.revocations.not_before == {4: 100}
    assert len(seen) >= 3
    assert seen[0].url.path == "/user-service/api/credentials/revocations"


async def test_peer_client_sends_a_service_token_for_the_peer(tmp_path: Any) -> None:
    received: list[str] = []

    async def handler(request: Any) -> Any:
        received.append(request.headers.get(SERVICE_TOKEN_HEADER, ""))
        return web.json_response({})

    server_app = web.Application()
    server_app.router.add_get("/x", handler)
    async with TestServer(server_app) as server:
        settings = ServiceSettings(data_dir=tmp_path, peers={"product-service": str(server.make_url(""))})
        client = PeerClient(
            application="order-service", settings=settings, tokens=ServiceTokens(mesh_secrets(), "order-service")
        )
        await client.start()
        try:
            await client.get_json("product-service", "/x")
            await client.get_json("product-service", "/x")
        finally:
            await client.close()
    assert received[0] and received[0] == received[1]  # minted once, reused
    assert verify_service_token(mesh_secrets(), received[0], "product-service").name == "order-service"


async def test_management_guard(client: httpx.AsyncClient) -> None:
    base = "/demo/actuator"
    for path in ("/health", "/health/liveness", "/health/readiness"):
        assert (await client.get(base + path)).status_code == 200
    assert (await client.get("/actuator/health")).status_code == 200
    for method, path in (("GET", "/info"), ("GET", "/prometheus"), ("POST", "/refresh"), ("GET", "/faults")):
        anonymous = await client.request(method, base + path)
        assert anonymous.status_code == 401, (path, anonymous.text)
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
        assert anonymous.json()["msg"]
        assert (await client.request(method, base + path, headers=operator_headers())).status_code == 200, path
        wrong = {"Authorization": "Basic b3BlcmF0b3I6Z3Vlc3M="}  # operator:guess
        assert (await client.request(method, base + path, headers=wrong)).status_code == 401
        as_component = await client.request(method, base + path, headers=_token_for("order-service"))
        assert as_component.status_code == 401
    assert (await client.get(base + "/prometheus", headers=prometheus_headers())).status_code == 200
    for method, path in (("GET", "/info"), ("POST", "/refresh"), ("POST", "/faults")):
        answer = await client.request(method, base + path, headers=prometheus_headers(), json={})
        assert answer.status_code == 403, path


async def test_anonymous_refresh_does_not_reach_the_refreshers(make_client: Callable[..., Any]) -> None:
    calls: list[int] = []

    async def refresher() -> list[str]:
        calls.append(1)
        return []

    async with make_client(SPEC, headers={}) as client:
        client.app.state.refreshers.append(refresher)  # type: ignore[attr-defined]
        for _ in range(5):
            assert (await client.post("/demo/actuator/refresh")).status_code == 401
        assert calls == []
        assert (await client.post("/demo/actuator/refresh", headers=operator_headers())).status_code == 200
        assert calls == [1]


@pytest.mark.parametrize("opening", ["[", '{"a":'])
async def test_deeply_nested_json_is_a_400(client: httpx.AsyncClient, opening: str) -> None:
    closing = "]" if opening == "[" else "}"
    body = opening * 400 + ("" if opening == "[" else "1") + closing * 400
    answer = await client.post("/demo/echo", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert "nested too deeply" in answer.json()["msg"]
    shallow = opening * 20 + ("" if opening == "[" else "1") + closing * 20
    ok = await client.post("/demo/echo", content=shallow, headers={"Content-Type": "application/json"})
    assert ok.status_code == 200
    # Many brackets side by side are not depth.
    wide = "[" + ",".join(["[]"] * 500) + "]"
    assert (
        await client.post("/demo/echo", content=wide, headers={"Content-Type": "application/json"})
    ).status_code == 200
