"""Token verification: JWKS fetched and cached by kid, RS256 and EdDSA, claims, and the FastAPI dependencies."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ecommerce.chassis.errors import install_error_handlers
from ecommerce.chassis.security import (
    AdminUser,
    CurrentUser,
    JwksCache,
    KeysUnavailable,
    OptionalUser,
    TokenError,
    TokenVerifier,
    bearer_token,
    normalize_role,
)


class SigningKey:
    """A private key with its kid, able to sign tokens and describe itself as a JWK."""

    def __init__(self, kid: str, algorithm: str = "RS256") -> None:
        self.kid = kid
        self.algorithm = algorithm
        if algorithm == "RS256":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            self.jwk = jwt.algorithms.OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk.update({"kid": kid, "alg": algorithm, "use": "sig"})

    def sign(self, sub: str = "selimhorri", *, roles: list[str] | None = None, ttl: int = 3600, **extra: Any) -> str:
        now = int(time.time())
        claims = {
            "sub": sub,
            "userId": 1,
            "roles": roles or ["ROLE_USER"],
            "iat": now,
            "exp": now + ttl,
            "iss": "proxy-client",
            "aud": "ecommerce",
            **extra,
        }
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid})


class JwksServer:
    """A tiny JWKS endpoint on a free port; `keys` can change while it runs; `hits` counts fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.hits = 0
        self.port = 0
        self.delay = 0.0  # seconds each answer takes

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/app/.well-known/jwks.json"

    async def _jwks(self, _request: Request) -> JSONResponse:
        self.hits += 1
        await asyncio.sleep(self.delay)
        return JSONResponse({"keys": self.keys})

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[JwksServer]:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/app/.well-known/jwks.json", self._jwks)])
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            yield self
        finally:
            server.should_exit = True
            await task
            sock.close()


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey("rsa-1")


@pytest.fixture
async def jwks(rsa_key: SigningKey) -> AsyncIterator[JwksServer]:
    server = JwksServer()
    server.keys = [rsa_key.jwk]
    async with server.running():
        yield server


async def test_verifies_rs256_token_and_reads_claims(jwks: JwksServer, rsa_key: SigningKey) -> None:
    verifier = TokenVerifier(JwksCache(jwks.url))
    principal = await verifier.verify(rsa_key.sign("jane", roles=["ROLE_ADMIN"], userId=7))
    assert principal.username == "jane"
    assert principal.user_id == 7
    assert principal.roles == frozenset({"ROLE_ADMIN"})
    assert principal.is_admin and principal.has_any_role("admin")


async def test_verifies_eddsa_token() -> None:
    key = SigningKey("ed-1", "EdDSA")
    verifier = TokenVerifier(JwksCache(document={"keys": [key.jwk]}))
    assert (await verifier.verify(key.sign("bob"))).username == "bob"


async def test_keys_fetched_once_and_tokens_cached(jwks: JwksServer, rsa_key: SigningKey) -> None:
    verifier = TokenVerifier(JwksCache(jwks.url))
    for sub in ("a", "b", "a", "b"):
        await verifier.verify(rsa_key.sign(sub))
    assert jwks.hits == 1


async def test_requests_arriving_during_the_first_fetch_wait_for_its_keys(
    jwks: JwksServer, rsa_key: SigningKey
) -> None:
    """A component's first burst of user requests (a page asking for five shipments at once) all verify.

    They used to see the fetch "attempted" and answer 503 "Signing keys are unavailable" without waiting for it;
    the callers' circuit breakers then opened on those 503s.
    """
    jwks.delay = 0.3
    verifier = TokenVerifier(JwksCache(jwks.url))
    principals = await asyncio.gather(*(verifier.verify(rsa_key.sign(f"user{n}")) for n in range(5)))
    assert [p.username for p in principals] == [f"user{n}" for n in range(5)]
    assert jwks.hits == 1


async def test_rotated_key_is_fetched_and_old_tokens_stay_valid(jwks: JwksServer, rsa_key: SigningKey) -> None:
    verifier = TokenVerifier(JwksCache(jwks.url, min_refetch_interval=0))
    old_token = rsa_key.sign("old")
    await verifier.verify(old_token)
    new_key = SigningKey("rsa-2")
    jwks.keys = [new_key.jwk, rsa_key.jwk]
    assert (await verifier.verify(new_key.sign("new"))).username == "new"
    assert jwks.hits == 2
    verifier._verified.clear()  # force a real signature check of the old token with the refreshed keys
    assert (await verifier.verify(old_token)).username == "old"


async def test_unknown_kid_refetch_is_rate_limited(jwks: JwksServer, rsa_key: SigningKey) -> None:
    verifier = TokenVerifier(JwksCache(jwks.url, min_refetch_interval=60))
    await verifier.verify(rsa_key.sign())
    stranger = SigningKey("rsa-unknown")
    for _ in range(3):
        with pytest.raises(TokenError, match="unknown key"):
            await verifier.verify(stranger.sign())
    assert jwks.hits == 1


@pytest.mark.parametrize(
    "tamper",
    ["expired", "wrong_key", "hs256", "none", "garbage", "no_sub", "bad_roles"],
)
async def test_bad_tokens_are_refused(rsa_key: SigningKey, tamper: str) -> None:
    verifier = TokenVerifier(JwksCache(document={"keys": [rsa_key.jwk]}), leeway=0)
    now = int(time.time())
    if tamper == "expired":
        token = rsa_key.sign(ttl=-10)
    elif tamper == "wrong_key":
        impostor = SigningKey(rsa_key.kid)  # same kid, different key
        token = impostor.sign()
    elif tamper == "hs256":
        token = jwt.encode({"sub": "x", "iat": now, "exp": now + 60}, "secret-secret-secret-secret-32b!", "HS256")
    elif tamper == "none":
        token = jwt.encode({"sub": "x", "iat": now, "exp": now + 60}, None, algorithm="none")
    elif tamper == "garbage":
        token = "not.a.token"
    elif tamper == "no_sub":
        token = jwt.encode({"iat": now, "exp": now + 60}, rsa_key.private, "RS256", headers={"kid": rsa_key.kid})
    else:
        token = rsa_key.sign(roles="x", userId="seven")  # type: ignore[arg-type]
    with pytest.raises(TokenError):
        await verifier.verify(token)


async def test_cached_token_expires(rsa_key: SigningKey) -> None:
    verifier = TokenVerifier(JwksCache(document={"keys": [rsa_key.jwk]}), leeway=0)
    token = rsa_key.sign(ttl=1)
    await verifier.verify(token)
    await asyncio.sleep(1.2)
    with pytest.raises(TokenError, match="expired"):
        await verifier.verify(token)


async def test_unreachable_jwks_means_keys_unavailable(rsa_key: SigningKey) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verifier = TokenVerifier(JwksCache(f"http://127.0.0.1:{port}/jwks.json", timeout=1))
    with pytest.raises(KeysUnavailable):
        await verifier.verify(rsa_key.sign())


def test_bearer_and_roles_helpers() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None
    assert bearer_token("Bearer ") is None
    assert normalize_role("admin") == normalize_role("ROLE_ADMIN") == "ROLE_ADMIN"


def _app(verifier: TokenVerifier | None) -> FastAPI:
    app = FastAPI()
    if verifier is not None:
        app.state.token_verifier = verifier
    install_error_handlers(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"username": user.username, "roles": sorted(user.roles)}

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, Any]:
        return {"username": user.username if user else None}

    @app.get("/admin")
    async def admin(user: AdminUser) -> dict[str, Any]:
        return {"username": user.username}

    return app


async def test_fastapi_dependencies(rsa_key: SigningKey) -> None:
    app = _app(TokenVerifier(JwksCache(document={"keys": [rsa_key.jwk]})))
    user = {"Authorization": f"Bearer {rsa_key.sign('jane')}"}
    admin = {"Authorization": f"Bearer {rsa_key.sign('root', roles=['ROLE_ADMIN'])}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/me")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["httpStatus"] == "UNAUTHORIZED"
        assert (await client.get("/me", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await client.get("/me", headers=user)).json() == {"username": "jane", "roles": ["ROLE_USER"]}
        assert (await client.get("/maybe")).json() == {"username": None}
        assert (await client.get("/maybe", headers=user)).json() == {"username": "jane"}
        forbidden = await client.get("/admin", headers=user)
        assert forbidden.status_code == 403
        assert forbidden.json()["httpStatus"] == "FORBIDDEN"
        assert (await client.get("/admin", headers=admin)).json() == {"username": "root"}


async def test_dependency_without_configuration_refuses(monkeypatch: pytest.MonkeyPatch, rsa_key: SigningKey) -> None:
    monkeypatch.delenv("JWT_JWKS_URL", raising=False)
    app = _app(None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/me", headers={"Authorization": f"Bearer {rsa_key.sign()}"})
        assert response.status_code == 401
        assert "not configured" in response.json()["msg"]
