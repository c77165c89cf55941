"""The storefront's own rate limit: a token bucket per client in front of everything it serves.

The gateway limits /app per client, but the storefront is reachable without it (inside the cluster, or on :8900
with `ecommerce up`), so it limits itself the same way, with the chassis' `MemoryRateLimiter` (the gateway's
bucket). The client is the signed-in user when the request carries a token the verifier accepts (the bearer header,
else the session cookie): the verifier remembers good tokens, so a known token costs a dict lookup, and a new one
the one signature check its route would make anyway (and then finds remembered). Otherwise the client is the
right-most address no trusted proxy added (chassis/forwarded.py, as for the sign-in brake), so neither a forged
token nor a rotated X-Forwarded-For buys a fresh bucket. Users and addresses never share a key.

Everything is limited, pages and static files included: one page with its script, styles and pictures is about 20
requests, far below the default burst, and the product pictures are drawn per request. Plain ASGI, put in front of
the app's middleware stack at start-up, so a refused request costs no routing, no body read and no telemetry.
Rate and burst are read per request: `POST /app/actuator/refresh` changes them (they match `*rate_limit*`).
"""

from __future__ import annotations

from prometheus_client import Counter
from starlette.datastructures import State
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from ecommerce.chassis import (
    MemoryRateLimiter,
    TokenError,
    TokenVerifier,
    TrustedProxies,
    bearer_token,
    error_response,
    retry_after_header,
)
from ecommerce.services.storefront.auth import SESSION_COOKIE
from ecommerce.services.storefront.settings import StorefrontSettings

RATE_LIMITED = Counter("storefront_rate_limited", "Requests refused by the storefront's rate limit", ["application"])


class RateLimit:
    """Answer 429 with the error body and Retry-After once a client has spent its bucket."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: StorefrontSettings,
        proxies: TrustedProxies,
        state: State,
    ) -> None:
        self.app = app
        self.settings = settings  # rate and burst read per request: a config refresh changes them in place
        self.proxies = proxies
        self.state = state  # the app's: its token verifier is read per request
        self.limiter = MemoryRateLimiter()  # idle buckets are forgotten: memory stays bounded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        wait = self.limiter.take(
            await self.client_key(scope), settings.rate_limit_per_second, settings.rate_limit_burst
        )
        if wait > 0:
            RATE_LIMITED.labels("proxy-client").inc()
            refusal = error_response(scope, 429, "Too many requests", {"Retry-After": retry_after_header(wait)})
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def client_key(self, scope: Scope) -> str:
        """`user:<name>` for a valid token, else `address:<client address>`."""
        headers = scope["headers"]
        token = _token(headers)
        if token is not None:
            verifier: TokenVerifier = self.state.token_verifier
            try:
                principal = await verifier.verify(token)
            except TokenError:
                pass
            else:
                return f"user:{principal.username}"
        client = scope.get("client")
        return "address:" + self.proxies.client_address(headers, client[0] if client else "unknown")


def _token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token, else the session cookie's token, else None."""
    cookie = None
    for name, value in headers:
        if name == b"authorization":
            token = bearer_token(value.decode("latin-1"))
            if token is not None:
                return token
        elif name == b"cookie":
            cookie = value
    if cookie is None:
        return None
    return cookie_parser(cookie.decode("latin-1")).get(SESSION_COOKIE) or None
