"""Real servers for the gateway tests: small upstream apps, a JWKS endpoint and the gateway, each on uvicorn."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import os
import socket
import time
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import orjson
import pytest
import uvicorn
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import Receive, Scope, Send

from ecommerce.chassis import create_app
from ecommerce.chassis.uvicorn_adapter import LimitedHttpToolsProtocol, NativeLaneProtocol
from ecommerce.services.gateway import SPEC
from ecommerce.services.gateway.config import DEFAULT_FILE, load_config
from ecommerce.services.gateway.settings import GatewaySettings


def require(condition: bool, reason: str) -> None:
    """Skip when a server the test needs is missing, except in CI, where that fails."""
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: missing parts fail, they never skip)")
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def serve(
    app: Any, *, lifespan: str = "off", http: Any = "httptools", keep_alive: float = 5
) -> AsyncIterator[str]:
    """Run `app` on uvicorn in this event loop, on a free port; yields its base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan=lifespan,
        timeout_graceful_shutdown=1,
        proxy_headers=False,
        http=http,
        timeout_keep_alive=keep_alive,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class Upstream:
    """An echo service: answers with what it received; `?status=`, `?delay=`, `?chunks=`, `?redirect=` change its
    answer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.hits: Counter[str] = Counter()
        self.url = ""
        self.fail_next = 0  # answer 503 to this many requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.hits[scope["path"]] += 1
        query = dict(part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part)
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        if "delay" in query:
            await asyncio.sleep(float(query["delay"]))
        if "redirect" in query:  # to a path of its own, absolute as an app building URLs from its Host does
            target = urllib.parse.unquote(query["redirect"])
            location = (target if "://" in target else f"{self.url}{target}").encode()
            await send({"type": "http.response.start", "status": 307, "headers": [(b"location", location)]})
            await send({"type": "http.response.body", "body": b""})
            return
        status = int(query.get("status", 200))
        if self.fail_next > 0:
            self.fail_next -= 1
            status = 503
        if "chunks" in query:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            for index in range(int(query["chunks"])):
                await send({"type": "http.response.body", "body": f"chunk {index}\n".encode(), "more_body": True})
                await asyncio.sleep(float(query.get("pause", 0.05)))
            await send({"type": "http.response.body", "body": b""})
            return
        body = orjson.dumps(
            {
                "instance": self.name,
                "method": scope["method"],
                "path": scope["path"],
                "rawPath": scope.get("raw_path", b"").decode(),
                "query": scope["query_string"].decode(),
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "bodyLength": size,
            }
        )
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers.append((b"x-upstream", self.name.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def upstreams() -> AsyncIterator[tuple[Upstream, Upstream]]:
    """Two instances of the echo service."""
    first, second = Upstream("one"), Upstream("two")
    async with serve(first) as url_one, serve(second) as url_two:
        first.url, second.url = url_one, url_two
        yield first, second


class Keys:
    """A signing key, its JWKS document, and a helper to sign tokens."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk.update({"kid": "test-1", "alg": "RS256", "use": "sig"})

    def token(self, sub: str = "selimhorri", roles: tuple[str, ...] = ("ROLE_USER",), ttl: int = 600) -> str:
        now = int(time.time())
        claims = {"sub": sub, "userId": 1, "roles": list(roles), "iat": now, "exp": now + ttl}
        claims |= {"iss": "proxy-client", "aud": "ecommerce"}  # who signs user tokens, and for whom
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": "test-1"})

    def auth(self, sub: str = "selimhorri", *, admin: bool = False) -> dict[str, str]:
        roles = ("ROLE_ADMIN",) if admin else ("ROLE_USER",)
        return {"Authorization": f"Bearer {self.token(sub, roles)}"}


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys()


@pytest.fixture
async def jwks_url(keys: Keys) -> AsyncIterator[str]:
    """A local JWKS endpoint publishing the test key."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = orjson.dumps({"keys": [keys.jwk]})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    async with serve(app) as url:
        yield f"{url}/app/.well-known/jwks.json"


def default_config(urls: dict[str, list[str]] | None = None, **changes: Any) -> dict[str, Any]:
    """The packaged route table, with every route pointed at `urls[route id]` and top-level `changes` applied."""
    document = copy.deepcopy(yaml.safe_load(DEFAULT_FILE.read_text())["gateway"])
    if "routes" not in document:  # the packaged file takes its routes from the component table
        document["routes"] = [route.model_dump(by_alias=True, exclude_none=True) for route in load_config().routes]
    for route in document["routes"]:
        if urls is not None:
            route["urls"] = urls.get(route["id"], urls.get("*", []))
    for key, value in changes.items():
        document[key] = value
    return document


# The environment's identity secrets for the gateways under test (chassis/identity.py), and their Basic headers.
MANAGEMENT_SECRETS = {
    "service_keys": "test1:" + "k" * 40,
    "operator_password": "operator-test-password",
    "prometheus_password": "prometheus-test-password",
}
OPERATOR = {"Authorization": "Basic " + base64.b64encode(b"operator:operator-test-password").decode()}
PROMETHEUS = {"Authorization": "Basic " + base64.b64encode(b"prometheus:prometheus-test-password").decode()}

GatewayFactory = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(params=["asgi", "native"])
def gateway(jwks_url: str, request: pytest.FixtureRequest) -> GatewayFactory:
    """`async with gateway(config_dict, **settings) as client`: the gateway on uvicorn and a client for it.

    Every gateway test runs twice: on the chassis' protocol (uvicorn's httptools with the HTTP limits; the ASGI path:
    fast lane, chassis) and on the gateway's protocol, which serves plain proxied requests natively and hands the
    rest to the same ASGI path.
    """
    http = NativeLaneProtocol if request.param == "native" else LimitedHttpToolsProtocol

    @contextlib.asynccontextmanager
    async def factory(
        config: dict[str, Any], *, keep_alive: float = 5, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        overrides.setdefault("access_log", False)
        overrides.setdefault("jwt_jwks_url", jwks_url)
        overrides.setdefault("redis_url", None)
        for name, secret in MANAGEMENT_SECRETS.items():
            overrides.setdefault(name, secret)
        settings = GatewaySettings(gateway=config, **overrides)
        app = create_app(SPEC, settings)
        served = serve(app, lifespan="on", http=http, keep_alive=keep_alive)
        async with served as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
            client.app = app  # type: ignore[attr-defined]
            client.http_protocol = request.param  # type: ignore[attr-defined]
            yield client

    return factory
