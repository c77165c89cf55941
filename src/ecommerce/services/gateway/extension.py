"""Wire the gateway into the chassis app: the fast lane in front of its stack, pool and store lifecycles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import structlog
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from ecommerce.chassis import (
    NATIVE_LANE,
    HealthCheck,
    TrustedProxies,
    add_health_check,
    add_refresher,
    get_verifier,
)
from ecommerce.services.gateway.config import load_config
from ecommerce.services.gateway.fastlane import FastLane
from ecommerce.services.gateway.native import NativeServer
from ecommerce.services.gateway.proxy import Gateway
from ecommerce.services.gateway.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from ecommerce.services.gateway.settings import GatewaySettings
from ecommerce.services.gateway.upstreams import Upstreams

log = structlog.get_logger("ecommerce.gateway")


class ProxyRoute(BaseRoute):
    """Matches every path whose first segment names a route; everything else (the actuator) falls through."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            route = self.gateway.match(scope["path"])
            if route is not None:
                return Match.FULL, {"gateway.route": route}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gateway.handle(scope, receive, send, scope["gateway.route"])


def build_gateway(app: FastAPI) -> Gateway:
    """The gateway for `app`, from its settings."""
    settings: GatewaySettings = app.state.settings
    limiter: RateLimiter | None = None
    if settings.rate_limits_enabled:
        limiter = RedisRateLimiter(settings.redis_url) if settings.redis_url else MemoryRateLimiter()
    return Gateway(
        application=app.state.spec.name,
        config=load_config(settings.gateway, settings.routes_file),
        upstreams=Upstreams(application=app.state.spec.name, settings=settings, registry_source=app.state),
        verifier=get_verifier(app),
        limiter=limiter,
        trust_forwarded_for=settings.trust_forwarded_for,
        trusted_proxies=TrustedProxies(settings.trusted_proxies),
        max_body_bytes=settings.max_body_bytes,
    )


@asynccontextmanager
async def gateway_extension(app: FastAPI) -> AsyncIterator[None]:
    """Start the gateway with the app and stop it with the app."""
    gateway = build_gateway(app)
    await gateway.start()
    app.state.gateway = gateway
    route = ProxyRoute(gateway)  # the way in while the fault switch is on
    app.router.routes.insert(0, route)
    # Starlette builds the middleware stack on the first call (the lifespan's, which is running now); the fast
    # lane goes in front of it and hands it every request that is not for a gateway route.
    chassis = app.middleware_stack or app.build_middleware_stack()
    lane = FastLane(app, gateway, chassis)
    app.middleware_stack = lane
    # Plain public reads are served from the HTTP parser's callbacks (native.py); the chassis' protocol asks here.
    setattr(app.state, NATIVE_LANE, partial(NativeServer, lane))
    add_refresher(app, _refresher(app, gateway))
    if isinstance(gateway.limiter, RedisRateLimiter):
        limiter = gateway.limiter

        async def redis_probe() -> dict[str, str]:
            return {"status": "UP" if await limiter.ping() else "DOWN"}

        # Not a readiness check: without Redis the limits fail open and traffic still flows.
        add_health_check(app, HealthCheck("rateLimitStore", redis_probe, readiness=False))
    log.info("gateway_routes", routes=[r.path for r in gateway.config.routes])
    # The chassis' lifespan freezes the start-up heap and raises the young-generation threshold once every
    # extension has started (what it saves per proxied request: bench/results/gateway.md).
    try:
        yield
    finally:
        app.middleware_stack = chassis
        app.router.routes.remove(route)
        await gateway.close()


def _refresher(app: FastAPI, gateway: Gateway):  # type: ignore[no-untyped-def]
    async def refresh() -> list[str]:
        settings: GatewaySettings = app.state.settings
        config = load_config(settings.gateway, settings.routes_file)
        if config == gateway.config:
            return []
        gateway.configure(config)
        return ["gateway.routes"]

    return refresh
