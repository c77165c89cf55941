"""Sign-in: reserve an attempt with the brake, check the password with user-service, sign the token."""

from __future__ import annotations

from fastapi import Request
from prometheus_client import Counter

from ecommerce.chassis import Principal, ServiceError, TrustedProxies, Unauthorized
from ecommerce.services.storefront import clients
from ecommerce.services.storefront.auth import check
from ecommerce.services.storefront.settings import StorefrontSettings
from ecommerce.services.storefront.throttle import SignInBrake
from ecommerce.services.storefront.tokens import ROLE_USER, issue

SIGNINS = Counter("shop_signins", "Sign-in attempts by outcome", ["application", "outcome"])


class TooManyAttempts(ServiceError):
    status = 429


def client_address(request: Request) -> str:
    """The right-most address that no trusted proxy added (the peer itself unless it is a trusted proxy)."""
    proxies: TrustedProxies = request.app.state.trusted_proxies
    peer = request.client.host if request.client else "unknown"
    return proxies.client_address(request.scope.get("headers", []), peer)


async def sign_in(request: Request, username: str, password: str) -> tuple[str, Principal]:
    """A fresh token for the user; Unauthorized for wrong credentials, 429 while braked."""
    settings: StorefrontSettings = request.app.state.settings
    brake: SignInBrake = request.app.state.signin_brake
    attempt = brake.reserve(username, client_address(request))
    if isinstance(attempt, int):
        SIGNINS.labels("proxy-client", "THROTTLED").inc()
        raise TooManyAttempts(
            f"Too many failed sign-ins; try again in {attempt} s", headers={"Retry-After": str(attempt)}
        )
    try:
        verified = await clients.verify_credentials(clients.Peers.of(request), username, password)
    except BaseException:
        attempt.abandoned()
        raise
    if verified is None:
        attempt.failed()
        SIGNINS.labels("proxy-client", "FAILURE").inc()
        raise Unauthorized("Bad credentials")
    attempt.succeeded()
    SIGNINS.labels("proxy-client", "SUCCESS").inc()
    token = issue(
        request.app.state.keys,
        user_id=int(verified["userId"]),
        username=str(verified.get("username") or username),
        role=str(verified.get("roleBasedAuthority") or ROLE_USER),
        ttl_seconds=settings.jwt_ttl_seconds,
        issuer=settings.jwt_issuer,
    )
    principal = await check(request, token)
    request.state.user_token = token  # the visitor's calls to peers during this request carry it on
    return token, principal
