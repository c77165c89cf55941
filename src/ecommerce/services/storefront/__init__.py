"""proxy-client: the storefront people shop in, the /app/api surface, sign-in and the token keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ecommerce import components
from ecommerce.chassis import ServiceSpec, TrustedProxies, revocation_poller
from ecommerce.services.storefront import api, api_docs, assets, pages_account, pages_admin, pages_shop
from ecommerce.services.storefront.headers import SecurityHeaders
from ecommerce.services.storefront.keys import load_keyring
from ecommerce.services.storefront.page_errors import PageErrors
from ecommerce.services.storefront.ratelimit import RateLimit
from ecommerce.services.storefront.settings import StorefrontSettings
from ecommerce.services.storefront.throttle import SignInBrake
from ecommerce.services.storefront.tokens import verifier_for


@asynccontextmanager
async def _keys(app: FastAPI) -> AsyncIterator[None]:
    """Load the signing keys, the verifier over them, the sign-in brake and the rate limit before the first request."""
    settings: StorefrontSettings = app.state.settings
    app.state.keys = load_keyring(settings)
    app.state.token_verifier = verifier_for(app.state.keys, issuer=settings.jwt_issuer)
    app.state.trusted_proxies = TrustedProxies(settings.trusted_proxies)
    # One address (a proxy, an office) carries many people: it gets more free failures than one account from it.
    app.state.signin_brake = SignInBrake(
        free_failures=settings.signin_free_failures,
        address_free_failures=settings.signin_address_free_failures,
        max_delay=settings.signin_max_delay_seconds,
    )
    # Starlette built the middleware stack on the lifespan's call (running now): the rate limit goes in front of it
    # (a refused request costs nothing more), the headers in front of both (a 429 carries them too).
    stack = app.middleware_stack or app.build_middleware_stack()
    limited = RateLimit(
        stack,
        settings=settings,
        proxies=app.state.trusted_proxies,
        state=app.state,
    )
    # Pages' errors are pages (page_errors), the rate limit's 429 included; the headers go on those pages too.
    app.middleware_stack = SecurityHeaders(PageErrors(limited), hsts=settings.profile == "prod")
    try:
        yield
    finally:
        app.middleware_stack = stack


SPEC = ServiceSpec(
    **components.placement("proxy-client"),  # name, port and context path: the component table
    description="The storefront: web pages, the /app/api surface, sign-in and the token keys.",
    settings_cls=StorefrontSettings,
    routers=(api.router, assets.router, pages_account.router, pages_admin.router, pages_shop.router, api.well_known),
    # The revocation poller keeps the verifier's per-user floors fresh from user-service.
    extensions=(_keys, revocation_poller),
    openapi=api_docs.complete,  # the bodies and answers of the operations that relay a service's
)
